/**
 * The groups this box is in: founding one, inviting a box to one, joining one with an invite,
 * its members, leaving it, and each group's drive. box.db keeps which groups there are and the
 * keys that open them; each group's own corestore keeps its log, its view and its files.
 */
import fs from 'node:fs'
import path from 'node:path'
import type Database from 'better-sqlite3'
import type pino from 'pino'
import type Corestore from 'corestore'
import { Type, type Static } from '@sinclair/typebox'
import { Conflict, Forbidden, InvalidInput, NotFound, Unavailable } from '../errors/index.ts'
import type { GrantScope, SourcePolicy } from '../arbiter/index.ts'
import { openSealed, type BoxKeys } from '../keys/index.ts'
import { openCorestore } from '../store/index.ts'
import type { Drive } from './drive.ts'
import type { Group, Epoch, Moving } from './group.ts'
import { openInvite } from './invite.ts'
import { Role, signStatement } from './members.ts'
import { PeerNetwork, Window } from '../backup/index.ts'
import { inviteeChannel } from './wire.ts'
import type { BoxSources } from './shares.ts'
import type { ReplicatorSettings } from './replicas.ts'
import { DEFAULT_RULES, egressRefusal, heldSourceId, refusal, ShareRules, type Held } from './share-rules.ts'
import { fingerprint, lanOptions, LanInvites, nameFor, type LanOptions } from './lan.ts'

/** How long a join waits to reach the inviting admin, and then to be let write. */
const REACH_ADMIN_MS = 30_000
const WRITABLE_MS = 30_000
/** How long leaving waits for a member to hear it. */
const LEAVE_HEARD_MS = 10_000
/** How long a request waits, by default, for a group being opened or moving to a new epoch before it is answered 503. */
const READY_MS = 10_000
/** What a client answered 503 is told to wait, in seconds. */
const RETRY_AFTER_S = 5
/** A group that failed to open is opened again after this long, doubled each time it fails again, up to REOPEN_MAX_MS. */
const REOPEN_MS = 1_000
const REOPEN_MAX_MS = 60_000

/** What a group between epochs is doing, as a 503 says it. */
const MOVING: Record<Moving, string> = {
  removing: 'is moving to a new epoch after a removal',
  following: 'is moving to a new epoch after a removal',
  yielding: 'is moving to the epoch another admin began at the same moment',
}

export const MemberView = Type.Object({
  name: Type.String(),
  role: Role,
  you: Type.Boolean(),
  connected: Type.Boolean(),
  since: Type.String(),
  addedBy: Type.Union([Type.String(), Type.Null()], { description: 'The admin who added it; none for the founder' }),
  box: Type.String({ description: 'Its box\'s public key' }),
  writer: Type.String({ description: 'Its writer core in the group\'s current base' }),
  blobs: Type.String({ description: 'The core its files\' contents go in' }),
})
export type MemberView = Static<typeof MemberView>

export const ReplicatorView = Type.Object({
  name: Type.String(),
  box: Type.String({ description: 'The replicator\'s key, as `coffer replicator id` prints it' }),
  peer: Type.String({ description: 'Its key on the group\'s network, which members admit' }),
  addedBy: Type.String({ description: 'The admin who added it' }),
  since: Type.String(),
  connected: Type.Boolean({ description: 'Connected to this box now' }),
  inWindow: Type.Boolean({ description: 'Inside one of this box\'s sync windows with it now (or it has none): outside them this box neither dials nor admits it' }),
  holds: Type.Union([Type.Null(), Type.Object({
    reportedAt: Type.String(),
    cores: Type.Integer(), blocks: Type.Integer(), bytes: Type.Number(),
    quotaBytes: Type.Number(), usedBytes: Type.Number(), overQuota: Type.Boolean(),
    behindBlocks: Type.Integer({ description: 'Blocks this box holds that it did not, when it reported' }),
  })], { description: 'What it last said it holds (signed), checked against this box\'s copy; none before its first report' }),
  lastSynced: Type.Union([Type.String(), Type.Null()], { description: 'When it last held every block this box holds' }),
  limits: Type.Object({ uploadBytesPerSecond: Type.Integer(), downloadBytesPerSecond: Type.Integer() }, { description: 'This box\'s bandwidth limits to it; 0: none' }),
  windows: Type.Array(Window, { description: 'When this box syncs with it, in the owner\'s time zone; empty: always' }),
})
export type ReplicatorView = Static<typeof ReplicatorView>

export const SharedSourceView = Type.Object({
  source: Type.String({ description: 'Its id on the sharer\'s box' }),
  id: Type.String({ description: 'Its id on this box: the sharer\'s own source, or this box\'s read-only copy (group.<hash>.<id>)' }),
  sharedBy: Type.String({ description: 'The member who shares it' }),
  you: Type.Boolean({ description: 'This box shares it' }),
  description: Type.String(),
  logicalType: Type.String(),
  rules: ShareRules,
  since: Type.String(),
  stopped: Type.Union([Type.String(), Type.Null()], { description: 'When its sharer stopped sharing it: members keep what they hold, and get nothing new' }),
  records: Type.Union([Type.Integer(), Type.Null()], { description: 'The records this box holds of it; none while its copy is not made yet' }),
})
export type SharedSourceView = Static<typeof SharedSourceView>

export const GroupView = Type.Object({
  key: Type.String({ description: 'The group\'s key, which names it for good' }),
  name: Type.String(),
  address: Type.String({ description: 'Where its members meet on the DHT' }),
  epoch: Type.Integer({ description: 'How many times its content key changed' }),
  role: Type.Union([Role, Type.Null()], { description: 'This box\'s role; none until the group\'s log names it a member, or once it is removed' }),
  removed: Type.Boolean({ description: 'An admin removed this box: it keeps what it had, and gets nothing written since' }),
  writable: Type.Boolean(),
  joinedAt: Type.String(),
  members: Type.Array(MemberView),
  conflicts: Type.Array(Type.Object({
    path: Type.String(),
    versions: Type.Array(Type.Object({ version: Type.String(), author: Type.String(), mtime: Type.String(), size: Type.Integer() })),
  }), { description: 'Files that keep several versions written at once by different members' }),
  replicators: Type.Array(ReplicatorView, { description: 'Blind replicators holding the group\'s cores, ciphertext only' }),
  sources: Type.Array(SharedSourceView, { description: 'Sources members share with the group: each member\'s box holds a read-only copy, under the sharer\'s rules' }),
})
export type GroupView = Static<typeof GroupView>

/** A group this box is in but could not open; it keeps trying, and leaving it drops it from this box. */
export const UnopenedGroup = Type.Object({
  key: Type.String(), name: Type.String(),
  reason: Type.String({ description: 'Why the last try failed' }),
  retryInSeconds: Type.Integer({ description: 'When the box tries again' }),
})
export type UnopenedGroup = Static<typeof UnopenedGroup>

export interface GroupsDeps {
  db: Database.Database
  keys: BoxKeys
  /** Where each group's corestore is kept, a folder per group. */
  dir: string
  bootstrap?: { host: string; port: number }[]
  /** The box's sources, which members share with a group and keep the copies of others' in. */
  sources?: BoxSources
  /** The owner's time zone, which replicators' sync windows are in (default UTC). */
  timeZone?: () => string
  logger?: pino.Logger
  /** Where LAN invites go (default: COFFER_LAN_INTERFACE and COFFER_LAN_PORT, else the first interface but loopback). */
  lan?: LanOptions
  /** How long a request waits for a group being opened or moving to a new epoch before it is answered 503 (default 10 s). */
  readyMs?: number
}

interface GroupRow { key: string; name: string; joined_at: number; invited_by: string | null }
interface EpochRow { group_key: string; epoch: number; base: string; content_key: string; started_at: number }

export class Groups {
  readonly #deps: GroupsDeps
  readonly #network: PeerNetwork
  /** Asking to join, and inviting, on the local network. */
  readonly lan: LanInvites
  readonly #open = new Map<string, Group>()
  /** Groups the box knows and is opening still, as it starts: requests for them wait. */
  readonly #opening = new Map<string, Promise<void>>()
  /** Groups whose last open failed, until they are opened again: why, how many times, and when next. */
  readonly #failed = new Map<string, { reason: string; tries: number; at: number; timer: NodeJS.Timeout }>()
  #closed = false
  /** Groups being joined or left, so one is not done twice at once. */
  readonly #busy = new Set<string>()
  #impl: Promise<typeof import('./group.ts')> | undefined

  constructor(deps: GroupsDeps) {
    this.#deps = deps
    this.#network = new PeerNetwork(deps.bootstrap)
    this.lan = new LanInvites({ box: deps.keys.backupPeer, options: deps.lan ?? lanOptions(), ...(deps.logger ? { logger: deps.logger } : {}) })
  }

  /** This box's public key, which invites to it are sealed to. */
  get publicKey(): string {
    return this.#deps.keys.backupPeer.publicKey.toString('hex')
  }

  /** The group machinery (Autobase, Hyperbee, Hyperblobs), loaded once there is a group: a box in none never needs it. */
  #load() {
    return this.#impl ??= import('./group.ts')
  }

  /** Opens the groups in box.db, one after another; a request for one not open yet waits for it (see #ready). */
  async open(): Promise<void> {
    let opened: Promise<void> = Promise.resolve()
    for (const row of this.#rows()) {
      opened = opened.then(() => this.#openGroup(row))
      this.#opening.set(row.key, opened)
    }
    await opened
  }

  /**
   * Opens one group. An open that fails — autobase rewriting the view under a read on a loaded
   * machine, a store still locked — is tried again later, sooner at first, so a group is not shut
   * out until the box restarts; requests meanwhile are answered 503 with the reason.
   */
  async #openGroup(row: GroupRow, tries = 0): Promise<void> {
    try {
      const { Group } = await this.#load()
      this.#open.set(row.key, await Group.open(this.#groupDeps(), { key: row.key, dir: this.#dir(row.key), epochs: this.#epochs(row.key), invitedBy: row.invited_by }))
    } catch (err) {
      const ms = Math.min(REOPEN_MAX_MS, REOPEN_MS * 2 ** tries)
      this.#deps.logger?.error({ group: row.key, err: (err as Error).message, retryInMs: ms }, 'a group could not be opened; the box tries again')
      const timer = setTimeout(() => this.#reopen(row.key), ms).unref()
      this.#failed.set(row.key, { reason: (err as Error).message, tries: tries + 1, at: Date.now() + ms, timer })
    } finally {
      this.#opening.delete(row.key)
    }
  }

  #reopen(key: string): void {
    const failed = this.#failed.get(key)
    this.#failed.delete(key)
    const row = this.#rows().find((r) => r.key === key)
    if (this.#closed || !failed || !row) return
    this.#opening.set(key, this.#openGroup(row, failed.tries))
  }

  async close(): Promise<void> {
    this.#closed = true
    for (const { timer } of this.#failed.values()) clearTimeout(timer)
    this.#failed.clear()
    await Promise.all(this.#opening.values())
    for (const group of this.#open.values()) await group.close()
    this.#open.clear()
    await this.lan.close()
    await this.#network.close()
  }

  async create(input: { name: string; as: string }): Promise<GroupView> {
    const { Group, localKeys } = await this.#load()
    fs.mkdirSync(this.#deps.dir, { recursive: true, mode: 0o700 })
    // The group's key is its first writer core's, known once the store that holds it exists: made
    // in a folder of its own, which then takes the key's name.
    const staging = fs.mkdtempSync(path.join(this.#deps.dir, 'new-'))
    const store = openCorestore(staging)
    await store.ready()
    const { writer: key } = await localKeys(store, 0)
    await store.close()
    fs.renameSync(staging, this.#dir(key))
    let group: Group
    try {
      group = await Group.found(this.#groupDeps(), { dir: this.#dir(key), name: input.name, as: input.as })
    } catch (err) {
      fs.rmSync(this.#dir(key), { recursive: true, force: true })
      throw err
    }
    const { epoch, base, contentKey } = group.epoch
    this.#deps.db.transaction(() => {
      this.#deps.db.prepare('INSERT INTO groups (key, name, joined_at, invited_by) VALUES (?, ?, ?, NULL)').run(key, input.name, Date.now())
      this.#deps.db.prepare('INSERT INTO group_epochs (group_key, epoch, base, content_key, started_at) VALUES (?, ?, ?, ?, ?)').run(key, epoch, base, contentKey.toString('hex'), Date.now())
    })()
    this.#open.set(key, group)
    return this.#view(this.#row(key), group)
  }

  /** Every group this box holds open (or is opening, or moving to a new epoch: waited for); one that could not be opened is left out. */
  async list(): Promise<GroupView[]> {
    const views: GroupView[] = []
    for (const row of this.#rows()) {
      if (this.#open.has(row.key) || this.#opening.has(row.key)) views.push(await this.#with(row.key, (group) => this.#view(row, group)))
    }
    return views
  }

  /** The groups this box is in but could not open (see #openGroup). */
  unopened(): UnopenedGroup[] {
    return this.#rows().flatMap((row) => {
      const failed = this.#failed.get(row.key)
      return failed ? [{ key: row.key, name: row.name, reason: failed.reason, retryInSeconds: secondsUntil(failed.at) }] : []
    })
  }

  async get(key: string): Promise<GroupView> {
    return this.#with(key, (group, row) => this.#view(row, group))
  }

  async members(key: string): Promise<MemberView[]> {
    return (await this.get(key)).members
  }

  /** An invite for a box, known by its public key; the code is sealed to that key and lets it in once. */
  async invite(key: string, input: { publicKey: string; name: string; role: Role; expiresInSeconds: number }): Promise<{ invite: string; expiresAt: string }> {
    if (input.publicKey.toLowerCase() === this.publicKey) throw new InvalidInput('That is this box\'s own key.', { field: 'publicKey' })
    return this.#with(key, (group) => {
      const { code, expiresAt } = group.invite({ box: input.publicKey, name: input.name, role: input.role, expiresInSeconds: input.expiresInSeconds })
      return { invite: code, expiresAt: new Date(expiresAt).toISOString() }
    })
  }

  /**
   * Invites a box asking to join on the local network, picked by its fingerprint: the usual invite,
   * sealed to its key, sent to it over the LAN until it says it has it. The code is returned too,
   * to hand over another way if it never says so.
   */
  async inviteNearby(key: string, input: { to: string; name?: string; role: Role; expiresInSeconds: number }) {
    const box = await this.lan.find(input.to)
    const invited = await this.invite(key, { publicKey: box.boxKey, name: nameFor(box, input.name), role: input.role, expiresInSeconds: input.expiresInSeconds })
    const arrived = await this.lan.send(box.boxKey, invited.invite)
    const peer = this.#deps.keys.deriveKeyPair(`groups/${key}/peer`).publicKey.toString('hex')
    return { ...invited, to: box, adminFingerprint: fingerprint(peer), arrived }
  }

  /** Joins a group with an invite that arrived on the local network, once the owner has seen what it is. */
  async joinNearby(input: { offer: string; as?: string }): Promise<GroupView> {
    const { code, as } = this.lan.offer(input.offer)
    const chosen = input.as ?? as
    // Kept until it lets this box in: an admin's box that could not be reached now may be later.
    const group = await this.join({ code, ...(chosen ? { as: chosen } : {}) })
    this.lan.spend(input.offer)
    return group
  }

  /** Joins a group with an invite sealed to this box: reaches the admin who made it, and is let in. */
  async join(input: { code: string; as?: string }): Promise<GroupView> {
    const box = this.#deps.keys.backupPeer
    const invite = openInvite(input.code, box)
    if (this.#deps.db.prepare('SELECT 1 FROM groups WHERE key = ?').get(invite.group)) throw new Conflict(`This box is in "${invite.name}" already.`)
    if (this.#busy.has(invite.group)) throw new Conflict(`This box is joining "${invite.name}" already.`)
    this.#busy.add(invite.group)
    const dir = this.#dir(invite.group)
    fs.rmSync(dir, { recursive: true, force: true })
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 })
    const store = openCorestore(dir)
    let joined = false
    try {
      await store.ready()
      const answer = await this.#askToJoin(invite, store, input.as ?? invite.as)
      const epochs: Epoch[] = answer.epochs.map((e) => {
        const contentKey = openSealed(Buffer.from(e.contentKey, 'base64'), box)
        if (!contentKey || contentKey.length !== 32) throw new InvalidInput('The admin\'s answer could not be opened with this box\'s key.')
        return { epoch: e.epoch, base: e.base, contentKey }
      })
      if (Math.max(...epochs.map((e) => e.epoch)) !== invite.epoch) throw new InvalidInput('The admin let this box into another epoch than its invite named.')
      this.#deps.db.transaction(() => {
        this.#deps.db.prepare('INSERT INTO groups (key, name, joined_at, invited_by) VALUES (?, ?, ?, ?)').run(invite.group, invite.name, Date.now(), invite.admin)
        for (const e of epochs) {
          this.#deps.db.prepare('INSERT INTO group_epochs (group_key, epoch, base, content_key, started_at) VALUES (?, ?, ?, ?, ?)').run(invite.group, e.epoch, e.base, e.contentKey.toString('hex'), Date.now())
        }
      })()
      joined = true
      const { Group } = await this.#load()
      const group = await Group.open(this.#groupDeps(), { key: invite.group, dir, epochs, invitedBy: invite.admin, store })
      this.#open.set(invite.group, group)
      await group.whenWritable(WRITABLE_MS)
      return this.#view(this.#row(invite.group), group)
    } finally {
      this.#busy.delete(invite.group)
      if (!joined) {
        await store.close()
        fs.rmSync(dir, { recursive: true, force: true })
      }
    }
  }

  /**
   * Removes a member (an admin's act): its box is dropped at once, and the group moves to a new
   * content key it never gets, so it reads nothing written from now on. What it had, it keeps.
   */
  async remove(key: string, member: string): Promise<GroupView> {
    // Not holding the group as requests do: the move it begins waits for those.
    return this.#with(key, async (group, row) => {
      const box = group.members().find((m) => m.box === member.toLowerCase() || m.writer === member.toLowerCase())?.box
      if (!box) throw new NotFound('That is no member of the group: `coffer groups members` lists them with their box keys.')
      await group.remove(box)
      return this.#view(row, group)
    }, { hold: false })
  }

  /** Leaves a group: the other members hear it, and this box's copy of the group is deleted. */
  async leave(key: string): Promise<{ left: string }> {
    // A group the box cannot open is left here only: the others hear nothing, and list this box until an admin removes it.
    if (this.#failed.has(key)) {
      clearTimeout(this.#failed.get(key)!.timer)
      this.#failed.delete(key)
      fs.rmSync(this.#dir(key), { recursive: true, force: true })
      this.#forget(key)
      return { left: key }
    }
    return this.#with(key, async (group) => {
      if (this.#busy.has(key)) throw new Conflict('This box is leaving that group already.')
      this.#busy.add(key)
      try {
        await group.leave(LEAVE_HEARD_MS)
        this.#open.delete(key)
        this.#forget(key)
        return { left: key }
      } finally {
        this.#busy.delete(key)
      }
    }, { hold: false })
  }

  /** What box.db holds of a group this box left. */
  #forget(key: string): void {
    this.#deps.db.transaction(() => {
      this.#deps.db.prepare('DELETE FROM group_epochs WHERE group_key = ?').run(key)
      this.#deps.db.prepare('DELETE FROM group_invites WHERE group_key = ?').run(key)
      this.#deps.db.prepare('DELETE FROM groups WHERE key = ?').run(key)
    })()
  }

  /** An invite for a blind replicator, sealed to its key; it pairs once, with this admin's box, which must be running then. */
  async inviteReplicator(key: string, input: { publicKey: string; name: string; expiresInSeconds: number }): Promise<{ invite: string; expiresAt: string }> {
    const box = input.publicKey.toLowerCase()
    if (box === this.publicKey) throw new InvalidInput('That is this box\'s own key, not a replicator\'s.', { field: 'publicKey' })
    return this.#with(key, (group) => {
      const { code, expiresAt } = group.inviteReplicator({ box, name: input.name, expiresInSeconds: input.expiresInSeconds })
      return { invite: code, expiresAt: new Date(expiresAt).toISOString() }
    })
  }

  async replicators(key: string): Promise<ReplicatorView[]> {
    return (await this.get(key)).replicators
  }

  async removeReplicator(key: string, replicator: string): Promise<{ removed: string }> {
    const removed = await this.#with(key, (group) => group.removeReplicator(replicator))
    return { removed: removed.box }
  }

  /** This box's sync windows and bandwidth limits to one of a group's replicators; those left out stay as they were. */
  async configureReplicator(key: string, replicator: string, settings: ReplicatorSettings): Promise<ReplicatorView> {
    return this.#with(key, async (group, row) => {
      group.configureReplicator(replicator, settings)
      const ref = replicator.toLowerCase()
      return (await this.#view(row, group)).replicators.find((r) => r.box === ref || r.peer === ref)!
    })
  }

  /** A group's drive, for this process's own use, now: the group must be open (requests go through withDrive, which waits for it to be ready). */
  drive(key: string): Drive {
    const row = this.#row(key)
    const group = this.#open.get(key)
    if (group) return group.drive
    throw this.#unavailable(row)
  }

  /** Uses a group's drive once the group is ready (see #with): a move to a new epoch waits until `use` is done. */
  async withDrive<T>(key: string, use: (drive: Drive) => Promise<T>): Promise<T> {
    return this.#with(key, (group) => use(group.drive))
  }

  /** Shares one of this box's sources with a group: every member's box gets a read-only copy, held under these rules. */
  async share(key: string, source: string, rules: Partial<ShareRules> = {}): Promise<SharedSourceView> {
    const copy = this.#held(source)
    if (copy) throw new Conflict(`"${source}" is this box's copy of a source the group "${copy.groupName}" holds: only ${copy.sharer} shares it.`)
    return this.#with(key, async (group, row) => {
      await group.shares.share(source, { ...DEFAULT_RULES, ...rules })
      return this.#sharedView(row, group, source)
    })
  }

  /** Changes the rules named; the others stay as they were. */
  async setShareRules(key: string, source: string, rules: Partial<ShareRules>): Promise<SharedSourceView> {
    return this.#with(key, async (group, row) => {
      const before = await this.#sharedView(row, group, source)
      await group.shares.setRules(source, { ...before.rules, ...rules })
      return this.#sharedView(row, group, source)
    })
  }

  async stopSharing(key: string, source: string): Promise<SharedSourceView> {
    return this.#with(key, async (group, row) => {
      await group.shares.stop(source)
      return this.#sharedView(row, group, source)
    })
  }

  /**
   * The group's rules on this box's copies of shared sources, as the arbiter asks them: before a
   * grant is made, and on every access a token makes. A refusal names the rule that refused.
   */
  readonly rules: SourcePolicy = {
    granting: (grant: GrantScope & { subject: string }) => {
      for (const held of this.#allHeld()) {
        if (grant.sources !== '*' && !grant.sources.includes(held.id)) continue
        for (const op of grant.ops) {
          const why = refusal(held, grant.subject, op, op === 'observe' ? 0 : grant.granularity)
          if (why) throw new Forbidden(why)
        }
      }
    },
    accessing: (scope, access) => {
      const held = access.source === undefined ? undefined : this.#held(access.source)
      const why = held && refusal(held, scope.subject, access.op, access.granularity)
      if (why) throw new Forbidden(why)
    },
  }

  /** Whether a source is this box's copy of one a group shares under apps=none: no app may be granted it. */
  closedToApps(id: string): boolean {
    return this.#held(id)?.rules.apps === 'none'
  }

  /** Why a sender that can read these sources may send nothing out of the box, or undefined. */
  withheld(sources: string[]): string | undefined {
    return egressRefusal(sources.map((id) => this.#held(id)).filter((h) => h !== undefined))
  }

  #held(id: string): Held | undefined {
    for (const group of this.#open.values()) {
      const held = group.shares.held(id)
      if (held) return held
    }
    return undefined
  }

  #allHeld(): Held[] {
    return [...this.#open.values()].flatMap((g) => g.shares.copies())
  }

  async #sharedView(row: GroupRow, group: Group, source: string): Promise<SharedSourceView> {
    const found = (await this.#view(row, group)).sources.find((s) => s.you && s.source === source)
    if (!found) throw new NotFound(`This box shares no source "${source}" with the group.`)
    return found
  }

  async #askToJoin(invite: ReturnType<typeof openInvite>, store: Corestore, name: string) {
    const { localKeys } = await this.#load()
    const box = this.#deps.keys.backupPeer
    // The invitee writes in the epoch it was invited to; an admin refuses it if the group has moved on since.
    const { writer, blobs } = await localKeys(store, invite.epoch)
    const peer = this.#deps.keys.deriveKeyPair(`groups/${invite.group}/peer`).publicKey.toString('hex')
    const member = signStatement(invite.group, { peer, writer, blobs, name }, box)
    let link
    try {
      link = await this.#network.connect(box, Buffer.from(invite.admin, 'hex'), REACH_ADMIN_MS)
    } catch {
      throw new Conflict(`The admin who invited this box to "${invite.name}" could not be reached in ${REACH_ADMIN_MS / 1000} s: their box must be running. The invite is still good until it expires.`)
    }
    try {
      const channel = inviteeChannel(link.conn)
      channel.send({ type: 'join', secret: invite.secret, epoch: invite.epoch, member })
      const answer = await channel.received(REACH_ADMIN_MS)
      if (answer.type === 'refused') throw new InvalidInput(`The group refused this invite: ${answer.reason}`, { field: 'code' })
      return answer
    } finally {
      await link.close()
    }
  }

  #groupDeps() {
    return { db: this.#deps.db, keys: this.#deps.keys, network: this.#network, sources: this.#deps.sources, timeZone: this.#deps.timeZone, logger: this.#deps.logger }
  }

  #dir(key: string): string {
    return path.join(this.#deps.dir, key)
  }

  #rows(): GroupRow[] {
    return this.#deps.db.prepare('SELECT * FROM groups ORDER BY joined_at').all() as GroupRow[]
  }

  #row(key: string): GroupRow {
    const row = this.#deps.db.prepare('SELECT * FROM groups WHERE key = ?').get(key) as GroupRow | undefined
    if (!row) throw new NotFound(`This box is in no group "${key}". List them with \`coffer groups list\`.`)
    return row
  }

  #epochs(key: string): Epoch[] {
    const rows = this.#deps.db.prepare('SELECT * FROM group_epochs WHERE group_key = ? ORDER BY epoch').all(key) as EpochRow[]
    return rows.map((row) => ({ epoch: row.epoch, base: row.base, contentKey: Buffer.from(row.content_key, 'hex') }))
  }

  /**
   * Runs `use` on a group once it is ready: known to box.db (else 404), opened (it waits while the
   * box is opening it as it starts), and in an epoch — not moving to another, which it waits for
   * too. All this waits readyMs at most, then answers 503 naming what the group is doing. `use`
   * holds the group (unless `hold` is false): a move to another epoch begun meanwhile waits until
   * it is done. Inside `use`, nothing waits for the group again: a move waiting on `use` would
   * wait on itself.
   */
  async #with<T>(key: string, use: (group: Group, row: GroupRow) => Promise<T> | T, opts: { hold?: boolean } = {}): Promise<T> {
    const row = this.#row(key)
    const hold = opts.hold ?? true
    // A group open and in an epoch is used at once, with no turn of the event loop in between: a
    // removal is under way (and waited for) as soon as it is asked for.
    const release = this.#readyNow(row, hold) ?? await this.#ready(row, hold)
    const group = this.#open.get(key)!
    try {
      return await use(group, row)
    } finally {
      release()
    }
  }

  /** A group open and between no epochs now: held (if asked), answering what lets it go; else undefined. */
  #readyNow(row: GroupRow, hold: boolean): (() => void) | undefined {
    const group = this.#open.get(row.key)
    if (!group || group.moving || this.#opening.has(row.key)) return undefined
    return hold ? group.lease() : () => {}
  }

  /** Waits until a group is open and between no epochs; then holds it (if asked), and answers what lets it go. */
  async #ready(row: GroupRow, hold: boolean): Promise<() => void> {
    const until = Date.now() + (this.#deps.readyMs ?? READY_MS)
    const opening = this.#opening.get(row.key)
    if (opening) {
      let timer: NodeJS.Timeout | undefined
      const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), Math.max(0, until - Date.now()))))
      const tooLate = await Promise.race([opening.then(() => false), late])
      clearTimeout(timer)
      if (tooLate && this.#opening.has(row.key)) throw this.#unavailable(row)
    }
    const group = this.#open.get(row.key)
    if (!group) throw this.#unavailable(row)
    for (;;) {
      if (!(await group.settled(Math.max(0, until - Date.now())))) throw this.#unavailable(row, group)
      if (!this.#open.has(row.key)) throw new NotFound(`This box is in no group "${row.key}" any more: it left it.`)
      if (!hold) return () => {}
      // Held, then checked: a move marked in between sees this hold and waits for it, or this sees the move and waits for it.
      const release = group.lease()
      if (!group.moving) return release
      release()
    }
  }

  /** The 503 for a group the box is opening, could not open yet, or is moving to a new epoch: what it is doing, and when to ask again. */
  #unavailable(row: GroupRow, group?: Group): Unavailable {
    const name = group?.name || row.name
    const failed = this.#failed.get(row.key)
    if (!group && failed) {
      const seconds = secondsUntil(failed.at)
      return new Unavailable(`The group "${name}" could not be opened (${failed.reason}); the box tries again in ${seconds} s. If this goes on, the box's log says more; leaving the group drops it from this box.`, seconds)
    }
    const doing = group?.moving ? MOVING[group.moving] : 'is still being opened'
    return new Unavailable(`The group "${name}" ${doing}; try again in a few seconds.`, RETRY_AFTER_S)
  }

  async #view(row: GroupRow, group: Group): Promise<GroupView> {
    const members = group.members()
    const connected = group.connected()
    const self = group.self
    const names = new Map(members.map((m) => [m.writer, m.name]))
    const conflicts = await group.drive.conflicts()
    return {
      key: row.key, name: group.name || row.name, address: group.address, epoch: group.epoch.epoch, role: self?.role ?? null, removed: group.removed, writable: group.writable,
      joinedAt: new Date(row.joined_at).toISOString(),
      members: members.map((m) => ({
        name: m.name, role: m.role, you: m.writer === self?.writer, connected: connected.has(m.writer), since: new Date(m.since).toISOString(),
        addedBy: m.addedBy === null ? null : names.get(m.addedBy) ?? m.addedBy.slice(0, 8), box: m.box, writer: m.writer, blobs: m.blobs,
      })),
      conflicts: conflicts.map((c) => ({ path: c.path, versions: c.versions.map((v) => ({ ...v, mtime: new Date(v.mtime).toISOString() })) })),
      replicators: group.replicators().map((r) => ({
        name: r.name, box: r.box, peer: r.peer, addedBy: names.get(r.addedBy) ?? r.addedBy.slice(0, 8), since: new Date(r.since).toISOString(),
        connected: r.connected, inWindow: r.inWindow,
        holds: r.report && r.behindBlocks !== null ? {
          reportedAt: new Date(r.report.at).toISOString(), cores: r.report.cores.length,
          blocks: r.report.cores.reduce((n, c) => n + c.blocks, 0), bytes: r.report.cores.reduce((n, c) => n + c.bytes, 0),
          quotaBytes: r.report.quotaBytes, usedBytes: r.report.usedBytes, overQuota: r.report.overQuota, behindBlocks: r.behindBlocks,
        } : null,
        lastSynced: r.syncedAt === null ? null : new Date(r.syncedAt).toISOString(),
        limits: r.limits, windows: r.windows,
      })),
      sources: group.shares.list().map((e) => {
        const you = e.box === self?.box || (!self && e.box === this.publicKey)
        const id = you ? e.source : heldSourceId(row.key, e.box, e.source)
        const store = this.#deps.sources?.store
        return {
          source: e.source, id, sharedBy: you ? (self?.name ?? e.name) : e.name, you, description: e.meta.description, logicalType: e.meta.logicalType, rules: e.rules,
          since: new Date(e.since).toISOString(), stopped: e.stopped === null ? null : new Date(e.stopped).toISOString(),
          records: store?.has(id) ? store.summary(id).points : null,
        }
      }),
    }
  }
}

/** Whole seconds until a time, at least one: what Retry-After says. */
function secondsUntil(at: number): number {
  return Math.max(1, Math.ceil((at - Date.now()) / 1000))
}
