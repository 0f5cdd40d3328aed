/**
 * Drivers bring data in: each owns its sources, has a validated configuration, a status and a
 * start/stop lifecycle, and writes only with a token the arbiter minted from its own grant —
 * every write is authorized and audited exactly as an HTTP client's would be.
 */
import crypto from 'node:crypto'
import type Database from 'better-sqlite3'
import type { Logger } from 'pino'
import type { Arbiter } from '../arbiter/index.ts'
import type { AuditLog } from '../audit/index.ts'
import type { Store } from '../store/index.ts'
import type { SenmlRecord } from '../senml/index.ts'
import { Conflict, CofferError, InvalidInput, NotFound, Unauthorized } from '../errors/index.ts'
import { writeAs } from '../ingest/index.ts'
import { checkConfig, sourcesOf, type DriverConfig, type DriverKind, type MqttConfig, type OwntracksConfig } from './config.ts'
import { connect, mappedRecords, topicMatches, type Connection } from './mqtt.ts'
import { checkDevice, deviceFromTopic, owntracksRecords, type DeviceId } from './owntracks.ts'

export { DRIVER_KINDS, OwntracksConfig, MqttConfig, type DriverKind, type DriverConfig } from './config.ts'

export interface DriverStatus {
  state: 'stopped' | 'starting' | 'running' | 'reconnecting' | 'offline' | 'error'
  since: number
  lastData: number | null
  lastError: { at: number; message: string } | null
  records: number
}

export interface DriverInfo {
  id: string
  kind: DriverKind
  config: DriverConfig
  grant: string
  sources: string[]
  createdAt: string
  status: DriverStatus
}

interface Running {
  info: DriverInfo
  token: { value: string; expires: number }
  connection?: Connection
  /** Per-device queues, so a retried message is checked only after its first copy landed. */
  queues: Map<string, Promise<unknown>>
}

const DRIVER_ID = /^[a-z0-9][a-z0-9._-]{0,62}$/
const TOKEN_SECONDS = 24 * 3600

export class Drivers {
  readonly #db: Database.Database
  readonly #store: Store
  readonly #arbiter: Arbiter
  readonly #audit: AuditLog
  readonly #log: Logger
  readonly #drivers = new Map<string, Running>()

  constructor(deps: { db: Database.Database; store: Store; arbiter: Arbiter; audit: AuditLog; logger: Logger }) {
    this.#db = deps.db
    this.#store = deps.store
    this.#arbiter = deps.arbiter
    this.#audit = deps.audit
    this.#log = deps.logger
    this.#db.exec('CREATE TABLE IF NOT EXISTS drivers (id TEXT PRIMARY KEY, kind TEXT NOT NULL, config TEXT NOT NULL, grant_id TEXT NOT NULL, created_at TEXT NOT NULL)')
  }

  async open(): Promise<void> {
    const rows = this.#db.prepare('SELECT * FROM drivers ORDER BY id').all() as { id: string; kind: DriverKind; config: string; grant_id: string; created_at: string }[]
    for (const row of rows) {
      const config = JSON.parse(row.config) as DriverConfig
      const info: DriverInfo = { id: row.id, kind: row.kind, config, grant: row.grant_id, sources: sourcesOf(row.kind, config), createdAt: row.created_at, status: stopped() }
      this.#drivers.set(row.id, { info, token: { value: '', expires: 0 }, queues: new Map() })
      await this.#start(row.id)
    }
  }

  async close(): Promise<void> {
    for (const id of this.#drivers.keys()) await this.#stop(id)
  }

  list(): DriverInfo[] {
    return [...this.#drivers.values()].map((d) => publicInfo(d.info))
  }

  get(id: string): DriverInfo {
    return publicInfo(this.#running(id).info)
  }

  #running(id: string): Running {
    const d = this.#drivers.get(id)
    if (!d) throw new NotFound(`There is no driver "${id}". List drivers with \`coffer drivers list\`.`)
    return d
  }

  /** Adds a driver: creates its missing sources, a write-only grant over them, and starts it. */
  async add(id: string, kind: string, rawConfig: unknown): Promise<DriverInfo> {
    if (!DRIVER_ID.test(id)) throw new InvalidInput(`"${id}" is not a valid driver id: use 1–63 lower-case letters, digits, '.', '_' or '-'.`, { field: 'id' })
    if (this.#drivers.has(id)) throw new Conflict(`A driver "${id}" already exists; change it with \`coffer drivers configure ${id}\`.`)
    const config = checkConfig(kind, rawConfig)
    const sources = sourcesOf(kind as DriverKind, config)
    for (const source of sources) if (!this.#store.has(source)) await this.#store.add({ id: source, logicalType: kind === 'owntracks' ? 'location' : 'other', description: `Written by driver ${id}` })
    const grant = this.#grantFor(id, kind, sources)
    const createdAt = new Date().toISOString()
    this.#db.prepare('INSERT INTO drivers (id, kind, config, grant_id, created_at) VALUES (?, ?, ?, ?, ?)').run(id, kind, JSON.stringify(config), grant.id, createdAt)
    const info: DriverInfo = { id, kind: kind as DriverKind, config, grant: grant.id, sources, createdAt, status: stopped() }
    this.#drivers.set(id, { info, token: { value: '', expires: 0 }, queues: new Map() })
    await this.#start(id)
    return this.get(id)
  }

  /** A driver may write to its own sources and do nothing else. */
  #grantFor(id: string, kind: string, sources: string[]) {
    return this.#arbiter.createGrant({ subject: `driver:${id}`, description: `${kind} driver ${id}`, sources, ops: ['write'], windows: [], granularity: 0 })
  }

  /** Replaces a driver's configuration, keeping its device passwords, and restarts it. */
  async configure(id: string, rawConfig: unknown): Promise<DriverInfo> {
    const d = this.#running(id)
    const config = checkConfig(d.info.kind, rawConfig)
    if (d.info.kind === 'mqtt' && (config as MqttConfig).password === '(set)') (config as MqttConfig).password = (d.info.config as MqttConfig).password
    if (d.info.kind === 'owntracks') {
      const old = (d.info.config as OwntracksConfig).devices ?? []
      for (const device of (config as OwntracksConfig).devices ?? []) {
        device.secretHash ??= old.find((o) => o.user === device.user && o.device === device.device)?.secretHash
      }
    }
    const sources = sourcesOf(d.info.kind, config)
    const added = sources.filter((s) => !d.info.sources.includes(s))
    for (const source of added) if (!this.#store.has(source)) await this.#store.add({ id: source, description: `Written by driver ${id}` })
    await this.#stop(id)
    if (added.length > 0) {
      // A wider grant is a new grant: the old one is revoked so no token outlives the change.
      this.#arbiter.revoke(d.info.grant)
      d.info.grant = this.#grantFor(id, d.info.kind, sources).id
    }
    d.info.config = config
    d.info.sources = sources
    this.#db.prepare('UPDATE drivers SET config = ?, grant_id = ? WHERE id = ?').run(JSON.stringify(config), d.info.grant, id)
    await this.#start(id)
    return this.get(id)
  }

  /** Removes a driver and revokes its grant. Its sources and their data stay. */
  async remove(id: string): Promise<void> {
    const d = this.#running(id)
    await this.#stop(id)
    this.#arbiter.revoke(d.info.grant)
    this.#db.prepare('DELETE FROM drivers WHERE id = ?').run(id)
    this.#drivers.delete(id)
  }

  async start(id: string): Promise<DriverInfo> {
    this.#running(id)
    await this.#start(id)
    return this.get(id)
  }

  async stop(id: string): Promise<DriverInfo> {
    this.#running(id)
    await this.#stop(id)
    return this.get(id)
  }

  /** Adds (or re-keys) an OwnTracks device and returns its new password, shown once. */
  async addDevice(id: string, device: DeviceId): Promise<{ password: string; info: DriverInfo }> {
    const d = this.#running(id)
    if (d.info.kind !== 'owntracks') throw new InvalidInput(`Driver "${id}" is a ${d.info.kind} driver; devices belong to OwnTracks drivers.`)
    checkDevice(device)
    const password = crypto.randomBytes(18).toString('base64url')
    const config = structuredClone(d.info.config as OwntracksConfig)
    config.devices = [...(config.devices ?? []).filter((x) => !(x.user === device.user && x.device === device.device)), { ...device, secretHash: hash(password) }]
    return { password, info: await this.configure(id, config) }
  }

  /**
   * An OwnTracks app's HTTP post: HTTP Basic auth as user and device password, device named by
   * the X-Limit-D header. Location messages are stored once even when the app retries them.
   */
  async owntracksPost(id: string, authorization: string | undefined, deviceHeader: string | undefined, body: unknown): Promise<void> {
    const d = this.#drivers.get(id)
    const config = d?.info.config as OwntracksConfig | undefined
    if (!d || d.info.kind !== 'owntracks' || config?.mode !== 'http') throw new NotFound(`There is no OwnTracks HTTP driver "${id}".`)
    if (d.info.status.state !== 'running') throw new CofferError(503, 'driver-stopped', 'Driver stopped', `Driver "${id}" is stopped; start it with \`coffer drivers start ${id}\`. The app will retry.`)
    const credentials = parseBasic(authorization)
    const device = credentials && devicesByUser(config).get(credentials.user)?.find((x) => deviceHeader === undefined || x.device === deviceHeader)
    if (!credentials || !device?.secret || !crypto.timingSafeEqual(device.secret, digest(credentials.password))) {
      throw new Unauthorized('Wrong user, device or password for this OwnTracks endpoint. Add the device with `coffer drivers device add`.')
    }
    await this.#owntracksMessage(d, { user: device.user, device: device.device }, body)
  }

  async #owntracksMessage(d: Running, device: DeviceId, message: unknown): Promise<void> {
    const records = owntracksRecords(device, message)
    if (records.length === 0) return
    const key = `${device.user}/${device.device}`
    const previous = d.queues.get(key) ?? Promise.resolve()
    const run = previous.catch(() => undefined).then(async () => {
      const source = (d.info.config as OwntracksConfig).source ?? 'location'
      if (this.#store.get(source).view.hasPointAt(records[0]!.n, records[0]!.t)) return
      await this.#write(d, source, records, `owntracks ${key}`)
    })
    d.queues.set(key, run)
    try {
      await run
    } finally {
      if (d.queues.get(key) === run) d.queues.delete(key)
    }
  }

  async #start(id: string): Promise<void> {
    const d = this.#running(id)
    if (d.info.status.state !== 'stopped' && d.info.status.state !== 'error') return
    d.info.status = { ...d.info.status, state: 'starting', since: Date.now() / 1000 }
    const setState = (state: DriverStatus['state'], error?: Error) => {
      if (d.info.status.state !== state) d.info.status = { ...d.info.status, state, since: Date.now() / 1000 }
      if (error) this.#fail(d, error)
    }
    if (d.info.kind === 'owntracks' && (d.info.config as OwntracksConfig).mode === 'http') {
      setState('running')
      return
    }
    if (d.info.kind === 'owntracks') {
      const config = d.info.config as OwntracksConfig
      d.connection = connect({ url: config.broker!, clientId: `coffer-${id}`, topics: [config.topic ?? 'owntracks/+/+'] }, {
        onState: setState,
        onMessage: async (topic, payload) => {
          const device = deviceFromTopic(topic)
          if (!device) return
          await this.#guard(d, () => this.#owntracksMessage(d, device, JSON.parse(payload.toString('utf8'))))
        },
      })
      return
    }
    const config = d.info.config as MqttConfig
    d.connection = connect({ url: config.broker, clientId: `coffer-${id}`, topics: [...new Set(config.mappings.map((m) => m.topic))], username: config.username, password: config.password }, {
      onState: setState,
      onMessage: async (topic, payload) => {
        for (const mapping of config.mappings.filter((m) => topicMatches(m.topic, topic))) {
          await this.#guard(d, async () => {
            const records = mappedRecords(mapping, payload, Date.now() / 1000)
            if (records.length > 0) await this.#write(d, mapping.source, records, `mqtt ${topic}`)
          })
        }
      },
    })
  }

  async #stop(id: string): Promise<void> {
    const d = this.#running(id)
    const connection = d.connection
    d.connection = undefined
    await connection?.close()
    await Promise.allSettled(d.queues.values())
    d.info.status = { ...d.info.status, state: 'stopped', since: Date.now() / 1000 }
  }

  /** Runs a message handler; a bad message is recorded as the driver's last error, not retried. */
  async #guard(d: Running, fn: () => Promise<void>): Promise<void> {
    try {
      await fn()
    } catch (err) {
      this.#fail(d, err as Error)
    }
  }

  #fail(d: Running, err: Error): void {
    d.info.status = { ...d.info.status, lastError: { at: Date.now() / 1000, message: err.message } }
    this.#log.warn({ driver: d.info.id, err: err.message }, 'driver error')
  }

  /** Writes as the driver: its own token, checked by the arbiter and audited like any request. */
  async #write(d: Running, source: string, records: SenmlRecord[], action: string): Promise<void> {
    const now = Date.now() / 1000
    if (d.token.expires - now < 3600) {
      if (this.#arbiter.grant(d.info.grant).revoked) throw new Unauthorized(`Driver "${d.info.id}" has had its grant revoked; remove and add it again to let it write.`)
      const { token, expires } = this.#arbiter.mint(d.info.grant, { ttlSeconds: TOKEN_SECONDS })
      d.token = { value: token, expires: expires! }
    }
    const result = await writeAs({ store: this.#store, arbiter: this.#arbiter, audit: this.#audit }, d.token.value, source, records, action)
    d.info.status = { ...d.info.status, lastData: now, records: d.info.status.records + result.count }
  }
}

function stopped(): DriverStatus {
  return { state: 'stopped', since: Date.now() / 1000, lastData: null, lastError: null, records: 0 }
}

/** What leaves the box about a driver: never the device password hashes. */
function publicInfo(info: DriverInfo): DriverInfo {
  if (info.kind !== 'owntracks') {
    const config = { ...(info.config as MqttConfig) }
    if (config.password !== undefined) config.password = '(set)'
    return { ...info, config, status: { ...info.status } }
  }
  const config = info.config as OwntracksConfig
  return { ...info, config: { ...config, devices: config.devices?.map(({ user, device }) => ({ user, device })) }, status: { ...info.status } }
}

function digest(secret: string): Buffer {
  return crypto.createHash('sha256').update(secret).digest()
}

function hash(secret: string): string {
  return digest(secret).toString('hex')
}

/**
 * An HTTP driver's devices by user, with their password digests decoded once per configuration
 * (a new configuration is a new object), not searched and decoded on every post.
 */
const deviceIndexes = new WeakMap<OwntracksConfig, Map<string, DeviceSecret[]>>()

interface DeviceSecret { user: string; device: string; secret: Buffer | undefined }

function devicesByUser(config: OwntracksConfig): Map<string, DeviceSecret[]> {
  let index = deviceIndexes.get(config)
  if (!index) {
    index = new Map()
    for (const { user, device, secretHash } of config.devices ?? []) {
      const list = index.get(user) ?? []
      // A device without a SHA-256 digest (64 hex digits) has no password that could match.
      list.push({ user, device, secret: secretHash && /^[0-9a-f]{64}$/.test(secretHash) ? Buffer.from(secretHash, 'hex') : undefined })
      index.set(user, list)
    }
    deviceIndexes.set(config, index)
  }
  return index
}

function parseBasic(header: string | undefined): { user: string; password: string } | undefined {
  if (!header?.startsWith('Basic ')) return undefined
  const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  return colon < 0 ? undefined : { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) }
}
