/**
 * GPX 1.1: track points become `lat`, `lon`, `ele`, and from Garmin's TrackPointExtension `hr`
 * and `cad`; route and waypoint points the same under `route/` and `waypoint/`, with the
 * waypoint's name. Points without a time cannot be placed in a time series and are skipped.
 * Times are UTC unless they carry an offset: GPX 1.1 says so, and the host's zone never enters.
 */
import type { Readable } from 'node:stream'
import { StringDecoder } from 'node:string_decoder'
import { InvalidInput } from '../errors/index.ts'
import type { SenmlRecord } from '../senml/index.ts'
import { BATCH, malformed } from './common.ts'
import type { ImportFormat } from './format.ts'

export const gpx: ImportFormat = {
  name: 'gpx',
  defaultSource: 'gpx',
  logicalType: () => 'location',
  sniff: (_head, text) => /<gpx[\s>]/.test(text),
  parse: (input) => points(input),
}

/**
 * A GPX time (an xsd:dateTime) in epoch seconds. GPX 1.1 defines its times as UTC, so one written
 * without an offset is read as UTC; Date.parse would read it in the host's zone. Writers that
 * leave out the seconds or put a space for the T are read the same way; anything else is NaN.
 */
function utcTime(text: string): number {
  const m = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?))?(Z|[+-]\d{2}:?\d{2})?$/i.exec(text)
  return m ? Date.parse(`${m[1]}T${m[2] ?? '00:00'}${m[3] ?? 'Z'}`) / 1000 : NaN
}

async function* points(input: Readable): AsyncGenerator<SenmlRecord[]> {
  // Loaded with the first file, not with the box.
  const { SaxesParser } = await import('saxes')
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
    const t = point.fields.time ? utcTime(point.fields.time) : NaN
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
