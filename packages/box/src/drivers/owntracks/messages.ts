/**
 * OwnTracks messages: the phone app posts JSON messages over HTTP, or publishes them to
 * `owntracks/<user>/<device>` over MQTT. A `_type: "location"` message becomes one SenML
 * record per field, named `<user>/<device>/<field>` and timed by `tst`. Other message types
 * (transition, waypoint, card, lwt, …) are acknowledged and not stored.
 */
import { InvalidInput } from '../../errors/index.ts'
import type { SenmlRecord } from '../../senml/index.ts'

const NUMERIC = [
  ['lat', 'lat'], ['lon', 'lon'], ['acc', 'm'], ['alt', 'm'], ['batt', '%'], ['vel', 'km/h'], ['cog', 'deg'], ['vac', 'm'],
] as const
const TEXT = ['tid', 't'] as const

export interface DeviceId {
  user: string
  device: string
}

const PART = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/

export function checkDevice(d: DeviceId): void {
  for (const [field, value] of Object.entries(d)) {
    if (!PART.test(value)) throw new InvalidInput(`${field} "${value}" must be 1–64 letters, digits, '_' or '-'.`, { field })
  }
}

/** Records for one OwnTracks message, or none for a message type that is not stored. */
export function owntracksRecords(device: DeviceId, message: unknown): SenmlRecord[] {
  if (typeof message !== 'object' || message === null || Array.isArray(message)) throw new InvalidInput('An OwnTracks message is a JSON object.')
  const m = message as Record<string, unknown>
  if (m._type !== 'location') return []
  const tst = m.tst
  if (typeof tst !== 'number' || !Number.isFinite(tst) || tst <= 0) throw new InvalidInput('A location message needs `tst`, its time in epoch seconds.', { field: 'tst' })
  for (const field of ['lat', 'lon']) {
    if (typeof m[field] !== 'number' || !Number.isFinite(m[field])) throw new InvalidInput(`A location message needs a numeric \`${field}\`.`, { field })
  }
  if (Math.abs(m.lat as number) > 90 || Math.abs(m.lon as number) > 180) throw new InvalidInput('lat/lon are out of range.', { field: 'lat' })
  const base = `${device.user}/${device.device}/`
  const records: SenmlRecord[] = []
  for (const [field, unit] of NUMERIC) {
    const v = m[field]
    if (typeof v === 'number' && Number.isFinite(v)) records.push({ n: base + field, u: unit, t: tst, v })
  }
  for (const field of TEXT) {
    const vs = m[field]
    if (typeof vs === 'string' && vs.length <= 64) records.push({ n: base + field, t: tst, vs })
  }
  return records
}

/** The device a topic `owntracks/<user>/<device>` (and no deeper) names. */
export function deviceFromTopic(topic: string): DeviceId | undefined {
  const parts = topic.split('/')
  if (parts.length !== 3 || !PART.test(parts[1]!) || !PART.test(parts[2]!)) return undefined
  return { user: parts[1]!, device: parts[2]! }
}
