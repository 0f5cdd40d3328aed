/** Timeline.json, the timeline as the phone exports it: semantic segments and raw position signals. */
import type { SenmlRecord } from '../senml/index.ts'
import type { ImportFormat } from './format.ts'
import { jsonItems, place, span, time } from './google.ts'

export const googleTimeline: ImportFormat = {
  name: 'google-timeline',
  defaultSource: 'google-timeline',
  logicalType: () => 'location',
  sniff: (_head, text) => /^\s*\{\s*"(semanticSegments|rawSignals|userLocationProfile)"\s*:/.test(text),
  parse: (input) => jsonItems(input, /^(semanticSegments|rawSignals)\.\d+$/, timelineItem),
}

/** Timeline.json writes points as "40.7128°, -74.0060°" (older ones as "geo:40.7128,-74.0060"). */
function latLng(text: unknown): [number, number] | undefined {
  const m = typeof text === 'string' ? /(-?\d+(?:\.\d+)?)°?\s*,\s*(-?\d+(?:\.\d+)?)°?/.exec(text) : null
  return m ? [Number(m[1]), Number(m[2])] : undefined
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
  const visit = item.visit as { topCandidate?: { placeLocation?: { latLng?: string }; semanticType?: string; placeId?: string } } | undefined
  const activity = item.activity as { start?: { latLng?: string }; end?: { latLng?: string }; distanceMeters?: number; topCandidate?: { type?: string } } | undefined
  const path = item.timelinePath as { point?: string; time?: string }[] | undefined
  if (visit) {
    records.push(...span('visit/', start, end, index, 'semantic segment'), ...place('visit/', start, latLng(visit.topCandidate?.placeLocation?.latLng)))
    if (visit.topCandidate?.semanticType) records.push({ n: 'visit/type', t: start, vs: visit.topCandidate.semanticType.slice(0, 64) })
    if (visit.topCandidate?.placeId) records.push({ n: 'visit/place', t: start, vs: visit.topCandidate.placeId.slice(0, 256) })
  }
  if (activity) {
    records.push(...span('activity/', start, end, index, 'semantic segment'), ...place('activity/start/', start, latLng(activity.start?.latLng)))
    if (Number.isFinite(end)) records.push(...place('activity/end/', end, latLng(activity.end?.latLng)))
    if (typeof activity.distanceMeters === 'number') records.push({ n: 'activity/distance', u: 'm', t: start, v: activity.distanceMeters })
    if (activity.topCandidate?.type) records.push({ n: 'activity/type', t: start, vs: activity.topCandidate.type.slice(0, 64) })
  }
  for (const p of path ?? []) {
    const t = time(p.time)
    if (Number.isFinite(t)) records.push(...place('', t, latLng(p.point)))
  }
  return records
}
