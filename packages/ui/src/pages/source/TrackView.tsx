/**
 * A location source drawn as a track: bucketed mean latitude and longitude over the visible
 * range, joined in time order, on a plain SVG with no map tiles (which would need a tile server).
 */
import { useEffect, useState } from 'react'
import { api } from '../../api/client.ts'
import { ErrorNotice } from '../../components/Notice.tsx'
import { bucketFor } from './buckets.ts'
import type { Range } from './TimePlot.tsx'

const SIZE = { width: 640, height: 360, pad: 16 }
const ZONE = Intl.DateTimeFormat().resolvedOptions().timeZone

/** Pairs of latitude and longitude series, by the name they share before `lat`/`lon`. */
export function trackSeries(names: string[]): { lat: string; lon: string } | null {
  const lat = names.find((n) => n === 'lat' || n.endsWith('/lat'))
  if (!lat) return null
  const lon = `${lat.slice(0, -3)}lon`
  return names.includes(lon) ? { lat, lon } : null
}

export function TrackView({ source, lat, lon, range }: { source: string; lat: string; lon: string; range: Range }) {
  const [points, setPoints] = useState<[number, number][] | null>(null)
  const [error, setError] = useState<unknown>()
  useEffect(() => {
    const controller = new AbortController()
    const bucket = bucketFor(range.to - range.from, 500)
    const q = { fn: 'mean', bucket: bucket.spec, from: Math.floor(range.from), to: Math.ceil(range.to), tz: ZONE }
    const timer = setTimeout(() => {
      Promise.all([api.aggregate(source, { ...q, name: lat }, controller.signal), api.aggregate(source, { ...q, name: lon }, controller.signal)]).then(
        ([la, lo]) => {
          const pts: [number, number][] = []
          la.buckets.forEach((b, i) => {
            const x = lo.buckets[i]?.value
            if (b.value !== null && x !== null && x !== undefined) pts.push([b.value, x])
          })
          setPoints(pts)
          setError(undefined)
        },
        (err: unknown) => { if (!controller.signal.aborted) setError(err) },
      )
    }, 150)
    return () => {
      clearTimeout(timer)
      controller.abort()
    }
  }, [source, lat, lon, range.from, range.to])

  if (error) return <ErrorNotice error={error} />
  if (!points) return <p role="status">Loading the track…</p>
  if (points.length === 0) return <p>No positions in this range.</p>
  // Equirectangular, with longitude shrunk by the cosine of the latitude so shapes keep their proportions.
  const lats = points.map((p) => p[0])
  const lons = points.map((p) => p[1])
  const midLat = (Math.min(...lats) + Math.max(...lats)) / 2
  const k = Math.cos((midLat * Math.PI) / 180)
  const xs = lons.map((l) => l * k)
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...lats), Math.max(...lats)]
  const scale = Math.min((SIZE.width - 2 * SIZE.pad) / (x1 - x0 || 1e-9), (SIZE.height - 2 * SIZE.pad) / (y1 - y0 || 1e-9))
  const px = (p: [number, number]) => `${(SIZE.pad + (p[1] * k - x0) * scale).toFixed(1)},${(SIZE.height - SIZE.pad - (p[0] - y0) * scale).toFixed(1)}`
  const first = points[0]!
  const last = points[points.length - 1]!
  return (
    <svg className="track" viewBox={`0 0 ${SIZE.width} ${SIZE.height}`} role="img"
      aria-label={`Track of ${points.length} averaged positions, from ${first[0].toFixed(4)}, ${first[1].toFixed(4)} to ${last[0].toFixed(4)}, ${last[1].toFixed(4)}`}>
      <polyline points={points.map(px).join(' ')} />
      <circle cx={px(first).split(',')[0]} cy={px(first).split(',')[1]} r="5" className="start" />
      <circle cx={px(last).split(',')[0]} cy={px(last).split(',')[1]} r="5" className="end" />
    </svg>
  )
}
