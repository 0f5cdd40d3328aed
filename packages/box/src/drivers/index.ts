/**
 * Drivers bring data in: each owns its sources, has a validated configuration, a status and a
 * start/stop lifecycle, and writes only with a token the arbiter minted from its own grant —
 * every write is authorized and audited exactly as an HTTP client's would be.
 *
 * This registry knows drivers only through the table of kinds below: what is particular to a
 * kind (its configuration, connection, routes and credentials) lives in the kind's folder.
 */
import { Value } from '@sinclair/typebox/value'
import type Database from 'better-sqlite3'
import type { Logger } from 'pino'
import type { Arbiter } from '../arbiter/index.ts'
import { SOURCE_ID, type Store } from '../store/index.ts'
import type { SenmlRecord } from '../senml/index.ts'
import { Conflict, InvalidInput, NotFound, Unauthorized } from '../errors/index.ts'
import { writeAs, type IngestDeps } from '../ingest/index.ts'
import type { DriverContext, DriverHandle, DriverKind, KindHost } from './kind.ts'
import { mqtt, type MqttConfig } from './mqtt/index.ts'
import { owntracks, type OwntracksConfig } from './owntracks/index.ts'

export type { DriverKind } from './kind.ts'
export type { MqttConfig } from './mqtt/index.ts'
export type { NewDevice, OwntracksConfig } from './owntracks/index.ts'

/** The kinds of driver the box runs. */
export const kinds: DriverKind[] = [owntracks, mqtt]

export interface DriverStatus {
  state: 'stopped' | 'starting' | 'running' | 'reconnecting' | 'offline' | 'error'
  since: number
  lastData: number | null
  lastError: { at: number; message: string } | null
  records: number
}

/** A driver as the registry keeps it. */
interface DriverInfo {
  id: string
  kind: string
  config: unknown
  grant: string
  sources: string[]
  createdAt: string
  status: DriverStatus
}

/** A driver as the API answers with it, its configuration typed by its kind. */
export type Driver = Omit<DriverInfo, 'kind' | 'config'> & ({ kind: 'owntracks'; config: OwntracksConfig } | { kind: 'mqtt'; config: MqttConfig })

interface Running {
  info: DriverInfo
  kind: DriverKind
  token: { value: string; expires: number }
  /** Set while the driver runs. */
  handle?: DriverHandle
}

/** A driver's id names its grant's subject (driver:ID), spelled like a source id. */
const DRIVER_ID = SOURCE_ID
const TOKEN_SECONDS = 24 * 3600

export class Drivers {
  readonly #db: Database.Database
  readonly #store: Store
  readonly #arbiter: Arbiter
  readonly #ingest: IngestDeps
  readonly #log: Logger
  readonly #drivers = new Map<string, Running>()

  constructor(deps: { db: Database.Database; store: Store; arbiter: Arbiter; ingest: IngestDeps; logger: Logger }) {
    this.#db = deps.db
    this.#store = deps.store
    this.#arbiter = deps.arbiter
    this.#ingest = deps.ingest
    this.#log = deps.logger
  }

  async open(): Promise<void> {
    const rows = this.#db.prepare('SELECT * FROM drivers ORDER BY id').all() as { id: string; kind: string; config: string; grant_id: string; created_at: string }[]
    for (const row of rows) {
      const kind = kindNamed(row.kind)
      const config: unknown = JSON.parse(row.config)
      const info: DriverInfo = { id: row.id, kind: kind.kind, config, grant: row.grant_id, sources: kind.sources(config), createdAt: row.created_at, status: stopped() }
      this.#drivers.set(row.id, { info, kind, token: { value: '', expires: 0 } })
      await this.#start(row.id)
    }
  }

  async close(): Promise<void> {
    for (const id of this.#drivers.keys()) await this.#stop(id)
  }

  list(): Driver[] {
    return [...this.#drivers.values()].map(publicInfo)
  }

  get(id: string): Driver {
    return publicInfo(this.#driver(id))
  }

  #driver(id: string): Running {
    const d = this.#drivers.get(id)
    if (!d) throw new NotFound(`There is no driver "${id}". List drivers with \`coffer drivers list\`.`)
    return d
  }

  /** Adds a driver: creates its missing sources, a write-only grant over them, and starts it. */
  async add(id: string, kindName: string, rawConfig: unknown): Promise<Driver> {
    if (!DRIVER_ID.test(id)) throw new InvalidInput(`"${id}" is not a valid driver id: use 1–63 lower-case letters, digits, '.', '_' or '-'.`, { field: 'id' })
    if (this.#drivers.has(id)) throw new Conflict(`A driver "${id}" already exists; change it with \`coffer drivers configure ${id}\`.`)
    const kind = kindNamed(kindName)
    const config = checkConfig(kind, rawConfig)
    const sources = kind.sources(config)
    await this.#addSources(id, kind, sources)
    const grant = this.#grantFor(id, kind, sources)
    const createdAt = new Date().toISOString()
    this.#db.prepare('INSERT INTO drivers (id, kind, config, grant_id, created_at) VALUES (?, ?, ?, ?, ?)').run(id, kind.kind, JSON.stringify(config), grant.id, createdAt)
    const info: DriverInfo = { id, kind: kind.kind, config, grant: grant.id, sources, createdAt, status: stopped() }
    this.#drivers.set(id, { info, kind, token: { value: '', expires: 0 } })
    await this.#start(id)
    return this.get(id)
  }

  async #addSources(id: string, kind: DriverKind, sources: string[]): Promise<void> {
    for (const source of sources) if (!this.#store.has(source)) await this.#store.add({ id: source, logicalType: kind.logicalType, description: `Written by driver ${id}` })
  }

  /** A driver may write to its own sources and do nothing else. */
  #grantFor(id: string, kind: DriverKind, sources: string[]) {
    return this.#arbiter.createGrant({ subject: `driver:${id}`, description: `${kind.kind} driver ${id}`, sources, ops: ['write'], windows: [], granularity: 0 })
  }

  /** Replaces a driver's configuration, keeping the secrets it was not shown, and restarts it. */
  async configure(id: string, rawConfig: unknown): Promise<Driver> {
    const d = this.#driver(id)
    const config = checkConfig(d.kind, rawConfig)
    d.kind.keepSecrets?.(config, d.info.config)
    const sources = d.kind.sources(config)
    const added = sources.filter((s) => !d.info.sources.includes(s))
    await this.#addSources(id, d.kind, added)
    await this.#stop(id)
    if (added.length > 0) {
      // A wider grant is a new grant: the old one is revoked so no token outlives the change.
      this.#arbiter.revoke(d.info.grant)
      d.info.grant = this.#grantFor(id, d.kind, sources).id
    }
    d.info.config = config
    d.info.sources = sources
    this.#db.prepare('UPDATE drivers SET config = ?, grant_id = ? WHERE id = ?').run(JSON.stringify(config), d.info.grant, id)
    await this.#start(id)
    return this.get(id)
  }

  /** Removes a driver and revokes its grant. Its sources and their data stay. */
  async remove(id: string): Promise<void> {
    const d = this.#driver(id)
    await this.#stop(id)
    this.#arbiter.revoke(d.info.grant)
    this.#db.prepare('DELETE FROM drivers WHERE id = ?').run(id)
    this.#drivers.delete(id)
  }

  async start(id: string): Promise<Driver> {
    this.#driver(id)
    await this.#start(id)
    return this.get(id)
  }

  async stop(id: string): Promise<Driver> {
    this.#driver(id)
    await this.#stop(id)
    return this.get(id)
  }

  /** What a kind's own routes may see and do: its drivers, and reconfiguring one. */
  hostFor<C, H extends DriverHandle>(kind: DriverKind<C, H>): KindHost<C, H> {
    return {
      driver: (id) => {
        const d = this.#drivers.get(id)
        return d?.kind === kind ? { config: d.info.config as C, handle: d.handle as H | undefined } : undefined
      },
      kindOf: (id) => this.#driver(id).kind.kind,
      configure: (id, config) => this.configure(id, config),
      audited: (kind, action, source, run) => this.#ingest.ops.audited(kind, action, source, run),
    }
  }

  async #start(id: string): Promise<void> {
    const d = this.#driver(id)
    if (d.info.status.state !== 'stopped' && d.info.status.state !== 'error') return
    d.info.status = { ...d.info.status, state: 'starting', since: Date.now() / 1000 }
    const ctx: DriverContext<unknown> = {
      id,
      config: d.info.config,
      setState: (state, error) => {
        if (d.info.status.state !== state) d.info.status = { ...d.info.status, state, since: Date.now() / 1000 }
        if (error) this.#fail(d, error)
      },
      write: (source, records, action) => this.#write(d, source, records, action),
      stored: (source, name, t) => this.#store.get(source).view.hasPointAt(name, t),
      safely: async (handle) => {
        try {
          await handle()
        } catch (err) {
          this.#fail(d, err as Error)
        }
      },
    }
    d.handle = d.kind.start(ctx)
  }

  async #stop(id: string): Promise<void> {
    const d = this.#driver(id)
    const handle = d.handle
    d.handle = undefined
    await handle?.stop()
    d.info.status = { ...d.info.status, state: 'stopped', since: Date.now() / 1000 }
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
    const result = await writeAs(this.#ingest, d.token.value, source, records, action)
    d.info.status = { ...d.info.status, lastData: now, records: d.info.status.records + result.count }
  }
}

function kindNamed(name: string): DriverKind {
  const kind = kinds.find((k) => k.kind === name)
  if (!kind) throw new InvalidInput(`Unknown driver kind "${name}": use one of ${kinds.map((k) => k.kind).join(', ')}.`, { field: 'kind' })
  return kind
}

/** Validates a configuration up front, naming the first field at fault. */
function checkConfig(kind: DriverKind, config: unknown): unknown {
  const error = Value.Errors(kind.configSchema, config).First()
  if (error) throw new InvalidInput(`${kind.kind} configuration${error.path ? ` ${error.path}` : ''}: ${error.message}.`, { field: error.path.replace(/^\//, '') || 'config' })
  kind.check?.(config)
  return config
}

function stopped(): DriverStatus {
  return { state: 'stopped', since: Date.now() / 1000, lastData: null, lastError: null, records: 0 }
}

/** What leaves the box about a driver: never its secrets. */
function publicInfo(d: Running): Driver {
  return { ...d.info, config: d.kind.publicConfig(d.info.config), status: { ...d.info.status } } as Driver
}
