/**
 * MQTT: one persistent-session connection per driver (fixed client id, clean: false, QoS 1),
 * so a broker that restarts, or a box that reconnects, loses nothing published meanwhile.
 * Each message is acknowledged only after it has been handled; reconnects back off from one
 * second to thirty. The generic mapping turns JSON payloads (Zigbee2MQTT's
 * `{"temperature":21.5,"humidity":40}`) into records by field.
 */
import mqtt, { type MqttClient } from 'mqtt'
import type { SenmlRecord } from '../senml/index.ts'
import { InvalidInput } from '../errors/index.ts'
import type { MqttConfig } from './config.ts'

export interface Connection {
  close(): Promise<void>
}

export interface ConnectionEvents {
  onMessage(topic: string, payload: Buffer): Promise<void>
  onState(state: 'running' | 'reconnecting' | 'offline', error?: Error): void
}

const MIN_BACKOFF_MS = 1000
const MAX_BACKOFF_MS = 30_000

export function connect(opts: { url: string; clientId: string; topics: string[]; username?: string; password?: string }, events: ConnectionEvents): Connection {
  const client: MqttClient = mqtt.connect(opts.url, {
    clientId: opts.clientId, clean: false, protocolVersion: 4, reconnectPeriod: MIN_BACKOFF_MS,
    connectTimeout: 10_000, username: opts.username, password: opts.password,
  })
  client.handleMessage = (packet, done) => {
    events.onMessage(packet.topic, Buffer.from(packet.payload as Uint8Array)).then(() => done(), () => done())
  }
  client.on('connect', () => {
    client.options.reconnectPeriod = MIN_BACKOFF_MS
    // Subscribe even when the broker kept our session: the configuration may have changed since.
    // The driver counts as running once the broker has granted the subscriptions.
    client.subscribe(opts.topics, { qos: 1 }, (err) => events.onState(err ? 'reconnecting' : 'running', err ?? undefined))
  })
  client.on('reconnect', () => {
    client.options.reconnectPeriod = Math.min(MAX_BACKOFF_MS, (client.options.reconnectPeriod ?? MIN_BACKOFF_MS) * 2)
    events.onState('reconnecting')
  })
  client.on('offline', () => events.onState('offline'))
  client.on('error', (err) => events.onState('reconnecting', err))
  return {
    close: () => new Promise((resolve) => client.end(false, {}, () => resolve())),
  }
}

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
