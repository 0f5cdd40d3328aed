/**
 * The MQTT connection every broker-fed driver uses: one persistent session per driver (fixed
 * client id, clean: false, QoS 1), so a broker that restarts, or a box that reconnects, loses
 * nothing published meanwhile. Each message is acknowledged only after it has been handled;
 * reconnects back off from one second to thirty.
 */
import { Type } from '@sinclair/typebox'
import type { MqttClient } from 'mqtt'

/** A broker's address, in a kind's schema. */
export const BrokerUrl = Type.String({ pattern: '^mqtts?://[^\\s]+$', description: 'mqtt://host:port or mqtts://…' })

export interface Connection {
  close(): Promise<void>
}

export interface ConnectionEvents {
  onMessage(topic: string, payload: Buffer): Promise<void>
  onState(state: 'running' | 'reconnecting' | 'offline', error?: Error): void
}

const MIN_BACKOFF_MS = 1000
const MAX_BACKOFF_MS = 30_000

/** The MQTT client library is loaded by the first driver that connects, not by every box that starts. */
export function connect(opts: { url: string; clientId: string; topics: string[]; username?: string; password?: string }, events: ConnectionEvents): Connection {
  let closed = false
  const connected = import('mqtt').then(({ default: mqtt }) => closed ? undefined : wire(mqtt.connect(opts.url, {
    clientId: opts.clientId, clean: false, protocolVersion: 4, reconnectPeriod: MIN_BACKOFF_MS,
    connectTimeout: 10_000, username: opts.username, password: opts.password,
  }), opts.topics, events))
  connected.catch((err: Error) => events.onState('offline', err))
  return {
    close: async () => {
      closed = true
      const client = await connected.catch(() => undefined)
      if (client) await new Promise<void>((resolve) => client.end(false, {}, () => resolve()))
    },
  }
}

function wire(client: MqttClient, topics: string[], events: ConnectionEvents): MqttClient {
  client.handleMessage = (packet, done) => {
    events.onMessage(packet.topic, Buffer.from(packet.payload as Uint8Array)).then(() => done(), () => done())
  }
  client.on('connect', () => {
    client.options.reconnectPeriod = MIN_BACKOFF_MS
    // Subscribe even when the broker kept our session: the configuration may have changed since.
    // The driver counts as running once the broker has granted the subscriptions.
    client.subscribe(topics, { qos: 1 }, (err) => events.onState(err ? 'reconnecting' : 'running', err ?? undefined))
  })
  client.on('reconnect', () => {
    client.options.reconnectPeriod = Math.min(MAX_BACKOFF_MS, (client.options.reconnectPeriod ?? MIN_BACKOFF_MS) * 2)
    events.onState('reconnecting')
  })
  client.on('offline', () => events.onState('offline'))
  client.on('error', (err) => events.onState('reconnecting', err))
  return client
}
