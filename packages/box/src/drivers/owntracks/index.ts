/**
 * The OwnTracks driver, the way the phone app speaks: in `http` mode the app posts to the box's
 * own endpoint (routes.ts) with a device password; in `mqtt` mode the box subscribes to
 * `owntracks/<user>/<device>` on a broker. Either way a location is stored once, however often
 * the app retries it.
 */
import { Type, type Static } from '@sinclair/typebox'
import { InvalidInput } from '../../errors/index.ts'
import { SourceId } from '../../store/index.ts'
import { BrokerUrl, connect } from '../broker.ts'
import type { DriverContext, DriverHandle, DriverKind } from '../kind.ts'
import { keepDigests, withoutDigests } from './devices.ts'
import { deviceFromTopic, owntracksRecords, type DeviceId } from './messages.ts'
import { owntracksRoutes } from './routes.ts'

export type { NewDevice } from './devices.ts'

export const OwntracksConfig = Type.Object({
  source: Type.Optional(SourceId),
  mode: Type.Union([Type.Literal('http'), Type.Literal('mqtt')]),
  broker: Type.Optional(BrokerUrl),
  topic: Type.Optional(Type.String({ minLength: 1, maxLength: 256, description: 'Topic filter; default owntracks/+/+' })),
  devices: Type.Optional(Type.Array(Type.Object({
    user: Type.String(), device: Type.String(),
    secretHash: Type.Optional(Type.String({ description: 'SHA-256 of the device password (set by the box)' })),
  }, { additionalProperties: false }), { maxItems: 1000 })),
}, { additionalProperties: false })
export type OwntracksConfig = Static<typeof OwntracksConfig>

/** A running OwnTracks driver: its endpoint hands it what the app posts. */
export interface OwntracksHandle extends DriverHandle {
  receive(device: DeviceId, message: unknown): Promise<void>
}

export const owntracks: DriverKind<OwntracksConfig, OwntracksHandle> = {
  kind: 'owntracks',
  configSchema: OwntracksConfig,
  logicalType: 'location',
  check(config) {
    if (config.mode === 'mqtt' && !config.broker) throw new InvalidInput('An OwnTracks driver in mqtt mode needs `broker`, e.g. mqtt://127.0.0.1:1883.', { field: 'broker' })
  },
  sources: (config) => [sourceOf(config)],
  publicConfig: withoutDigests,
  keepSecrets: keepDigests,
  start(ctx) {
    const inbox = new Inbox(ctx)
    const receive = (device: DeviceId, message: unknown) => inbox.receive(device, message)
    const { config } = ctx
    if (config.mode === 'http') {
      ctx.setState('running')
      return { receive, stop: () => inbox.drain() }
    }
    const connection = connect({ url: config.broker!, clientId: `coffer-${ctx.id}`, topics: [config.topic ?? 'owntracks/+/+'] }, {
      onState: ctx.setState,
      onMessage: async (topic, payload) => {
        const device = deviceFromTopic(topic)
        if (!device) return
        await ctx.safely(() => receive(device, JSON.parse(payload.toString('utf8'))))
      },
    })
    return {
      receive,
      async stop() {
        await connection.close()
        await inbox.drain()
      },
    }
  },
  routes: owntracksRoutes,
}

function sourceOf(config: OwntracksConfig): string {
  return config.source ?? 'location'
}

/** Location messages on their way to the source, one device at a time. */
class Inbox {
  readonly #ctx: DriverContext<OwntracksConfig>
  readonly #source: string
  /** Per-device queues, so a retried message is checked only after its first copy landed. */
  readonly #queues = new Map<string, Promise<unknown>>()

  constructor(ctx: DriverContext<OwntracksConfig>) {
    this.#ctx = ctx
    this.#source = sourceOf(ctx.config)
  }

  async receive(device: DeviceId, message: unknown): Promise<void> {
    const records = owntracksRecords(device, message)
    if (records.length === 0) return
    const key = `${device.user}/${device.device}`
    const previous = this.#queues.get(key) ?? Promise.resolve()
    const run = previous.catch(() => undefined).then(async () => {
      if (this.#ctx.stored(this.#source, records[0]!.n, records[0]!.t)) return
      await this.#ctx.write(this.#source, records, `owntracks ${key}`)
    })
    this.#queues.set(key, run)
    try {
      await run
    } finally {
      if (this.#queues.get(key) === run) this.#queues.delete(key)
    }
  }

  /** Waits for the messages under way. */
  async drain(): Promise<void> {
    await Promise.allSettled(this.#queues.values())
  }
}
