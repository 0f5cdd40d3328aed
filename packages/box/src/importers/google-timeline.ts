/**
 * Timeline.json, the timeline as the phone exports it. Android writes an object of semantic
 * segments and raw position signals; the Maps app on iOS (and older Android versions) writes a
 * top-level array of segments, with places as "geo:lat,lon", numbers as strings and path points
 * timed by minutes from their segment's start. Both are read.
 */
import type { SenmlRecord } from '../senml/index.ts'
import type { ImportFormat } from './format.ts'
import { jsonItems, place, span, time } from './google.ts'

export const googleTimeline: ImportFormat = {
  name: 'google-timeline',
  defaultSource: 'google-timeline',
  logicalType: () => 'location',
  sniff: (_head, text) => /^\s*\{\s*"(semanticSegments|rawSignals|userLocationProfile)"\s*:/.test(text) || /^\s*\[\s*\{\s*"(startTime|endTime)"\s*:/.test(text),
  // Numeric paths are the items of a top-level array: the array form's segments.
  parse: (input) => jsonItems(input, /^((semanticSegments|rawSignals)\.)?\d+$/, timelineItem),
}

/**
 * Timeline.json writes points as "40.7128°, -74.0060°", or in the array form as "geo:40.7128,-74.0060".
 * The degree sign is escaped so the built JavaScript stays ASCII (see scripts/bundle.js).
 */
function latLng(text: unknown): [number, number] | undefined {
  const m = typeof text === 'string' ? /(-?\d+(?:\.\d+)?)\u00b0?\s*,\s*(-?\d+(?:\.\d+)?)\u00b0?/.exec(text) : null
  return m ? [Number(m[1]), Number(m[2])] : undefined
}

/** A place given as a string, or as an object holding one in `latLng` (the two forms of the file). */
function where(p: unknown): [number, number] | undefined {
  return latLng(typeof p === 'object' && p !== null ? (p as { latLng?: unknown }).latLng : p)
}

/** A number, or one written as a string (the array form writes them so). */
function numberOf(x: unknown): number | undefined {
  const n = typeof x === 'number' ? x : typeof x === 'string' && x.trim() !== '' ? Number(x) : NaN
  return Number.isFinite(n) ? n : undefined
}

/** Timeline.json: segments (visit, activity, timelinePath) and raw position signals. */
function timelineItem(item: Record<string, unknown>, index: number): SenmlRecord[] {
  const position = item.position as { LatLng?: string; latLng?: string; accuracyMeters?: number; altitudeMeters?: number; timestamp?: string; source?: string } | undefined
  if (position) {
    const t = time(position.timestamp)
    if (!Number.isFinite(t)) return []
    const records = place('', t, latLng(position.LatLng ?? position.latLng))
    if (typeof position.accuracyMeters === 'number') records.push({ n: 'acc', u: 'm', t, v: position.accuracyMeters })
    if (typeof position.altitudeMeters === 'number') records.push({ n: 'alt', u: 'm', t, v: position.altitudeMeters })
    if (typeof position.source === 'string') records.push({ n: 'source', t, vs: position.source.slice(0, 64) })
    return records
  }
  if (item.startTime === undefined) return [] // other raw signals (wifi scans, activity records) carry no position
  const start = time(item.startTime)
  const end = time(item.endTime)
  const records: SenmlRecord[] = []
  const visit = item.visit as { topCandidate?: { placeLocation?: unknown; semanticType?: string; placeId?: string; placeID?: string } } | undefined
  const activity = item.activity as { start?: unknown; end?: unknown; distanceMeters?: unknown; topCandidate?: { type?: string } } | undefined
  const path = item.timelinePath as { point?: string; time?: string; durationMinutesOffsetFromStartTime?: unknown }[] | undefined
  if (visit) {
    const candidate = visit.topCandidate
    records.push(...span('visit/', start, end, index, 'semantic segment'), ...place('visit/', start, where(candidate?.placeLocation)))
    if (candidate?.semanticType) records.push({ n: 'visit/type', t: start, vs: candidate.semanticType.slice(0, 64) })
    const placeId = candidate?.placeId ?? candidate?.placeID
    if (placeId) records.push({ n: 'visit/place', t: start, vs: placeId.slice(0, 256) })
  }
  if (activity) {
    records.push(...span('activity/', start, end, index, 'semantic segment'), ...place('activity/start/', start, where(activity.start)))
    if (Number.isFinite(end)) records.push(...place('activity/end/', end, where(activity.end)))
    const distance = numberOf(activity.distanceMeters)
    if (distance !== undefined) records.push({ n: 'activity/distance', u: 'm', t: start, v: distance })
    if (activity.topCandidate?.type) records.push({ n: 'activity/type', t: start, vs: activity.topCandidate.type.slice(0, 64) })
  }
  for (const p of path ?? []) {
    const offset = numberOf(p.durationMinutesOffsetFromStartTime)
    const t = p.time !== undefined ? time(p.time) : offset !== undefined ? start + offset * 60 : NaN
    if (Number.isFinite(t)) records.push(...place('', t, latLng(p.point)))
  }
  return records
}
