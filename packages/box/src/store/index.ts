/**
 * The store: every source's log and view, and the registry of sources. Logs live in one
 * corestore, each keyed and encrypted with keys derived for that source alone; views are
 * one SQLite file per source.
 *
 * A box may hold thousands of sources, so the store holds open only those in use. Starting
 * reads the registry and what each view left when it last closed (views/summaries.sqlite, a
 * cache like the views); it opens only the views a crash left open, or that are missing or
 * were changed while the box was stopped, and brings those up to their logs. Any other source
 * opens on first use. The least recently used beyond MAX_OPEN, and any left unused for
 * IDLE_MS, close again unless work is under way in them.
 */
import { createHash } from 'node:crypto'
import { EventEmitter } from 'node:events'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import Database from 'better-sqlite3'
import type Corestore from 'corestore'
import type { BoxKeys } from '../keys/index.ts'
import { Conflict, NotFound } from '../errors/index.ts'
import { Source, type SourceHost, type SourceStats } from './source.ts'
import { openCorestore } from './logs.ts'
import { newSourceMeta, checkSourceId, type NewSource, type SourceMeta } from './meta.ts'
import { View, type BucketValue } from './view.ts'

export { Source, type SourceStats, type WriteResult } from './source.ts'
export { openCorestore } from './logs.ts'
export * from './meta.ts'
export { AGGREGATE_FNS, type AggregateFn, type BucketValue, type Series } from './view.ts'
export { bucketBoundaries, parseBucket, assertTimeZone, wallClockToEpoch, utcOffset, onGrid, type Bucket } from './buckets.ts'

export type SourceSummary = SourceMeta & SourceStats

/** A source's bucketed statistics, on the grid of a time zone. */
export interface AggregateResult {
  source: string
  name: string | null
  unit: string | null
  /** The function(s) asked for, comma-separated. */
  fn: string
  bucket: string
  /** The IANA zone day and week buckets were cut in. */
  tz: string
  from: number
  to: number
  buckets: BucketValue[]
}

/** Sources open at once at most: each holds three files and up to its page cache in memory. */
export const MAX_OPEN = 64
/** A source unused this long closes. Opening one again costs a millisecond or two. */
export const IDLE_MS = 60_000
/**
 * The views' page caches together take at most a 32nd of the machine's memory, and never more
 * than 256 MiB; each open view gets an even share, between 1 and 16 MiB. (better-sqlite3's own
 * default is 16 MB per connection, which a thousand sources would multiply.)
 */
export function viewCacheKiB(maxOpen: number, totalBytes = os.totalmem()): number {
  const budget = Math.min(totalBytes / 32, 256 * 2 ** 20)
  return Math.round(Math.min(16 * 1024, Math.max(1024, budget / maxOpen / 1024)))
}

/**
 * What changes the set of logs or their blocks, for replicas to follow: `added` (meta), `removed`
 * (meta, after its blocks were cleared) and `cleared` (meta, the block indexes cleared by a deletion).
 */
export type StoreEvents = { added: [SourceMeta]; removed: [SourceMeta]; cleared: [SourceMeta, number[]] }

export class Store {
  readonly events = new EventEmitter<StoreEvents>()
  readonly #db: Database.Database
  readonly #keys: BoxKeys
  readonly #viewsDir: string
  readonly #corestore: Corestore
  readonly #sources = new Map<string, Source>()
  /** Sources with their view or log open, least recently used first, with when each was last used. */
  readonly #open = new Map<string, { source: Source; usedAt: number }>()
  /** The entry last moved to the end of #open (it may have left the map since). */
  #lastUsed: { source: Source; usedAt: number } | undefined
  readonly #maxOpen: number
  readonly #idleMs: number
  readonly #host: SourceHost
  #closedViews: ClosedViews | undefined
  #sweeper: NodeJS.Timeout | undefined
  #sweepQueued = false

  constructor(opts: { db: Database.Database; keys: BoxKeys; logsDir: string; viewsDir: string; maxOpen?: number; idleMs?: number }) {
    this.#db = opts.db
    this.#keys = opts.keys
    this.#viewsDir = opts.viewsDir
    // Each group's shares hear a source removed, besides the replicas: a box may be in many groups.
    this.events.setMaxListeners(0)
    this.#corestore = openCorestore(opts.logsDir)
    this.#maxOpen = opts.maxOpen ?? MAX_OPEN
    this.#idleMs = opts.idleMs ?? IDLE_MS
    this.#host = {
      cacheKiB: viewCacheKiB(this.#maxOpen),
      core: (meta) => {
        const { keyPair, encryptionKey } = this.#keys.sourceLog(meta.id, meta.generation)
        return this.#corestore.get({ keyPair, encryption: { key: encryptionKey } })
      },
      used: (source) => this.#used(source),
      viewClosing: (source, view, stats) => this.#closedViews!.closing(source.meta, view, stats),
      viewClosed: (source) => this.#closedViews!.closed(source.meta, source.viewFile),
      cleared: (source, blocks) => this.events.emit('cleared', source.meta, blocks),
      released: (source) => {
        if (this.#open.get(source.meta.id)?.source === source) this.#open.delete(source.meta.id)
      },
    }
  }

  async open(): Promise<void> {
    await this.#corestore.ready()
    this.#closedViews = new ClosedViews(path.join(this.#viewsDir, 'summaries.sqlite'), currentLayout())
    const rows = this.#db.prepare('SELECT meta FROM sources WHERE deleted = 0 ORDER BY id').all() as { meta: string }[]
    const files = new Set(fs.readdirSync(this.#viewsDir))
    const behind: Source[] = []
    for (const row of rows) {
      const meta = JSON.parse(row.meta) as SourceMeta
      const file = this.#viewFile(meta)
      const known = files.has(path.basename(file) + '-wal') ? undefined : this.#closedViews.unchanged(meta, file)
      const source = new Source(meta, this.#host, file, known)
      this.#sources.set(meta.id, source)
      if (!known) behind.push(source)
    }
    // Only these may lack log blocks (or were never seen closing): they catch up now, as every view did at start before.
    for (const source of behind) await source.open()
    this.#sweeper = setInterval(() => this.#sweep(), Math.max(10, Math.min(this.#idleMs / 2, 30_000)))
    this.#sweeper.unref()
  }

  async close(): Promise<void> {
    clearInterval(this.#sweeper)
    for (const source of this.#sources.values()) await source.close()
    this.#sources.clear()
    this.#closedViews?.close()
    await this.#corestore.close()
  }

  /** The corestore every source's log is in: replication opens sessions on it. */
  get logs(): Corestore {
    return this.#corestore
  }

  #viewFile(meta: SourceMeta): string {
    return path.join(this.#viewsDir, `${meta.id}.${meta.generation}.sqlite`)
  }

  #used(source: Source): void {
    const id = source.meta.id
    const entry = this.#open.get(id)
    if (entry?.source === source) {
      entry.usedAt = Date.now()
      // Moved to the end, so the map stays in order of last use; a source used over and over is there already.
      if (entry !== this.#lastUsed) {
        this.#open.delete(id)
        this.#open.set(id, entry)
        this.#lastUsed = entry
      }
      return
    }
    this.#lastUsed = { source, usedAt: Date.now() }
    this.#open.set(id, this.#lastUsed)
    if (this.#open.size > this.#maxOpen && !this.#sweepQueued) {
      this.#sweepQueued = true
      // After the caller's synchronous work: a view it holds stays open until then.
      setImmediate(() => {
        this.#sweepQueued = false
        this.#sweep()
      })
    }
  }

  /** Closes the least recently used sources beyond the bound, and any idle too long, that have no work under way. */
  #sweep(): void {
    const now = Date.now()
    let excess = this.#open.size - this.#maxOpen
    for (const { source, usedAt } of [...this.#open.values()]) {
      const idle = now - usedAt >= this.#idleMs
      if (excess <= 0 && !idle) break
      if (source.closeIfIdle()) excess--
    }
  }

  has(id: string): boolean {
    return this.#sources.has(id)
  }

  /** The source, open or not: its view and writes open it as they need. */
  get(id: string): Source {
    const source = this.#sources.get(id)
    if (!source) throw new NotFound(`There is no source "${id}". List sources with \`coffer sources list\` or GET /api/v1/sources.`)
    return source
  }

  list(): SourceMeta[] {
    return [...this.#sources.values()].map((s) => s.meta).sort((a, b) => a.id.localeCompare(b.id))
  }

  /** A source's meta and figures; a closed source answers from what it left when it closed, without opening. */
  summary(id: string): SourceSummary {
    const source = this.get(id)
    return { ...source.meta, ...source.stats() }
  }

  async add(input: NewSource): Promise<SourceMeta> {
    checkSourceId(input.id)
    if (this.#sources.has(input.id)) throw new Conflict(`A source named "${input.id}" already exists.`)
    const previous = this.#db.prepare('SELECT generation FROM sources WHERE id = ?').get(input.id) as { generation: number } | undefined
    const meta = newSourceMeta(input, (previous?.generation ?? 0) + 1)
    const source = new Source(meta, this.#host, this.#viewFile(meta))
    await source.open()
    this.#sources.set(meta.id, source)
    this.#db.prepare('INSERT OR REPLACE INTO sources (id, meta, generation, deleted) VALUES (?, ?, ?, 0)').run(meta.id, JSON.stringify(meta), meta.generation)
    this.events.emit('added', meta)
    return meta
  }

  /** Takes in a source restored from a replica: its log is in the corestore already, and its view is built from it. */
  async adopt(meta: SourceMeta): Promise<void> {
    checkSourceId(meta.id)
    if (this.#sources.has(meta.id)) throw new Conflict(`A source named "${meta.id}" already exists.`)
    const source = new Source(meta, this.#host, this.#viewFile(meta))
    await source.open()
    this.#sources.set(meta.id, source)
    this.#db.prepare('INSERT OR REPLACE INTO sources (id, meta, generation, deleted) VALUES (?, ?, ?, 0)').run(meta.id, JSON.stringify(meta), meta.generation)
  }

  /** Deletes a source: clears its log blocks from local storage and removes its view. */
  async remove(id: string): Promise<{ count: number }> {
    const source = this.get(id)
    const { points, keys } = source.stats()
    await source.clearLog()
    this.#sources.delete(id)
    await source.close()
    this.#closedViews!.forget(id)
    for (const suffix of ['', '-wal', '-shm']) fs.rmSync(source.viewFile + suffix, { force: true })
    this.#db.prepare('UPDATE sources SET deleted = 1 WHERE id = ?').run(id)
    this.events.emit('removed', source.meta)
    return { count: points + keys }
  }
}

interface ClosedViewRow { generation: number; layout: string; stats: string; size: number | null; mtime: number | null }

/** A digest of a view's tables as declared, so that a view laid out by other code is told from one this code makes. */
function layoutOf(db: Database.Database): string {
  const tables = db.prepare('SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name').pluck().all()
  return createHash('sha256').update(JSON.stringify(tables)).digest('hex').slice(0, 32)
}

/** The layout this code gives a new view. */
function currentLayout(): string {
  const view = new View(':memory:')
  try {
    return layoutOf(view.db)
  } finally {
    view.close()
  }
}

/**
 * What each view left when it last closed: its figures and layout, and its file's size and
 * modification time once closed. A view whose file still matches (and has no write-ahead log
 * beside it, which SQLite removes on a clean close) holds what the figures say, up to the log's
 * length then. A view of another layout is checked at start, where a new Coffer rebuilds it.
 * Like the views, this file is a cache: without it every view is opened and checked at start.
 */
class ClosedViews {
  readonly #db: Database.Database
  readonly #layout: string
  readonly #rows: Map<string, ClosedViewRow>
  readonly #upsert: Database.Statement
  readonly #stamp: Database.Statement
  readonly #forget: Database.Statement

  constructor(file: string, layout: string) {
    this.#db = openCache(file)
    this.#layout = layout
    this.#rows = new Map((this.#db.prepare('SELECT id, generation, layout, stats, size, mtime FROM views').all() as (ClosedViewRow & { id: string })[]).map((r) => [r.id, r]))
    this.#upsert = this.#db.prepare('INSERT OR REPLACE INTO views (id, generation, layout, stats, size, mtime) VALUES (?, ?, ?, ?, NULL, NULL)')
    this.#stamp = this.#db.prepare('UPDATE views SET size = ?, mtime = ? WHERE id = ? AND generation = ?')
    this.#forget = this.#db.prepare('DELETE FROM views WHERE id = ?')
  }

  /** The figures the view left, if its file is as it was left. Read once, at start. */
  unchanged(meta: SourceMeta, file: string): SourceStats | undefined {
    const row = this.#rows.get(meta.id)
    if (!row || row.generation !== meta.generation || row.layout !== this.#layout || row.size === null) return undefined
    const stat = fs.statSync(file, { throwIfNoEntry: false })
    if (!stat || stat.size !== row.size || stat.mtimeMs !== row.mtime) return undefined
    return JSON.parse(row.stats) as SourceStats
  }

  /** Before the view closes: its figures, or none when it is behind its log. The file's stamp follows once closed. */
  closing(meta: SourceMeta, view: View, stats: SourceStats | undefined): void {
    this.#tolerant(() => {
      if (stats) this.#upsert.run(meta.id, meta.generation, layoutOf(view.db), JSON.stringify(stats))
      else this.#forget.run(meta.id)
    })
  }

  closed(meta: SourceMeta, file: string): void {
    this.#tolerant(() => {
      const stat = fs.statSync(file, { throwIfNoEntry: false })
      if (stat) this.#stamp.run(stat.size, stat.mtimeMs, meta.id, meta.generation)
    })
  }

  /**
   * A write that fails (a full disk, say) must not keep a view from closing, and what it leaves is
   * safe: a row without a stamp is checked at start, and so is one whose stamp is of the file before
   * this close rewrote it. A view closed unchanged leaves its old row true.
   */
  #tolerant(write: () => void): void {
    try {
      write()
    } catch {
      // As above: nothing here can make the next start trust a view it should check.
    }
  }

  forget(id: string): void {
    this.#forget.run(id)
  }

  close(): void {
    this.#db.close()
  }
}

function openCache(file: string): Database.Database {
  const open = () => {
    const db = new Database(file)
    try {
      db.pragma('journal_mode = WAL')
      // A cache: a crash of the machine may lose its last writes, and the views they describe are then checked at start.
      db.pragma('synchronous = OFF')
      db.pragma('cache_size = -256')
      db.exec('CREATE TABLE IF NOT EXISTS views (id TEXT PRIMARY KEY, generation INTEGER NOT NULL, layout TEXT NOT NULL, stats TEXT NOT NULL, size INTEGER, mtime REAL) WITHOUT ROWID')
      // A file left by other code, laid out otherwise: start it afresh.
      db.prepare('SELECT id, generation, layout, stats, size, mtime FROM views LIMIT 0').all()
      return db
    } catch (err) {
      db.close()
      throw err
    }
  }
  try {
    return open()
  } catch {
    for (const suffix of ['', '-wal', '-shm']) fs.rmSync(file + suffix, { force: true })
    return open()
  }
}
