/** Google Takeout's Semantic Location History: a file a month of place visits and activity segments. */
import type { SenmlRecord } from '../senml/index.ts'
import type { ImportFormat } from './format.ts'
import { jsonItems, place, span, time } from './google.ts'

export const googleSemantic: ImportFormat = {
  name: 'google-semantic',
  defaultSource: 'google-timeline',
  logicalType: () => 'location',
  sniff: (_head, text) => /^\s*\{\s*"timelineObjects"\s*:/.test(text),
  parse: (input) => jsonItems(input, /^timelineObjects\.\d+$/, semanticObject),
}

function e7(point: unknown): [number, number] | undefined {
  const p = point as { latitudeE7?: number; longitudeE7?: number } | undefined
  return typeof p?.latitudeE7 === 'number' && typeof p.longitudeE7 === 'number' ? [p.latitudeE7 / 1e7, p.longitudeE7 / 1e7] : undefined
}

/** Semantic Location History: `placeVisit` becomes visit/…, `activitySegment` activity/…, each timed by its start. */
function semanticObject(o: Record<string, unknown>, index: number): SenmlRecord[] {
  const visit = o.placeVisit as { location?: { name?: string; placeId?: string }; duration?: Record<string, string> } | undefined
  const activity = o.activitySegment as { startLocation?: unknown; endLocation?: unknown; duration?: Record<string, string>; distance?: number; activityType?: string } | undefined
  const records: SenmlRecord[] = []
  if (visit) {
    const start = time(visit.duration?.startTimestamp ?? visit.duration?.startTimestampMs)
    records.push(...span('visit/', start, time(visit.duration?.endTimestamp ?? visit.duration?.endTimestampMs), index, 'placeVisit'), ...place('visit/', start, e7(visit.location)))
    if (visit.location?.name) records.push({ n: 'visit/name', t: start, vs: visit.location.name.slice(0, 256) })
    if (visit.location?.placeId) records.push({ n: 'visit/place', t: start, vs: visit.location.placeId.slice(0, 256) })
  }
  if (activity) {
    const start = time(activity.duration?.startTimestamp ?? activity.duration?.startTimestampMs)
    const end = time(activity.duration?.endTimestamp ?? activity.duration?.endTimestampMs)
    records.push(...span('activity/', start, end, index, 'activitySegment'), ...place('activity/start/', start, e7(activity.startLocation)))
    if (Number.isFinite(end)) records.push(...place('activity/end/', end, e7(activity.endLocation)))
    if (typeof activity.distance === 'number') records.push({ n: 'activity/distance', u: 'm', t: start, v: activity.distance })
    if (activity.activityType) records.push({ n: 'activity/type', t: start, vs: activity.activityType.slice(0, 64) })
  }
  return records
}
