/**
 * The blind replicator (`coffer replicator`): keeps encrypted copies of the logs of the boxes
 * that paired with it, for a friend's machine or a co-operative's, with no Coffer box of its own.
 * It holds each owner's cores in a corestore of their own, opened by public key only: it can
 * verify every block's signature, and never holds a key that decrypts one. It refuses owners it
 * was not paired with, and blocks beyond an owner's quota (it refuses rather than evicts).
 * Groups pair with it the same way, by an invite an admin seals to it; their copies are kept
 * by group-replica.ts, and listed here beside the boxes'. An owner's box may also leave it a share
 * of the owner's seed, for its operator to release if the owner loses the box (friend-shares.ts).
 */
import fs from 'node:fs'
import path from 'node:path'
import { randomBytes } from 'node:crypto'
import Database from 'better-sqlite3'
import type Corestore from 'corestore'
import type Hypercore from 'hypercore'
import type pino from 'pino'
import { InvalidInput, NotFound } from '../errors/index.ts'
import { keyPairFromSeed, sign, type KeyPair } from '../keys/index.ts'
import { openCorestore } from '../store/index.ts'
import { hashSecret, openInvite, type Invite } from './invite.ts'
import { openSwarm, type Connection, type PeerSwarm } from './network.ts'
import { heldBlocks, heldRanges } from './held.ts'
import { ToReplica, type HealthReport, type ToBox, openWire, type Wire } from './wire.ts'
import { healthMessage } from './health.ts'
import { GROUP_INVITE_PREFIX } from './group-wire.ts'
import { GROUP_COPIES_TABLE, GroupCopies, acceptGroupInvite, dirBytes, groupCopyDir, type GroupCopyRow } from './group-replica.ts'
import { FRIEND_SHARES_TABLES, forgetShare, friendShares, releaseFriendShare, takeShare, type FriendShare } from './friend-shares.ts'

export interface OwnerView {
  /** A box's key, or a group's. */
  key: string
  kind: 'box' | 'group'
  name: string
  state: 'pending' | 'active'
  quotaBytes: number
  usedBytes: number
  overQuota: boolean
  cores: number
  addedAt: string
  lastSeen: string | null
  connected: boolean
}

interface OwnerRow { key: string; name: string; state: 'pending' | 'active'; quota: number; invite: string | null; expires_at: number | null; added_at: number; last_seen: number | null; cores: string }

/** How often a connected owner gets a signed health report, and its disk use is measured. */
const HEALTH_MS = 30_000

function identitySeed(dir: string): Buffer {
  const file = path.join(dir, 'identity')
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 })
  if (!fs.existsSync(file)) fs.writeFileSync(file, randomBytes(32), { mode: 0o600, flag: 'wx' })
  return fs.readFileSync(file)
}

export function replicatorIdentity(dir: string): KeyPair {
  return keyPairFromSeed(identitySeed(dir))
}

function openReplicatorDb(dir: string): Database.Database {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 })
  const db = new Database(path.join(dir, 'replicator.db'))
  db.pragma('journal_mode = WAL')
  // The running replicator and its command line write the same file.
  db.pragma('busy_timeout = 5000')
  db.exec(`CREATE TABLE IF NOT EXISTS owners (key TEXT PRIMARY KEY, name TEXT NOT NULL, state TEXT NOT NULL, quota INTEGER NOT NULL,
      invite TEXT, expires_at REAL, added_at REAL NOT NULL, last_seen REAL, cores TEXT NOT NULL DEFAULT '[]');
    CREATE TABLE IF NOT EXISTS spent_invites (hash TEXT PRIMARY KEY, spent_at REAL NOT NULL);
    ${GROUP_COPIES_TABLE};
    ${FRIEND_SHARES_TABLES};`)
  return db
}

/** Accepts an invite into the replicator's folder, running or not: a running replicator picks it up within a second. */
export function acceptInvite(dir: string, code: string, opts: { quotaBytes: number }): { owner: string; name: string } {
  if (!(opts.quotaBytes > 0)) throw new InvalidInput('A quota must be more than 0 bytes, e.g. --quota 10GiB.')
  if (code.trim().startsWith(GROUP_INVITE_PREFIX)) {
    const db = openReplicatorDb(dir)
    try {
      return acceptGroupInvite(db, code, replicatorIdentity(dir), opts.quotaBytes)
    } finally {
      db.close()
    }
  }
  return addOwner(dir, openInvite(code, replicatorIdentity(dir)), opts.quotaBytes)
}

/** Refuses an invite this folder has taken already: an invite pairs once. */
export function refuseSpent(dir: string, invite: Invite): void {
  const db = openReplicatorDb(dir)
  try {
    if (db.prepare('SELECT 1 FROM spent_invites WHERE hash = ?').get(hashSecret(invite.secret))) throw new InvalidInput('This invite was used already: an invite pairs once. Ask the owner for a new one.')
  } finally {
    db.close()
  }
}

/** Takes an opened invite: its owner is served from then on, and its secret is said to the box once. */
export function addOwner(dir: string, invite: Invite, quotaBytes: number): { owner: string; name: string } {
  const db = openReplicatorDb(dir)
  try {
    const hash = hashSecret(invite.secret)
    db.transaction(() => {
      if (db.prepare('SELECT 1 FROM spent_invites WHERE hash = ?').get(hash)) throw new InvalidInput('This invite was used already: an invite pairs once. Ask the owner for a new one.')
      db.prepare('INSERT INTO spent_invites (hash, spent_at) VALUES (?, ?)').run(hash, Date.now())
      db.prepare(`INSERT INTO owners (key, name, state, quota, invite, expires_at, added_at) VALUES (?, ?, 'pending', ?, ?, ?, ?)
        ON CONFLICT (key) DO UPDATE SET name = excluded.name, quota = excluded.quota, invite = excluded.invite, expires_at = excluded.expires_at`)
        .run(invite.box, invite.name, quotaBytes, invite.secret, invite.expiresAt, Date.now())
    })()
    return { owner: invite.box, name: invite.name }
  } finally {
    db.close()
  }
}

/** The keys of the cores a replicator's folder holds for an owner, as its last message from the owner left them. */
export function ownerCores(dir: string, key: string): string[] {
  const db = openReplicatorDb(dir)
  try {
    return JSON.parse((db.prepare('SELECT cores FROM owners WHERE key = ?').pluck().get(key) as string | undefined) ?? '[]') as string[]
  } finally {
    db.close()
  }
}

/** Where an owner's cores are kept in a replicator's folder. */
export function ownerDir(dir: string, key: string): string {
  return path.join(dir, 'owners', key)
}

/** The owners a replicator folder serves, boxes and groups, read from its database (a running replicator keeps it current). */
export function listOwners(dir: string): OwnerView[] {
  const db = openReplicatorDb(dir)
  const used = (folder: string) => fs.existsSync(folder) ? dirBytes(folder) : 0
  try {
    return [
      ...(db.prepare('SELECT * FROM owners ORDER BY added_at').all() as OwnerRow[]).map((row) => ownerView(row, used(ownerDir(dir, row.key)), false)),
      ...(db.prepare('SELECT * FROM group_copies ORDER BY added_at').all() as GroupCopyRow[]).map((row) => groupView(row, used(groupCopyDir(dir, row.key)), false)),
    ]
  } finally {
    db.close()
  }
}

/** The shares of owners' seeds a replicator folder holds, one per owner, none usable alone. */
export function listShares(dir: string): FriendShare[] {
  const db = openReplicatorDb(dir)
  try {
    return friendShares(db)
  } finally {
    db.close()
  }
}

/** Releases the share held for an owner (key, identity, a prefix of either, or name), sealed to their recovery code. */
export function releaseShare(dir: string, owner: string, to: string): { share: FriendShare; file: string } {
  const db = openReplicatorDb(dir)
  try {
    return releaseFriendShare(db, replicatorIdentity(dir), owner, to)
  } finally {
    db.close()
  }
}

/** Stops serving an owner, a box or a group: a running replicator drops them within a second, and deletes what it held for them. */
export function removeOwner(dir: string, key: string): void {
  const db = openReplicatorDb(dir)
  try {
    const removed = db.prepare('DELETE FROM owners WHERE key = ?').run(key).changes + db.prepare('DELETE FROM group_copies WHERE key = ?').run(key).changes
    if (!removed) throw new NotFound(`This replicator holds nothing for ${key}.`)
    forgetShare(db, key)
  } finally {
    db.close()
  }
}

function ownerView(row: OwnerRow, usedBytes: number, connected: boolean): OwnerView {
  return {
    key: row.key, kind: 'box', name: row.name, state: row.state, quotaBytes: row.quota, usedBytes, overQuota: usedBytes > row.quota,
    cores: (JSON.parse(row.cores) as string[]).length, addedAt: new Date(row.added_at).toISOString(),
    lastSeen: row.last_seen === null ? null : new Date(row.last_seen).toISOString(), connected,
  }
}

function groupView(row: GroupCopyRow, usedBytes: number, connected: boolean): OwnerView {
  return {
    key: row.key, kind: 'group', name: `group "${row.name}"`, state: row.state, quotaBytes: row.quota, usedBytes, overQuota: usedBytes > row.quota,
    cores: (JSON.parse(row.cores) as string[]).length, addedAt: new Date(row.added_at).toISOString(),
    lastSeen: row.last_seen === null ? null : new Date(row.last_seen).toISOString(), connected,
  }
}

class Owner {
  readonly key: string
  readonly dir: string
  readonly store: Corestore
  readonly cores = new Map<string, Hypercore>()
  readonly downloads = new Map<string, { destroy(): void }>()
  usedBytes = 0
  /** Bytes received since the folder was last measured. */
  grown = 0
  conn: Connection | undefined
  wire: Wire<ToBox, ToReplica> | undefined
  reportTimer: NodeJS.Timeout | undefined
  /** The cores held before this connection, opened and attached to it. */
  ready: Promise<void> = Promise.resolve()

  constructor(key: string, dir: string) {
    this.key = key
    this.dir = dir
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 })
    this.store = openCorestore(dir)
    this.usedBytes = dirBytes(dir)
  }
}

export class Replicator {
  readonly dir: string
  readonly keyPair: KeyPair
  readonly #db: Database.Database
  readonly #bootstrap: { host: string; port: number }[] | undefined
  readonly #logger: pino.Logger | undefined
  readonly #owners = new Map<string, Owner>()
  readonly #groups: GroupCopies
  #rows = new Map<string, OwnerRow>()
  /** Groups' copies follow the database one change at a time. */
  #groupsReloaded: Promise<void> = Promise.resolve()
  #swarm: PeerSwarm | undefined
  #poll: NodeJS.Timeout | undefined
  #health: NodeJS.Timeout | undefined
  #dataVersion = -1

  constructor(opts: { dir: string; bootstrap?: { host: string; port: number }[]; logger?: pino.Logger }) {
    this.dir = path.resolve(opts.dir)
    const seed = identitySeed(this.dir)
    this.keyPair = keyPairFromSeed(seed)
    this.#db = openReplicatorDb(this.dir)
    this.#bootstrap = opts.bootstrap
    this.#logger = opts.logger
    this.#groups = new GroupCopies({ dir: this.dir, db: this.#db, seed, bootstrap: opts.bootstrap, logger: opts.logger })
  }

  get publicKey(): string {
    return this.keyPair.publicKey.toString('hex')
  }

  async open(): Promise<void> {
    this.#reload()
    // Owners removed while the replicator was stopped: what was held for them goes now.
    const owners = path.join(this.dir, 'owners')
    for (const key of fs.existsSync(owners) ? fs.readdirSync(owners) : []) if (!this.#rows.has(key)) fs.rmSync(path.join(owners, key), { recursive: true, force: true })
    await this.#groupsReloaded
    this.#groups.sweep()
    this.#swarm = await openSwarm({
      keyPair: this.keyPair,
      bootstrap: this.#bootstrap,
      // Owners, and the admins of groups whose invite is still to be presented.
      allowed: (remote) => this.#rows.has(remote.toString('hex')) || this.#groups.pendingAdmins().has(remote.toString('hex')),
      onConnection: (conn) => this.#connected(conn),
    })
    this.#dialPending()
    // Invites accepted and owners removed by another process (the CLI) show up in the database.
    this.#poll = setInterval(() => this.#reload(), 1000)
    this.#health = setInterval(() => this.#reportAll(), HEALTH_MS)
    this.#poll.unref()
    this.#health.unref()
  }

  async close(): Promise<void> {
    clearInterval(this.#poll)
    clearInterval(this.#health)
    await this.#swarm?.close()
    await this.#groupsReloaded
    await this.#groups.close()
    for (const owner of this.#owners.values()) await owner.store.close()
    this.#owners.clear()
    this.#db.close()
  }

  accept(code: string, opts: { quotaBytes: number }): { owner: string; name: string } {
    const accepted = acceptInvite(this.dir, code, opts)
    this.#reload()
    return accepted
  }

  /** The boxes and groups served here. */
  owners(): OwnerView[] {
    const rows = this.#db.prepare('SELECT * FROM owners ORDER BY added_at').all() as OwnerRow[]
    const groups = this.#db.prepare('SELECT * FROM group_copies ORDER BY added_at').all() as GroupCopyRow[]
    const used = (folder: string) => fs.existsSync(folder) ? dirBytes(folder) : 0
    return [
      ...rows.map((row) => {
        const owner = this.#owners.get(row.key)
        return ownerView(row, owner ? owner.usedBytes + owner.grown : used(ownerDir(this.dir, row.key)), owner?.conn !== undefined)
      }),
      ...groups.map((row) => groupView(row, this.#groups.usedBytes(row.key) ?? used(groupCopyDir(this.dir, row.key)), this.#groups.connected(row.key))),
    ]
  }

  /** The keys connected now to this replicator's copy of a group. */
  groupConnections(group: string): string[] {
    return this.#groups.connections(group)
  }

  #reload(): void {
    const version = this.#db.pragma('data_version', { simple: true }) as number
    if (version === this.#dataVersion) return
    this.#dataVersion = version
    const rows = this.#db.prepare('SELECT * FROM owners').all() as OwnerRow[]
    const before = this.#rows
    this.#rows = new Map(rows.map((r) => [r.key, r]))
    for (const key of before.keys()) if (!this.#rows.has(key)) void this.#drop(key)
    const pending = new Set(this.#groups.pendingAdmins().keys())
    this.#groupsReloaded = this.#groupsReloaded.then(() => this.#groups.reload()).then(() => {
      // An admin whose group is paired (or removed) meanwhile is no longer dialled from here.
      for (const admin of pending) if (!this.#groups.pendingAdmins().has(admin) && !this.#rows.has(admin)) this.#swarm?.forget(Buffer.from(admin, 'hex'))
      this.#dialPending()
    }).catch((err: Error) => this.#logger?.error({ err: err.message }, 'the groups held here could not be opened'))
    this.#dialPending()
  }

  /**
   * Only an owner whose invite is still to be presented is dialled from here; a paired box dials
   * its replicas itself (in its sync windows), so each pair has one dialler and one connection.
   */
  #dialPending(): void {
    for (const row of this.#rows.values()) if (row.state === 'pending') this.#swarm?.dial(Buffer.from(row.key, 'hex'))
    for (const admin of this.#groups.pendingAdmins().keys()) this.#swarm?.dial(Buffer.from(admin, 'hex'))
  }

  async #drop(key: string): Promise<void> {
    this.#rows.delete(key)
    this.#swarm?.forget(Buffer.from(key, 'hex'))
    const owner = this.#owners.get(key)
    this.#owners.delete(key)
    if (owner) await owner.store.close()
    fs.rmSync(ownerDir(this.dir, key), { recursive: true, force: true })
  }

  #owner(key: string): Owner {
    let owner = this.#owners.get(key)
    if (!owner) this.#owners.set(key, owner = new Owner(key, ownerDir(this.dir, key)))
    return owner
  }

  #connected(conn: Connection): void {
    const key = conn.remotePublicKey.toString('hex')
    const pairing = this.#groups.pendingAdmins().get(key)
    if (pairing) {
      this.#groups.pair(conn, pairing).then(() => {
        if (!this.#groups.pendingAdmins().has(key) && !this.#rows.has(key)) this.#swarm?.stopDialling(conn.remotePublicKey)
      }).catch((err: Error) => this.#logger?.warn({ group: pairing.key, err: err.message }, 'this replicator could not pair with the group'))
      return
    }
    const row = this.#rows.get(key)
    if (!row) {
      conn.destroy()
      return
    }
    const owner = this.#owner(key)
    owner.conn?.destroy()
    owner.conn = conn
    const wire = openWire<ToBox, ToReplica>(conn, ToReplica, (message) => {
      this.#seen(key)
      owner.ready.then(() => this.#handle(owner, wire, message)).catch((err: Error) => {
        this.#logger?.warn({ owner: key, err: err.message }, 'an owner\'s message could not be handled')
        conn.destroy()
      })
    })
    owner.wire = wire
    conn.once('close', () => {
      if (owner.conn === conn) {
        owner.conn = undefined
        owner.wire = undefined
      }
      for (const d of owner.downloads.values()) d.destroy()
      owner.downloads.clear()
    })
    const current = this.#rows.get(key)!
    wire.send({ type: 'hello', ...(current.state === 'pending' && current.invite ? { invite: current.invite } : {}) })
    // What it held before a restart is served again, and followed, before the box says anything.
    owner.ready = (async () => {
      const held = this.#db.prepare('SELECT cores FROM owners WHERE key = ?').pluck().get(key) as string | undefined
      for (const core of JSON.parse(held ?? '[]') as string[]) await this.#hold(owner, core)
    })()
  }

  #seen(key: string): void {
    this.#db.prepare('UPDATE owners SET last_seen = ? WHERE key = ?').run(Date.now(), key)
  }

  async #handle(owner: Owner, wire: Wire<ToBox, ToReplica>, message: ToReplica): Promise<void> {
    if (message.type === 'refused') {
      this.#logger?.warn({ owner: owner.key, reason: message.reason }, 'the box refused this replicator')
      owner.conn?.destroy()
      return
    }
    if (message.type === 'welcome') {
      this.#db.prepare("UPDATE owners SET state = 'active', invite = NULL, expires_at = NULL WHERE key = ?").run(owner.key)
      this.#rows.get(owner.key)!.state = 'active'
      this.#swarm?.stopDialling(Buffer.from(owner.key, 'hex'))
      return
    }
    if (this.#rows.get(owner.key)?.state !== 'active') {
      owner.conn?.destroy()
      return
    }
    if (message.type === 'cores') {
      for (const key of message.dropped) {
        const core = owner.cores.get(key) ?? owner.store.get({ key: Buffer.from(key, 'hex') })
        owner.cores.delete(key)
        owner.downloads.get(key)?.destroy()
        owner.downloads.delete(key)
        await core.ready()
        await core.purge()
      }
      for (const key of message.keys) await this.#hold(owner, key)
      for (const { core, blocks } of message.clears) {
        const held = owner.cores.get(core)
        if (!held) continue
        for (const b of blocks) await held.clear(b, b + 1)
      }
      this.#db.prepare('UPDATE owners SET cores = ? WHERE key = ?').run(JSON.stringify([...owner.cores.keys()]), owner.key)
      wire.send({ type: 'heard', through: message.through })
      this.#report(owner)
    } else if (message.type === 'challenge') {
      const blocks = await Promise.all(message.blocks.map(async ({ core, index }) => {
        const held = owner.cores.get(core)
        const block = held && index < held.length ? await held.get(index, { wait: false, raw: true }) : null
        return { core, index, block: block ? block.toString('base64') : null }
      }))
      wire.send({ type: 'proof', id: message.id, blocks })
    } else if (message.type === 'inventory') {
      const cores = await Promise.all([...owner.cores.entries()].map(async ([key, core]) => {
        await core.ready()
        return { key, length: core.length, held: heldRanges(core) }
      }))
      wire.send({ type: 'inventory', cores })
    } else if (message.type === 'share') {
      try {
        takeShare(this.#db, this.keyPair, { key: owner.key, name: this.#rows.get(owner.key)!.name }, message)
      } catch (err) {
        this.#logger?.warn({ owner: owner.key, err: (err as Error).message }, 'a share of an owner\'s seed was refused')
        wire.send({ type: 'share-refused', set: message.set, reason: (err as Error).message.slice(0, 500) })
        return
      }
      wire.send({ type: 'share-held', set: message.set })
    }
  }

  /** Opens a core by its key alone and follows it, unless the owner's quota is spent. */
  async #hold(owner: Owner, key: string): Promise<void> {
    let core = owner.cores.get(key)
    if (!core) {
      core = owner.store.get({ key: Buffer.from(key, 'hex') })
      await core.ready()
      owner.cores.set(key, core)
      core.on('download', (_index, byteLength) => {
        owner.grown += byteLength ?? 0
        if (this.#overQuota(owner)) this.#stopDownloads(owner)
        else this.#reportSoon(owner)
      })
    }
    if (owner.conn) core.replicate(owner.conn)
    if (!owner.downloads.has(key) && !this.#overQuota(owner)) owner.downloads.set(key, core.download({ start: 0, end: -1 }))
  }

  #overQuota(owner: Owner): boolean {
    const row = this.#rows.get(owner.key)
    return !row || owner.usedBytes + owner.grown > row.quota
  }

  #stopDownloads(owner: Owner): void {
    for (const d of owner.downloads.values()) d.destroy()
    owner.downloads.clear()
    this.#report(owner)
  }

  /** A report once a burst of blocks has landed, so the owner sees a replica catch up without waiting for the next round. */
  #reportSoon(owner: Owner): void {
    if (owner.reportTimer) return
    owner.reportTimer = setTimeout(() => {
      owner.reportTimer = undefined
      this.#report(owner)
    }, 250)
    owner.reportTimer.unref()
  }

  #reportAll(): void {
    this.#groups.reportAll()
    for (const owner of this.#owners.values()) {
      owner.usedBytes = dirBytes(owner.dir)
      owner.grown = 0
      this.#report(owner)
    }
  }

  /** A signed account of what this replicator holds for the owner. */
  #report(owner: Owner): void {
    const row = this.#rows.get(owner.key)
    if (!owner.wire || !row) return
    const usedBytes = owner.usedBytes + owner.grown
    const report: HealthReport = {
      owner: owner.key, at: Date.now(), quotaBytes: row.quota, usedBytes, overQuota: usedBytes > row.quota,
      cores: [...owner.cores.entries()].map(([key, core]) => ({ key, length: core.length, blocks: heldBlocks(core), bytes: core.byteLength, held: heldRanges(core) })),
    }
    owner.wire.send({ type: 'health', report, signature: sign(healthMessage(report), this.keyPair).toString('hex') })
  }
}
