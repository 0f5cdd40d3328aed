/**
 * Sources a group holds: a member shares one of its box's sources, and every member's box keeps
 * a read-only copy of it that its apps may be granted like any source, under the rules the sharer
 * set.
 *
 * The sharer's records go in a hypercore of the group's corestore, one per shared source and
 * epoch, written by the sharer alone and encrypted with a key derived from that epoch's content
 * key; the core is announced in the group's base (`share`), with the source's description and the
 * rules, so what is shared and under which rules is part of the group's signed state. The sharer's
 * box sends its source's log in order, from the first block: it keeps how far it has sent (in
 * sent.json, beside shares.json) and moves that on only once the group's core holds the records,
 * so it picks up where it was after a restart, with what was written while it was stopped, or
 * saved in the moment before it died, or while the group could not take it. It sends again at
 * start, after each batch its source applies and whenever the group's view changes. Before each
 * append it notes the core's length, so an append that lands just before the box dies is not
 * sent twice: every record reaches the copies once. Removing a member begins a new epoch: the
 * sharer holds new records back until it is in the new epoch, then writes them to a new core
 * under the new key, which the removed member never gets — nor, dropped from every member's
 * allow-list, any block of it.
 *
 * Each member's box follows every core it holds the key to, block by block from where it stopped
 * (kept in shares.json), and appends each batch to a local source `group.<hash>.<id>` through the
 * box's store, filed in the audit log as the group's write. So views, grants, the audit log, apps
 * and statements treat the copy as any source. The box's arbiter asks the group's rules on every
 * grant and every access (see share-rules.ts): the copy is read-only, and the sharer decides
 * whether apps may read it, at what detail, and whether anything read from it may leave the box.
 *
 * Stopping sharing stops new records; what members hold they keep, and may then delete; sharing
 * again sends what was written in between.
 *
 * Deletions on the sharer's box reach the copies. A range deleted there (the log's `delete`
 * entry) goes to the core, in log order with the records around it, as a block of its own —
 * `{"delete":{"from":F,"to":T}}` where a records block is a JSON array — once any block it drops
 * was sent; the points the deletion keeps from those blocks, which the log holds again (marked as
 * kept, with the block they were in), are not sent again: the copies hold them already. A
 * deletion of records not sent yet needs no block: they are not sent, and what it keeps is. Each
 * member's box deletes the range from its copy when it reads that block — one that was away, when
 * it catches up, in order, after the sharer's earlier cores of the source as they stood then —
 * through the store, filed in the audit log as the group's deletion; so every record reaches each
 * copy once, and what was deleted leaves it. Deleting the shared source on the sharer's box
 * empties the copies: a deletion of everything goes, then the share stops (the source is gone;
 * sharing a new one of that name starts afresh). Stopping sharing, by contrast, leaves members
 * what they hold. An import taken back on the sharer's box (its blocks dropped whole, with no
 * range) is not carried: once its blocks are cleared nothing says which points they were, and a
 * time range would take others' with them; what of it was sent stays in the copies, and the
 * sharer's box logs a warning. A member's box on a Coffer from before deletions were carried reads
 * a deletion block as an empty batch and goes on past it: its copy keeps what was deleted.
 *
 * What a deletion cannot reach: the shared core's blocks are never rewritten, since every member
 * and replicator checks the sharer's signed core as it is. So the records a deletion took out stay
 * in the core's older blocks — encrypted on each member's box, in its group's corestore, and as
 * ciphertext on blind replicators — readable to a member's box that holds the epoch's key. A member
 * clearing those blocks locally would not take them from the others that replicate them, and
 * would leave it unable to serve them to a member still catching up, so members keep them.
 */
import fs from 'node:fs'
import path from 'node:path'
import { createHmac } from 'node:crypto'
import type Corestore from 'corestore'
import type Hypercore from 'hypercore'
import type pino from 'pino'
import { Conflict, InvalidInput } from '../errors/index.ts'
import type { Operations } from '../operations/index.ts'
import type { Source, SourceMeta, Store } from '../store/index.ts'
import { MAX_TIME } from '../store/view.ts'
import { writeFileAtomic } from '../home/index.ts'
import type { SenmlRecord } from '../senml/index.ts'
import type { Member } from './members.ts'
import type { GroupOp } from './ops.ts'
import type { View } from './apply.ts'
import { SHARED, heldSourceId, type Held, type ShareRules, type SharedSource } from './share-rules.ts'

/** Records per block of a shared core. */
const BLOCK_RECORDS = 1000
/** Past every time a record may carry: a deletion to it takes everything. */
const EVERYTHING = MAX_TIME + 1
const SHARED_ID = /^[a-z0-9][a-z0-9._-]{0,47}$/

/** The box's sources, which a group shares from and keeps its copies in. */
export interface BoxSources { store: Store; ops: Operations }

export interface SharesDeps {
  group: string
  groupName: () => string
  /** Where this box keeps how far it read each core, and the copies it holds. */
  file: string
  /** The group's corestore. */
  store: Corestore
  view: () => View
  epoch: () => number
  contentKey: (epoch: number) => Buffer | undefined
  /** What this box's cores of the epoch are named under: two bases racing for one epoch number get apart names. */
  coreName: (epoch: number) => string
  /** Whether the current epoch is ending: records wait for the next one's key. */
  ending: () => Promise<boolean>
  self: () => Member | undefined
  removed: () => boolean
  append: (op: GroupOp) => Promise<void>
  /** A core was made: the replicators hear of it. */
  coresChanged: () => void
  sources: BoxSources | undefined
  logger?: pino.Logger
}

interface HeldState extends Held { box: string; source: string; cursors: Record<string, number> }

/** The key a shared core is encrypted with: its own, derived from the epoch's content key. */
function shareKey(contentKey: Buffer): Buffer {
  return createHmac('sha256', contentKey).update('coffer/v1/group-shares').digest()
}

interface Pump { source: string; wanted: boolean; stop: () => void }

/**
 * A block of a shared core: a JSON array of records, or a deletion of [from, to) from the copies,
 * to apply once the copies have read the sharer's earlier cores of the source up to `after` (block
 * counts by core key): what it deletes may have gone out in an earlier epoch's core.
 */
interface Deletion { delete: { from: number; to: number }; after?: Record<string, number> }

/**
 * How far this box has sent one of its sources: `next` is the first block of the source's log (of
 * that generation) not yet in the group. `pending`, noted before an append: the core it goes to,
 * its length then, and where the position moves once it has landed. `skipped`: blocks before the
 * position that a deletion past it had cleared when they were read, so they were never sent: the
 * points that deletion keeps from them go once it is read.
 */
interface Sent { generation: number; next: number; skipped?: number[]; pending?: { core: string; length: number; next: number; skipped?: number[] } }

export class Shares {
  readonly #deps: SharesDeps
  readonly #held = new Map<string, HeldState>()
  readonly #sentFile: string
  readonly #sent: Record<string, Sent>
  #entries: SharedSource[] = []
  readonly #pumps = new Map<string, Pump>()
  /** Cores open here: this box's own, to write, by name; others', to follow, by key. */
  readonly #own = new Map<string, Hypercore>()
  readonly #following = new Map<string, Hypercore>()
  readonly #wakers = new Set<() => void>()
  /** Followers waiting for another core of the same source to be read further. */
  readonly #progress = new Set<() => void>()
  /** Sources deleted on this box whose shares are being ended. */
  readonly #removing = new Set<string>()
  readonly #onRemoved = (meta: SourceMeta) => this.#sourceRemoved(meta.id)
  /** Sends, one after another: a source shared again never sends beside the pump it had before. */
  #sending: Promise<void> = Promise.resolve()
  #refreshing: Promise<void> = Promise.resolve()
  #closed = false

  constructor(deps: SharesDeps) {
    this.#deps = deps
    if (fs.existsSync(deps.file)) {
      for (const held of Object.values(JSON.parse(fs.readFileSync(deps.file, 'utf8')) as Record<string, HeldState>)) this.#held.set(held.id, held)
    }
    this.#sentFile = path.join(path.dirname(deps.file), 'sent.json')
    this.#sent = fs.existsSync(this.#sentFile) ? JSON.parse(fs.readFileSync(this.#sentFile, 'utf8')) as Record<string, Sent> : {}
    deps.sources?.store.events.on('removed', this.#onRemoved)
  }

  /** The copy of a shared source this box holds under that id, with its rules. */
  held(id: string): Held | undefined {
    return this.#held.get(id)
  }

  /** Every copy this box holds. */
  copies(): Held[] {
    return [...this.#held.values()]
  }

  /** The sources shared in the group, as its view holds them. */
  list(): SharedSource[] {
    return [...this.#entries]
  }

  /** Shares one of this box's sources with the group, copying what it holds now and each new batch; shared before, from where it stopped. */
  async share(source: string, rules: ShareRules): Promise<SharedSource> {
    const self = this.#member()
    const sources = this.#sources()
    if (!SHARED_ID.test(source)) throw new InvalidInput(`"${source}" is too long to share: a shared source's id has at most 48 characters.`, { field: 'source' })
    const local = sources.store.get(source)
    if (local.meta.kind !== 'timeseries') throw new InvalidInput(`"${source}" is a key-value source: only time series can be shared.`, { field: 'source' })
    const mine = this.#mine(self.box, source)
    if (mine && mine.stopped === null) throw new Conflict(`You share "${source}" with this group already: change its rules instead.`)
    const meta = { description: local.meta.description, logicalType: local.meta.logicalType, attributes: local.meta.attributes }
    // Noted before it is announced: a box that dies in between sends the whole log when it starts again.
    if (this.#sent[source]?.generation !== local.meta.generation) this.#saveSent(source, { generation: local.meta.generation, next: 0 })
    await this.#announce(source, meta, rules)
    this.#pump(source)
    return this.#mine(self.box, source)!
  }

  /** Changes the rules a source this box shares is held under: members' boxes enforce them from when they hear it. */
  async setRules(source: string, rules: ShareRules): Promise<SharedSource> {
    const self = this.#member()
    const mine = this.#mine(self.box, source)
    if (!mine || mine.stopped !== null) throw new Conflict(`You do not share "${source}" with this group.`)
    await this.#announce(source, mine.meta, rules)
    return this.#mine(self.box, source)!
  }

  /** Stops sharing a source: no new record reaches the members; what they hold they keep. */
  async stop(source: string): Promise<SharedSource> {
    const self = this.#member()
    const mine = this.#mine(self.box, source)
    if (!mine || mine.stopped !== null) throw new Conflict(`You do not share "${source}" with this group.`)
    this.#pumps.get(source)?.stop()
    this.#pumps.delete(source)
    await this.#deps.append({ type: 'unshare', source, at: Date.now() })
    await this.#read()
    return this.#mine(self.box, source)!
  }

  /** After the group's view changed: this box's shares keep writing, others' are followed into their copies. */
  refresh(): Promise<void> {
    this.#refreshing = this.#refreshing.then(() => this.#refresh()).catch((err: Error) => {
      this.#deps.logger?.warn({ group: this.#deps.group, err: err.message }, 'the group\'s shared sources could not be followed')
    })
    return this.#refreshing
  }

  async close(): Promise<void> {
    this.#closed = true
    this.#deps.sources?.store.events.off('removed', this.#onRemoved)
    for (const pump of this.#pumps.values()) pump.stop()
    for (const wake of [...this.#wakers, ...this.#progress]) wake()
    await this.#refreshing
    await this.#sending
    this.#pumps.clear()
    for (const core of [...this.#own.values(), ...this.#following.values()]) await core.close().catch(() => {})
    this.#own.clear()
    this.#following.clear()
  }

  async #refresh(): Promise<void> {
    if (this.#closed) return
    await this.#read()
    const self = this.#deps.self()
    const box = self?.box
    let changed = false
    for (const entry of this.#entries) {
      if (entry.box === box) {
        // A source deleted while shared (and perhaps made again since) ends its share, and must not keep the group's other shares from their turn.
        if (entry.stopped === null && this.#deps.sources) {
          if (this.#gone(entry.source)) this.#sourceRemoved(entry.source)
          else this.#pump(entry.source)
        } else if (entry.stopped !== null) {
          this.#pumps.get(entry.source)?.stop()
          this.#pumps.delete(entry.source)
        }
        continue
      }
      if (!this.#deps.sources) continue
      const id = heldSourceId(this.#deps.group, entry.box, entry.source)
      const before = this.#held.get(id)
      const held: HeldState = {
        id, group: this.#deps.group, groupName: this.#deps.groupName(), sharer: entry.name, rules: entry.rules,
        active: entry.stopped === null && !this.#deps.removed(), box: entry.box, source: entry.source, cursors: before?.cursors ?? {},
      }
      if (JSON.stringify(before) !== JSON.stringify(held)) {
        this.#held.set(id, held)
        changed = true
      }
      if (!this.#deps.sources.store.has(id)) {
        if (entry.stopped !== null) continue
        await this.#deps.sources.store.add({
          id, kind: 'timeseries', logicalType: entry.meta.logicalType, attributes: entry.meta.attributes,
          description: `Held by the group "${held.groupName}", shared by ${entry.name}${entry.meta.description ? `: ${entry.meta.description}` : ''}`,
        })
      }
      for (const c of entry.cores) this.#follow(held, c)
    }
    if (changed) this.#save()
  }

  async #read(): Promise<void> {
    const entries: SharedSource[] = []
    for await (const e of this.#deps.view().createReadStream(SHARED)) entries.push(e.value as SharedSource)
    this.#entries = entries
  }

  #mine(box: string, source: string): SharedSource | undefined {
    return this.#entries.find((e) => e.box === box && e.source === source)
  }

  #member(): Member {
    const self = this.#deps.self()
    if (!self) throw new Conflict('This box is not (yet) a member of the group.')
    return self
  }

  #sources(): BoxSources {
    if (!this.#deps.sources) throw new Conflict('This box\'s groups run without its sources: start the box to share one.')
    return this.#deps.sources
  }

  /** Says in the group's base what is shared, under which rules, and in which core of the current epoch. */
  async #announce(source: string, meta: SharedSource['meta'], rules: ShareRules): Promise<void> {
    if (await this.#deps.ending()) throw new Conflict('The group is moving to a new key: try again in a moment.')
    const epoch = this.#deps.epoch()
    const core = await this.#ownCore(source, epoch)
    await this.#deps.append({ type: 'share', source, meta, rules, core: core.key!.toString('hex'), epoch, at: Date.now() })
    await this.#read()
  }

  /** This box's core for a source in an epoch, named so it is the same core after a restart. */
  async #ownCore(source: string, epoch: number): Promise<Hypercore> {
    const id = `${this.#deps.coreName(epoch)}/${source}`
    let core = this.#own.get(id)
    if (!core) {
      const contentKey = this.#deps.contentKey(epoch)!
      core = this.#deps.store.get({ name: id, encryption: { key: shareKey(contentKey) } })
      this.#own.set(id, core)
      await core.ready()
      this.#deps.coresChanged()
    }
    return core
  }

  /** Sends what a source's log holds past what was sent, now and after each batch it applies; one pump per source. */
  #pump(source: string): void {
    let pump = this.#pumps.get(source)
    if (!pump) {
      const local = this.#sources().store.get(source)
      const onRecords = () => this.#send(pump!)
      local.events.on('records', onRecords)
      pump = { source, wanted: false, stop: () => local.events.off('records', onRecords) }
      this.#pumps.set(source, pump)
    }
    this.#send(pump)
  }

  /** Sends the log past the position, in order, up to its end; a call while one waits to start adds nothing. */
  #send(pump: Pump): void {
    if (pump.wanted) return
    pump.wanted = true
    this.#sending = this.#sending.then(async () => {
      pump.wanted = false
      while (!this.#closed && this.#pumps.get(pump.source) === pump) {
        const local = this.#sources().store.get(pump.source)
        const from = await this.#position(local)
        const { out, next, more, reverted, skipped } = await unsent(local, from, this.#sent[pump.source]!.skipped ?? [])
        if (next === from) return
        // While the epoch ends the records wait: written now, they would be under the key the removed member holds.
        if (await this.#deps.ending()) return
        const generation = local.meta.generation
        if (reverted > 0) {
          this.#deps.logger?.warn({ group: this.#deps.group, source: pump.source, blocks: reverted }, 'records of an import taken back had been shared: the members\' copies keep them')
        }
        if (out.length > 0) {
          const core = await this.#writable(pump.source)
          const after = out.some((o) => 'deletion' in o) ? await this.#earlier(pump.source, core) : undefined
          const blocks = toBlocks(out, after)
          this.#saveSent(pump.source, { ...this.#sent[pump.source]!, pending: { core: core.key!.toString('hex'), length: core.length, next, skipped } })
          // One append: the blocks land together or not at all.
          await core.append(blocks)
        }
        this.#saveSent(pump.source, { generation, next, ...(skipped.length > 0 ? { skipped } : {}) })
        // The log's end was read: a batch applied since calls again.
        if (!more) return
      }
    }).catch((err: Error) => this.#deps.logger?.warn({ group: this.#deps.group, source: pump.source, err: err.message }, 'a shared source\'s records wait to be sent'))
  }

  /**
   * The first block of the source's log not yet sent. An append noted as pending has landed when its
   * core is longer than it was. A share noted by no position was made before positions were kept,
   * when the box sent what the source held as it was shared and then each batch: it goes on from the
   * log's end. A position in another generation's log is of a source deleted since: all of this one goes.
   */
  async #position(local: Source): Promise<number> {
    const id = local.meta.id
    const sent = this.#sent[id]
    if (!sent) {
      await local.open()
      this.#saveSent(id, { generation: local.meta.generation, next: local.core.length })
    } else if (sent.generation !== local.meta.generation) {
      this.#saveSent(id, { generation: local.meta.generation, next: 0 })
    } else if (sent.pending) {
      const { core: key, length, next, skipped } = sent.pending
      const core = this.#deps.store.get({ key: Buffer.from(key, 'hex') })
      try {
        await core.ready()
        const landed = core.length > length ? { next, skipped } : { next: sent.next, skipped: sent.skipped }
        this.#saveSent(id, { generation: sent.generation, next: landed.next, ...(landed.skipped?.length ? { skipped: landed.skipped } : {}) })
      } finally {
        await core.close()
      }
    }
    return this.#sent[id]!.next
  }

  #saveSent(source: string, sent: Sent): void {
    this.#sent[source] = sent
    writeFileAtomic(this.#sentFile, JSON.stringify(this.#sent), 0o600)
  }

  /** Whether a source this box shares live was deleted here: it is gone, or made again since it was shared. */
  #gone(source: string): boolean {
    const store = this.#sources().store
    if (!store.has(source)) return true
    const sent = this.#sent[source]
    return sent !== undefined && sent.generation !== store.get(source).meta.generation
  }

  /**
   * A source this box shares was deleted here: its copies are emptied and its share ends. The
   * deletion of everything goes to its core after whatever is being sent, then the group hears the
   * share stop. While the epoch ends it waits: the group's next view calls again, and a box that
   * stops in between does it at its next start, as the share is still live in the group's view.
   */
  #sourceRemoved(source: string): void {
    const self = this.#deps.self()
    const mine = self && this.#mine(self.box, source)
    if (!mine || mine.stopped !== null || this.#removing.has(source)) return
    this.#removing.add(source)
    this.#pumps.get(source)?.stop()
    this.#pumps.delete(source)
    this.#sending = this.#sending.then(async () => {
      try {
        if (this.#closed || await this.#deps.ending()) return
        const core = await this.#writable(source)
        // Written again if the box stops before the group hears the share stop: deleting everything twice empties the copies once.
        await core.append(toBlocks([{ deletion: { from: 0, to: EVERYTHING } }], await this.#earlier(source, core)))
        await this.#deps.append({ type: 'unshare', source, at: Date.now() })
        await this.#read()
        delete this.#sent[source]
        writeFileAtomic(this.#sentFile, JSON.stringify(this.#sent), 0o600)
      } catch (err) {
        this.#deps.logger?.warn({ group: this.#deps.group, source, err: (err as Error).message }, 'a shared source deleted here waits to be deleted from the members\' copies')
      } finally {
        this.#removing.delete(source)
      }
    })
  }

  /** How many blocks each earlier core of a source this box shares holds: a deletion sent now applies after them. */
  async #earlier(source: string, current: Hypercore): Promise<Record<string, number>> {
    const after: Record<string, number> = {}
    const mine = this.#mine(this.#member().box, source)
    for (const { core: key } of mine?.cores ?? []) {
      if (key === current.key!.toString('hex')) continue
      const core = this.#deps.store.get({ key: Buffer.from(key, 'hex') })
      try {
        await core.ready()
        if (core.length > 0) after[key] = core.length
      } finally {
        await core.close()
      }
    }
    return after
  }

  /** The core of the current epoch, announced first if this epoch has none yet for the source. */
  async #writable(source: string): Promise<Hypercore> {
    const epoch = this.#deps.epoch()
    const core = await this.#ownCore(source, epoch)
    const mine = this.#mine(this.#member().box, source)
    if (!mine) throw new Conflict(`"${source}" is not shared with this group.`)
    if (!mine.cores.some((c) => c.core === core.key!.toString('hex'))) await this.#announce(source, mine.meta, mine.rules)
    return core
  }

  /** Follows a core of a shared source into this box's copy, from where it stopped, for as long as the group is open. */
  #follow(held: HeldState, at: { core: string; epoch: number }): void {
    const contentKey = this.#deps.contentKey(at.epoch)
    if (!contentKey || this.#following.has(at.core)) return
    const core = this.#deps.store.get({ key: Buffer.from(at.core, 'hex'), encryption: { key: shareKey(contentKey) } })
    this.#following.set(at.core, core)
    const sources = this.#sources()
    const read = async () => {
      await core.ready()
      core.download({ start: 0, end: -1 })
      while (!this.#closed) {
        const next = held.cursors[at.core] ?? 0
        if (next >= core.length) {
          await new Promise<void>((resolve) => {
            const wake = () => {
              core.off('append', wake)
              this.#wakers.delete(wake)
              resolve()
            }
            this.#wakers.add(wake)
            core.on('append', wake)
          })
          continue
        }
        const block = await core.get(next)
        if (this.#closed || block === null) return
        const message = JSON.parse(block.toString('utf8')) as SenmlRecord[] | Deletion
        if (Array.isArray(message)) {
          await sources.ops.audited('write', `GROUP ${this.#deps.groupName()} shares ${held.source}`, held.id, async (decision) => {
            decision.subject = `group:${this.#deps.group.slice(0, 16)}`
            const written = await sources.store.get(held.id).appendRecords(message)
            decision.records = written.count
            decision.bytes = written.bytes
          })
        } else {
          const { from, to } = message.delete ?? {}
          if (typeof from !== 'number' || typeof to !== 'number' || !(to > from)) throw new Error(`block ${next} is neither records nor a deletion`)
          if (!await this.#caughtUp(held, message.after ?? {})) return
          // Applied again after a stop just before the cursor moved: a second deletion of the range finds nothing.
          await sources.ops.audited('delete', `GROUP ${this.#deps.groupName()} shares ${held.source}`, held.id, async (decision) => {
            decision.subject = `group:${this.#deps.group.slice(0, 16)}`
            decision.records = (await sources.store.get(held.id).deleteRange(from, to)).count
          })
        }
        held.cursors[at.core] = next + 1
        this.#save()
        for (const wake of this.#progress) wake()
      }
    }
    read().catch((err: Error) => {
      if (!this.#closed) this.#deps.logger?.warn({ group: this.#deps.group, source: held.id, err: err.message }, 'a shared source could not be followed')
    })
  }

  /**
   * Waits until this box's copy has what the sharer's earlier cores held when it wrote a deletion
   * (those this box follows: a core of an epoch it has no key to was never in its copy). False once
   * the group closes.
   */
  async #caughtUp(held: HeldState, after: Record<string, number>): Promise<boolean> {
    for (const [key, length] of Object.entries(after)) {
      while (this.#following.has(key) && (held.cursors[key] ?? 0) < length) {
        if (this.#closed) return false
        await new Promise<void>((resolve) => {
          const wake = () => {
            this.#progress.delete(wake)
            resolve()
          }
          this.#progress.add(wake)
        })
      }
    }
    return !this.#closed
  }

  #save(): void {
    if (this.#closed) return
    fs.writeFileSync(this.#deps.file, JSON.stringify(Object.fromEntries(this.#held)), { mode: 0o600 })
  }
}

/** What a sharer sends, in log order: a log block's records, or a deletion of records sent before. */
type Outgoing = { index: number; records: SenmlRecord[] } | { deletion: { from: number; to: number } }

/**
 * The shared core's blocks for what `unsent` read: records in blocks of up to a thousand, each
 * deletion a block of its own between them, in order.
 */
function toBlocks(out: Outgoing[], after: Record<string, number> | undefined): Buffer[] {
  const blocks: Buffer[] = []
  let run: SenmlRecord[] = []
  const flush = () => {
    for (let i = 0; i < run.length; i += BLOCK_RECORDS) blocks.push(Buffer.from(JSON.stringify(run.slice(i, i + BLOCK_RECORDS))))
    run = []
  }
  for (const o of out) {
    if ('records' in o) {
      for (const r of o.records) run.push(r)
      continue
    }
    flush()
    const deletion: Deletion = { delete: o.deletion, ...(after && Object.keys(after).length > 0 ? { after } : {}) }
    blocks.push(Buffer.from(JSON.stringify(deletion)))
  }
  flush()
  return blocks
}

/**
 * What the source's log holds from block `from` on to send, in order — at least a shared block's
 * worth of records unless the log ends first — the block to read on from, and whether the log goes
 * on past it.
 *
 * A deletion of blocks not sent yet (read in this window, or cleared before any window read them:
 * `skipped` carries those from window to window) takes them out of what goes, and the points it
 * keeps from them go instead. A deletion of blocks sent already goes as a deletion of its range,
 * and the points it keeps from those blocks do not go again: the copies hold them. A window ends
 * before a block, never between a deletion and the points it keeps. An import taken back (a
 * deletion of whole blocks, with no range) cannot be said as a range once its blocks are cleared:
 * `reverted` counts the blocks of it that were sent.
 *
 * A log written before kept points were marked has them in an unmarked batch after the deletion:
 * they go again, as they always did, beside the deletion they came with.
 */
async function unsent(local: Source, from: number, skippedBefore: number[]): Promise<{ out: Outgoing[]; next: number; more: boolean; reverted: number; skipped: number[] }> {
  const out: Outgoing[] = []
  const skipped = new Set(skippedBefore)
  /** The blocks the last deletion read dropped before they were sent: the points it keeps from them go. */
  let keptGo = new Set<number>()
  let count = 0
  let next = from
  let reverted = 0
  const done = (more: boolean) => ({ out, next, more, reverted, skipped: [...skipped] })
  for await (const { index, entry } of local.entries(from)) {
    const kept = entry?.op === 'records' ? entry.kept : undefined
    if (count >= BLOCK_RECORDS && kept === undefined) return done(true)
    next = index + 1
    if (entry === null) {
      // Cleared by a deletion further on, before it was sent.
      skipped.add(index)
    } else if (entry.op === 'records') {
      if (kept !== undefined && !keptGo.has(kept)) continue
      out.push({ index, records: entry.records })
      count += entry.records.length
    } else if (entry.op === 'delete') {
      const drop = new Set(entry.drop)
      keptGo = new Set()
      for (let i = out.length - 1; i >= 0; i--) {
        const o = out[i]!
        if ('index' in o && drop.has(o.index)) {
          count -= o.records.length
          out.splice(i, 1)
          keptGo.add(o.index)
        }
      }
      let sent = 0
      for (const b of entry.drop) {
        if (skipped.delete(b)) keptGo.add(b)
        else if (!keptGo.has(b)) sent++
      }
      if (sent > 0 && entry.to > entry.from) out.push({ deletion: { from: entry.from, to: entry.to } })
      else reverted += sent
    }
  }
  return done(false)
}
