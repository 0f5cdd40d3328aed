/**
 * The box's side of backup: the replicas it paired, the logs it hands them, and what it knows
 * of each one's health. Every source log, the audit log and the source registry replicate; views
 * never do (they are rebuilt from the logs on restore). Replicas are dialled by key, only inside
 * their sync windows, and throttled to their rates; a deletion reaches them as a list of blocks
 * to clear, kept until each replica says it heard it.
 *
 * A replica is blind (a replicator: it holds the blocks, never a key) or the owner's own device (it
 * is handed the seed in its invite, so it can serve as the box): the two replicate and are checked
 * alike, and inviting a device asks for the owner passphrase besides the owner's token.
 *
 * A blind replica's operator may also be a friend holding a share of the owner's seed (social
 * recovery): the share, sealed to the replica's key, goes over the same connection when it is
 * next open, and is kept here until the replica says it holds it.
 */
import path from 'node:path'
import fs from 'node:fs'
import { randomBytes, randomUUID } from 'node:crypto'
import type Database from 'better-sqlite3'
import type Hypercore from 'hypercore'
import type pino from 'pino'
import { Type, type Static } from '@sinclair/typebox'
import { Conflict, InvalidInput, NotFound } from '../errors/index.ts'
import { checkPassphrase, verifySignature, type BoxKeys } from '../keys/index.ts'
import { openHome } from '../home/index.ts'
import { RecoveryRecords, WrongPassphrase, type ShareCourier } from '../recovery/index.ts'
import { describeDuration } from '../duration/index.ts'
import type { AuditLog } from '../audit/index.ts'
import type { SourceMeta, Store } from '../store/index.ts'
import { hashSecret, makeInvite } from './invite.ts'
import { openSwarm, type Connection, type PeerSwarm } from './network.ts'
import { SourceRegistry } from './registry.ts'
import { throttle } from './throttle.ts'
import { healthMessage } from './health.ts'
import { heldBlocks } from './held.ts'
import { ToBox, type HealthReport, type ToReplica, openWire, type Wire } from './wire.ts'

export const Window = Type.String({ pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-3]):[0-5][0-9]$', description: 'HH:MM-HH:MM in the owner\'s time zone; may wrap midnight' })

export const ReplicaSettings = Type.Object({
  windows: Type.Array(Window, { maxItems: 24, description: 'When the box syncs with this replica; empty: always' }),
  uploadBytesPerSecond: Type.Integer({ minimum: 0, description: 'Upload limit to this replica; 0: none' }),
  downloadBytesPerSecond: Type.Integer({ minimum: 0, description: 'Download limit from this replica; 0: none' }),
  staleAfterSeconds: Type.Integer({ minimum: 60, description: 'A replica not synced for this long is flagged' }),
}, { additionalProperties: false })
export type ReplicaSettings = Static<typeof ReplicaSettings>

export const DEFAULT_SETTINGS: ReplicaSettings = { windows: [], uploadBytesPerSecond: 0, downloadBytesPerSecond: 0, staleAfterSeconds: 24 * 3600 }

export const ReplicaCore = Type.Object({
  log: Type.String({ description: 'source:<id>, audit or registry' }),
  key: Type.String(),
  /** Blocks the box holds and the replica does not, and the log bytes it is behind. */
  behindBlocks: Type.Integer(),
  behindBytes: Type.Integer(),
  heldBlocks: Type.Integer(),
})

export const ReplicaView = Type.Object({
  id: Type.String(),
  name: Type.String(),
  kind: Type.Union([Type.Literal('blind'), Type.Literal('device')], { description: 'blind: holds encrypted blocks, never a key; device: the owner\'s own device, which holds the keys and can serve as the box' }),
  publicKey: Type.String(),
  state: Type.Union([Type.Literal('invited'), Type.Literal('paired')]),
  createdAt: Type.String(),
  pairedAt: Type.Union([Type.String(), Type.Null()]),
  inviteExpiresAt: Type.Union([Type.String(), Type.Null()]),
  settings: ReplicaSettings,
  connected: Type.Boolean(),
  inWindow: Type.Boolean(),
  lastSeen: Type.Union([Type.String(), Type.Null()]),
  /** No health report verified within staleAfterSeconds, or a report that shows it behind or failing its checks. */
  stale: Type.Boolean(),
  problems: Type.Array(Type.String()),
  health: Type.Union([Type.Null(), Type.Object({
    reportedAt: Type.String(),
    quotaBytes: Type.Number(),
    usedBytes: Type.Number(),
    overQuota: Type.Boolean(),
    behindBlocks: Type.Integer(),
    behindBytes: Type.Integer(),
    cores: Type.Array(ReplicaCore),
    check: Type.Union([Type.Null(), Type.Object({ at: Type.String(), blocks: Type.Integer(), failed: Type.Integer() })]),
  })]),
  traffic: Type.Object({ sentBytes: Type.Integer(), receivedBytes: Type.Integer() }),
})
export type ReplicaView = Static<typeof ReplicaView>

interface ReplicaRow {
  id: string; name: string; kind: ReplicaKind; public_key: string; state: 'invited' | 'paired'; invite_hash: string | null; expires_at: number | null
  created_at: number; paired_at: number | null; settings: string; health: string | null; last_seen: number | null; clears_heard: number
}

type ReplicaKind = 'blind' | 'device'

interface StoredHealth {
  report: HealthReport
  check: { at: number; blocks: number; failed: number } | null
  /** When a report last showed it holding every block the box holds. */
  syncedAt: number | null
}

/** Blocks checked against the box's own copy each time a replica reports. */
const CHALLENGE_BLOCKS = 8

/** Wrong passphrases in a row after which each next answer comes later, up to 5 s, as recovery's do. */
const FAILURES_BEFORE_DELAY = 5

export interface BackupDeps {
  db: Database.Database
  keys: BoxKeys
  store: Store
  audit: AuditLog
  timeZone: () => string
  logger?: pino.Logger
  bootstrap?: { host: string; port: number }[]
}

interface Live { conn: Connection; wire: Wire<ToReplica, ToBox> }

export class Backup implements ShareCourier {
  readonly #deps: BackupDeps
  readonly #registry: SourceRegistry
  readonly #recovery: RecoveryRecords
  /** Every log replicated, by hex key, with what it is. */
  readonly #cores = new Map<string, { log: string; core: Hypercore }>()
  readonly #live = new Map<string, Live>()
  readonly #traffic = new Map<string, { sentBytes: number; receivedBytes: number }>()
  #swarm: PeerSwarm | undefined
  #starting: Promise<PeerSwarm> | undefined
  #windowTimer: NodeJS.Timeout | undefined
  #changes: Promise<void> = Promise.resolve()
  #passphraseFailures = 0
  readonly #listeners: { added: (m: SourceMeta) => void; removed: (m: SourceMeta) => void; cleared: (m: SourceMeta, blocks: number[]) => void }

  constructor(deps: BackupDeps) {
    this.#deps = deps
    this.#recovery = new RecoveryRecords(deps.db)
    const { keyPair, encryptionKey } = deps.keys.sourceRegistry
    this.#registry = new SourceRegistry(deps.store.logs.get({ keyPair, encryption: { key: encryptionKey } }))
    this.#listeners = {
      added: (meta) => this.#queue(async () => {
        await this.#registry.added(meta)
        if (this.#starting) await this.#track(`source:${meta.id}`, this.#sourceCore(meta))
        this.#announce()
      }),
      removed: (meta) => this.#queue(async () => {
        await this.#registry.removed(meta)
        const key = await this.#sourceKey(meta)
        await this.#cores.get(key)?.core.close()
        this.#cores.delete(key)
        this.#recordClear(key, 'all')
      }),
      cleared: (meta, blocks) => this.#queue(async () => {
        this.#recordClear(await this.#sourceKey(meta), JSON.stringify(blocks))
      }),
    }
  }

  get publicKey(): string {
    return this.#deps.keys.backupPeer.publicKey.toString('hex')
  }

  async open(): Promise<void> {
    const { store } = this.#deps
    // Off the start's path: changes made meanwhile queue behind it, and so does the swarm.
    this.#queue(() => this.#registry.reconcile(store.list()))
    for (const [event, listener] of Object.entries(this.#listeners)) store.events.on(event as 'added', listener as never)
    // The box answers at once; the network comes up behind it.
    if (this.#rows().length > 0) this.#start().catch((err: Error) => this.#deps.logger?.error({ err: err.message }, 'the backup network could not start'))
  }

  async close(): Promise<void> {
    for (const [event, listener] of Object.entries(this.#listeners)) this.#deps.store.events.off(event as 'added', listener as never)
    clearInterval(this.#windowTimer)
    await this.#changes
    const swarm = await this.#starting?.catch(() => undefined)
    await swarm?.close()
    if (!this.#starting) await this.#registry.core.close()
    for (const { core } of this.#cores.values()) await core.close()
    this.#cores.clear()
  }

  /** Invites a blind replicator, known by its public key, to pair; the code is sealed to that key. */
  async invite(input: { publicKey: string; name: string; expiresInSeconds: number }): Promise<{ replica: ReplicaView; invite: string }> {
    const key = this.#inviteeKey(input.publicKey, 'blind')
    return this.#invite(key, input, 'blind')
  }

  /**
   * Invites the owner's other device, known by its public key, to pair as a full replica: its
   * invite carries the root seed, sealed to that key, so it asks for the owner passphrase first.
   */
  async inviteDevice(input: { publicKey: string; name: string; expiresInSeconds: number; passphrase: string }): Promise<{ replica: ReplicaView; invite: string }> {
    const key = this.#inviteeKey(input.publicKey, 'device')
    // The home is the folder the box's database is in; its seed and passphrase hash are read only now.
    const home = openHome(path.dirname(this.#deps.db.name))
    await this.#checkPassphrase(home.config.passphraseHash, input.passphrase)
    const seed = fs.readFileSync(home.paths.seed)
    try {
      return await this.#invite(key, input, 'device', { seed, timeZone: this.#deps.timeZone() })
    } finally {
      seed.fill(0)
    }
  }

  async #checkPassphrase(hash: string, passphrase: string): Promise<void> {
    const failures = this.#passphraseFailures
    if (failures >= FAILURES_BEFORE_DELAY) await new Promise((resolve) => setTimeout(resolve, Math.min(5000, 250 * 2 ** (failures - FAILURES_BEFORE_DELAY))))
    if (!checkPassphrase(hash, passphrase)) {
      this.#passphraseFailures++
      throw new WrongPassphrase()
    }
    this.#passphraseFailures = 0
  }

  #inviteeKey(publicKey: string, kind: ReplicaKind): string {
    const key = publicKey.toLowerCase()
    const what = kind === 'device' ? 'device' : 'replicator'
    if (!/^[0-9a-f]{64}$/.test(key)) throw new InvalidInput(`A ${what}'s key is 64 hex characters: \`coffer ${what} id\` prints it.`, { field: 'publicKey' })
    if (key === this.publicKey) throw new InvalidInput(`That is this box's own key, not a ${what}'s.`, { field: 'publicKey' })
    const existing = this.#byKey(key)
    if (existing?.state === 'paired') throw new Conflict(`That ${existing.kind === 'device' ? 'device' : 'replicator'} is paired already, as replica ${existing.id}.`)
    return key
  }

  async #invite(key: string, input: { name: string; expiresInSeconds: number }, kind: ReplicaKind, device?: { seed: Buffer; timeZone: string }): Promise<{ replica: ReplicaView; invite: string }> {
    const expiresAt = Date.now() + input.expiresInSeconds * 1000
    const { code, secretHash } = makeInvite({ box: this.#deps.keys.backupPeer.publicKey, replica: Buffer.from(key, 'hex'), expiresAt, name: input.name, device })
    const id = this.#byKey(key)?.id ?? randomUUID()
    // A new replica starts from the box as it is: deletions made before it need not reach it.
    this.#deps.db.prepare(`INSERT INTO replicas (id, name, kind, public_key, state, invite_hash, expires_at, created_at, settings, clears_heard)
      VALUES (?, ?, ?, ?, 'invited', ?, ?, ?, ?, (SELECT coalesce(max(seq), 0) FROM replica_clears))
      ON CONFLICT (id) DO UPDATE SET name = excluded.name, kind = excluded.kind, invite_hash = excluded.invite_hash, expires_at = excluded.expires_at`)
      .run(id, input.name, kind, key, secretHash, expiresAt, Date.now(), JSON.stringify(DEFAULT_SETTINGS))
    const swarm = await this.#start()
    swarm.dial(Buffer.from(key, 'hex'))
    return { replica: await this.get(id), invite: code }
  }

  /** Every replica: blind ones and the owner's devices. */
  async replicas(): Promise<ReplicaView[]> {
    return Promise.all(this.#rows().map((row) => this.#view(row)))
  }

  async get(id: string): Promise<ReplicaView> {
    return this.#view(this.#row(id))
  }

  async configure(id: string, settings: Partial<ReplicaSettings>): Promise<ReplicaView> {
    const row = this.#row(id)
    const next = { ...DEFAULT_SETTINGS, ...(JSON.parse(row.settings) as ReplicaSettings), ...settings }
    this.#deps.db.prepare('UPDATE replicas SET settings = ? WHERE id = ?').run(JSON.stringify(next), id)
    this.#followWindows()
    return this.get(id)
  }

  /** Removes a replica: its connection drops at once, and it is refused from then on. */
  async remove(id: string): Promise<{ removed: string }> {
    const row = this.#row(id)
    this.#deps.db.prepare('DELETE FROM replicas WHERE id = ?').run(id)
    this.#swarm?.forget(Buffer.from(row.public_key, 'hex'))
    this.#live.get(row.public_key)?.conn.destroy()
    return { removed: id }
  }

  /** Asks the replica for a fresh report, and checks blocks it says it holds against the box's own. */
  async check(id: string): Promise<ReplicaView> {
    const row = this.#row(id)
    const live = this.#live.get(row.public_key)
    if (!live) throw new Conflict(`Replica "${row.name}" is not connected${this.#inWindow(row) ? '' : ' (outside its sync window)'}: it is checked when it next connects.`)
    await this.#challenge(row, live, (JSON.parse(row.health ?? 'null') as StoredHealth | null)?.report)
    return this.get(id)
  }

  /** The paired blind replica a friend runs, by its name or id, to hold a share of the seed. */
  replicaHolder(ref: string): { id: string; name: string; publicKey: string } {
    const found = this.#rows().filter((r) => r.id === ref || r.name === ref)
    if (found.length !== 1) {
      throw new InvalidInput(found.length === 0 ? `There is no replica "${ref}": \`coffer backup list\` shows them.` : `"${ref}" names several replicas: give its id.`, { field: 'replica' })
    }
    const row = found[0]!
    if (row.kind === 'device') throw new InvalidInput(`"${row.name}" is your own device: it holds the whole seed already, so a share there guards nothing. Give the share to a friend.`, { field: 'replica' })
    if (row.state !== 'paired') throw new InvalidInput(`"${row.name}" has not paired yet: a share goes only to a replica paired with this box. Wait until its operator accepts the invite.`, { field: 'replica' })
    return { id: row.id, name: row.name, publicKey: row.public_key }
  }

  deliverShares(): void {
    for (const [key, live] of this.#live) {
      const row = this.#byKey(key)
      if (row) this.#sendShare(row, live)
    }
  }

  /** Tells a blind replica of the split in force: its share, while it has not said it holds it, or that it holds none. */
  #sendShare(row: ReplicaRow, live: Live): void {
    if (row.kind !== 'blind') return
    const share = this.#recovery.shareFor(row.public_key)
    if (share) live.wire.send({ type: 'share', set: share.version, file: share.file })
  }

  #rows(): ReplicaRow[] {
    return this.#deps.db.prepare('SELECT * FROM replicas ORDER BY created_at').all() as ReplicaRow[]
  }

  #row(id: string): ReplicaRow {
    const row = this.#deps.db.prepare('SELECT * FROM replicas WHERE id = ?').get(id) as ReplicaRow | undefined
    if (!row) throw new NotFound(`There is no replica "${id}". List them with \`coffer backup list\`.`)
    return row
  }

  /** A log's key is the hash of its manifest (which names its signing key), known once a session on it is ready. */
  async #sourceKey(meta: SourceMeta): Promise<string> {
    for (const [key, { log }] of this.#cores) if (log === `source:${meta.id}`) return key
    const core = this.#sourceCore(meta)
    try {
      await core.ready()
      return core.key.toString('hex')
    } finally {
      await core.close()
    }
  }

  #sourceCore(meta: SourceMeta): Hypercore {
    const { keyPair, encryptionKey } = this.#deps.keys.sourceLog(meta.id, meta.generation)
    return this.#deps.store.logs.get({ keyPair, encryption: { key: encryptionKey } })
  }

  async #track(log: string, core: Hypercore): Promise<void> {
    await core.ready()
    this.#cores.set(core.key.toString('hex'), { log, core })
    for (const live of this.#live.values()) core.replicate(live.conn)
  }

  #queue(change: () => Promise<void>): void {
    this.#changes = this.#changes.then(change).catch((err: Error) => this.#deps.logger?.error({ err: err.message }, 'a change could not be passed to the replicas'))
  }

  /** Opens a session on every log, and the swarm: only once there is a replica, so a box without one holds nothing open for it. */
  async #start(): Promise<PeerSwarm> {
    this.#starting ??= this.#changes.then(() => this.#trackAll()).then(() => openSwarm({
      keyPair: this.#deps.keys.backupPeer,
      bootstrap: this.#deps.bootstrap,
      allowed: (remote) => this.#deps.db.prepare('SELECT 1 FROM replicas WHERE public_key = ?').get(remote.toString('hex')) !== undefined && this.#inWindow(this.#byKey(remote.toString('hex'))!),
      onConnection: (conn) => this.#connected(conn),
    })).then((swarm) => {
      this.#swarm = swarm
      this.#followWindows()
      this.#windowTimer = setInterval(() => this.#followWindows(), 30_000)
      this.#windowTimer.unref()
      return swarm
    })
    return this.#starting
  }

  async #trackAll(): Promise<void> {
    await this.#track('registry', this.#registry.core)
    await this.#track('audit', this.#deps.audit.session())
    for (const meta of this.#deps.store.list()) await this.#track(`source:${meta.id}`, this.#sourceCore(meta))
  }

  #byKey(key: string): ReplicaRow | undefined {
    return this.#deps.db.prepare('SELECT * FROM replicas WHERE public_key = ?').get(key) as ReplicaRow | undefined
  }

  /** Dials each replica inside its windows, and drops it outside them. */
  #followWindows(): void {
    const swarm = this.#swarm
    if (!swarm) return
    for (const row of this.#rows()) {
      const key = Buffer.from(row.public_key, 'hex')
      if (this.#inWindow(row)) swarm.dial(key)
      else swarm.forget(key)
    }
  }

  #inWindow(row: ReplicaRow): boolean {
    return inWindows((JSON.parse(row.settings) as ReplicaSettings).windows, this.#deps.timeZone())
  }

  #connected(conn: Connection): void {
    const key = conn.remotePublicKey.toString('hex')
    const wire = openWire<ToReplica, ToBox>(conn, ToBox, (message) => {
      this.#deps.db.prepare('UPDATE replicas SET last_seen = ? WHERE public_key = ?').run(Date.now(), key)
      this.#handle(key, live, message).catch((err: Error) => {
        this.#deps.logger?.warn({ replica: key, err: err.message }, 'a replica\'s message could not be handled')
        conn.destroy()
      })
    })
    const live: Live = { conn, wire }
    const stopThrottle = throttle(conn, () => JSON.parse(this.#byKey(key)?.settings ?? '{}') as ReplicaSettings)
    conn.once('close', () => {
      stopThrottle()
      const counted = conn as Connection & { rawBytesWritten: number; rawBytesRead: number }
      const total = this.#traffic.get(key) ?? { sentBytes: 0, receivedBytes: 0 }
      this.#traffic.set(key, { sentBytes: total.sentBytes + counted.rawBytesWritten, receivedBytes: total.receivedBytes + counted.rawBytesRead })
      if (this.#live.get(key) === live) this.#live.delete(key)
    })
  }

  async #handle(key: string, live: Live, message: ToBox): Promise<void> {
    const row = this.#byKey(key)
    if (!row) {
      live.conn.destroy()
      return
    }
    if (message.type === 'hello') return this.#hello(row, live, message.invite)
    if (!this.#live.has(key)) return
    if (message.type === 'share-held') {
      this.#recovery.delivered(message.set, key, { at: Date.now() / 1000 })
    } else if (message.type === 'share-refused') {
      this.#deps.logger?.warn({ replica: row.id, reason: message.reason }, 'a replica refused its share of the seed')
      this.#recovery.delivered(message.set, key, { problem: message.reason })
    } else if (message.type === 'heard') {
      this.#deps.db.prepare('UPDATE replicas SET clears_heard = max(clears_heard, ?) WHERE id = ?').run(message.through, row.id)
      this.#pruneClears()
    } else if (message.type === 'health') {
      const signed = verifySignature(Buffer.from(message.signature, 'hex'), healthMessage(message.report), Buffer.from(key, 'hex'))
      if (!signed || message.report.owner !== this.publicKey) {
        this.#deps.logger?.warn({ replica: row.id }, 'a replica sent a health report it did not sign for this box')
        live.conn.destroy()
        return
      }
      const previous = JSON.parse(row.health ?? 'null') as StoredHealth | null
      const synced = this.#behind(message.report).blocks === 0 ? message.report.at : previous?.syncedAt ?? null
      this.#deps.db.prepare('UPDATE replicas SET health = ? WHERE id = ?').run(JSON.stringify({ report: message.report, check: previous?.check ?? null, syncedAt: synced } satisfies StoredHealth), row.id)
      // Each report is checked: "it says it holds my data" is only believed of blocks it sends back.
      if (!previous?.check || previous.check.blocks === 0 || Date.now() - previous.check.at > 60_000) await this.#challenge(this.#byKey(key)!, live, message.report)
    }
  }

  async #hello(row: ReplicaRow, live: Live, invite: string | undefined): Promise<void> {
    if (row.state === 'invited') {
      const problem = !invite || !row.invite_hash ? 'This replicator has not been paired: use the invite code the owner gave.'
        : hashSecret(invite) !== row.invite_hash ? 'That invite is not the one this box made for this replicator.'
        : (row.expires_at ?? 0) <= Date.now() ? 'The invite expired: ask the owner for a new one.'
        : undefined
      if (problem) {
        live.wire.send({ type: 'refused', reason: problem })
        setTimeout(() => live.conn.destroy(), 100).unref()
        return
      }
      this.#deps.db.prepare("UPDATE replicas SET state = 'paired', invite_hash = NULL, expires_at = NULL, paired_at = ? WHERE id = ?").run(Date.now(), row.id)
    }
    this.#live.get(row.public_key)?.conn.destroy()
    this.#live.set(row.public_key, live)
    live.wire.send({ type: 'welcome' })
    for (const { core } of this.#cores.values()) core.replicate(live.conn)
    this.#sendCores(this.#byKey(row.public_key)!, live)
    this.#sendShare(row, live)
  }

  /** A deletion every replica must hear about, kept until each has; none is kept while there is no replica. */
  #recordClear(core: string, blocks: string): void {
    if (this.#rows().length === 0) return
    this.#deps.db.prepare('INSERT INTO replica_clears (core, blocks, at) VALUES (?, ?, ?)').run(core, blocks, Date.now())
    this.#announce()
  }

  /** Tells every connected replica the logs to hold and the clears it has not heard. */
  #announce(): void {
    for (const [key, live] of this.#live) {
      const row = this.#byKey(key)
      if (row) this.#sendCores(row, live)
    }
  }

  #sendCores(row: ReplicaRow, live: Live): void {
    const pending = this.#deps.db.prepare('SELECT seq, core, blocks FROM replica_clears WHERE seq > ? ORDER BY seq').all(row.clears_heard) as { seq: number; core: string; blocks: string }[]
    const dropped = pending.filter((p) => p.blocks === 'all').map((p) => p.core)
    const clears = pending.filter((p) => p.blocks !== 'all').map((p) => ({ core: p.core, blocks: JSON.parse(p.blocks) as number[] }))
    const through = pending.at(-1)?.seq ?? row.clears_heard
    live.wire.send({ type: 'cores', keys: [...this.#cores.keys()], dropped, clears, through })
  }

  /** Clears every paired replica has heard are no longer needed. */
  #pruneClears(): void {
    const least = this.#deps.db.prepare("SELECT min(clears_heard) FROM replicas WHERE state = 'paired'").pluck().get() as number | null
    if (least !== null) this.#deps.db.prepare('DELETE FROM replica_clears WHERE seq <= ?').run(least)
  }

  /** Asks for blocks the box holds, at random, and compares the replica's stored bytes with its own. */
  async #challenge(row: ReplicaRow, live: Live, report: HealthReport | undefined): Promise<void> {
    const candidates: { core: string; index: number }[] = []
    for (const [key, { core }] of this.#cores) {
      // Only blocks it says it holds: one it does not send back then is a failure, not a lag.
      const held = report?.cores.find((c) => c.key === key)?.held ?? []
      const total = held.reduce((n, [start, end]) => n + end - start, 0)
      for (let n = 0; n < 4 && total > 0; n++) {
        let offset = randomBytes(4).readUInt32BE() % total
        const [start, end] = held.find(([s, e]) => offset < e - s || ((offset -= e - s), false))!
        const index = start + offset
        if (index < end && index < core.length && await core.has(index)) candidates.push({ core: key, index })
      }
    }
    const blocks = candidates.sort(() => randomBytes(1)[0]! - 128).slice(0, CHALLENGE_BLOCKS)
    let failed = 0
    if (blocks.length > 0) {
      const id = randomUUID()
      live.wire.send({ type: 'challenge', id, blocks })
      const proof = await live.wire.next('proof')
      for (const { core, index } of blocks) {
        const answer = proof.id === id ? proof.blocks.find((b) => b.core === core && b.index === index) : undefined
        const ours = await this.#cores.get(core)?.core.get(index, { wait: false, raw: true })
        if (!answer?.block || !ours || !Buffer.from(answer.block, 'base64').equals(ours)) failed++
      }
    }
    const stored = JSON.parse(this.#byKey(row.public_key)?.health ?? 'null') as StoredHealth | null
    if (!stored) return
    stored.check = { at: Date.now(), blocks: blocks.length, failed }
    this.#deps.db.prepare('UPDATE replicas SET health = ? WHERE id = ?').run(JSON.stringify(stored), row.id)
  }

  /** How far a report shows the replica behind this box's copy of each log, in blocks held and log bytes. */
  #behind(report: HealthReport): { blocks: number; bytes: number; cores: Static<typeof ReplicaCore>[] } {
    const cores = [...this.#cores.entries()].map(([key, { log, core }]) => {
      const theirs = report.cores.find((c) => c.key === key)
      return {
        log, key,
        behindBlocks: Math.max(0, heldBlocks(core) - (theirs?.blocks ?? 0)),
        behindBytes: Math.max(0, core.byteLength - (theirs?.bytes ?? 0)),
        heldBlocks: theirs?.blocks ?? 0,
      }
    })
    return { blocks: cores.reduce((n, c) => n + c.behindBlocks, 0), bytes: cores.reduce((n, c) => n + c.behindBytes, 0), cores }
  }

  async #view(row: ReplicaRow): Promise<ReplicaView> {
    const settings = { ...DEFAULT_SETTINGS, ...(JSON.parse(row.settings) as ReplicaSettings) }
    const stored = JSON.parse(row.health ?? 'null') as StoredHealth | null
    const live = this.#live.get(row.public_key)
    const problems: string[] = []
    let health: ReplicaView['health'] = null
    if (stored) {
      const behind = this.#behind(stored.report)
      health = {
        reportedAt: new Date(stored.report.at).toISOString(),
        quotaBytes: stored.report.quotaBytes, usedBytes: stored.report.usedBytes, overQuota: stored.report.overQuota,
        behindBlocks: behind.blocks,
        behindBytes: behind.bytes,
        cores: behind.cores,
        check: stored.check && { at: new Date(stored.check.at).toISOString(), blocks: stored.check.blocks, failed: stored.check.failed },
      }
      if (stored.report.overQuota) problems.push(`Its quota is full (${mebibytes(stored.report.usedBytes)} used of ${mebibytes(stored.report.quotaBytes)}): it takes no more blocks. Ask its operator for more room.`)
      if (stored.check?.failed) problems.push(`${stored.check.failed} of ${stored.check.blocks} blocks it was asked for did not match this box's copy.`)
    }
    const synced = stored?.syncedAt ?? row.paired_at ?? row.created_at
    if (row.state === 'paired' && Date.now() - synced > settings.staleAfterSeconds * 1000) {
      problems.push(stored ? `Not fully in sync for over ${describeDuration(settings.staleAfterSeconds)}.` : 'No health report has come from it yet.')
    }
    if (row.state === 'invited' && (row.expires_at ?? 0) <= Date.now()) problems.push('Its invite expired before it paired: invite it again.')
    const traffic = this.#traffic.get(row.public_key) ?? { sentBytes: 0, receivedBytes: 0 }
    const counted = live?.conn as (Connection & { rawBytesWritten: number; rawBytesRead: number }) | undefined
    return {
      id: row.id, name: row.name, kind: row.kind, publicKey: row.public_key, state: row.state,
      createdAt: new Date(row.created_at).toISOString(),
      pairedAt: row.paired_at === null ? null : new Date(row.paired_at).toISOString(),
      inviteExpiresAt: row.expires_at === null ? null : new Date(row.expires_at).toISOString(),
      settings, connected: live !== undefined, inWindow: this.#inWindow(row),
      lastSeen: row.last_seen === null ? null : new Date(row.last_seen).toISOString(),
      stale: problems.length > 0, problems, health,
      traffic: { sentBytes: traffic.sentBytes + (counted?.rawBytesWritten ?? 0), receivedBytes: traffic.receivedBytes + (counted?.rawBytesRead ?? 0) },
    }
  }
}

function mebibytes(n: number): string {
  return `${(n / 2 ** 20).toFixed(n < 10 * 2 ** 20 ? 2 : 0)} MiB`
}

/** Whether the time now, in `timeZone`, falls in one of the windows (HH:MM-HH:MM, which may wrap midnight); no window means always. */
export function inWindows(windows: string[], timeZone: string): boolean {
  if (windows.length === 0) return true
  const parts = new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(new Date())
  const now = minutes(parts)
  return windows.some((w) => {
    const [from, to] = w.split('-').map(minutes) as [number, number]
    return from <= to ? now >= from && now < to : now >= from || now < to
  })
}

function minutes(hhmm: string): number {
  const [h, m] = hhmm.split(':').map(Number) as [number, number]
  return h * 60 + m
}
