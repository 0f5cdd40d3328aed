/**
 * One group as this box holds it: the group's own corestore under the home (its base, this
 * member's writer and blob cores, copies of the other members' cores), the view the base builds,
 * and the group's swarm, which admits only current members and boxes holding an invite.
 *
 * The group has a corestore of its own rather than a namespace of the box's logs corestore: its
 * cores are shared with a different set of peers (the members, not the owner's replicas), a
 * replication stream serves any core of the store it replicates that a peer asks for by
 * discovery key, and leaving a group deletes its folder without touching the owner's logs.
 */
import fs from 'node:fs'
import { createHash, createHmac, randomUUID } from 'node:crypto'
import type Database from 'better-sqlite3'
import Autobase from 'autobase'
import Hyperbee from 'hyperbee'
import Hyperblobs from 'hyperblobs'
import type Corestore from 'corestore'
import type Hypercore from 'hypercore'
import type pino from 'pino'
import { Conflict, Forbidden, InvalidInput } from '../errors/index.ts'
import { sealTo, type BoxKeys, type KeyPair } from '../keys/index.ts'
import { openCorestore } from '../store/index.ts'
import { applier, MEMBERS, META_KEY, type GroupMeta, type View, type ViewValue } from './apply.ts'
import { Drive } from './drive.ts'
import { hashSecret, makeInvite } from './invite.ts'
import { signStatement, statementSigned, type Member, type Role } from './members.ts'
import type { GroupNetwork, GroupSwarm, Connection } from './network.ts'
import type { GroupOp } from './ops.ts'
import { adminChannel } from './wire.ts'

/** Writers acknowledge each other this often, so the order every member agrees on keeps up. */
const ACK_MS = 1000
/** How long a box holding an invite has, once connected, to say it. */
const JOIN_REQUEST_MS = 15_000

export interface Epoch { epoch: number; base: string; contentKey: Buffer }

export interface GroupDeps {
  db: Database.Database
  keys: BoxKeys
  network: GroupNetwork
  logger?: pino.Logger
}

interface InviteRow { id: string; group_key: string; invitee: string; name: string; role: Role; secret_hash: string; expires_at: number; created_at: number; used_at: number | null }

/** The key a group's blob cores are encrypted with: its own, derived from the content key, so no key encrypts two kinds of core. */
function blobKey(contentKey: Buffer): Buffer {
  return createHmac('sha256', contentKey).update('coffer/v1/group-blobs').digest()
}

/** Where a group's members meet on the DHT: derived from its key, the same for every member. */
export function groupAddress(group: string): Buffer {
  return createHash('sha256').update(`coffer/v1/group-address\n${group}`).digest()
}

/** A session of the store whose new cores are named apart from other epochs'. */
function epochStore(store: Corestore, epoch: number): Corestore {
  return (store as unknown as { namespace(name: string): Corestore }).namespace(`epoch-${epoch}`)
}

/** The keys a member will write and store file contents under in an epoch, before its base exists. */
export async function localKeys(store: Corestore, epoch: number): Promise<{ writer: string; blobs: string }> {
  const session = epochStore(store, epoch)
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
  readonly #session: Corestore
  readonly #epoch: Epoch
  readonly #invitedBy: string | null
  readonly #base: Autobase<View, GroupOp>
  readonly #peer: KeyPair
  readonly #ownBlobs: Hyperblobs
  /** Every member's blob core, kept downloading, so a file is readable from any member that has it. */
  readonly #blobCores = new Map<string, { core: Hypercore; blobs: Hyperblobs }>()
  readonly #onUpdate = () => void this.#refresh().catch((err: Error) => this.#deps.logger?.warn({ group: this.key, err: err.message }, 'a group\'s members could not be read'))
  #members: Member[] = []
  readonly #verified = new Set<string>()
  #meta: GroupMeta | undefined
  #swarm: GroupSwarm | undefined
  readonly drive: Drive

  private constructor(deps: GroupDeps, opts: { key: string; dir: string; store: Corestore; epoch: Epoch; invitedBy: string | null; founding: boolean }) {
    this.#deps = deps
    this.key = opts.key
    this.#dir = opts.dir
    this.#store = opts.store
    this.#epoch = opts.epoch
    this.#invitedBy = opts.invitedBy
    this.#session = epochStore(opts.store, opts.epoch.epoch)
    this.#peer = deps.keys.deriveKeyPair(`groups/${opts.key}/peer`)
    this.#base = new Autobase<View, GroupOp>(this.#session, opts.founding ? null : Buffer.from(opts.epoch.base, 'hex'), {
      valueEncoding: 'json',
      encryptionKey: opts.epoch.contentKey,
      ackInterval: ACK_MS,
      open: (viewStore) => new Hyperbee<ViewValue>(viewStore.get('view'), { keyEncoding: 'utf-8', valueEncoding: 'json', extension: false }),
      apply: applier(opts.key, opts.epoch.base),
    })
    this.#base.on('error', (err) => this.#deps.logger?.error({ group: this.key, err: err.message }, 'a group\'s base failed'))
    this.#ownBlobs = new Hyperblobs(this.#session.get({ name: 'blobs', encryption: { key: blobKey(opts.epoch.contentKey) } }))
    this.drive = new Drive({
      view: () => this.#base.view,
      append: (op) => this.#append(op),
      ownBlobs: () => ({ blobs: this.#ownBlobs, key: this.#ownBlobs.core.key.toString('hex') }),
      blobs: (core) => this.#blobs(core),
      memberName: (writer) => this.#members.find((m) => m.writer === writer)?.name ?? `a former member (${writer.slice(0, 8)})`,
    })
  }

  /** A new group, with this box as its founder and first admin, in a folder holding no other. */
  static async found(deps: GroupDeps, opts: { dir: string; name: string; as: string }): Promise<Group> {
    const store = openCorestore(opts.dir)
    await store.ready()
    // A new base's key is its founder's writer key: the group is named by it, and its content key derived from it.
    const { writer, blobs } = await localKeys(store, 0)
    const contentKey = deps.keys.derive(`groups/${writer}/content/0`)
    const group = new Group(deps, { key: writer, dir: opts.dir, store, epoch: { epoch: 0, base: writer, contentKey }, invitedBy: null, founding: true })
    await group.#open()
    const member = signStatement(writer, { peer: group.#peer.publicKey.toString('hex'), writer, blobs, name: opts.as }, deps.keys.backupPeer)
    await group.#append({ type: 'found', name: opts.name, member, at: Date.now() })
    return group
  }

  /** A group this box is in, from its folder. */
  static async open(deps: GroupDeps, opts: { key: string; dir: string; epoch: Epoch; invitedBy: string | null; store?: Corestore }): Promise<Group> {
    const store = opts.store ?? openCorestore(opts.dir)
    await store.ready()
    const group = new Group(deps, { key: opts.key, dir: opts.dir, store, epoch: opts.epoch, invitedBy: opts.invitedBy, founding: false })
    await group.#open()
    return group
  }

  async #open(): Promise<void> {
    await this.#base.ready()
    await this.#ownBlobs.core.ready()
    await this.#refresh()
    this.#base.on('update', this.#onUpdate)
    this.#swarm = await this.#deps.network.swarm({
      keyPair: this.#peer,
      allowed: (remote) => this.#isMember(remote) || this.#holdsInvite(remote),
      onConnection: (conn) => this.#connected(conn),
      address: groupAddress(this.key),
    })
    this.#dialMembers()
  }

  async close(): Promise<void> {
    this.#base.off('update', this.#onUpdate)
    await this.#swarm?.close()
    for (const { core } of this.#blobCores.values()) await core.close()
    this.#blobCores.clear()
    await this.#ownBlobs.core.close()
    await this.#base.close()
    await this.#session.close()
    await this.#store.close()
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
    return this.#epoch
  }

  get address(): string {
    return groupAddress(this.key).toString('hex')
  }

  get writable(): boolean {
    return this.#base.writable
  }

  /** This box as a member, once the group's log says it is one. */
  get self(): Member | undefined {
    const box = this.#deps.keys.backupPeer.publicKey.toString('hex')
    return this.#members.find((m) => m.box === box && m.writer === this.#base.local.key.toString('hex'))
  }

  members(): Member[] {
    return [...this.#members]
  }

  /** The members connected now, by writer key. */
  connected(): Set<string> {
    const peers = new Set((this.#swarm?.connections() ?? []).map((c) => c.remotePublicKey.toString('hex')))
    return new Set(this.#members.filter((m) => peers.has(m.peer)).map((m) => m.writer))
  }

  /** Resolves once this box may write to the group, or rejects after `ms`. */
  async whenWritable(ms: number): Promise<void> {
    const until = Date.now() + ms
    while (!this.#base.writable || !this.self) {
      if (Date.now() > until) throw new Conflict('The group did not let this box write in time: is a member who can reach the admin online? It keeps trying.')
      await new Promise((resolve) => setTimeout(resolve, 100))
      await this.#base.update()
      await this.#refresh()
    }
  }

  /** An invite for one box, known by its public key, sealed to it. Admins only. */
  invite(input: { box: string; name: string; role: Role; expiresInSeconds: number }): { code: string; expiresAt: number } {
    if (this.self?.role !== 'admin') throw new Forbidden('Only the group\'s admins may invite.')
    const box = input.box.toLowerCase()
    if (!/^[0-9a-f]{64}$/.test(box)) throw new InvalidInput('A box\'s key is 64 hex characters: `coffer groups list` prints it on that box.', { field: 'publicKey' })
    if (this.#members.some((m) => m.box === box)) throw new Conflict('That box is a member already.')
    const expiresAt = Date.now() + input.expiresInSeconds * 1000
    const { code, secretHash } = makeInvite({
      group: this.key, name: this.name, admin: this.#peer.publicKey.toString('hex'), epoch: this.#epoch.epoch, role: input.role, as: input.name, expiresAt,
    }, Buffer.from(box, 'hex'))
    this.#deps.db.prepare('INSERT INTO group_invites (id, group_key, invitee, name, role, secret_hash, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .run(randomUUID(), this.key, box, input.name, input.role, secretHash, expiresAt, Date.now())
    return { code, expiresAt }
  }

  /** Leaves the group: says so in its log, gives the members a moment to hear it, and deletes this box's copy. */
  async leave(waitMs: number): Promise<void> {
    const self = this.self
    if (!self) throw new Conflict('This box is not (yet) a member of the group.')
    const admins = this.#members.filter((m) => m.role === 'admin')
    if (self.role === 'admin' && admins.length === 1 && this.#members.length > 1) {
      throw new Conflict('You are the group\'s only admin: invite another admin before leaving, so the group can still take members.')
    }
    await this.#append({ type: 'leave', at: Date.now() })
    if (this.#members.length > 0) await this.#heard(waitMs)
    await this.destroy()
  }

  async #append(op: GroupOp): Promise<void> {
    if (!this.#base.writable) throw new Conflict('This box cannot write to the group yet: it is still being let in. Try again in a moment.')
    await this.#base.append(op)
    await this.#base.update()
    if (op.type === 'found' || op.type === 'add' || op.type === 'leave') await this.#refresh()
  }

  /** Waits until a connected member has downloaded this box's last entry, or `ms` pass. */
  async #heard(ms: number): Promise<void> {
    const local = this.#base.local
    const last = local.length - 1
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms)
      function done() {
        clearTimeout(timer)
        local.off('upload', onUpload)
        resolve()
      }
      function onUpload(index?: number) {
        if (index !== undefined && index >= last) done()
      }
      local.on('upload', onUpload)
    })
  }

  async #refresh(): Promise<void> {
    const view = this.#base.view
    this.#meta = (await view.get(META_KEY))?.value as GroupMeta | undefined
    const members: Member[] = []
    for await (const e of view.createReadStream(MEMBERS)) {
      const m = e.value as Member
      // Every box checks each member's own signature, not only the admin's box that added it (once: a statement does not change).
      if (this.#verified.has(m.signature) || statementSigned(this.key, m)) {
        this.#verified.add(m.signature)
        members.push(m)
      }
    }
    const before = new Set(this.#members.map((m) => m.peer))
    this.#members = members
    const now = new Set(members.map((m) => m.peer))
    // A member removed or gone is dropped at once; one new is dialled.
    for (const peer of before) if (!now.has(peer)) this.#swarm?.forget(Buffer.from(peer, 'hex'))
    this.#dialMembers()
    for (const m of members) this.#blobs(m.blobs)
  }

  #dialMembers(): void {
    const self = this.#peer.publicKey.toString('hex')
    const peers = new Set(this.#members.map((m) => m.peer))
    if (this.#invitedBy && peers.size === 0) peers.add(this.#invitedBy)
    peers.delete(self)
    for (const peer of peers) this.#swarm?.dial(Buffer.from(peer, 'hex'))
  }

  #isMember(remote: Buffer): boolean {
    const key = remote.toString('hex')
    // Until its log names the members, a box that was just let in knows only the admin who let it in.
    return this.#members.some((m) => m.peer === key) || (this.#members.length === 0 && key === this.#invitedBy)
  }

  #holdsInvite(remote: Buffer): boolean {
    return this.#deps.db.prepare('SELECT 1 FROM group_invites WHERE group_key = ? AND invitee = ?').get(this.key, remote.toString('hex')) !== undefined
  }

  #connected(conn: Connection): void {
    if (this.#isMember(conn.remotePublicKey)) {
      this.#base.replicate(conn)
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
    if (request.epoch !== this.#epoch.epoch) return refuse('The group\'s content key changed since this invite was made: ask the admin for a new one.')
    if (this.self?.role !== 'admin') return refuse('The member who invited this box is no longer an admin of the group.')
    // Spent before anything is written, so the same invite said twice at once lets in one box.
    if (this.#deps.db.prepare('UPDATE group_invites SET used_at = ? WHERE id = ? AND used_at IS NULL').run(Date.now(), row.id).changes === 0) {
      return refuse('This invite was used already: an invite lets one box in once. Ask the admin for a new one.')
    }
    await this.#append({ type: 'add', member: request.member, role: row.role, at: Date.now() })
    channel.send({
      type: 'admitted', contentKey: sealTo(this.#epoch.contentKey, Buffer.from(remote, 'hex')).toString('base64'),
      epoch: this.#epoch.epoch, base: this.#epoch.base,
    })
    // The invitee dials back under its key for the group.
    hangUp()
  }

  #blobs(core: string): Hyperblobs {
    const own = this.#ownBlobs.core.key.toString('hex')
    if (core === own) return this.#ownBlobs
    let held = this.#blobCores.get(core)
    if (!held) {
      const hypercore = this.#session.get({ key: Buffer.from(core, 'hex'), encryption: { key: blobKey(this.#epoch.contentKey) } })
      hypercore.download({ start: 0, end: -1 })
      held = { core: hypercore, blobs: new Hyperblobs(hypercore) }
      this.#blobCores.set(core, held)
    }
    return held.blobs
  }
}
