/**
 * One group as this box holds it: the group's own corestore under the home (its bases, this
 * member's writer and blob cores, copies of the other members' cores), the view each base builds,
 * and the group's swarm, which admits only current members and boxes holding an invite.
 *
 * The group has a corestore of its own rather than a namespace of the box's logs corestore: its
 * cores are shared with a different set of peers (the members, not the owner's replicas), a
 * replication stream serves any core of the store it replicates that a peer asks for by
 * discovery key, and leaving a group deletes its folder without touching the owner's logs.
 *
 * Autobase has no key rotation of its own, so removing a member begins a new epoch: a new base
 * with a new content key, which the admin who removes the member sealed to each remaining member
 * in the old base, with the drive carried over. The old base is frozen; its last word says where
 * the group went. Each remaining member asks there to be added back, and any member of the new
 * epoch adds it. The removed member holds only old keys: nothing written afterwards opens with them.
 *
 * Two admins may remove members at the same moment (or while they cannot reach each other): each
 * begins a base for the same epoch number and writes its `rotate` in the old one. The old view
 * keeps the first in Autobase's order, the same at every box; the other removal used to be lost
 * silently — its admin stayed in a base nobody else came to, and the member it removed was carried
 * into the winning epoch and read everything written there. Now:
 * - A box whose epoch before settled on another base than the one it is in drops its own (keeping
 *   it open, and listed in the group's epochs.json with its key sealed to this box, until what was
 *   written in it is carried over) and follows the winner with the key sealed to it there, asking
 *   to be added back. A box the winner was begun without was removed: it goes back to the epoch before.
 * - The losing epoch's first entry names the box its admin removed. Once that admin is back in the
 *   group's epoch and no other member is still on its way, it removes that box again there, which
 *   begins the next epoch: both removals hold, in order. (A member carried into an epoch and not back
 *   yet can be removed too, by its box key: it holds that epoch's key already.)
 * - What was written in the losing epoch is replayed only in an epoch the box it removed is out of
 *   (it was written for members without it), files written again under that epoch's key; changes
 *   by boxes no longer in the group are left out.
 * - A box's cores in an epoch used to be named by the epoch's number alone, so the two bases would
 *   have shared one local writer and blob core with blocks under two keys. Every base entered
 *   through a rotation now gets a content key of its own and its cores a name made from it
 *   (epochName); epochs.json lists those bases. Epochs a box was in before this, epoch 0 and the
 *   epoch an invite lets a box into keep the number alone (an invitee names its writer before it
 *   holds the key), so groups made earlier open as they were. A rejoin names the base it is for, so
 *   one made for a base that lost is not taken for the winner's. Replayed changes are replayed in
 *   the order the epoch applied them.
 * Not handled: a box that removes again while still cut off (a losing chain two epochs deep); a box
 * invited into a losing epoch; a shared source's records written in a losing epoch reach only the
 * members who were in it.
 */
import fs from 'node:fs'
import path from 'node:path'
import { createHash, createHmac, randomBytes, randomUUID } from 'node:crypto'
import type Database from 'better-sqlite3'
import Autobase from 'autobase'
import Hyperbee from 'hyperbee'
import Hyperblobs from 'hyperblobs'
import type Corestore from 'corestore'
import type Hypercore from 'hypercore'
import type pino from 'pino'
import { Conflict, Forbidden, InvalidInput, NotFound } from '../errors/index.ts'
import { openSealed, sealTo, type BoxKeys, type KeyPair } from '../keys/index.ts'
import { openCorestore } from '../store/index.ts'
import {
  applier, appliedKey, reread, APPLIED, AUTHORS, carriedKey, MEMBERS, META_KEY, REJOINS, REPLICATORS, ROTATION_KEY,
  type Applied, type Author, type Carried, type GroupMeta, type GroupReplicator, type Rotation, type View, type ViewValue,
} from './apply.ts'
import { Drive } from './drive.ts'
import { makeInvite } from './invite.ts'
import { signStatement, statementSigned, type Member, type Role, type Statement } from './members.ts'
import { FromGroupReplica, hashSecret, makeGroupReplicaInvite, openWire, type PeerNetwork, type PeerSwarm, type Connection, type ToGroupReplica } from '../backup/index.ts'
import { opId, type BlobRef, type DriveOp, type GroupOp } from './ops.ts'
import { CONFLICTS, subtreeRanges } from './paths.ts'
import { adminChannel } from './wire.ts'
import { ReplicaLinks, type ReplicatorSettings, type ReplicatorState } from './replicas.ts'
import { Shares, type BoxSources } from './shares.ts'
import { SHARED } from './share-rules.ts'

/** Writers acknowledge each other this often, so the order every member agrees on keeps up. */
const ACK_MS = 1000
/** How long a box holding an invite has, once connected, to say it. */
const JOIN_REQUEST_MS = 15_000
/** How long a removed member's connection is kept, at most, for it to get the entry that says it was removed, and then to apply it. */
const FAREWELL_MS = 2000
/** View entries per entry carrying the drive into a new epoch. */
const CARRY_BATCH = 256
/** How often replicators are dialled or dropped as their sync windows open and close (backup's replicas are followed as often). */
const WINDOWS_MS = 30_000
/** How long a move to another epoch waits for the requests using the group to finish before it goes ahead anyway. */
const DRAIN_MS = 10_000
/** How long closing a group waits for each of its parts (a move under way, each epoch, the store) before it goes on without it. */
const CLOSE_MS = 10_000
/** How long copying a file out of an epoch that lost a race waits for a block no connected member has yet; it is tried again later. */
const COPY_TIMEOUT_MS = 30_000

export interface Epoch { epoch: number; base: string; contentKey: Buffer }

/**
 * Why a group is between epochs: this box removes a member, follows the epoch another admin
 * began, or follows the base that won a race for its epoch's number.
 */
export type Moving = 'removing' | 'following' | 'yielding'

export interface GroupDeps {
  db: Database.Database
  keys: BoxKeys
  network: PeerNetwork
  /** The box's sources, for sharing one with the group and keeping copies of those shared; none where groups run alone. */
  sources?: BoxSources
  /** The owner's time zone, which replicators' sync windows are in (default UTC). */
  timeZone?: () => string
  logger?: pino.Logger
}

/** One epoch as this box holds it open: its base, and the core this member stores file contents in. */
interface Era {
  epoch: Epoch
  session: Corestore
  base: Autobase<View, GroupOp>
  ownBlobs: Hyperblobs
}

/** What the group's folder keeps of its epochs beside box.db: which bases' cores are named by their content key, and the epochs this box left when another base won the race for their number, each key sealed to this box. */
interface EpochsFile { named: string[]; abandoned: { epoch: number; base: string; key: string }[] }

interface InviteRow { id: string; group_key: string; invitee: string; name: string; role: Role; secret_hash: string; expires_at: number; created_at: number; used_at: number | null }

/** The key a group's blob cores are encrypted with: its own, derived from the content key, so no key encrypts two kinds of core. */
function blobKey(contentKey: Buffer): Buffer {
  return createHmac('sha256', contentKey).update('coffer/v1/group-blobs').digest()
}

/** Where a group's members meet on the DHT: derived from its key, the same for every member. */
export function groupAddress(group: string): Buffer {
  return createHash('sha256').update(`coffer/v1/group-address\n${group}`).digest()
}

/**
 * What this box's cores in an epoch are named under. Two bases may hold one epoch number (two
 * admins removing at once), so an epoch entered through a rotation is named by its content key,
 * which is new for every base; one entered before that was so (and epoch 0, and the epoch an invite
 * lets a box into, whose writer it names before it holds the key) keeps the number alone.
 */
function epochName(epoch: number, contentKey?: Buffer): string {
  if (!contentKey) return `${epoch}`
  return `${epoch}-${createHmac('sha256', contentKey).update('coffer/v1/group-epoch-cores').digest('hex').slice(0, 32)}`
}

/** A session of the store whose new cores are named apart from other epochs'. */
function epochStore(store: Corestore, name: string): Corestore {
  return (store as unknown as { namespace(name: string): Corestore }).namespace(`epoch-${name}`)
}

/** The keys a member will write and store file contents under in an epoch, before its base exists (named by its content key when given). */
export async function localKeys(store: Corestore, epoch: number, contentKey?: Buffer): Promise<{ writer: string; blobs: string }> {
  const session = epochStore(store, epochName(epoch, contentKey))
  try {
    const writer = await Autobase.getLocalKey(session)
    const blobs = session.get({ name: 'blobs' })
    await blobs.ready()
    const key = blobs.key.toString('hex')
    await blobs.close()
    return { writer: writer.toString('hex'), blobs: key }
  } finally {
    await session.close()
  }
}

export class Group {
  readonly key: string
  readonly #deps: GroupDeps
  readonly #dir: string
  readonly #store: Corestore
  readonly #invitedBy: string | null
  readonly #peer: KeyPair
  /** The content key of every epoch this box holds, to read what was written in each. */
  readonly #keys = new Map<number, Buffer>()
  #current!: Era
  /** The epoch before, while it is open: where remaining members ask to be added back. */
  #previous: Era | undefined
  /** Epochs this box was in whose base lost the race for their number, kept open until what was written in them is in the group's epoch. */
  #abandoned: Era[] = []
  /** Bases whose cores this box names by their content key (see epochName). */
  readonly #named: Set<string>
  #recovering: Promise<void> | undefined
  #closed = false
  /** Other members' blob cores, kept downloading, so a file is readable from any member that has it. */
  readonly #blobCores = new Map<string, { core: Hypercore; blobs: Hyperblobs }>()
  readonly #onUpdate = () => void this.#refresh().catch((err: Error) => this.#deps.logger?.warn({ group: this.key, err: err.message }, 'a group\'s members could not be read'))
  #members: Member[] = []
  /** Members of the epoch before not yet back in this one: still admitted, so they can be. */
  #waiting: Member[] = []
  #authors = new Map<string, Author>()
  #meta: GroupMeta | undefined
  readonly #verified = new Set<string>()
  /** Boxes being added back in this epoch, so none is added twice; and the move to the next epoch, under way. */
  readonly #adding = new Set<string>()
  #advancing: Promise<void> | undefined
  /**
   * The moves to another epoch under way, and the requests using the group (see lease()): a move
   * begins once those in flight are done, and requests wait for it to end (see settled()), so
   * none meets an epoch being closed or one half open.
   */
  readonly #moves = new Map<symbol, Moving>()
  readonly #settledWaiters = new Set<() => void>()
  #leases = 0
  readonly #drainWaiters = new Set<() => void>()
  /** A member being removed, kept connected only until it has heard so. */
  readonly #farewell = new Set<string>()
  /** How far the epoch before was read for changes to replay, and the changes being replayed. */
  readonly #replayed = new Map<number, number>()
  readonly #replaying = new Set<string>()
  #swarm: PeerSwarm | undefined
  #windowTimer: NodeJS.Timeout | undefined
  /** The group's blind replicators, as its log lists them; and this box's connections to them. */
  #replicators: GroupReplicator[] = []
  readonly #replicas: ReplicaLinks
  #toldReplicas = ''
  readonly drive: Drive
  readonly shares: Shares

  private constructor(deps: GroupDeps, opts: { key: string; dir: string; store: Corestore; invitedBy: string | null }) {
    this.#deps = deps
    this.key = opts.key
    this.#dir = opts.dir
    this.#store = opts.store
    this.#invitedBy = opts.invitedBy
    this.#peer = deps.keys.deriveKeyPair(`groups/${opts.key}/peer`)
    this.#named = new Set(this.#epochsFile().named)
    this.#replicas = new ReplicaLinks({
      group: opts.key,
      store: opts.store,
      file: path.join(opts.dir, 'replicators.json'),
      peers: () => [...this.#members, ...this.#waiting].map((m) => ({ peer: m.peer, admin: m.role === 'admin' })),
      admin: () => this.self?.role === 'admin',
      epoch: () => this.#current.epoch.epoch,
      keyPair: this.#peer,
      timeZone: deps.timeZone ?? (() => 'UTC'),
      logger: deps.logger,
    })
    this.drive = new Drive({
      view: () => this.#current.base.view,
      append: (op) => this.#append(this.#current, op),
      ownBlobs: () => ({ blobs: this.#current.ownBlobs, key: this.#current.ownBlobs.core.key.toString('hex') }),
      blobs: (core, epoch) => this.#blobs(core, epoch),
      memberName: (writer) => this.#members.find((m) => m.writer === writer)?.name ?? this.#authors.get(writer)?.name ?? `a former member (${writer.slice(0, 8)})`,
    })
    this.shares = new Shares({
      group: opts.key,
      groupName: () => this.name,
      file: path.join(opts.dir, 'shares.json'),
      store: opts.store,
      view: () => this.#current.base.view,
      epoch: () => this.#current.epoch.epoch,
      contentKey: (epoch) => this.#keys.get(epoch),
      coreName: (epoch) => `share/${this.#name([this.#current, this.#previous].find((e) => e?.epoch.epoch === epoch)!.epoch)}`,
      ending: async () => Boolean(await this.#current.base.view.get(ROTATION_KEY)),
      self: () => this.self,
      removed: () => this.removed,
      append: (op) => this.#append(this.#current, op),
      coresChanged: () => this.#replicas.changed(),
      sources: deps.sources,
      logger: deps.logger,
    })
  }

  /** A new group, with this box as its founder and first admin, in a folder holding no other. */
  static async found(deps: GroupDeps, opts: { dir: string; name: string; as: string }): Promise<Group> {
    const store = openCorestore(opts.dir)
    await store.ready()
    // A new base's key is its founder's writer key: the group is named by it, and its content key derived from it.
    const { writer, blobs } = await localKeys(store, 0)
    const epoch: Epoch = { epoch: 0, base: writer, contentKey: deps.keys.derive(`groups/${writer}/content/0`) }
    const group = new Group(deps, { key: writer, dir: opts.dir, store, invitedBy: null })
    group.#keys.set(0, epoch.contentKey)
    group.#current = await group.#openEra(epoch, true)
    await group.#connect()
    const member = signStatement(writer, { peer: group.#peer.publicKey.toString('hex'), writer, blobs, name: opts.as }, deps.keys.backupPeer)
    await group.#append(group.#current, { type: 'found', name: opts.name, member, indexers: 'founder', at: Date.now() })
    return group
  }

  /** A group this box is in, from its folder, with every epoch's key it holds. */
  static async open(deps: GroupDeps, opts: { key: string; dir: string; epochs: Epoch[]; invitedBy: string | null; store?: Corestore }): Promise<Group> {
    const store = opts.store ?? openCorestore(opts.dir)
    await store.ready()
    const group = new Group(deps, { key: opts.key, dir: opts.dir, store, invitedBy: opts.invitedBy })
    try {
      const epochs = [...opts.epochs].sort((a, b) => a.epoch - b.epoch)
      for (const e of epochs) group.#keys.set(e.epoch, e.contentKey)
      const before = epochs.at(-2)
      if (before) group.#previous = await group.#openEra(before, false)
      group.#current = await group.#openEra(epochs.at(-1)!, false)
      for (const lost of group.#epochsFile().abandoned) {
        const contentKey = openSealed(Buffer.from(lost.key, 'base64'), deps.keys.backupPeer)
        if (contentKey && !epochs.some((e) => e.base === lost.base)) group.#abandoned.push(await group.#openEra({ epoch: lost.epoch, base: lost.base, contentKey }, false))
      }
      await group.#connect()
      return group
    } catch (err) {
      // What was opened is closed again: the store's files stay locked until it is, and a later open would fail.
      await group.close().catch(() => {})
      throw err
    }
  }

  /** The group folder's record of its epochs; none for a group made before it was kept. */
  #epochsFile(): EpochsFile {
    try {
      return JSON.parse(fs.readFileSync(path.join(this.#dir, 'epochs.json'), 'utf8')) as EpochsFile
    } catch {
      return { named: [], abandoned: [] }
    }
  }

  /** Written before the cores it names are made: a box stopped midway opens them under the same names. */
  #saveEpochs(): void {
    const box = this.#deps.keys.backupPeer.publicKey
    const file: EpochsFile = {
      named: [...this.#named],
      abandoned: this.#abandoned.map((e) => ({ epoch: e.epoch.epoch, base: e.epoch.base, key: sealTo(e.epoch.contentKey, box).toString('base64') })),
    }
    const target = path.join(this.#dir, 'epochs.json')
    fs.writeFileSync(`${target}.new`, JSON.stringify(file), { mode: 0o600 })
    fs.renameSync(`${target}.new`, target)
  }

  #name(epoch: Epoch): string {
    return epochName(epoch.epoch, this.#named.has(epoch.base) ? epoch.contentKey : undefined)
  }

  async #openEra(epoch: Epoch, founding: boolean): Promise<Era> {
    const session = epochStore(this.#store, this.#name(epoch))
    const base = new Autobase<View, GroupOp>(session, founding ? null : Buffer.from(epoch.base, 'hex'), {
      valueEncoding: 'json',
      encryptionKey: epoch.contentKey,
      ackInterval: ACK_MS,
      open: (viewStore) => new Hyperbee<ViewValue>(viewStore.get('view'), { keyEncoding: 'utf-8', valueEncoding: 'json', extension: false }),
      apply: applier(this.key, epoch.base, epoch.epoch),
    })
    base.on('error', (err) => this.#deps.logger?.error({ group: this.key, epoch: epoch.epoch, err: err.message }, 'a group\'s base failed'))
    const ownBlobs = new Hyperblobs(session.get({ name: 'blobs', encryption: { key: blobKey(epoch.contentKey) } }))
    await base.ready()
    await ownBlobs.core.ready()
    base.on('update', this.#onUpdate)
    // A connection already open replicates the new base too: the base's own wake-up protocol is added to it.
    for (const conn of this.#swarm?.connections() ?? []) if (this.#isMember(conn.remotePublicKey)) base.replicate(conn)
    return { epoch, session, base, ownBlobs }
  }

  async #closeEra(era: Era): Promise<void> {
    era.base.off('update', this.#onUpdate)
    await era.ownBlobs.core.close()
    await era.base.close()
    await era.session.close()
  }

  async #connect(): Promise<void> {
    await this.#refresh()
    this.#swarm = await this.#deps.network.swarm({
      keyPair: this.#peer,
      allowed: (remote) => this.#isMember(remote) || (this.#isReplicator(remote) && this.#replicas.inWindow(remote.toString('hex'))) || this.#holdsInvite(remote),
      onConnection: (conn) => this.#connected(conn),
      address: groupAddress(this.key),
    })
    this.#dialMembers()
    this.#windowTimer = setInterval(() => this.#dialMembers(), WINDOWS_MS)
    this.#windowTimer.unref()
  }

  /**
   * Closes the group. A move to a new epoch under way, and each epoch's base, get CLOSE_MS each to
   * finish: one that fails or hangs is logged and left behind, and the rest still close (the store
   * last, which unlocks the group's files), so the box can always stop.
   */
  async close(): Promise<void> {
    clearInterval(this.#windowTimer)
    await this.#closing('a move to a new epoch', this.#advancing)
    await this.#swarm?.close()
    await this.shares.close()
    await this.#replicas.close()
    for (const { core } of this.#blobCores.values()) await core.close()
    this.#blobCores.clear()
    this.#closed = true
    for (const era of [...this.#abandoned, this.#previous, this.#current]) if (era) await this.#closing(`epoch ${era.epoch.epoch}`, this.#closeEra(era))
    await this.#closing('its store', this.#store.close())
  }

  /** Waits for a step of closing, CLOSE_MS at most; one that fails or takes longer is logged. */
  async #closing(what: string, step: Promise<unknown> | undefined): Promise<void> {
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), CLOSE_MS)))
    const ended = await Promise.race([Promise.resolve(step).then(() => 'done' as const, (err: Error) => err), late])
    clearTimeout(timer)
    if (ended === 'late') this.#deps.logger?.warn({ group: this.key, step: what }, `closing a group: ${what} did not end within ${CLOSE_MS / 1000} s, and is left behind`)
    else if (ended instanceof Error) this.#deps.logger?.warn({ group: this.key, step: what, err: ended.message }, `closing a group: ${what} failed`)
  }

  /** Closes the group and deletes everything this box held of it. */
  async destroy(): Promise<void> {
    await this.close()
    fs.rmSync(this.#dir, { recursive: true, force: true })
  }

  get name(): string {
    return this.#meta?.name ?? ''
  }

  get epoch(): Epoch {
    return this.#current.epoch
  }

  get address(): string {
    return groupAddress(this.key).toString('hex')
  }

  get writable(): boolean {
    return this.#current.base.writable
  }

  /** This box as a member, once the group's log says it is one. */
  get self(): Member | undefined {
    const writer = this.#current.base.local.key.toString('hex')
    return this.#members.find((m) => m.writer === writer)
  }

  /** Whether this box was a member and is no longer: removed, it holds only the keys of the epochs it was in. */
  get removed(): boolean {
    const box = this.#deps.keys.backupPeer.publicKey.toString('hex')
    return !this.self && [...this.#authors.values()].some((a) => a.box === box && a.epoch === this.#current.epoch.epoch)
  }

  members(): Member[] {
    return [...this.#members]
  }

  /** The members connected now, by writer key. */
  connected(): Set<string> {
    const peers = new Set((this.#swarm?.connections() ?? []).map((c) => c.remotePublicKey.toString('hex')))
    return new Set(this.#members.filter((m) => peers.has(m.peer)).map((m) => m.writer))
  }

  /** Why the group is between epochs now, or undefined while it is in one. */
  get moving(): Moving | undefined {
    return [...this.#moves.values()].at(-1)
  }

  /** Resolves true once no move to another epoch is under way (at once if none is), or false if one still is after `ms`. */
  settled(ms: number): Promise<boolean> {
    if (this.#moves.size === 0) return Promise.resolve(true)
    return new Promise((resolve) => {
      const done = (settled: boolean) => {
        clearTimeout(timer)
        this.#settledWaiters.delete(onSettled)
        resolve(settled)
      }
      const onSettled = () => done(true)
      const timer = setTimeout(() => done(this.#moves.size === 0), ms)
      this.#settledWaiters.add(onSettled)
    })
  }

  /**
   * Marks a request as using the group until the function returned is called: a move to another
   * epoch waits for it (DRAIN_MS at most) before it closes or swaps an epoch. Take it only while
   * no move is under way (check `moving` right after), and never wait for one while holding it.
   */
  lease(): () => void {
    this.#leases++
    let released = false
    return () => {
      if (released) return
      released = true
      if (--this.#leases === 0) for (const wake of [...this.#drainWaiters]) wake()
    }
  }

  /** Runs a move to another epoch: marked at once, so requests arriving from now wait for it; begun once the requests in flight are done. */
  #transition<T>(why: Moving, work: () => Promise<T>): Promise<T> {
    const id = Symbol(why)
    this.#moves.set(id, why)
    return this.#drained(DRAIN_MS).then(work).finally(() => {
      this.#moves.delete(id)
      if (this.#moves.size === 0) for (const wake of [...this.#settledWaiters]) wake()
    })
  }

  #drained(ms: number): Promise<void> {
    if (this.#leases === 0) return Promise.resolve()
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer)
        this.#drainWaiters.delete(done)
        resolve()
      }
      const timer = setTimeout(done, ms)
      this.#drainWaiters.add(done)
    })
  }

  /** Resolves once this box may write to the group, or rejects after `ms`. */
  async whenWritable(ms: number): Promise<void> {
    const until = Date.now() + ms
    while (!this.writable || !this.self) {
      if (Date.now() > until) throw new Conflict('The group did not let this box write in time: is a member who can reach the admin online? It keeps trying.')
      await new Promise((resolve) => setTimeout(resolve, 100))
      await this.#current.base.update()
      await this.#refresh()
    }
  }

  /** Every epoch's key and base, for a box let in now: it reads what was written before it came. */
  epochs(): Epoch[] {
    const bases = new Map([this.#previous, this.#current].filter((e) => e !== undefined).map((e) => [e.epoch.epoch, e.epoch.base]))
    const rows = this.#deps.db.prepare('SELECT epoch, base FROM group_epochs WHERE group_key = ?').all(this.key) as { epoch: number; base: string }[]
    for (const row of rows) bases.set(row.epoch, row.base)
    return [...this.#keys].map(([epoch, contentKey]) => ({ epoch, base: bases.get(epoch)!, contentKey }))
  }

  /** An invite for one box, known by its public key, sealed to it. Admins only. */
  invite(input: { box: string; name: string; role: Role; expiresInSeconds: number }): { code: string; expiresAt: number } {
    if (this.self?.role !== 'admin') throw new Forbidden('Only the group\'s admins may invite.')
    const box = input.box.toLowerCase()
    if (!/^[0-9a-f]{64}$/.test(box)) throw new InvalidInput('A box\'s key is 64 hex characters: `coffer groups list` prints it on that box.', { field: 'publicKey' })
    if (this.#members.some((m) => m.box === box)) throw new Conflict('That box is a member already.')
    const expiresAt = Date.now() + input.expiresInSeconds * 1000
    const { code, secretHash } = makeInvite({
      group: this.key, name: this.name, admin: this.#peer.publicKey.toString('hex'), epoch: this.#current.epoch.epoch, role: input.role, as: input.name, expiresAt,
    }, Buffer.from(box, 'hex'))
    this.#deps.db.prepare('INSERT INTO group_invites (id, group_key, invitee, name, role, secret_hash, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .run(randomUUID(), this.key, box, input.name, input.role, secretHash, expiresAt, Date.now())
    return { code, expiresAt }
  }

  /** The group's blind replicators, as its log lists them, with what each last reported to this box. */
  replicators(): (GroupReplicator & ReplicatorState & { connected: boolean; inWindow: boolean })[] {
    return this.#replicators.map((r) => ({ ...r, ...this.#replicas.state(r.peer), connected: this.#replicas.isConnected(r.peer), inWindow: this.#replicas.inWindow(r.peer) }))
  }

  /**
   * An invite for a blind replicator, known by its key (`coffer replicator id`), sealed to it: it
   * pairs once, before it expires, with this admin's box. Admins only.
   */
  inviteReplicator(input: { box: string; name: string; expiresInSeconds: number }): { code: string; expiresAt: number } {
    if (this.self?.role !== 'admin') throw new Forbidden('Only the group\'s admins may add a replicator.')
    const box = input.box.toLowerCase()
    if (this.#replicators.some((r) => r.box === box)) throw new Conflict('That replicator holds the group already.')
    if (this.#members.some((m) => m.box === box)) throw new Conflict('That is a member\'s box, not a replicator.')
    const expiresAt = Date.now() + input.expiresInSeconds * 1000
    const { code, secretHash } = makeGroupReplicaInvite({
      group: this.key, address: this.address, name: this.name, admin: this.#peer.publicKey.toString('hex'), expiresAt,
    }, Buffer.from(box, 'hex'))
    this.#deps.db.prepare("INSERT INTO group_invites (id, group_key, invitee, name, role, secret_hash, expires_at, created_at) VALUES (?, ?, ?, ?, 'replicator', ?, ?, ?)")
      .run(randomUUID(), this.key, box, input.name, secretHash, expiresAt, Date.now())
    return { code, expiresAt }
  }

  /** Drops a replicator: every member stops admitting it. What it holds stays on its disk, encrypted. Admins only. */
  async removeReplicator(ref: string): Promise<GroupReplicator> {
    if (this.self?.role !== 'admin') throw new Forbidden('Only the group\'s admins may remove a replicator.')
    const key = ref.toLowerCase()
    const found = this.#replicators.find((r) => r.box === key || r.peer === key)
    if (!found) throw new NotFound('That is no replicator of the group: `coffer groups replicator list` lists them.')
    await this.#append(this.#current, { type: 'drop-replicator', peer: found.peer, at: Date.now() })
    await this.#refresh()
    return found
  }

  /** This box's sync windows and bandwidth limits to one of the group's replicators: it is dialled or dropped at once as they say. */
  configureReplicator(ref: string, settings: ReplicatorSettings): void {
    const key = ref.toLowerCase()
    const found = this.#replicators.find((r) => r.box === key || r.peer === key)
    if (!found) throw new NotFound('That is no replicator of the group: `coffer groups replicator list` lists them.')
    this.#replicas.configure(found.peer, settings)
    this.#dialMembers()
  }

  /** Leaves the group: says so in its log, gives the members a moment to hear it, and deletes this box's copy. A removed box only deletes its copy. */
  async leave(waitMs: number): Promise<void> {
    const self = this.self
    if (!self && this.removed) return this.destroy()
    if (!self) throw new Conflict('This box is not (yet) a member of the group.')
    const admins = this.#members.filter((m) => m.role === 'admin')
    if (self.role === 'admin' && admins.length === 1 && this.#members.length > 1) {
      throw new Conflict('You are the group\'s only admin: invite another admin before leaving, so the group can still take members.')
    }
    if (this.#meta?.indexers === 'founder' && this.#current.epoch.base === self.writer && this.#members.length > 1) {
      throw new Conflict('This box orders the group\'s log in its current epoch, so it cannot just leave. Ask another admin to remove it: the group moves to a new epoch that admin\'s box orders. Then leave, to delete this box\'s copy.')
    }
    await this.#append(this.#current, { type: 'leave', at: Date.now() })
    if (this.#members.length > 0) await this.#heard(this.#current, waitMs)
    await this.destroy()
  }

  /**
   * Removes a member: it is dropped from the allow-list at once, and the group moves to a new
   * epoch whose content key it never gets. Admins only.
   */
  remove(box: string): Promise<void> {
    return this.#transition('removing', () => this.#remove(box))
  }

  async #remove(box: string): Promise<void> {
    const self = this.self
    if (self?.role !== 'admin') throw new Forbidden('Only the group\'s admins may remove a member.')
    // A member carried into this epoch and not back yet is removed by its box key: it holds this epoch's key already.
    const member = this.#members.find((m) => m.box === box)
    const gone = member ?? this.#waiting.find((m) => m.box === box)
    if (!gone) throw new NotFound('That box is not a member of the group.')
    if (gone.writer === self.writer) throw new Conflict('To leave the group yourself, leave it.')
    if (await this.#current.base.view.get(ROTATION_KEY)) throw new Conflict('The group is moving to a new key already: try again once it has.')
    const old = this.#current
    const next = old.epoch.epoch + 1
    // A key of its own for every base, even one this box begins again for the same number after losing a race.
    const contentKey = this.#deps.keys.derive(`groups/${this.key}/content/${next}/${randomBytes(16).toString('hex')}`)
    const { writer, blobs } = await localKeys(this.#store, next, contentKey)
    this.#named.add(writer)
    this.#saveEpochs()
    const epoch: Epoch = { epoch: next, base: writer, contentKey }
    const era = await this.#openEra(epoch, true)
    // Held from here, so this box does not take the rotation it is writing for one it must follow.
    this.#keys.set(next, epoch.contentKey)
    const remaining = this.#members.filter((m) => m.writer !== gone.writer)
    try {
      const member = signStatement(this.key, { peer: this.#peer.publicKey.toString('hex'), writer, blobs, name: self.name }, this.#deps.keys.backupPeer)
      await this.#append(era, {
        type: 'epoch', epoch: next, name: this.name, previous: old.epoch.base, member, removed: gone.box, indexers: 'founder', at: Date.now(),
        carried: remaining.map((m) => ({ box: m.box, role: m.role, name: m.name })),
      })
      for (const entries of await this.#carried(old)) await this.#append(era, { type: 'carry', entries })
      // The removed box is told it was removed, and no more: it is let go once it has the entry that
      // says so and a moment to take what that entry follows from (the old epoch is frozen: nothing new comes).
      this.#farewell.add(gone.peer)
      await this.#append(old, {
        type: 'rotate', epoch: next, base: writer, removed: member ? gone.writer : gone.box, at: Date.now(),
        keys: remaining.map((m) => ({ box: m.box, key: sealTo(epoch.contentKey, Buffer.from(m.box, 'hex')).toString('base64') })),
      })
    } catch (err) {
      this.#farewell.delete(gone.peer)
      this.#keys.delete(next)
      await this.#closeEra(era)
      throw err
    }
    this.#letGo(gone.peer, old)
    this.#saveEpoch(epoch)
    await this.#enter(era)
  }

  /** The drive as the old epoch's view holds it, the names of everyone who wrote in it and the replicators, in batches to carry over. */
  async #carried(era: Era): Promise<{ key: string; value: unknown }[][]> {
    const entries: { key: string; value: unknown }[] = []
    for (const range of [...subtreeRanges(''), { gte: 'h', lt: 'i' }, CONFLICTS, AUTHORS, APPLIED, REPLICATORS, SHARED]) {
      for await (const e of era.base.view.createReadStream(range)) entries.push({ key: e.key, value: e.value })
    }
    for (const m of this.#members) entries.push({ key: `a/${m.writer}`, value: { name: m.name, box: m.box, epoch: era.epoch.epoch } satisfies Author })
    const batches: { key: string; value: unknown }[][] = []
    for (let i = 0; i < entries.length; i += CARRY_BATCH) batches.push(entries.slice(i, i + CARRY_BATCH))
    return batches
  }

  /** Makes an epoch the current one; the one it follows stays open while its members come over, the one before that closes. */
  async #enter(era: Era): Promise<void> {
    const older = this.#previous
    this.#previous = this.#current
    this.#current = era
    this.#keys.set(era.epoch.epoch, era.epoch.contentKey)
    if (older) await this.#closeEra(older)
    await this.#refresh()
  }

  /** A remaining member's move to the epoch an admin began: it takes its sealed key, and asks in the old epoch to be added back. */
  async #advance(rotation: Rotation): Promise<void> {
    const box = this.#deps.keys.backupPeer
    const sealed = rotation.keys.find((k) => k.box === box.publicKey.toString('hex'))
    const self = this.self
    if (!sealed || !self) return
    const contentKey = openSealed(Buffer.from(sealed.key, 'base64'), box)
    if (!contentKey) throw new Error('The new epoch\'s key could not be opened with this box\'s key.')
    const epoch: Epoch = { epoch: rotation.epoch, base: rotation.base, contentKey }
    this.#named.add(epoch.base)
    this.#saveEpochs()
    this.#saveEpoch(epoch)
    const { writer, blobs } = await localKeys(this.#store, epoch.epoch, contentKey)
    const member = signStatement(this.key, { peer: this.#peer.publicKey.toString('hex'), writer, blobs, name: self.name }, box)
    await this.#append(this.#current, { type: 'rejoin', epoch: epoch.epoch, base: epoch.base, member, at: Date.now() })
    await this.#enter(await this.#openEra(epoch, false))
  }

  /** Drops a box let go once it has this box's last entry in an epoch and a moment to apply it, or FAREWELL_MS pass: so it hears it is out. */
  #letGo(peer: string, era: Era): void {
    this.#farewell.add(peer)
    this.#heard(era, FAREWELL_MS, peer).then(() => new Promise((resolve) => setTimeout(resolve, FAREWELL_MS).unref())).finally(() => {
      this.#farewell.delete(peer)
      this.#swarm?.forget(Buffer.from(peer, 'hex'))
    })
  }

  /** The base this box is in for an epoch's number (the one it left, if another base won the race, is replaced). */
  #saveEpoch(epoch: Epoch): void {
    this.#deps.db.prepare('INSERT OR REPLACE INTO group_epochs (group_key, epoch, base, content_key, started_at) VALUES (?, ?, ?, ?, ?)')
      .run(this.key, epoch.epoch, epoch.base, epoch.contentKey.toString('hex'), Date.now())
  }

  /**
   * This box's epoch lost the race for its number: another admin began another base at the same
   * moment, and the epoch before settled on that one. The box follows it with the key sealed to it
   * there (asking, in the epoch before, to be added back), and keeps its own epoch open until what
   * was written in it is in the group's epoch (see #recover). A box the winning epoch was begun
   * without was removed: it goes back to the epoch before, which says so.
   */
  async #yield(rotation: Rotation): Promise<void> {
    const lost = this.#current
    const previous = this.#previous!
    const box = this.#deps.keys.backupPeer
    const sealed = rotation.keys.find((k) => k.box === box.publicKey.toString('hex'))
    const self = (await this.#readMembers(previous.base.view)).find((m) => m.box === box.publicKey.toString('hex'))
    const contentKey = sealed && self ? openSealed(Buffer.from(sealed.key, 'base64'), box) : null
    this.#dropBlobs(lost.epoch.epoch)
    if (!contentKey || !self) {
      this.#current = previous
      this.#previous = undefined
      this.#keys.delete(lost.epoch.epoch)
      this.#deps.db.prepare('DELETE FROM group_epochs WHERE group_key = ? AND epoch = ?').run(this.key, lost.epoch.epoch)
      await this.#closeEra(lost)
      await this.#refresh()
      return
    }
    const epoch: Epoch = { epoch: rotation.epoch, base: rotation.base, contentKey }
    this.#named.add(epoch.base)
    this.#abandoned.push(lost)
    this.#saveEpochs()
    this.#saveEpoch(epoch)
    const { writer, blobs } = await localKeys(this.#store, epoch.epoch, contentKey)
    const member = signStatement(this.key, { peer: this.#peer.publicKey.toString('hex'), writer, blobs, name: self.name }, box)
    // Members of this box's epoch the winner was begun without were removed there: kept connected until they hear it, through this box's entry that follows from it.
    const leaving = (await this.#readMembers(lost.base.view)).filter((m) => m.box !== self.box && !rotation.keys.some((k) => k.box === m.box)).map((m) => m.peer)
    for (const peer of leaving) this.#farewell.add(peer)
    await this.#append(previous, { type: 'rejoin', epoch: epoch.epoch, base: epoch.base, member, at: Date.now() })
    for (const peer of leaving) this.#letGo(peer, previous)
    const era = await this.#openEra(epoch, false)
    this.#current = era
    this.#keys.set(epoch.epoch, contentKey)
    await this.#refresh()
  }

  /** Blob cores opened under an epoch's key, closed when this box leaves that epoch's base for another of the same number. */
  #dropBlobs(epoch: number): void {
    for (const [id, { core }] of this.#blobCores) {
      if (!id.startsWith(`${epoch}/`)) continue
      this.#blobCores.delete(id)
      void core.close().catch(() => {})
    }
  }

  async #append(era: Era, op: GroupOp): Promise<void> {
    if (era === this.#current && this.removed) throw new Conflict('This box was removed from the group: it keeps what it held, and can write nothing more.')
    if (!era.base.writable) throw new Conflict('This box cannot write to the group yet: it is still being let in. Try again in a moment.')
    await era.base.append(op)
    await era.base.update()
    if (op.type === 'found' || op.type === 'epoch' || op.type === 'add' || op.type === 'leave' || op.type === 'rotate' || op.type === 'rejoin') await this.#refresh()
  }

  /** Waits until a connected member (that one, if named) has downloaded this box's last entry in an epoch, or `ms` pass. */
  async #heard(era: Era, ms: number, by?: string): Promise<void> {
    const local = era.base.local
    const last = local.length - 1
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms)
      function done() {
        clearTimeout(timer)
        local.off('upload', onUpload)
        resolve()
      }
      function onUpload(index?: number, _bytes?: number, from?: { remotePublicKey?: Buffer }) {
        if (index !== undefined && index >= last && (!by || from?.remotePublicKey?.toString('hex') === by)) done()
      }
      local.on('upload', onUpload as (index?: number) => void)
    })
  }

  async #readMembers(view: View): Promise<Member[]> {
    const members: Member[] = []
    for await (const e of view.createReadStream(MEMBERS)) {
      const m = e.value as Member
      // Every box checks each member's own signature, not only the admin's box that added it (once: a statement does not change).
      if (this.#verified.has(m.signature) || statementSigned(this.key, m)) {
        this.#verified.add(m.signature)
        members.push(m)
      }
    }
    return members
  }

  /** What the epoch's view says of the group: its name, members, authors and replicators, and the members of the epoch before still to come over. */
  async #readState(current: Era) {
    const view = current.base.view
    const meta = (await view.get(META_KEY))?.value as GroupMeta | undefined
    const members = await this.#readMembers(view)
    const authors = new Map<string, Author>()
    for await (const e of view.createReadStream(AUTHORS)) authors.set(e.key.slice(2), e.value as Author)
    let waiting: Member[] = []
    if (this.#previous) {
      // Left or removed in this epoch: not waiting to come back.
      const gone = new Set([...authors.values()].filter((a) => a.epoch === current.epoch.epoch).map((a) => a.box))
      waiting = (await this.#readMembers(this.#previous.base.view)).filter((p) => !members.some((m) => m.box === p.box) && !gone.has(p.box))
    }
    const replicators: GroupReplicator[] = []
    for await (const e of view.createReadStream(REPLICATORS)) replicators.push(e.value as GroupReplicator)
    return { meta, members, authors, waiting, replicators }
  }

  async #refresh(): Promise<void> {
    const current = this.#current
    // An epoch opened before the current one is set (the one before it, as the group opens) waits for it.
    if (!current) return
    const { meta, members, authors, waiting, replicators } = await reread(() => this.#readState(current))
    this.#meta = meta
    const before = new Set([...this.#members, ...this.#waiting, ...this.#replicators].map((m) => m.peer))
    const dropped = this.#replicators.map((r) => r.peer).filter((peer) => !replicators.some((r) => r.peer === peer))
    this.#members = members
    this.#waiting = waiting
    this.#authors = authors
    this.#replicators = replicators
    const now = new Set([...members, ...waiting, ...replicators].map((m) => m.peer))
    // A member or replicator removed or gone is dropped at once; one new is dialled.
    for (const peer of before) if (!now.has(peer) && !this.#farewell.has(peer)) this.#swarm?.forget(Buffer.from(peer, 'hex'))
    for (const gone of dropped) if (!now.has(gone)) this.#replicas.forget(gone)
    this.#dialMembers()
    for (const m of members) this.#blobs(m.blobs, current.epoch.epoch)
    // The replicators hear who they may admit now, and of the cores a new member or epoch brought.
    const told = `${current.epoch.epoch} ${[...now].sort().join(' ')} ${this.self?.role}`
    if (told !== this.#toldReplicas) {
      this.#toldReplicas = told
      this.#replicas.changed()
    }
    await this.#follow()
    void this.shares.refresh()
  }

  /**
   * Moves to the next epoch when this one has ended, or to the base the epoch before settled on if
   * it is not this one; adds back the members of the last one who asked.
   */
  async #follow(): Promise<void> {
    const settled = this.#previous && await this.#settledRotation(this.#previous)
    if (settled && settled.epoch === this.#current.epoch.epoch && settled.base !== this.#current.epoch.base) {
      this.#move('yielding', () => this.#yield(settled))
      return
    }
    const rotation = (await this.#current.base.view.get(ROTATION_KEY))?.value as Rotation | undefined
    if (rotation && rotation.epoch === this.#current.epoch.epoch + 1 && !this.#keys.has(rotation.epoch)) this.#move('following', () => this.#advance(rotation))
    if (this.#abandoned.length > 0 && !this.#recovering) {
      this.#recovering = this.#recover().catch((err: Error) => {
        this.#deps.logger?.warn({ group: this.key, err: err.message }, 'what was written in an epoch that lost a race could not all be carried over yet')
      }).finally(() => (this.#recovering = undefined))
    }
    const previous = this.#previous
    if (!previous || !this.writable || !this.self) return
    for await (const e of previous.base.view.createReadStream(REJOINS)) {
      const statement = e.value as Statement
      if (this.#adding.has(statement.box) || this.#members.some((m) => m.box === statement.box)) continue
      const carried = (await this.#current.base.view.get(carriedKey(statement.box)))?.value as Carried | undefined
      if (!carried) continue
      this.#adding.add(statement.box)
      this.#append(this.#current, { type: 'add', member: statement, role: carried.role, at: Date.now() })
        .catch((err: Error) => this.#deps.logger?.warn({ group: this.key, err: err.message }, 'a member could not be added back'))
        .finally(() => this.#adding.delete(statement.box))
    }
    await this.#replay(previous)
  }

  /**
   * How an epoch ended, once its indexer has settled it. Until then two admins' removals made at
   * once may still swap places in its log as their boxes meet, and a box that followed the one it
   * saw first would have to move again, perhaps back. (A base every member orders, from before,
   * is taken as it stands, as it was then.)
   */
  async #settledRotation(era: Era): Promise<Rotation | undefined> {
    const entry = await era.base.view.get(ROTATION_KEY)
    if (!entry) return undefined
    if (((await era.base.view.get(META_KEY))?.value as GroupMeta | undefined)?.indexers !== 'founder') return entry.value as Rotation
    const view = era.base.view.core
    const indexed = (await era.base.getIndexedInfo())?.views.find((v) => v.key.equals(view.key))?.length ?? 0
    return entry.seq < indexed ? entry.value as Rotation : undefined
  }

  /** Moves this box to another epoch, one move at a time. */
  #move(why: Moving, step: () => Promise<void>): void {
    if (this.#advancing) return
    this.#advancing = this.#transition(why, step).catch((err: Error) => {
      this.#deps.logger?.warn({ group: this.key, err: err.message }, 'this box could not move to the group\'s new epoch')
    }).finally(() => (this.#advancing = undefined))
  }

  /**
   * Drive changes the epoch before holds and this one does not — written there by a member who
   * was offline when the epoch ended, or as it ended — are replayed here, so none is lost. Any
   * member may replay them; each is applied once. The epoch before is read again only when it changed.
   */
  async #replay(previous: Era): Promise<void> {
    const version = previous.base.view.version
    if (this.#replayed.get(previous.epoch.epoch) === version) return
    this.#replayed.set(previous.epoch.epoch, version)
    for (const { author, op, epoch } of await this.#missing(previous)) {
      await this.#append(this.#current, { type: 'replay', author, epoch, op })
        .catch((err: Error) => this.#deps.logger?.warn({ group: this.key, err: err.message }, 'a change from the epoch before could not be replayed'))
        .finally(() => this.#replaying.delete(appliedKey(opId(op))))
    }
  }

  /** The drive changes an epoch applied that the current one has not, in the order it applied them; each is marked as being replayed until the caller is done with it. */
  async #missing(era: Era): Promise<Applied[]> {
    const missing: { seq: number; applied: Applied }[] = []
    for await (const e of era.base.view.createReadStream(APPLIED)) {
      if (this.#replaying.has(e.key) || await this.#current.base.view.get(e.key)) continue
      this.#replaying.add(e.key)
      missing.push({ seq: e.seq, applied: e.value as Applied })
    }
    return missing.sort((a, b) => a.seq - b.seq).map((m) => m.applied)
  }

  /**
   * What was written in an epoch this box left for the base that won the race for its number. The
   * removal that began it is made again in the group's epoch first — by the admin who made it, once
   * every other member has come over so none is left behind — and only then is what was written in
   * it replayed, there: it was written for members without the removed one, and no key that one
   * holds may open it. Files are written again under the current epoch's key. Changes by boxes no
   * longer in the group are left out. The epoch is closed once nothing it holds is missing.
   */
  async #recover(): Promise<void> {
    for (const lost of [...this.#abandoned]) {
      if (this.#closed) return
      const meta = (await lost.base.view.get(META_KEY))?.value as GroupMeta | undefined
      const present = [...this.#members, ...this.#waiting]
      const excluded = meta?.removed === undefined ? undefined : present.find((m) => m.box === meta.removed)
      if (excluded) {
        const founder = lost.base.local.key.toString('hex') === lost.epoch.base
        if (founder && this.self?.role === 'admin' && this.writable && this.#waiting.every((m) => m.box === excluded.box) && !(await this.#current.base.view.get(ROTATION_KEY))) {
          this.#move('removing', () => this.#remove(excluded.box))
        }
        continue
      }
      if (!this.writable || !this.self) return
      const boxes = new Map<string, string>()
      for await (const e of lost.base.view.createReadStream(MEMBERS)) boxes.set((e.value as Member).writer, (e.value as Member).box)
      for await (const e of lost.base.view.createReadStream(AUTHORS)) boxes.set(e.key.slice(2), (e.value as Author).box)
      let left = 0
      for (const { author, op, epoch } of await this.#missing(lost)) {
        const writer = this.#members.find((m) => m.box === boxes.get(author))?.writer
        try {
          if (writer && !this.#closed) await this.#rewrite(lost, { author: writer, op, epoch })
          else if (present.some((m) => m.box === boxes.get(author))) left++
        } catch (err) {
          left++
          this.#deps.logger?.warn({ group: this.key, err: (err as Error).message }, 'a change from an epoch that lost a race could not be carried over yet')
        } finally {
          this.#replaying.delete(appliedKey(opId(op)))
        }
      }
      if (left > 0 || this.#closed) continue
      this.#abandoned = this.#abandoned.filter((e) => e !== lost)
      this.#saveEpochs()
      await this.#closeEra(lost)
    }
  }

  /** Replays a change from an epoch that lost a race in the current one; a file written under that epoch's key is written again under this one's. */
  async #rewrite(lost: Era, change: Applied): Promise<void> {
    const era = this.#current
    let { op, epoch } = change
    if (op.type === 'put' && (op.epoch ?? epoch) === lost.epoch.epoch) {
      // The copy is written in this epoch: the put names no other epoch's key.
      op = { ...op, blob: await this.#copyBlob(op.blob, lost.epoch.contentKey, era), epoch: undefined } satisfies DriveOp
      epoch = era.epoch.epoch
    }
    await this.#append(era, { type: 'replay', author: change.author, epoch, op })
  }

  /** A file's contents, read under an epoch's key and written into this box's blob core of another epoch. */
  async #copyBlob(ref: BlobRef, contentKey: Buffer, era: Era): Promise<BlobRef> {
    const core = this.#store.get({ key: Buffer.from(ref.core, 'hex'), encryption: { key: blobKey(contentKey) } })
    try {
      const read = new Hyperblobs(core).createReadStream(ref.id, { wait: true, timeout: COPY_TIMEOUT_MS })
      const write = era.ownBlobs.createWriteStream()
      const stored = new Promise<void>((resolve, reject) => {
        write.once('close', resolve)
        write.once('error', reject)
      })
      for await (const chunk of read) if (!write.write(chunk)) await new Promise<void>((resolve) => write.once('drain', () => resolve()))
      write.end()
      await stored
      return { core: era.ownBlobs.core.key.toString('hex'), id: write.id }
    } finally {
      await core.close()
    }
  }

  /** Dials every member, and each replicator inside its sync windows; one outside them is dropped, and refused until they open. */
  #dialMembers(): void {
    const self = this.#peer.publicKey.toString('hex')
    const peers = new Set([...this.#members, ...this.#waiting].map((m) => m.peer))
    if (this.#invitedBy && peers.size === 0 && this.#replicators.length === 0) peers.add(this.#invitedBy)
    for (const { peer } of this.#replicators) {
      if (this.#replicas.inWindow(peer)) peers.add(peer)
      else this.#swarm?.forget(Buffer.from(peer, 'hex'))
    }
    peers.delete(self)
    for (const peer of peers) this.#swarm?.dial(Buffer.from(peer, 'hex'))
  }

  #isMember(remote: Buffer): boolean {
    const key = remote.toString('hex')
    if (this.#members.some((m) => m.peer === key) || this.#waiting.some((m) => m.peer === key)) return true
    // Until its log names the members, a box that was just let in knows only the admin who let it in.
    return this.#members.length === 0 && key === this.#invitedBy
  }

  #isReplicator(remote: Buffer): boolean {
    const key = remote.toString('hex')
    return this.#replicators.some((r) => r.peer === key)
  }

  #holdsInvite(remote: Buffer): boolean {
    return this.#deps.db.prepare('SELECT 1 FROM group_invites WHERE group_key = ? AND invitee = ?').get(this.key, remote.toString('hex')) !== undefined
  }

  #connected(conn: Connection): void {
    const member = this.#isMember(conn.remotePublicKey)
    if (member || this.#isReplicator(conn.remotePublicKey)) {
      if (this.#previous) this.#previous.base.replicate(conn)
      this.#current.base.replicate(conn)
      if (!member) this.#replicas.connected(conn)
      return
    }
    const pairing = this.#deps.db.prepare("SELECT 1 FROM group_invites WHERE group_key = ? AND invitee = ? AND role = 'replicator'").get(this.key, conn.remotePublicKey.toString('hex'))
    if (pairing) {
      this.#admitReplicator(conn).catch((err: Error) => {
        this.#deps.logger?.warn({ group: this.key, err: err.message }, 'a replicator holding an invite could not be let in')
        conn.destroy()
      })
      return
    }
    this.#admit(conn).catch((err: Error) => {
      this.#deps.logger?.warn({ group: this.key, err: err.message }, 'a box holding an invite could not be let in')
      conn.destroy()
    })
  }

  /** A box holding an invite says its secret and its signed statement; if the invite holds, it becomes a member. */
  async #admit(conn: Connection): Promise<void> {
    const remote = conn.remotePublicKey.toString('hex')
    const channel = adminChannel(conn)
    const request = await channel.received(JOIN_REQUEST_MS)
    // Once it has the answer the invitee ends the connection; one that does not is dropped.
    const hangUp = () => {
      conn.end()
      setTimeout(() => conn.destroy(), 5000).unref()
    }
    const refuse = (reason: string) => {
      channel.send({ type: 'refused', reason })
      hangUp()
    }
    const row = this.#deps.db.prepare('SELECT * FROM group_invites WHERE group_key = ? AND secret_hash = ?').get(this.key, hashSecret(request.secret)) as InviteRow | undefined
    if (!row || row.invitee !== remote) return refuse('That invite is not one this group made for this box.')
    if (row.used_at !== null) return refuse('This invite was used already: an invite lets one box in once. Ask the admin for a new one.')
    if (row.expires_at <= Date.now()) return refuse('This invite expired: ask the admin for a new one.')
    if (request.member.box !== remote || !statementSigned(this.key, request.member)) return refuse('The request was not signed by the box the invite was made for.')
    if (request.epoch !== this.#current.epoch.epoch) return refuse('The group\'s content key changed since this invite was made: ask the admin for a new one.')
    if (this.self?.role !== 'admin') return refuse('The member who invited this box is no longer an admin of the group.')
    // Spent before anything is written, so the same invite said twice at once lets in one box.
    if (this.#deps.db.prepare('UPDATE group_invites SET used_at = ? WHERE id = ? AND used_at IS NULL').run(Date.now(), row.id).changes === 0) {
      return refuse('This invite was used already: an invite lets one box in once. Ask the admin for a new one.')
    }
    await this.#append(this.#current, { type: 'add', member: request.member, role: row.role, at: Date.now() })
    const box = Buffer.from(remote, 'hex')
    channel.send({
      type: 'admitted',
      epochs: this.epochs().map((e) => ({ epoch: e.epoch, base: e.base, contentKey: sealTo(e.contentKey, box).toString('base64') })),
    })
    // The invitee dials back under its key for the group.
    hangUp()
  }

  /**
   * A replicator holding an invite says its secret and the key it will use on the group's network;
   * if the invite holds, that key goes into the group's log, so every member admits it, and it
   * hears which peers to admit.
   */
  async #admitReplicator(conn: Connection): Promise<void> {
    const remote = conn.remotePublicKey.toString('hex')
    const wire = openWire<ToGroupReplica, FromGroupReplica>(conn, FromGroupReplica, () => {})
    const request = await wire.next('pair', JOIN_REQUEST_MS)
    const refuse = (reason: string) => {
      wire.send({ type: 'refused', reason })
      setTimeout(() => conn.destroy(), 1000).unref()
    }
    const row = this.#deps.db.prepare("SELECT * FROM group_invites WHERE group_key = ? AND secret_hash = ? AND role = 'replicator'").get(this.key, hashSecret(request.secret)) as InviteRow | undefined
    if (!row || row.invitee !== remote) return refuse('That invite is not one this group made for this replicator.')
    if (row.used_at !== null) return refuse('This invite was used already: an invite pairs once. Ask the admin for a new one.')
    if (row.expires_at <= Date.now()) return refuse('This invite expired: ask the admin for a new one.')
    if (this.self?.role !== 'admin') return refuse('The member who invited this replicator is no longer an admin of the group.')
    if (this.#members.some((m) => m.peer === request.peer) || request.peer === this.#peer.publicKey.toString('hex')) return refuse('That key is a member\'s.')
    if (this.#deps.db.prepare('UPDATE group_invites SET used_at = ? WHERE id = ? AND used_at IS NULL').run(Date.now(), row.id).changes === 0) {
      return refuse('This invite was used already: an invite pairs once. Ask the admin for a new one.')
    }
    await this.#append(this.#current, { type: 'replicator', peer: request.peer, box: remote, name: row.name, at: Date.now() })
    await this.#refresh()
    wire.send({ type: 'paired', peers: [...this.#members, ...this.#waiting].map((m) => ({ peer: m.peer, admin: m.role === 'admin' })) })
    // The replicator hangs up, and dials back under its key for the group.
    setTimeout(() => conn.destroy(), 5000).unref()
  }

  #blobs(core: string, epoch: number): Hyperblobs {
    if (epoch === this.#current.epoch.epoch && core === this.#current.ownBlobs.core.key.toString('hex')) return this.#current.ownBlobs
    const id = `${epoch}/${core}`
    let held = this.#blobCores.get(id)
    if (!held) {
      const contentKey = this.#keys.get(epoch)
      if (!contentKey) throw new NotFound('That version was written under a key this box does not hold.')
      // From the store itself, not an epoch's session: it stays open when the epoch it was written in closes.
      const hypercore = this.#store.get({ key: Buffer.from(core, 'hex'), encryption: { key: blobKey(contentKey) } })
      hypercore.download({ start: 0, end: -1 })
      held = { core: hypercore, blobs: new Hyperblobs(hypercore) }
      this.#blobCores.set(id, held)
    }
    return held.blobs
  }
}
