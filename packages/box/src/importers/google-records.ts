/** Google Takeout's Records.json: every raw location the phone reported. */
import type { SenmlRecord } from '../senml/index.ts'
import { InvalidInput } from '../errors/index.ts'
import type { ImportFormat } from './format.ts'
import { jsonItems, time } from './google.ts'

export const googleRecords: ImportFormat = {
  name: 'google-records',
  defaultSource: 'google-location',
  logicalType: () => 'location',
  sniff: (_head, text) => /^\s*\{\s*"locations"\s*:/.test(text),
  parse: (input) => jsonItems(input, /^locations\.\d+$/, googleLocation),
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
