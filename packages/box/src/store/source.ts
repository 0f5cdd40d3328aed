/**
 * One source: its encrypted, signed hypercore (the truth) and its SQLite view (a cache).
 * Writes go log first; the view applies log blocks in order and records how far it got,
 * so after any crash `open()` replays exactly the blocks the view has not seen.
 *
 * A closed source costs a few objects: its meta, its subscribers and the figures it left when
 * it last closed. It opens on use — a read opens the view alone, which SQLite does at once; a
 * write or `open()` opens the log too and brings the view up to it — and the store closes it
 * again once it is idle. Subscribers belong to the source, not to what it has open, so a close
 * never cuts them off; nor does it cut a write, since a source with any work in flight stays open.
 */
import fs from 'node:fs'
import { EventEmitter } from 'node:events'
import type Hypercore from 'hypercore'
import type { SenmlRecord } from '../senml/index.ts'
import { CofferError, InvalidInput } from '../errors/index.ts'
import { MAX_TIME, View } from './view.ts'
import { decodeEntry as decode, encodeEntry as encode, type LogEntry } from './codec.ts'
import type { SourceMeta } from './meta.ts'

export interface WriteResult {
  count: number
  bytes: number
  /** The log blocks written: [first, first + blocks). */
  first: number
  blocks: number
}

/** A source's figures, as a summary lists them: read from its view while open, kept from its last close while not. */
export interface SourceStats {
  points: number
  keys: number
  bytes: number
  logLength: number
  first: number | null
  last: number | null
  series: { name: string; unit: string | null; type: string }[]
}

/** What a source needs from the store that holds it. */
export interface SourceHost {
  /** A new session on the source's log, from the store's corestore. */
  core(meta: SourceMeta): Hypercore
  /** The page cache each view may fill, in KiB. */
  readonly cacheKiB: number
  /** The source was used while open: the store keeps it among the recently used. */
  used(source: Source): void
  /** The source is about to close its view, leaving these figures (undefined: the view is behind its log). */
  viewClosing(source: Source, view: View, stats: SourceStats | undefined): void
  /** The view's file is closed. */
  viewClosed(source: Source): void
  /** A deletion's blocks were cleared from the log. */
  cleared(source: Source, blocks: number[]): void
  /** Nothing of the source is open any more. */
  released(source: Source): void
}

export class Source {
  readonly meta: SourceMeta
  readonly viewFile: string
  /** Emits 'records' with each newly applied batch, for live subscribers. */
  readonly events = new EventEmitter()
  readonly #host: SourceHost
  #view: View | undefined
  /** Whether the open view holds every block of the log. */
  #current = false
  #core: Hypercore | undefined
  #coreReady: Promise<void> | undefined
  #coreOpen = false
  #coreClosed: Promise<void> = Promise.resolve()
  #opening: Promise<void> | undefined
  /** The log's length as last seen; -1 before the log was ever opened. Nothing writes while the log is closed, so it holds then. */
  #logLength: number
  /** The figures the view left at its last close. */
  #stats: SourceStats | undefined
  /** Calls under way that need the source open (deletes, scans, opening). */
  #users = 0
  /** Log blocks being cleared after a deletion. */
  #clears = 0
  #pending = new Map<number, { entry: LogEntry; done: () => void; fail: (err: Error) => void }>()
  #inflight = new Set<Promise<unknown>>()
  #gate: Promise<void> = Promise.resolve()
  #clearing: Promise<void> = Promise.resolve()
  #broken: CofferError | undefined
  #appendQueue: { entries: LogEntry[]; blocks: Buffer[]; resolve: (start: number) => void; reject: (err: unknown) => void }[] = []
  #appending = false

  /** `known`: the figures the source left when it last closed, if its view is still as it left it. */
  constructor(meta: SourceMeta, host: SourceHost, viewFile: string, known?: SourceStats) {
    this.meta = meta
    this.#host = host
    this.viewFile = viewFile
    this.#stats = known
    this.#logLength = known?.logLength ?? -1
    this.events.setMaxListeners(0)
  }

  /**
   * The view, opened now if it is closed. A view is opened without its log when the log has not
   * grown since the view last closed; one that is behind (a crash, a file changed by hand) throws
   * a 503 while it catches up in the background.
   */
  get view(): View {
    if (!this.#view) this.#openView()
    const view = this.#view!
    if (!this.#current) {
      this.open().catch(() => {})
      throw new CofferError(503, 'view-unavailable', 'Source unavailable', `Source "${this.meta.id}" is bringing its view up to date with its log. Try again in a moment.`)
    }
    this.#host.used(this)
    return view
  }

  /** The source's log. Opened here if it is closed, its length reads 0 until it is ready: `await open()` before reading it. */
  get core(): Hypercore {
    if (!this.#core) return this.#openCore()
    this.#host.used(this)
    return this.#core
  }

  /** Whether the view or the log is open. */
  get isOpen(): boolean {
    return this.#view !== undefined || this.#core !== undefined
  }

  /** The figures a summary shows: from the view while it is open, else as it left them, without opening it. */
  stats(): SourceStats {
    if (this.#view && this.#current) return this.#liveStats(this.#view)
    return this.#stats ?? this.#liveStats(this.view)
  }

  #liveStats(view: View): SourceStats {
    const series = [...view.seriesById.values()].map(({ name, unit, type }) => ({ name, unit, type }))
    const logLength = this.#coreOpen ? this.#core!.length : this.#logLength
    return { ...view.counts(), ...view.timeSpan(), logLength, series }
  }

  #openView(fresh = false): View {
    const view = openView(this.viewFile, { fresh })
    view.db.pragma(`cache_size = -${this.#host.cacheKiB}`)
    this.#view = view
    this.#current = view.applied === this.#logLength
    this.#host.used(this)
    return view
  }

  #openCore(): Hypercore {
    const core = this.#host.core(this.meta)
    this.#core = core
    this.#host.used(this)
    this.#coreReady = core.ready().then(() => {
      if (this.#core === core) {
        this.#coreOpen = true
        this.#logLength = core.length
      }
    })
    // A failure is the caller's to see, through open(); the next open tries afresh.
    this.#coreReady.catch(() => {
      if (this.#core !== core) return
      this.#core = undefined
      this.#coreReady = undefined
      core.close().catch(() => {})
    })
    return core
  }

  /** Opens the log and the view, and brings the view up to the log. */
  open(): Promise<void> {
    if (this.#current && this.#coreOpen) {
      this.#host.used(this)
      return Promise.resolve()
    }
    this.#opening ??= this.#open().finally(() => (this.#opening = undefined))
    return this.#opening
  }

  async #open(): Promise<void> {
    this.#users++
    try {
      // A log session closing from the last close goes first.
      await this.#coreClosed
      if (!this.#core) this.#openCore()
      await this.#coreReady
      const core = this.#core!
      if (core.length === 0) await core.append(encode({ op: 'create', meta: this.meta }))
      this.#logLength = core.length
      // Nothing is written before the log is open, so the view is current exactly when it holds the whole log.
      if (this.#view) this.#current = this.#view.applied === core.length
      else this.#openView()
      if (!this.#current) {
        try {
          await this.#replay()
        } catch {
          // The view is only a cache: if it cannot take the log, throw it away and rebuild it whole.
          this.#view!.close()
          this.#openView(true)
          await this.#replay()
        }
        this.#current = true
      }
      this.#host.used(this)
    } finally {
      this.#users--
    }
  }

  /** Applies the log blocks the view has not seen yet. */
  async #replay(): Promise<void> {
    const core = this.#core!
    for (let i = this.#view!.applied; i < core.length; i++) {
      const block = await core.get(i, { wait: false })
      // A cleared block is a deletion already recorded later in the log: nothing to apply.
      if (block === null) this.#view!.transaction(() => this.#view!.setApplied(i + 1))
      else this.#apply([{ index: i, entry: decode(block) }])
    }
  }

  /** Closes the view and the log once every write, deletion and opening under way has finished. */
  async close(): Promise<void> {
    await this.#opening?.catch(() => {})
    await this.#gate
    await Promise.allSettled(this.#inflight)
    await this.#clearing
    this.#shut()
    await this.#coreClosed
  }

  /**
   * Closes the view and the log now if nothing needs them: no write, deletion, scan or opening
   * under way, and the view not failed (that one stays as it is until the box restarts, as
   * before). Subscribers stay subscribed. Returns whether it closed.
   */
  closeIfIdle(): boolean {
    const idle = this.#users === 0 && this.#inflight.size === 0 && this.#appendQueue.length === 0 && !this.#appending &&
      this.#pending.size === 0 && this.#clears === 0 && this.#opening === undefined && this.#broken === undefined
    if (idle) this.#shut()
    return idle
  }

  #shut(): void {
    const view = this.#view
    const core = this.#core
    if (this.#coreOpen) this.#logLength = core!.length
    if (view) {
      const sound = this.#current && this.#broken === undefined && view.applied === this.#logLength
      const stats = sound ? this.#liveStats(view) : undefined
      this.#host.viewClosing(this, view, stats)
      this.#stats = stats
      view.close()
      this.#view = undefined
      this.#current = false
      this.#host.viewClosed(this)
    }
    this.#broken = undefined
    if (core) {
      this.#core = undefined
      this.#coreReady = undefined
      this.#coreOpen = false
      this.#coreClosed = core.close().catch(() => {})
    }
    this.#host.released(this)
  }

  /**
   * Appends entries as one atomic log write, then applies them to the view. Resolves once they
   * are on disk and in the view. Writes that arrive while the log is busy are group-committed:
   * the next append carries all of them (each writer's blocks stay together, all or none), so
   * many small writers cost one signature and one disk write, and the log's I/O for one group
   * runs while the view takes the previous one. The view applies blocks strictly in log order.
   */
  #write(entries: LogEntry[]): Promise<{ bytes: number; first: number; blocks: number }> {
    const gate = this.#gate
    const write = (async () => {
      await gate
      await this.open()
      return this.#writeUngated(entries)
    })()
    // In flight from the call on, while the source opens too: a deletion called later waits for it, and no close cuts it.
    this.#inflight.add(write)
    const settled = () => this.#inflight.delete(write)
    write.then(settled, settled)
    return write
  }

  async #writeUngated(entries: LogEntry[]): Promise<{ bytes: number; first: number; blocks: number }> {
    if (this.#broken) throw this.#broken
    const blocks = entries.map(encode)
    const write = this.#append(entries, blocks)
    this.#inflight.add(write)
    try {
      const first = await write
      return { bytes: blocks.reduce((n, b) => n + b.length, 0), first, blocks: blocks.length }
    } finally {
      this.#inflight.delete(write)
    }
  }

  /** Queues a writer's blocks for the next group append; resolves with the log index of the first once they are in the view. */
  #append(entries: LogEntry[], blocks: Buffer[]): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#appendQueue.push({ entries, blocks, resolve, reject })
      if (!this.#appending) void this.#appendGroups()
    })
  }

  async #appendGroups(): Promise<void> {
    this.#appending = true
    while (this.#appendQueue.length > 0) {
      const group = this.#appendQueue.splice(0)
      let start: number
      try {
        const blocks = group.flatMap((w) => w.blocks)
        start = (await this.#core!.append(blocks)).length - blocks.length
      } catch (err) {
        for (const w of group) w.reject(err)
        continue
      }
      // The whole group becomes ready at once, so the view takes it in one transaction, after the
      // next group's append has started: the log's I/O for that one overlaps this view work.
      for (const w of group) {
        const first = start
        let waiting = w.entries.length
        const done = () => {
          if (--waiting === 0) w.resolve(first)
        }
        for (const entry of w.entries) this.#pending.set(start++, { entry, done, fail: w.reject })
      }
      queueMicrotask(() => this.#drain())
    }
    this.#appending = false
  }

  /** Applies every contiguous ready block from the view's watermark on, in one transaction. */
  #drain(): void {
    const ready: { index: number; entry: LogEntry; done: () => void; fail: (err: Error) => void }[] = []
    for (let next = this.#view!.applied; this.#pending.has(next); next++) {
      ready.push({ index: next, ...this.#pending.get(next)! })
      this.#pending.delete(next)
    }
    if (ready.length === 0) return
    try {
      this.#apply(ready)
    } catch (err) {
      // These blocks are in the log but not in the view, so later blocks cannot be applied either.
      // Fail everything waiting; a restart replays the log into the view. Until then the source stays open as it is.
      this.#broken = new CofferError(503, 'view-unavailable', 'Source unavailable', `Source "${this.meta.id}" could not update its view (${(err as Error).message}). Restart the box; its log is intact.`)
      for (const p of [...ready, ...this.#pending.values()]) p.fail(this.#broken)
      this.#pending.clear()
      return
    }
    for (const r of ready) r.done()
  }

  /** Applies consecutive log blocks to the view in one transaction, then their side effects. */
  #apply(blocks: { index: number; entry: LogEntry }[]): void {
    const view = this.#view!
    view.transaction(() => {
      // Consecutive record blocks go in together; anything else is applied between them, in log order.
      let run: { index: number; records: SenmlRecord[] }[] = []
      for (const { index, entry } of blocks) {
        if (entry.op === 'records') {
          run.push({ index, records: entry.records })
          continue
        }
        view.insertBlocks(run)
        run = []
        if (entry.op === 'delete') view.dropBlocks(entry.drop)
        else if (entry.op === 'put') view.kvPut(entry.key, entry.value, entry.t)
        else if (entry.op === 'del') view.kvDelete(entry.key)
      }
      view.insertBlocks(run)
      view.setApplied(blocks.at(-1)!.index + 1)
    })
    for (const { entry } of blocks) {
      if (entry.op === 'delete') {
        // Clearing after the view commits keeps a crash in between harmless: the replay clears again.
        const drop = entry.drop
        const core = this.#core!
        this.#clears++
        this.#clearing = this.#clearing.then(async () => {
          try {
            for (const b of drop) await core.clear(b, b + 1)
            this.#host.cleared(this, drop)
          } finally {
            this.#clears--
          }
        })
      }
      if (entry.op === 'records' && entry.records.length > 0) this.events.emit('records', entry.records)
    }
  }

  /** Runs `fn` with no write in flight and none starting: deletes read the view to decide what to drop. */
  async #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const previous = this.#gate
    let release!: () => void
    this.#gate = new Promise((resolve) => (release = resolve))
    this.#users++
    try {
      await previous
      await Promise.allSettled(this.#inflight)
      await this.open()
      return await fn()
    } finally {
      release()
      this.#users--
    }
  }

  /** Appends a batch as one log block. `origin` marks the block as a job's, so it can be found and taken back. */
  async appendRecords(records: SenmlRecord[], opts: { origin?: string } = {}): Promise<WriteResult> {
    this.#expect('timeseries')
    checkAttributes(this.meta, records)
    return { count: records.length, ...(await this.#write([{ op: 'records', records, ...(opts.origin ? { origin: opts.origin } : {}) }])) }
  }

  /** The blocks from `from` on that a job wrote, found by their origin mark. */
  async blocksOf(origin: string, from: number): Promise<number[]> {
    const blocks: number[] = []
    for await (const { index, entry } of this.entries(from)) {
      if (entry?.op === 'records' && entry.origin === origin) blocks.push(index)
    }
    return blocks
  }

  /**
   * The log's entries from block `from` to its end, in order, each with its index; a block a
   * deletion cleared reads null. The source stays open while they are read.
   */
  async *entries(from: number): AsyncGenerator<{ index: number; entry: LogEntry | null }> {
    this.#users++
    try {
      await this.open()
      const core = this.#core!
      for (let i = from; i < core.length; i++) {
        const block = await core.get(i, { wait: false })
        yield { index: i, entry: block === null ? null : decode(block) }
      }
    } finally {
      this.#users--
    }
  }

  /**
   * Deletes [from, to): drops every block holding a point in range, re-appending the points outside
   * it, one batch per dropped block that held any, marked with that block (a reader of the log, such
   * as a group's sharer, can tell where they were before).
   */
  deleteRange(from: number, to: number): Promise<WriteResult> {
    this.#expect('timeseries')
    return this.#exclusive(async () => {
      const drop = this.#view!.blocksInRange(from, to)
      const kept: LogEntry[] = []
      for (const [block, records] of this.#view!.survivors(drop, from, to)) kept.push({ op: 'records', records, kept: block })
      return this.#dropBlocks({ op: 'delete', from, to, drop }, kept)
    })
  }

  /** Takes back whole blocks written earlier (an import that failed half-way): a logged deletion. */
  revert(blocks: number[]): Promise<WriteResult> {
    return this.#exclusive(() => this.#dropBlocks({ op: 'delete', from: 0, to: 0, drop: blocks }, []))
  }

  /** Writes a deletion (and the batches of points it keeps) under the exclusive gate; counts the points gone. */
  async #dropBlocks(deletion: LogEntry & { op: 'delete' }, kept: LogEntry[]): Promise<WriteResult> {
    if (deletion.drop.length === 0) return { count: 0, bytes: 0, first: this.#core!.length, blocks: 0 }
    const before = this.#view!.points
    const entries: LogEntry[] = [deletion, ...kept]
    const written = await this.#writeUngated(entries)
    return { count: before - this.#view!.points, ...written }
  }

  async put(key: string, value: unknown): Promise<WriteResult> {
    this.#expect('kv')
    return { count: 1, ...(await this.#write([{ op: 'put', key, value, t: Date.now() / 1000 }])) }
  }

  async delete(key: string): Promise<WriteResult> {
    this.#expect('kv')
    return { count: 1, ...(await this.#write([{ op: 'del', key, t: Date.now() / 1000 }])) }
  }

  /** Clears every block from the local log, for deleting the whole source. */
  async clearLog(): Promise<void> {
    await this.#exclusive(async () => {
      await this.#clearing
      const core = this.#core!
      if (core.length > 0) await core.clear(0, core.length)
    })
  }

  #expect(kind: SourceMeta['kind']): void {
    if (this.meta.kind !== kind) {
      throw new InvalidInput(`Source "${this.meta.id}" is a ${this.meta.kind === 'kv' ? 'key-value' : 'time-series'} source; that operation is for ${kind === 'kv' ? 'key-value' : 'time-series'} sources.`)
    }
  }
}

function openView(file: string, opts: { fresh?: boolean } = {}): View {
  const remove = () => {
    for (const suffix of ['', '-wal', '-shm']) fs.rmSync(file + suffix, { force: true })
  }
  if (opts.fresh) remove()
  try {
    return new View(file)
  } catch {
    // A view that cannot be opened is only a cache: start it afresh and let the log refill it.
    remove()
    return new View(file)
  }
}

const TYPE_FIELD = { number: 'v', string: 'vs', boolean: 'vb', bytes: 'vd' } as const

/** A source that declares its attributes accepts only those names, with their declared value types. */
function checkAttributes(meta: SourceMeta, records: SenmlRecord[]): void {
  const declared = meta.attributes
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!
    if (!(r.t >= 0 && r.t <= MAX_TIME)) throw new InvalidInput(`Record ${i} resolves to a time outside 1970–2286, which Coffer does not store.`, { index: i, field: 't' })
    if (declared.length === 0) continue
    const attribute = declared.find((a) => a.name === r.n)
    if (!attribute) {
      throw new InvalidInput(`Record ${i} is named "${r.n}", which source "${meta.id}" does not declare (it declares ${declared.map((a) => a.name).join(', ')}).`, { index: i, field: 'n' })
    }
    const field = TYPE_FIELD[attribute.technicalType]
    if (r[field] === undefined && r.s === undefined) {
      throw new InvalidInput(`Record ${i} ("${r.n}") must carry a ${attribute.technicalType} value in "${field}".`, { index: i, field })
    }
  }
}
