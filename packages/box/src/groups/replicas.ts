/**
 * A member's side of the group's blind replicators: on each connection to one, the member tells it
 * the keys of every core the group's store holds (so it keeps them all, across epochs) and, if the
 * member is an admin, which peers it may admit (so a removed member is refused there too). The
 * replicator answers with signed accounts of what it holds; the member compares each with its own
 * copy, and keeps the last and when the replicator last held everything it has. This box's sync
 * windows and bandwidth limits to each replicator are kept here too, as backup keeps its replicas'.
 *
 * Who may be admitted also travels without an admin: each admin appends its list, with the epoch,
 * to its admissions core (see backup's group-wire), and every member keeps every admin's core and
 * serves it to the members and replicators it reaches. So a replicator that only a plain member
 * reaches hears of a removal as soon as that member has the admin's entry. What a member can make a
 * replicator do, then: pass on the latest list an admin of the group signed, or hold it back (another
 * member, or the admin, brings it). What it cannot: widen or change the list by its own word (a
 * plain member's `peers` is ignored, and a list in a core no trusted admin signs is never read),
 * forge or alter an admin's entry (hypercore checks every block against the admin's key), or bring
 * back an older list (an admin's core only grows, and a list from an earlier epoch than the one the
 * replicator follows is ignored). A removed member is refused as soon as the replicator has the
 * entry, so from then on it can fetch nothing, not even ciphertext.
 */
import fs from 'node:fs'
import type Corestore from 'corestore'
import type Hypercore from 'hypercore'
import type pino from 'pino'
import { verifySignature, type KeyPair } from '../keys/index.ts'
import {
  FromGroupReplica, admissionsKey, admissionsManifest, groupHealthMessage, heldBlocks, inWindows, lastAdmission, openWire, throttle,
  type Admission, type Connection, type GroupHealthReport, type GroupPeer, type Rates, type ToGroupReplica, type Wire,
} from '../backup/index.ts'

export interface ReplicatorState {
  /** The last report the replicator signed, checked against this box's copy. */
  report: GroupHealthReport | null
  /** Blocks this box holds that the replicator did not, when it last reported. */
  behindBlocks: number | null
  /** When a report last showed it holding every block this box holds. */
  syncedAt: number | null
  /** This box's bandwidth limits to it, bytes a second each way; 0: none (backup's throttle, on this box's connection). */
  limits: { uploadBytesPerSecond: number; downloadBytesPerSecond: number }
  /** When this box syncs with it, HH:MM-HH:MM in the owner's time zone, as backup's windows; none: always. */
  windows: string[]
}

export type ReplicatorSettings = Partial<ReplicatorState['limits']> & { windows?: string[] }

const NO_LIMITS = { uploadBytesPerSecond: 0, downloadBytesPerSecond: 0 }

interface Link { conn: Connection; wire: Wire<ToGroupReplica, FromGroupReplica>; peers: string; cores: Set<string> }

type Listing = { list(): AsyncIterable<Buffer>; getAuth(discoveryKey: Buffer): Promise<{ key: Buffer } | null> }

export class ReplicaLinks {
  readonly #group: string
  readonly #store: Corestore
  readonly #file: string
  readonly #peers: () => GroupPeer[]
  readonly #admin: () => boolean
  readonly #epoch: () => number
  /** This box's key on the group's network, which signs its admissions core when it is an admin. */
  readonly #keyPair: KeyPair
  readonly #timeZone: () => string
  readonly #logger: pino.Logger | undefined
  readonly #links = new Map<string, Link>()
  readonly #states = new Map<string, ReplicatorState>()
  /** Core lists being sent, one at a time per replicator. */
  readonly #sending = new Map<string, Promise<void>>()
  /** Every admin's admissions core, this box's own among them if it is one, kept downloading so it can pass them on. */
  readonly #admissions = new Map<string, Hypercore>()
  /** Admissions cores being opened, and this box's list being appended, one change at a time. */
  #admitting: Promise<void> = Promise.resolve()
  #closed = false

  constructor(opts: {
    group: string; store: Corestore; file: string; peers: () => GroupPeer[]; admin: () => boolean; epoch: () => number; keyPair: KeyPair
    timeZone: () => string; logger?: pino.Logger
  }) {
    this.#group = opts.group
    this.#store = opts.store
    this.#file = opts.file
    this.#peers = opts.peers
    this.#admin = opts.admin
    this.#epoch = opts.epoch
    this.#keyPair = opts.keyPair
    this.#timeZone = opts.timeZone
    this.#logger = opts.logger
    try {
      for (const [peer, state] of Object.entries(JSON.parse(fs.readFileSync(this.#file, 'utf8')) as Record<string, ReplicatorState>)) this.#states.set(peer, state)
    } catch {
      // None reported yet.
    }
  }

  connected(conn: Connection): void {
    const peer = conn.remotePublicKey.toString('hex')
    this.#links.get(peer)?.conn.destroy()
    const wire = openWire<ToGroupReplica, FromGroupReplica>(conn, FromGroupReplica, (message) => {
      if (message.type !== 'health') return
      this.#reported(peer, message.report, message.signature).catch((err: Error) => this.#logger?.warn({ group: this.#group, err: err.message }, 'a replicator\'s report could not be read'))
    })
    const link: Link = { conn, wire, peers: '', cores: new Set() }
    this.#links.set(peer, link)
    const stopThrottle = throttle(conn, (): Rates => this.state(peer).limits)
    conn.once('close', () => {
      stopThrottle()
      if (this.#links.get(peer) === link) this.#links.delete(peer)
    })
    this.#tell(peer, link)
  }

  /** The members or the epoch changed: every replicator hears what is new, and an admin writes its list down for the members to pass on. */
  changed(): void {
    this.#admitting = this.#admitting.then(() => this.#followAdmissions()).catch((err: Error) => this.#logger?.warn({ group: this.#group, err: err.message }, 'the admins\' lists of peers to admit could not be followed'))
    for (const [peer, link] of this.#links) this.#tell(peer, link)
  }

  isConnected(peer: string): boolean {
    return this.#links.has(peer)
  }

  state(peer: string): ReplicatorState {
    return { report: null, behindBlocks: null, syncedAt: null, limits: NO_LIMITS, windows: [], ...this.#states.get(peer) }
  }

  /** Whether this box syncs with the replicator now: inside one of its windows, or it has none. */
  inWindow(peer: string): boolean {
    return inWindows(this.state(peer).windows, this.#timeZone())
  }

  /** Sets this box's windows and bandwidth limits to a replicator; a connection open now follows the limits at once. */
  configure(peer: string, { windows, ...limits }: ReplicatorSettings): void {
    const state = this.state(peer)
    this.#states.set(peer, { ...state, limits: { ...state.limits, ...limits }, windows: windows ?? state.windows })
    this.#save()
  }

  /** A replicator dropped from the group: its connection goes, and what it reported is forgotten. */
  forget(peer: string): void {
    this.#links.get(peer)?.conn.destroy()
    this.#states.delete(peer)
    this.#save()
  }

  async close(): Promise<void> {
    this.#closed = true
    for (const { conn } of this.#links.values()) conn.destroy()
    this.#links.clear()
    await this.#admitting
    for (const core of this.#admissions.values()) await core.close()
    this.#admissions.clear()
  }

  /** Holds every current admin's admissions core (an admin no longer one is let go), and appends this box's list to its own when it changed. */
  async #followAdmissions(): Promise<void> {
    if (this.#closed) return
    const peers = this.#peers().sort((a, b) => a.peer.localeCompare(b.peer))
    const self = this.#keyPair.publicKey.toString('hex')
    const admins = new Set(peers.filter((p) => p.admin).map((p) => p.peer))
    for (const [admin, core] of this.#admissions) {
      if (admins.has(admin)) continue
      this.#admissions.delete(admin)
      await core.close()
    }
    for (const admin of admins) {
      if (this.#admissions.has(admin)) continue
      const core = admin === self
        ? this.#store.get({ keyPair: this.#keyPair, manifest: admissionsManifest(admin) })
        : this.#store.get({ key: admissionsKey(admin) })
      await core.ready()
      if (admin !== self) core.download({ start: 0, end: -1 })
      this.#admissions.set(admin, core)
    }
    const own = this.#admissions.get(self)
    if (!own || this.#closed) return
    const epoch = this.#epoch()
    const last = await lastAdmission(own, this.#group)
    if (last && last.epoch === epoch && JSON.stringify(last.peers) === JSON.stringify(peers)) return
    await own.append(Buffer.from(JSON.stringify({ v: 1, group: this.#group, epoch, peers, at: Date.now() } satisfies Admission)))
  }

  /** Sends the peers it may admit (an admin's word only) and any cores it has not been told of. */
  #tell(peer: string, link: Link): void {
    if (this.#admin()) {
      const peers = this.#peers()
      const said = JSON.stringify(peers)
      if (said !== link.peers) {
        link.wire.send({ type: 'peers', peers })
        link.peers = said
      }
    }
    const sending = (this.#sending.get(peer) ?? Promise.resolve()).then(async () => {
      const keys = await this.#coreKeys()
      if (this.#closed || keys.every((k) => link.cores.has(k))) return
      link.wire.send({ type: 'cores', keys })
      for (const k of keys) link.cores.add(k)
    }).catch((err: Error) => this.#logger?.warn({ group: this.#group, err: err.message }, 'the group\'s cores could not be listed for a replicator'))
    this.#sending.set(peer, sending)
  }

  /** Every core the group's store holds: the bases of every epoch, every writer's, every member's file contents. */
  async #coreKeys(): Promise<string[]> {
    const store = this.#store as unknown as Listing
    const keys: string[] = []
    for await (const discoveryKey of store.list()) {
      const auth = await store.getAuth(discoveryKey)
      if (auth?.key) keys.push(auth.key.toString('hex'))
    }
    return keys.sort()
  }

  async #reported(peer: string, report: GroupHealthReport, signature: string): Promise<void> {
    if (report.group !== this.#group || !verifySignature(Buffer.from(signature, 'hex'), groupHealthMessage(report), Buffer.from(peer, 'hex'))) {
      this.#logger?.warn({ group: this.#group }, 'a replicator sent a report it did not sign for this group')
      this.#links.get(peer)?.conn.destroy()
      return
    }
    const theirs = new Map(report.cores.map((c) => [c.key, c.blocks]))
    let behind = 0
    for (const key of await this.#coreKeys()) {
      if (this.#closed) return
      const core: Hypercore = this.#store.get({ key: Buffer.from(key, 'hex') })
      try {
        await core.ready()
        behind += Math.max(0, heldBlocks(core) - (theirs.get(key) ?? 0))
      } finally {
        await core.close()
      }
    }
    const previous = this.state(peer)
    this.#states.set(peer, { ...previous, report, behindBlocks: behind, syncedAt: behind === 0 ? report.at : previous.syncedAt })
    this.#save()
    // A core it did not know of yet (a member's added since) is sent now.
    const link = this.#links.get(peer)
    if (link && !this.#closed) this.#tell(peer, link)
  }

  #save(): void {
    if (this.#closed) return
    fs.writeFileSync(this.#file, JSON.stringify(Object.fromEntries(this.#states)), { mode: 0o600 })
  }
}
