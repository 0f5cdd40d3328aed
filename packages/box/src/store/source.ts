/**
 * One source: its encrypted, signed hypercore (the truth) and its SQLite view (a cache).
 * Writes go log first; the view applies log blocks in order and records how far it got,
 * so after any crash `open()` replays exactly the blocks the view has not seen.
 */
import fs from 'node:fs'
import { EventEmitter } from 'node:events'
import type Hypercore from 'hypercore'
import type { SenmlRecord } from '../senml/index.ts'
import { InvalidInput } from '../errors/index.ts'
import { MAX_TIME, View } from './view.ts'
import { decodeEntry as decode, encodeEntry as encode, type LogEntry } from './codec.ts'
import type { SourceMeta } from './meta.ts'


export interface WriteResult {
  count: number
  bytes: number
}

export class Source {
  readonly meta: SourceMeta
  readonly core: Hypercore
  readonly view: View
  readonly viewFile: string
  /** Emits 'records' with each newly applied batch, for live subscribers. */
  readonly events = new EventEmitter()
  #queue: Promise<unknown> = Promise.resolve()

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
    await this.#catchUp()
  }

  async close(): Promise<void> {
    await this.#queue.catch(() => undefined)
    this.view.close()
    await this.core.close()
  }

  /** Serialises writers: the view must apply blocks in log order. */
  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn)
    this.#queue = run.catch(() => undefined)
    return run
  }

  async #catchUp(): Promise<void> {
    for (let i = this.view.applied; i < this.core.length; i++) {
      const block = await this.core.get(i, { wait: false })
      // A cleared block is a deletion already recorded later in the log: nothing to apply.
      if (block === null) this.view.db.transaction(() => this.view.setApplied(i + 1))()
      else await this.#apply(i, decode(block))
    }
  }

  async #apply(index: number, entry: LogEntry): Promise<void> {
    const view = this.view
    view.db.transaction(() => {
      if (entry.op === 'records') view.insertRecords(index, entry.records)
      else if (entry.op === 'delete') view.dropBlocks(entry.drop)
      else if (entry.op === 'put') view.kvPut(entry.key, entry.value, entry.t)
      else if (entry.op === 'del') view.kvDelete(entry.key)
      view.setApplied(index + 1)
    })()
    // Clearing after the view commits keeps a crash in between harmless: the replay clears again.
    if (entry.op === 'delete') for (const b of entry.drop) await this.core.clear(b, b + 1)
    if (entry.op === 'records' && entry.records.length > 0) this.events.emit('records', entry.records)
  }

  /** Appends entries as one atomic log write, then applies them. Resolves once they are on disk. */
  async #appendAndApply(entries: LogEntry[]): Promise<number> {
    const blocks = entries.map(encode)
    const { length } = await this.core.append(blocks)
    const start = length - blocks.length
    for (let i = 0; i < entries.length; i++) await this.#apply(start + i, entries[i]!)
    return blocks.reduce((n, b) => n + b.length, 0)
  }

  #write(entries: LogEntry[]): Promise<number> {
    return this.#exclusive(() => this.#appendAndApply(entries))
  }

  async appendRecords(records: SenmlRecord[]): Promise<WriteResult> {
    this.#expect('timeseries')
    checkAttributes(this.meta, records)
    const bytes = await this.#write([{ op: 'records', records }])
    return { count: records.length, bytes }
  }

  /** Deletes [from, to): drops every block holding a point in range, re-appending the points outside it. */
  deleteRange(from: number, to: number): Promise<WriteResult> {
    this.#expect('timeseries')
    return this.#exclusive(async () => {
      const drop = this.view.blocksInRange(from, to)
      if (drop.length === 0) return { count: 0, bytes: 0 }
      const before = this.view.counts().points
      const survivors = this.view.survivors(drop, from, to)
      const entries: LogEntry[] = [{ op: 'delete', from, to, drop }]
      if (survivors.length > 0) entries.push({ op: 'records', records: survivors })
      const bytes = await this.#appendAndApply(entries)
      return { count: before - this.view.counts().points, bytes }
    })
  }

  async put(key: string, value: unknown): Promise<WriteResult> {
    this.#expect('kv')
    const bytes = await this.#write([{ op: 'put', key, value, t: Date.now() / 1000 }])
    return { count: 1, bytes }
  }

  async delete(key: string): Promise<WriteResult> {
    this.#expect('kv')
    const bytes = await this.#write([{ op: 'del', key, t: Date.now() / 1000 }])
    return { count: 1, bytes }
  }

  /** Clears every block from the local log, for deleting the whole source. */
  async clearLog(): Promise<void> {
    await this.#exclusive(async () => {
      if (this.core.length > 0) await this.core.clear(0, this.core.length)
    })
  }

  #expect(kind: SourceMeta['kind']): void {
    if (this.meta.kind !== kind) {
      throw new InvalidInput(`Source "${this.meta.id}" is a ${this.meta.kind === 'kv' ? 'key-value' : 'time-series'} source; that operation is for ${kind === 'kv' ? 'key-value' : 'time-series'} sources.`)
    }
  }
}

function openView(file: string): View {
  try {
    return new View(file)
  } catch {
    // A view that cannot be opened is only a cache: start it afresh and let the log refill it.
    for (const suffix of ['', '-wal', '-shm']) fs.rmSync(file + suffix, { force: true })
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
