/** Positions on the page (Web Mercator, as map tiles use) and the places someone stayed. */
import type { BucketValue } from '@coffer/box'

export const TILE = 256
const EARTH_METRES = 6_371_000
/** An hour whose positions all lie within this many metres of each other is spent in one place. */
export const STAY_METRES = 200
/** Stays whose centres are closer than this are the same place. */
export const PLACE_METRES = 150

export type LatLon = [number, number]

/** World pixel coordinates at zoom 0 (the whole world is one 256-pixel tile). */
export function mercator([lat, lon]: LatLon): [number, number] {
  const clamped = Math.max(-85.0511, Math.min(85.0511, lat)) * (Math.PI / 180)
  return [((lon + 180) / 360) * TILE, ((1 - Math.log(Math.tan(clamped) + 1 / Math.cos(clamped)) / Math.PI) / 2) * TILE]
}

export interface Frame {
  zoom: number
  /** World pixels at `zoom` of the frame's top-left corner. */
  left: number
  top: number
  toScreen(p: LatLon): [number, number]
}

/**
 * The view that fits every point into width × height with `pad` to spare. With tiles the zoom
 * is a whole number (tiles exist only for those), at most `maxZoom`; without, it fits exactly.
 */
export function fit(points: LatLon[], size: { width: number; height: number; pad: number }, opts: { wholeZoom: boolean; maxZoom: number }): Frame {
  const world = points.map(mercator)
  const xs = world.map((p) => p[0])
  const ys = world.map((p) => p[1])
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)]
  const scale = Math.min((size.width - 2 * size.pad) / (x1 - x0 || 1e-9), (size.height - 2 * size.pad) / (y1 - y0 || 1e-9))
  let zoom = Math.min(opts.maxZoom, Math.log2(scale))
  if (opts.wholeZoom) zoom = Math.max(0, Math.floor(zoom))
  const k = 2 ** zoom
  const left = ((x0 + x1) / 2) * k - size.width / 2
  const top = ((y0 + y1) / 2) * k - size.height / 2
  return { zoom, left, top, toScreen: (p) => { const [x, y] = mercator(p); return [x * k - left, y * k - top] } }
}

/** The tiles that cover a frame of width × height, with where each goes on screen. */
export function tilesFor(frame: Frame, size: { width: number; height: number }, template: string): { href: string; x: number; y: number }[] {
  const n = 2 ** frame.zoom
  const out: { href: string; x: number; y: number }[] = []
  for (let ty = Math.floor(frame.top / TILE); ty * TILE < frame.top + size.height; ty++) {
    if (ty < 0 || ty >= n) continue
    for (let tx = Math.floor(frame.left / TILE); tx * TILE < frame.left + size.width; tx++) {
      const wrapped = ((tx % n) + n) % n
      out.push({ href: template.replace('{z}', String(frame.zoom)).replace('{x}', String(wrapped)).replace('{y}', String(ty)), x: tx * TILE - frame.left, y: ty * TILE - frame.top })
    }
  }
  return out
}

/** Metres between two positions; an equirectangular approximation, close at the distances that matter here. */
export function metres(a: LatLon, b: LatLon): number {
  const rad = Math.PI / 180
  const x = (b[1] - a[1]) * rad * Math.cos(((a[0] + b[0]) / 2) * rad)
  const y = (b[0] - a[0]) * rad
  return Math.sqrt(x * x + y * y) * EARTH_METRES
}

export interface Place {
  lat: number
  lon: number
  /** Hours with every position at this place. */
  hours: number
  first: number
  last: number
}

/**
 * Places from hourly buckets of latitude and longitude, each with `values` of mean, min and max:
 * an hour whose positions stayed within STAY_METRES is a stay at its mean position; stays within
 * PLACE_METRES of a place join it. Most hours first.
 */
export function places(lat: BucketValue[], lon: BucketValue[]): Place[] {
  const found: Place[] = []
  lat.forEach((la, i) => {
    const lo = lon[i]
    const [latMin, latMax, lonMin, lonMax] = [la.values?.min, la.values?.max, lo?.values?.min, lo?.values?.max]
    if (la.value === null || lo?.value == null || latMin == null || latMax == null || lonMin == null || lonMax == null) return
    if (metres([latMin, lonMin], [latMax, lonMax]) > STAY_METRES) return
    const here: LatLon = [la.value, lo.value]
    let nearest: Place | undefined
    let best = PLACE_METRES
    for (const p of found) {
      const d = metres([p.lat, p.lon], here)
      if (d <= best) [nearest, best] = [p, d]
    }
    if (!nearest) {
      found.push({ lat: here[0], lon: here[1], hours: 1, first: la.start, last: la.end })
      return
    }
    // The centre moves to the mean of its stays.
    nearest.lat += (here[0] - nearest.lat) / (nearest.hours + 1)
    nearest.lon += (here[1] - nearest.lon) / (nearest.hours + 1)
    nearest.hours++
    nearest.first = Math.min(nearest.first, la.start)
    nearest.last = Math.max(nearest.last, la.end)
  })
  return found.sort((a, b) => b.hours - a.hours)
}
