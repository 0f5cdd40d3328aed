/**
 * The file formats Coffer imports, each a streaming parser from bytes to batches of SenML
 * records with bounded memory, and the sniffing that picks one from a file's first bytes.
 */
import type { Readable } from 'node:stream'
import { SaxesParser } from 'saxes'
import { parser as jsonParser } from 'stream-json'
import { pick } from 'stream-json/filters/pick.js'
import { streamValues } from 'stream-json/streamers/stream-values.js'
import chain from 'stream-chain'
import { InvalidInput } from '../errors/index.ts'
import type { SenmlRecord } from '../senml/index.ts'
import { appleHealth } from './apple-health.ts'
import { BATCH, malformed } from './common.ts'
import { csv, type CsvProfile } from './csv.ts'
import { ical } from './ical.ts'
import { StringDecoder } from 'node:string_decoder'

export type Format = 'gpx' | 'google-records' | 'google-semantic' | 'google-timeline' | 'apple-health' | 'ical' | 'csv'
export const FORMATS: Format[] = ['gpx', 'google-records', 'google-semantic', 'google-timeline', 'apple-health', 'ical', 'csv']

/**
 * Picks the format from the content, not the name: a GPX root element; or the first key of a
 * Google location history file (Records.json, a monthly Semantic Location History file, or
 * the phone's own Timeline.json).
 */
export function sniff(head: Buffer): Format {
  if (isZip(head)) return 'apple-health'
  const text = head.toString('utf8').replace(/^\uFEFF/, '')
  if (/^\s*BEGIN:VCALENDAR\r?\n/i.test(text)) return 'ical'
  if (/<gpx[\s>]/.test(text)) return 'gpx'
  if (/<(!DOCTYPE )?HealthData[\s>[]/.test(text)) return 'apple-health'
  if (/^\s*\{\s*"locations"\s*:/.test(text)) return 'google-records'
  if (/^\s*\{\s*"timelineObjects"\s*:/.test(text)) return 'google-semantic'
  if (/^\s*\{\s*"(semanticSegments|rawSignals|userLocationProfile)"\s*:/.test(text)) return 'google-timeline'
  throw new InvalidInput('Coffer does not recognise this file: it imports GPX 1.1, Apple Health exports (export.xml or the zip), Google location history (Records.json, Semantic Location History, Timeline.json), iCalendar, and CSV given a column mapping (--profile). Name the format with --format if it is one of those.')
}

export function isZip(head: Buffer): boolean {
  return head.length >= 4 && head.readUInt32LE(0) === 0x04034b50
}

export function parse(format: Format, input: Readable, ctx: { file: string; head: Buffer; profile?: CsvProfile }): AsyncGenerator<SenmlRecord[]> {
  // iCalendar reads the file itself, in two passes, so that overrides are known before expansion.
  if (format === 'ical') {
    input.resume()
    return ical(ctx.file)
  }
  if (format === 'csv') {
    if (!ctx.profile) throw new InvalidInput('A CSV import needs a column mapping: pass a saved profile or a profile file with --profile.', { field: 'profile' })
    return csv(input, ctx.head, ctx.profile)
  }
  if (format === 'gpx') return gpx(input)
  if (format === 'apple-health') return appleHealth(input)
  if (format === 'google-records') return jsonItems(input, /^locations\.\d+$/, googleLocation)
  if (format === 'google-semantic') return jsonItems(input, /^timelineObjects\.\d+$/, semanticObject)
  return jsonItems(input, /^(semanticSegments|rawSignals)\.\d+$/, timelineItem)
}

/**
 * GPX 1.1: track points become `lat`, `lon`, `ele`, and from Garmin's TrackPointExtension `hr`
 * and `cad`; route and waypoint points the same under `route/` and `waypoint/`, with the
 * waypoint's name. Points without a time cannot be placed in a time series and are skipped.
 */
async function* gpx(input: Readable): AsyncGenerator<SenmlRecord[]> {
  const sax = new SaxesParser({ xmlns: false, position: true })
  let batch: SenmlRecord[] = []
  const out: SenmlRecord[][] = []
  let point: { prefix: string; lat: number; lon: number; fields: Record<string, string> } | undefined
  let text = ''
  let sawGpx = false
  sax.on('opentag', (tag) => {
    const name = tag.name.replace(/^.*:/, '')
    text = ''
    if (name === 'gpx') sawGpx = true
    if (name === 'trkpt' || name === 'rtept' || name === 'wpt') {
      const lat = Number(tag.attributes.lat)
      const lon = Number(tag.attributes.lon)
      if (!Number.isFinite(lat) || !Number.isFinite(lon) || Math.abs(lat) > 90 || Math.abs(lon) > 180) {
        throw new Error(`a <${name}> without a valid lat and lon`)
      }
      point = { prefix: name === 'trkpt' ? '' : name === 'rtept' ? 'route/' : 'waypoint/', lat, lon, fields: {} }
    }
  })
  sax.on('text', (t) => (text += t))
  sax.on('closetag', (tag) => {
    const name = tag.name.replace(/^.*:/, '')
    if (!point) return
    if (['time', 'ele', 'hr', 'cad', 'name'].includes(name)) point.fields[name] = text.trim()
    if (name !== 'trkpt' && name !== 'rtept' && name !== 'wpt') return
    const t = point.fields.time ? Date.parse(point.fields.time) / 1000 : NaN
    if (Number.isFinite(t)) {
      const p = point.prefix
      batch.push({ n: `${p}lat`, u: 'lat', t, v: point.lat }, { n: `${p}lon`, u: 'lon', t, v: point.lon })
      for (const [field, unit] of [['ele', 'm'], ['hr', 'beat/min'], ['cad', '1/min']] as const) {
        const v = Number(point.fields[field])
        if (point.fields[field] !== undefined && Number.isFinite(v)) batch.push({ n: `${p}${field}`, u: unit, t, v })
      }
      if (point.fields.name) batch.push({ n: `${p}name`, t, vs: point.fields.name.slice(0, 256) })
      if (batch.length >= BATCH) {
        out.push(batch)
        batch = []
      }
    }
    point = undefined
  })
  // A character's bytes may straddle two chunks: the decoder holds the first part back.
  const utf8 = new StringDecoder('utf8')
  try {
    for await (const chunk of input) {
      sax.write(utf8.write(chunk as Buffer))
      while (out.length > 0) yield out.shift()!
    }
    sax.write(utf8.end())
    sax.close()
  } catch (err) {
    throw malformed(`at line ${sax.line}, column ${sax.column}`, err)
  }
  if (!sawGpx) throw new InvalidInput('This is XML but not GPX: there is no <gpx> element. Nothing was imported.')
  while (out.length > 0) yield out.shift()!
  if (batch.length > 0) yield batch
}

/** Streams the elements of the arrays a path pattern picks, each turned into records by `convert`. */
async function* jsonItems(input: Readable, filter: RegExp, convert: (item: Record<string, unknown>, index: number) => SenmlRecord[]): AsyncGenerator<SenmlRecord[]> {
  const pipeline = chain([input, jsonParser(), pick({ filter }), streamValues()])
  let batch: SenmlRecord[] = []
  let index = 0
  try {
    for await (const { value } of pipeline as AsyncIterable<{ value: Record<string, unknown> }>) {
      batch.push(...convert(value, index++))
      if (batch.length >= BATCH) {
        yield batch
        batch = []
      }
    }
  } catch (err) {
    if (err instanceof InvalidInput) throw err
    throw malformed(`after ${index} items`, err)
  }
  if (batch.length > 0) yield batch
}

/** Google Records.json: `latitudeE7`/`longitudeE7`, `timestamp` (ISO) or `timestampMs`, `accuracy`, `altitude`, `velocity`, `heading`, `source`, `deviceTag`. */
function googleLocation(l: Record<string, unknown>, index: number): SenmlRecord[] {
  const t = time(l.timestamp ?? l.timestampMs)
  const lat = Number(l.latitudeE7) / 1e7
  const lon = Number(l.longitudeE7) / 1e7
  if (!Number.isFinite(t) || !Number.isFinite(lat) || !Number.isFinite(lon)) {
    throw new InvalidInput(`locations[${index}] needs latitudeE7, longitudeE7 and timestamp (or timestampMs). Nothing was imported.`, { index, field: 'timestamp' })
  }
  const records: SenmlRecord[] = [{ n: 'lat', u: 'lat', t, v: lat }, { n: 'lon', u: 'lon', t, v: lon }]
  for (const [field, name, unit] of [['accuracy', 'acc', 'm'], ['altitude', 'alt', 'm'], ['velocity', 'vel', 'm/s'], ['heading', 'heading', 'deg'], ['deviceTag', 'device', undefined]] as const) {
    const v = l[field]
    if (typeof v === 'number' && Number.isFinite(v)) records.push(unit ? { n: name, u: unit, t, v } : { n: name, t, v })
  }
  if (typeof l.source === 'string') records.push({ n: 'source', t, vs: l.source.slice(0, 64) })
  return records
}

function time(value: unknown): number {
  if (typeof value === 'string') return /^\d+$/.test(value) ? Number(value) / 1000 : Date.parse(value) / 1000
  return NaN
}

function e7(point: unknown): [number, number] | undefined {
  const p = point as { latitudeE7?: number; longitudeE7?: number } | undefined
  return typeof p?.latitudeE7 === 'number' && typeof p.longitudeE7 === 'number' ? [p.latitudeE7 / 1e7, p.longitudeE7 / 1e7] : undefined
}

/** Timeline.json writes points as "40.7128°, -74.0060°" (older ones as "geo:40.7128,-74.0060"). */
function latLng(text: unknown): [number, number] | undefined {
  const m = typeof text === 'string' ? /(-?\d+(?:\.\d+)?)°?\s*,\s*(-?\d+(?:\.\d+)?)°?/.exec(text) : null
  return m ? [Number(m[1]), Number(m[2])] : undefined
}

function place(prefix: string, t: number, at: [number, number] | undefined): SenmlRecord[] {
  return at ? [{ n: `${prefix}lat`, u: 'lat', t, v: at[0] }, { n: `${prefix}lon`, u: 'lon', t, v: at[1] }] : []
}

function span(prefix: string, start: number, end: number, index: number, what: string): SenmlRecord[] {
  if (!Number.isFinite(start)) throw new InvalidInput(`${what} ${index} has no start time. Nothing was imported.`, { index, field: 'startTime' })
  return Number.isFinite(end) ? [{ n: `${prefix}duration`, u: 's', t: start, v: end - start }] : []
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
