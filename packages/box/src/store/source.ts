/**
 * One source: its encrypted, signed hypercore (the truth) and its SQLite view (a cache).
 * Writes go log first; the view applies log blocks in order and records how far it got,
 * so after any crash `open()` replays exactly the blocks the view has not seen.
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

export class Source {
  readonly meta: SourceMeta
  readonly core: Hypercore
  view: View
  readonly viewFile: string
  /** Emits 'records' with each newly applied batch, for live subscribers. */
  readonly events = new EventEmitter()
  #pending = new Map<number, { entry: LogEntry; done: () => void; fail: (err: Error) => void }>()
  #inflight = new Set<Promise<unknown>>()
  #gate: Promise<void> = Promise.resolve()
  #clearing: Promise<void> = Promise.resolve()
  #broken: CofferError | undefined
  #appendQueue: { entries: LogEntry[]; blocks: Buffer[]; resolve: (start: number) => void; reject: (err: unknown) => void }[] = []
  #appending = false

  constructor(meta: SourceMeta, core: Hypercore, viewFile: string) {
    this.meta = meta
    this.core = core
    this.viewFile = viewFile
    this.view = openView(viewFile)
    this.events.setMaxListeners(0)
  }

  async open(): Promise<void> {
    await this.core.ready()
    if (this.core.length === 0) await this.core.append(encode({ op: 'create', meta: this.meta }))
    try {
      await this.#replay()
    } catch {
      // The view is only a cache: if it cannot take the log, throw it away and rebuild it whole.
      this.view.close()
      this.view = openView(this.viewFile, { fresh: true })
      await this.#replay()
    }
  }

  /** Applies the log blocks the view has not seen yet. */
  async #replay(): Promise<void> {
    for (let i = this.view.applied; i < this.core.length; i++) {
      const block = await this.core.get(i, { wait: false })
      // A cleared block is a deletion already recorded later in the log: nothing to apply.
      if (block === null) this.view.db.transaction(() => this.view.setApplied(i + 1))()
      else this.#apply([{ index: i, entry: decode(block) }])
    }
  }

  async close(): Promise<void> {
    await this.#gate
    await Promise.allSettled(this.#inflight)
    await this.#clearing
    this.view.close()
    await this.core.close()
  }

  /**
   * Appends entries as one atomic log write, then applies them to the view. Resolves once they
   * are on disk and in the view. Writes that arrive while the log is busy are group-committed:
   * the next append carries all of them (each writer's blocks stay together, all or none), so
   * many small writers cost one signature and one disk write, and the log's I/O for one group
   * runs while the view takes the previous one. The view applies blocks strictly in log order.
   */
  async #write(entries: LogEntry[]): Promise<{ bytes: number; first: number; blocks: number }> {
    await this.#gate
    return this.#writeUngated(entries)
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
        start = (await this.core.append(blocks)).length - blocks.length
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
    for (let next = this.view.applied; this.#pending.has(next); next++) {
      ready.push({ index: next, ...this.#pending.get(next)! })
      this.#pending.delete(next)
    }
    if (ready.length === 0) return
    try {
      this.#apply(ready)
    } catch (err) {
      // These blocks are in the log but not in the view, so later blocks cannot be applied either.
      // Fail everything waiting; a restart replays the log into the view.
      this.#broken = new CofferError(503, 'view-unavailable', 'Source unavailable', `Source "${this.meta.id}" could not update its view (${(err as Error).message}). Restart the box; its log is intact.`)
      for (const p of [...ready, ...this.#pending.values()]) p.fail(this.#broken)
      this.#pending.clear()
      return
    }
    for (const r of ready) r.done()
  }

  /** Applies consecutive log blocks to the view in one transaction, then their side effects. */
  #apply(blocks: { index: number; entry: LogEntry }[]): void {
    const view = this.view
    view.db.transaction(() => {
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
    })()
    for (const { entry } of blocks) {
      if (entry.op === 'delete') {
        // Clearing after the view commits keeps a crash in between harmless: the replay clears again.
        const drop = entry.drop
        this.#clearing = this.#clearing.then(async () => {
          for (const b of drop) await this.core.clear(b, b + 1)
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
    await previous
    await Promise.allSettled(this.#inflight)
    try {
      return await fn()
    } finally {
      release()
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
    for (let i = from; i < this.core.length; i++) {
      const block = await this.core.get(i, { wait: false })
      if (block === null) continue
      const entry = decode(block)
      if (entry.op === 'records' && entry.origin === origin) blocks.push(i)
    }
    return blocks
  }

  /** Deletes [from, to): drops every block holding a point in range, re-appending the points outside it. */
  deleteRange(from: number, to: number): Promise<WriteResult> {
    this.#expect('timeseries')
    return this.#exclusive(async () => {
      const drop = this.view.blocksInRange(from, to)
      const survivors = this.view.survivors(drop, from, to)
      return this.#dropBlocks({ op: 'delete', from, to, drop }, survivors)
    })
  }

  /** Takes back whole blocks written earlier (an import that failed half-way): a logged deletion. */
  revert(blocks: number[]): Promise<WriteResult> {
    return this.#exclusive(() => this.#dropBlocks({ op: 'delete', from: 0, to: 0, drop: blocks }, []))
  }

  /** Writes a deletion (and the points it keeps) under the exclusive gate; counts the points gone. */
  async #dropBlocks(deletion: LogEntry & { op: 'delete' }, survivors: SenmlRecord[]): Promise<WriteResult> {
    if (deletion.drop.length === 0) return { count: 0, bytes: 0, first: this.core.length, blocks: 0 }
    const before = this.view.points
    const entries: LogEntry[] = survivors.length > 0 ? [deletion, { op: 'records', records: survivors }] : [deletion]
    const written = await this.#writeUngated(entries)
    return { count: before - this.view.points, ...written }
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
      if (this.core.length > 0) await this.core.clear(0, this.core.length)
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
