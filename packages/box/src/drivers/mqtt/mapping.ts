/**
 * The generic mapping: JSON payloads (Zigbee2MQTT's `{"temperature":21.5,"humidity":40}`)
 * become records by field, on the topics a filter matches.
 */
import type { SenmlRecord } from '../../senml/index.ts'
import { InvalidInput } from '../../errors/index.ts'
import type { MqttConfig } from './index.ts'

/** Whether an MQTT topic matches a filter with + and # wildcards. */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/')
  const t = topic.split('/')
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true
    if (i >= t.length || (f[i] !== '+' && f[i] !== t[i])) return false
  }
  return f.length === t.length
}

/** Records for one message under one mapping: a record per mapped field present in the payload. */
export function mappedRecords(mapping: MqttConfig['mappings'][number], payload: Buffer, receivedAt: number): SenmlRecord[] {
  let body: unknown
  try {
    body = JSON.parse(payload.toString('utf8'))
  } catch {
    throw new InvalidInput('The payload is not JSON.')
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new InvalidInput('The payload is not a JSON object.')
  const b = body as Record<string, unknown>
  const t = mapping.time === undefined ? receivedAt : timeOf(b[mapping.time])
  const records: SenmlRecord[] = []
  for (const f of mapping.fields) {
    const value = b[f.field]
    const r: SenmlRecord = { n: f.name ?? f.field, t }
    if (f.unit) r.u = f.unit
    if (typeof value === 'number' && Number.isFinite(value)) r.v = value
    else if (typeof value === 'boolean') r.vb = value
    else if (typeof value === 'string') r.vs = value
    else continue
    records.push(r)
  }
  return records
}

function timeOf(value: unknown): number {
  if (typeof value === 'number' && Number.isFinite(value)) return value > 1e11 ? value / 1000 : value
  if (typeof value === 'string' && !Number.isNaN(Date.parse(value))) return Date.parse(value) / 1000
  throw new InvalidInput('The payload has no usable time field.')
}
