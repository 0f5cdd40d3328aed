/**
 * A location source drawn as a track and places: bucketed mean positions over the visible range,
 * joined in time order, and the places where hours were spent, on a plain SVG that needs nothing
 * from elsewhere. Only if the owner set a tile server are map tiles drawn underneath.
 */
import { api } from '../../api/client.ts'
import type { AggregateResult, MapTiles } from '@coffer/box'
import { formatTime } from '../../components/format.ts'
import { ErrorNotice } from '../../components/Notice.tsx'
import { TableWrap } from '../../components/TableWrap.tsx'
import { useLoad } from '../../components/useLoad.ts'
import { DAY, HOUR } from '../../../../box/src/duration/index.ts'
import { bucketFor } from './buckets.ts'
import { STAY_METRES, fit, places, tilesFor, type LatLon, type Place } from './geo.ts'
import type { Range } from './TimePlot.tsx'

const SIZE = { width: 640, height: 360, pad: 24 }
const ZONE = Intl.DateTimeFormat().resolvedOptions().timeZone
/** Places are worked out from hourly buckets over at most this much of the range shown (its end). */
const PLACES_SPAN = 366 * DAY
const MAX_ZOOM = 18

/** Pairs of latitude and longitude series, by the name they share before `lat`/`lon`. */
export function trackSeries(names: string[]): { lat: string; lon: string } | null {
  const lat = names.find((n) => n === 'lat' || n.endsWith('/lat'))
  if (!lat) return null
  const lon = `${lat.slice(0, -3)}lon`
  return names.includes(lon) ? { lat, lon } : null
}

interface Drawn { track: LatLon[]; places: Place[]; placesFrom: number }

export function TrackView({ source, lat, lon, range, map }: { source: string; lat: string; lon: string; range: Range; map: MapTiles | null }) {
  const loaded = useLoad(async (signal): Promise<Drawn> => {
    const bucket = bucketFor(range.to - range.from, 500)
    const to = Math.ceil(range.to / HOUR) * HOUR
    const placesFrom = Math.max(Math.floor(range.from / HOUR) * HOUR, to - PLACES_SPAN)
    const both = (q: { fn: string; bucket: string; from: number; to: number }) =>
      Promise.all([lat, lon].map((name) => api.aggregate(source, { ...q, name, tz: ZONE }, signal)))
    const [track, hourly] = await Promise.all([
      both({ fn: 'mean', bucket: bucket.spec, from: Math.floor(range.from), to: Math.ceil(range.to) }),
      both({ fn: 'mean,min,max', bucket: '1h', from: placesFrom, to }),
    ])
    return { track: pairs(track[0]!, track[1]!), places: places(hourly[0]!.buckets, hourly[1]!.buckets), placesFrom }
  }, [source, lat, lon, range.from, range.to], { delay: 150 })
  const drawn = loaded.data

  if (loaded.error) return <ErrorNotice error={loaded.error} />
  if (!drawn) return <p role="status">Loading the track…</p>
  if (drawn.track.length === 0) return <p>No positions in this range.</p>
  return (
    <>
      <TrackMap track={drawn.track} places={drawn.places} map={map} />
      <PlaceTable places={drawn.places} from={drawn.placesFrom} cut={drawn.placesFrom > range.from} />
    </>
  )
}

function pairs(la: AggregateResult, lo: AggregateResult): LatLon[] {
  const out: LatLon[] = []
  la.buckets.forEach((b, i) => {
    const x = lo.buckets[i]?.value
    if (b.value !== null && x !== null && x !== undefined) out.push([b.value, x])
  })
  return out
}

function TrackMap({ track, places, map }: { track: LatLon[]; places: Place[]; map: MapTiles | null }) {
  const frame = fit([...track, ...places.map((p): LatLon => [p.lat, p.lon])], SIZE, { wholeZoom: map !== null, maxZoom: MAX_ZOOM })
  const at = (p: LatLon) => frame.toScreen(p).map((v) => Number(v.toFixed(1))) as [number, number]
  const [start, end] = [at(track[0]!), at(track[track.length - 1]!)]
  const most = places[0]?.hours ?? 1
  const label = `Track of ${track.length} averaged positions, from ${track[0]![0].toFixed(4)}, ${track[0]![1].toFixed(4)} to ${track.at(-1)![0].toFixed(4)}, ${track.at(-1)![1].toFixed(4)}`
    + (places.length > 0 ? `, with ${places.length} places marked by number as in the table below` : '')
  return (
    <figure className="track-figure">
      <svg className={`track${map ? ' tiled' : ''}`} viewBox={`0 0 ${SIZE.width} ${SIZE.height}`} role="img" aria-label={label}>
        {map && tilesFor(frame, SIZE, map.tiles).map((t) => <image key={t.href} href={t.href} x={t.x} y={t.y} width="256" height="256" />)}
        <polyline points={track.map((p) => at(p).join(',')).join(' ')} />
        <circle cx={start[0]} cy={start[1]} r="5" className="start" />
        <circle cx={end[0]} cy={end[1]} r="5" className="end" />
        {places.map((p, i) => {
          const [x, y] = at([p.lat, p.lon])
          const r = 7 + 9 * Math.sqrt(p.hours / most)
          // A ring, so the track and its ends stay visible inside; the number sits beside it.
          return (
            <g key={`${p.lat},${p.lon}`} className="place">
              <circle cx={x} cy={y} r={r} />
              <text x={x + r * 0.75 + 2} y={y - r * 0.75 - 2}>{i + 1}</text>
            </g>
          )
        })}
      </svg>
      {map && <figcaption className="muted">Map tiles: {map.attribution || new URL(map.tiles.replace(/\{[xyz]\}/g, '0')).host}</figcaption>}
    </figure>
  )
}

function PlaceTable({ places, from, cut }: { places: Place[]; from: number; cut: boolean }) {
  const scope = cut ? ` since ${formatTime(from)}` : ''
  if (places.length === 0) return <p className="muted">No places yet{scope}: a place is where positions stayed within {STAY_METRES} m for an hour.</p>
  return (
    <TableWrap label="Places">
      <table>
        <caption>Places, by hours spent there{scope}</caption>
        <thead><tr><th scope="col">Place</th><th scope="col">Position</th><th scope="col">Hours</th><th scope="col">First</th><th scope="col">Last</th></tr></thead>
        <tbody>
          {places.slice(0, 20).map((p, i) => (
            <tr key={`${p.lat},${p.lon}`}>
              <th scope="row">{i + 1}</th>
              <td>{p.lat.toFixed(4)}, {p.lon.toFixed(4)}</td>
              <td>{p.hours}</td>
              <td>{formatTime(p.first)}</td>
              <td>{formatTime(p.last)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </TableWrap>
  )
}
