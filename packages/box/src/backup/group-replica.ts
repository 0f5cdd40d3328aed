/**
 * The groups a blind replicator holds copies of, beside the boxes it backs up. Each group's cores
 * live in a corestore of their own, opened by public key only; the replicator joins the group's
 * address on the DHT under a key of its own for that group and admits only the peers the group's
 * admins listed (checked again on every connection, as members check theirs). It holds every core
 * any member tells it of, across epochs: a member that was offline catches up from it alone.
 *
 * Who the admins are it learns from its pairing and from the lists it takes since. An admin says who
 * may be admitted directly when connected, and in its admissions core (see group-wire), which the
 * replicator follows for every admin it trusts and gets from whichever member it reaches: so a
 * removal reaches it through a plain member, with no admin online. It takes an admin's list only if
 * it moves forward — a later epoch, or the same epoch written later — never back. A member can pass
 * such a list on or hold it back; it cannot widen the list itself (its `peers` are ignored), forge an
 * admin's entry (hypercore checks every block against the admin's key) or hand back an older one.
 * Not handled: an admin stays trusted until a list without it is taken, so a removed admin whose
 * box, altered, writes a list for a later epoch than the group's before then is heeded.
 */
import fs from 'node:fs'
import path from 'node:path'
import type Database from 'better-sqlite3'
import type Corestore from 'corestore'
import type Hypercore from 'hypercore'
import type pino from 'pino'
import { InvalidInput } from '../errors/index.ts'
import { keyPairFromSeed, sign, type KeyPair } from '../keys/index.ts'
import { openCorestore } from '../store/index.ts'
import { hashSecret } from './invite.ts'
import { PeerNetwork, type Connection, type PeerSwarm } from './network.ts'
import { heldBlocks } from './held.ts'
import { openWire, type Wire } from './wire.ts'
import {
  FromGroupReplica, ToGroupReplica, admissionsKey, groupHealthMessage, groupPeerSeed, lastAdmission, openGroupReplicaInvite,
  type GroupHealthReport, type GroupPeer,
} from './group-wire.ts'

export interface GroupCopyRow {
  key: string; name: string; address: string; admin: string; state: 'pending' | 'active'; quota: number
  invite: string | null; expires_at: number | null; added_at: number; last_seen: number | null; cores: string; peers: string
}

export const GROUP_COPIES_TABLE = `CREATE TABLE IF NOT EXISTS group_copies (key TEXT PRIMARY KEY, name TEXT NOT NULL, address TEXT NOT NULL,
  admin TEXT NOT NULL, state TEXT NOT NULL, quota INTEGER NOT NULL, invite TEXT, expires_at REAL, added_at REAL NOT NULL, last_seen REAL,
  cores TEXT NOT NULL DEFAULT '[]', peers TEXT NOT NULL DEFAULT '[]')`

/** How long the admin has to answer a pairing. */
const PAIR_MS = 30_000

type GroupWire = Wire<FromGroupReplica, ToGroupReplica>

/** Records an accepted group invite in the replicator's database; the running replicator dials the admin. */
export function acceptGroupInvite(db: Database.Database, code: string, keyPair: KeyPair, quotaBytes: number): { owner: string; name: string } {
  const invite = openGroupReplicaInvite(code, keyPair)
  const hash = hashSecret(invite.secret)
  if (db.prepare('SELECT 1 FROM spent_invites WHERE hash = ?').get(hash)) throw new InvalidInput('This invite was used already: an invite pairs once. Ask the group\'s admin for a new one.')
  db.transaction(() => {
    db.prepare('INSERT INTO spent_invites (hash, spent_at) VALUES (?, ?)').run(hash, Date.now())
    db.prepare(`INSERT INTO group_copies (key, name, address, admin, state, quota, invite, expires_at, added_at) VALUES (?, ?, ?, ?, 'pending', ?, ?, ?, ?)
      ON CONFLICT (key) DO UPDATE SET name = excluded.name, admin = excluded.admin, quota = excluded.quota, invite = excluded.invite, expires_at = excluded.expires_at,
        state = CASE WHEN group_copies.state = 'active' THEN 'active' ELSE 'pending' END`)
      .run(invite.group, invite.name, invite.address, invite.admin, quotaBytes, invite.secret, invite.expiresAt, Date.now())
  })()
  return { owner: invite.group, name: `group "${invite.name}"` }
}

export function groupCopyDir(dir: string, key: string): string {
  return path.join(dir, 'groups', key)
}

class HeldGroup {
  row: GroupCopyRow
  readonly dir: string
  readonly keyPair: KeyPair
  readonly store: Corestore
  readonly cores = new Map<string, Hypercore>()
  readonly downloads = new Map<string, { destroy(): void }>()
  readonly links = new Map<string, { conn: Connection; wire: GroupWire }>()
  peers: GroupPeer[]
  /** The admissions core of every admin it trusts, followed for that admin's latest list. */
  readonly admissions = new Map<string, Hypercore>()
  /** The epoch and time of the newest admin's list it took (none yet since it started: any trusted admin's is newer). */
  admitted: { epoch: number; at: number } | null = null
  /** Admins' lists being read and taken, one at a time. */
  admitting: Promise<void> = Promise.resolve()
  usedBytes: number
  grown = 0
  swarm: PeerSwarm | undefined
  reportTimer: NodeJS.Timeout | undefined
  /** The cores held before this start, opened and downloading. */
  ready: Promise<void> = Promise.resolve()

  constructor(row: GroupCopyRow, dir: string, keyPair: KeyPair) {
    this.row = row
    this.dir = dir
    this.keyPair = keyPair
    this.peers = JSON.parse(row.peers) as GroupPeer[]
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 })
    this.store = openCorestore(dir)
    this.usedBytes = dirBytes(dir)
  }

  allowed(remote: Buffer): boolean {
    const key = remote.toString('hex')
    return this.peers.some((p) => p.peer === key)
  }
}

export function dirBytes(dir: string): number {
  let total = 0
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += fs.statSync(path.join(entry.parentPath, entry.name), { throwIfNoEntry: false })?.size ?? 0
  }
  return total
}

export class GroupCopies {
  readonly #dir: string
  readonly #db: Database.Database
  readonly #seed: Buffer
  readonly #network: PeerNetwork
  readonly #logger: pino.Logger | undefined
  readonly #held = new Map<string, HeldGroup>()
  #rows = new Map<string, GroupCopyRow>()
  #closing = false

  constructor(opts: { dir: string; db: Database.Database; seed: Buffer; bootstrap?: { host: string; port: number }[]; logger?: pino.Logger }) {
    this.#dir = opts.dir
    this.#db = opts.db
    this.#seed = opts.seed
    this.#network = new PeerNetwork(opts.bootstrap)
    this.#logger = opts.logger
  }

  /** Groups whose invite is still to be presented, by the admin key to dial. */
  pendingAdmins(): Map<string, GroupCopyRow> {
    return new Map([...this.#rows.values()].filter((r) => r.state === 'pending' && r.invite).map((r) => [r.admin, r]))
  }

  rows(): GroupCopyRow[] {
    return [...this.#rows.values()]
  }

  /** Follows the database: opens groups paired since, drops removed ones and what was held for them. */
  async reload(): Promise<void> {
    const rows = this.#db.prepare('SELECT * FROM group_copies').all() as GroupCopyRow[]
    this.#rows = new Map(rows.map((r) => [r.key, r]))
    for (const [key, held] of this.#held) {
      if (!this.#rows.has(key)) await this.#drop(key, held)
    }
    for (const row of rows) {
      const held = this.#held.get(row.key)
      if (held) held.row = row
      else if (row.state === 'active' && !this.#closing) await this.#open(row)
    }
  }

  /** Deletes what is held for groups no longer in the database (removed while the replicator was stopped). */
  sweep(): void {
    const root = path.join(this.#dir, 'groups')
    for (const key of fs.existsSync(root) ? fs.readdirSync(root) : []) if (!this.#rows.has(key)) fs.rmSync(path.join(root, key), { recursive: true, force: true })
  }

  connected(key: string): boolean {
    return (this.#held.get(key)?.links.size ?? 0) > 0
  }

  usedBytes(key: string): number | undefined {
    const held = this.#held.get(key)
    return held ? held.usedBytes + held.grown : undefined
  }

  /** The peers connected to a group's copy now, by key. */
  connections(key: string): string[] {
    return [...(this.#held.get(key)?.links.keys() ?? [])]
  }

  /** A pending group's admin answered the replicator's dial: says the invite, and becomes active if the admin lets it. */
  async pair(conn: Connection, row: GroupCopyRow): Promise<void> {
    const peer = this.#keyPair(row.key).publicKey.toString('hex')
    let settle!: (m: ToGroupReplica) => void
    const answered = new Promise<ToGroupReplica>((resolve) => (settle = resolve))
    const wire = openWire<FromGroupReplica, ToGroupReplica>(conn, ToGroupReplica, (m) => settle(m))
    wire.send({ type: 'pair', secret: row.invite!, peer })
    const timer = setTimeout(() => conn.destroy(), PAIR_MS)
    try {
      const answer = await Promise.race([answered, wire.closed.then(() => undefined)])
      if (!answer) return
      if (answer.type === 'refused') {
        this.#logger?.warn({ group: row.key, reason: answer.reason }, 'the group\'s admin refused this replicator')
        return
      }
      if (answer.type !== 'paired') return
      this.#db.prepare("UPDATE group_copies SET state = 'active', invite = NULL, expires_at = NULL, peers = ?, last_seen = ? WHERE key = ?")
        .run(JSON.stringify(answer.peers), Date.now(), row.key)
    } finally {
      clearTimeout(timer)
      conn.end()
    }
    await this.reload()
  }

  async close(): Promise<void> {
    this.#closing = true
    for (const held of this.#held.values()) await this.#close(held)
    this.#held.clear()
    await this.#network.close()
  }

  #keyPair(group: string): KeyPair {
    return keyPairFromSeed(groupPeerSeed(this.#seed, group))
  }

  async #open(row: GroupCopyRow): Promise<void> {
    const held = new HeldGroup(row, groupCopyDir(this.#dir, row.key), this.#keyPair(row.key))
    this.#held.set(row.key, held)
    held.ready = (async () => {
      for (const core of JSON.parse(row.cores) as string[]) await this.#hold(held, core)
    })()
    await held.ready
    held.swarm = await this.#network.swarm({
      keyPair: held.keyPair,
      // Asked again as each connection opens: a peer dropped from the list meanwhile is refused.
      allowed: (remote) => held.allowed(remote),
      onConnection: (conn) => this.#connected(held, conn),
      address: Buffer.from(row.address, 'hex'),
    })
    for (const p of held.peers) held.swarm.dial(Buffer.from(p.peer, 'hex'))
    await this.#followAdmins(held)
  }

  async #close(held: HeldGroup): Promise<void> {
    clearTimeout(held.reportTimer)
    await held.admitting
    await held.swarm?.close()
    await held.store.close()
  }

  async #drop(key: string, held: HeldGroup): Promise<void> {
    this.#held.delete(key)
    await this.#close(held)
    fs.rmSync(held.dir, { recursive: true, force: true })
  }

  #connected(held: HeldGroup, conn: Connection): void {
    const peer = conn.remotePublicKey.toString('hex')
    held.links.get(peer)?.conn.destroy()
    // The whole store: the cores held now, and any opened later, on this one connection.
    ;(held.store as unknown as { replicate(stream: Connection): unknown }).replicate(conn)
    const wire = openWire<FromGroupReplica, ToGroupReplica>(conn, ToGroupReplica, (message) => {
      held.ready.then(() => this.#handle(held, peer, message)).catch((err: Error) => {
        this.#logger?.warn({ group: held.row.key, err: err.message }, 'a group member\'s message could not be handled')
        conn.destroy()
      })
    })
    const link = { conn, wire }
    held.links.set(peer, link)
    conn.once('close', () => {
      if (held.links.get(peer) === link) held.links.delete(peer)
    })
    this.#db.prepare('UPDATE group_copies SET last_seen = ? WHERE key = ?').run(Date.now(), held.row.key)
    this.#reportSoon(held)
  }

  async #handle(held: HeldGroup, from: string, message: ToGroupReplica): Promise<void> {
    if (message.type === 'cores') {
      for (const key of message.keys) await this.#hold(held, key)
      this.#db.prepare('UPDATE group_copies SET cores = ?, last_seen = ? WHERE key = ?').run(JSON.stringify([...held.cores.keys()]), Date.now(), held.row.key)
      this.#reportSoon(held)
    } else if (message.type === 'peers') {
      // Only an admin of the group changes who may connect: a member removed is dropped at once.
      if (!held.peers.some((p) => p.peer === from && p.admin)) return
      await this.#admit(held, message.peers)
    }
  }

  /** Admits these peers from now on: one no longer listed is dropped at once and refused; an admin newly listed is followed. */
  async #admit(held: HeldGroup, peers: GroupPeer[]): Promise<void> {
    held.peers = peers
    this.#db.prepare('UPDATE group_copies SET peers = ? WHERE key = ?').run(JSON.stringify(peers), held.row.key)
    for (const peer of held.links.keys()) if (!held.allowed(Buffer.from(peer, 'hex'))) held.swarm?.forget(Buffer.from(peer, 'hex'))
    for (const p of held.peers) held.swarm?.dial(Buffer.from(p.peer, 'hex'))
    await this.#followAdmins(held)
  }

  /** Follows the admissions core of every admin it trusts now, from any member that has it; an admin no longer trusted is not heard. */
  async #followAdmins(held: HeldGroup): Promise<void> {
    const admins = new Set(held.peers.filter((p) => p.admin).map((p) => p.peer))
    for (const [admin, core] of held.admissions) {
      if (admins.has(admin)) continue
      held.admissions.delete(admin)
      await core.close()
    }
    for (const admin of admins) {
      if (held.admissions.has(admin) || this.#closing) continue
      const core = held.store.get({ key: admissionsKey(admin) })
      held.admissions.set(admin, core)
      await core.ready()
      core.download({ start: 0, end: -1 })
      // A longer core, or the block that ends it arriving: the admin may have said something new.
      const read = () => this.#readAdmission(held, admin, core)
      core.on('append', read)
      core.on('download', read)
      read()
    }
  }

  /** Takes an admin's latest list if that admin is still trusted and the list moves forward: a later epoch, or the same one written later. */
  #readAdmission(held: HeldGroup, admin: string, core: Hypercore): void {
    held.admitting = held.admitting.then(async () => {
      if (held.admissions.get(admin) !== core || !held.peers.some((p) => p.peer === admin && p.admin)) return
      const admission = await lastAdmission(core, held.row.key)
      if (!admission) return
      const taken = held.admitted
      if (taken && (admission.epoch < taken.epoch || (admission.epoch === taken.epoch && admission.at <= taken.at))) return
      held.admitted = { epoch: admission.epoch, at: admission.at }
      await this.#admit(held, admission.peers)
    }).catch((err: Error) => this.#logger?.warn({ group: held.row.key, err: err.message }, 'an admin\'s list of peers to admit could not be read'))
  }

  /** Opens a core by its key alone and follows it, unless the group's quota is spent. */
  async #hold(held: HeldGroup, key: string): Promise<void> {
    if (held.cores.has(key)) return
    const core = held.store.get({ key: Buffer.from(key, 'hex') })
    await core.ready()
    held.cores.set(key, core)
    core.on('download', (_index, byteLength) => {
      held.grown += byteLength ?? 0
      if (this.#overQuota(held)) {
        for (const d of held.downloads.values()) d.destroy()
        held.downloads.clear()
      }
      this.#reportSoon(held)
    })
    if (!this.#overQuota(held)) held.downloads.set(key, core.download({ start: 0, end: -1 }))
  }

  #overQuota(held: HeldGroup): boolean {
    return held.usedBytes + held.grown > held.row.quota
  }

  /** A report once a burst of blocks has landed, so members see the copy catch up. */
  #reportSoon(held: HeldGroup): void {
    if (held.reportTimer) return
    held.reportTimer = setTimeout(() => {
      held.reportTimer = undefined
      this.#report(held)
    }, 250)
    held.reportTimer.unref()
  }

  /** Measures the folder again and reports to every connected member. */
  reportAll(): void {
    for (const held of this.#held.values()) {
      held.usedBytes = dirBytes(held.dir)
      held.grown = 0
      this.#report(held)
    }
  }

  /** A signed account of what this replicator holds of the group. */
  #report(held: HeldGroup): void {
    if (held.links.size === 0) return
    const usedBytes = held.usedBytes + held.grown
    const report: GroupHealthReport = {
      group: held.row.key, at: Date.now(), quotaBytes: held.row.quota, usedBytes, overQuota: usedBytes > held.row.quota,
      cores: [...held.cores.entries()].map(([key, core]) => ({ key, length: core.length, blocks: heldBlocks(core), bytes: core.byteLength })),
    }
    const signature = sign(groupHealthMessage(report), held.keyPair).toString('hex')
    for (const { wire } of held.links.values()) wire.send({ type: 'health', report, signature })
  }
}
