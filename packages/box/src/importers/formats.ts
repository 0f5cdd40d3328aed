/**
 * The file formats Coffer imports, each a streaming parser from bytes to batches of SenML
 * records with bounded memory, and the sniffing that picks one from a file's first bytes.
 */
import type { Readable } from 'node:stream'
import { SaxesParser } from 'saxes'
import { parser as jsonParser } from 'stream-json'
import { pick } from 'stream-json/filters/pick.js'
import { streamArray } from 'stream-json/streamers/stream-array.js'
import chain from 'stream-chain'
import { InvalidInput } from '../errors/index.ts'
import type { SenmlRecord } from '../senml/index.ts'

export type Format = 'gpx' | 'google-records'
export const FORMATS: Format[] = ['gpx', 'google-records']
export const BATCH = 1000

/** Picks the format from the content, not the name: a GPX root element, or Records.json's `locations` key. */
export function sniff(head: Buffer): Format {
  const text = head.toString('utf8').replace(/^\uFEFF/, '')
  if (/<gpx[\s>]/.test(text)) return 'gpx'
  if (/^\s*\{\s*"locations"\s*:/.test(text)) return 'google-records'
  throw new InvalidInput('Coffer does not recognise this file: it imports GPX 1.1 and Google location history (Records.json). Name the format with --format if it is one of those.')
}

export function parse(format: Format, input: Readable): AsyncGenerator<SenmlRecord[]> {
  return format === 'gpx' ? gpx(input) : googleRecords(input)
}

/** Where a parser stood when it failed, for an error message a person can act on. */
function at(where: string, err: unknown): InvalidInput {
  return new InvalidInput(`The file is malformed ${where}: ${(err as Error).message.split('\n')[0]}. Nothing was imported.`)
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
  try {
    for await (const chunk of input) {
      sax.write((chunk as Buffer).toString('utf8'))
      while (out.length > 0) yield out.shift()!
    }
    sax.close()
  } catch (err) {
    throw at(`at line ${sax.line}, column ${sax.column}`, err)
  }
  if (!sawGpx) throw new InvalidInput('This is XML but not GPX: there is no <gpx> element. Nothing was imported.')
  while (out.length > 0) yield out.shift()!
  if (batch.length > 0) yield batch
}

/**
 * Google's Records.json: `locations[]` with `latitudeE7`/`longitudeE7`, `timestamp` (ISO) or
 * `timestampMs`, `accuracy`, `altitude`, `velocity`, `heading`, `source` and `deviceTag`.
 */
async function* googleRecords(input: Readable): AsyncGenerator<SenmlRecord[]> {
  const pipeline = chain([input, jsonParser(), pick({ filter: 'locations' }), streamArray()])
  let batch: SenmlRecord[] = []
  let index = 0
  try {
    for await (const { value } of pipeline as AsyncIterable<{ value: Record<string, unknown> }>) {
      const records = googleLocation(value, index++)
      batch.push(...records)
      if (batch.length >= BATCH) {
        yield batch
        batch = []
      }
    }
  } catch (err) {
    if (err instanceof InvalidInput) throw err
    throw at(`after ${index} locations`, err)
  }
  if (batch.length > 0) yield batch
}

function googleLocation(l: Record<string, unknown>, index: number): SenmlRecord[] {
  const t = typeof l.timestamp === 'string' ? Date.parse(l.timestamp) / 1000 : Number(l.timestampMs) / 1000
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
