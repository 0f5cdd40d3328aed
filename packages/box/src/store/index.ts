/**
 * The store: every source's log and view, and the registry of sources. Logs live in one
 * corestore, each keyed and encrypted with keys derived for that source alone; views are
 * one SQLite file per source.
 */
import fs from 'node:fs'
import path from 'node:path'
import type Corestore from 'corestore'
import type Database from 'better-sqlite3'
import type { BoxKeys } from '../keys/index.ts'
import { Conflict, NotFound } from '../errors/index.ts'
import { Source } from './source.ts'
import { openCorestore } from './logs.ts'
import { newSourceMeta, checkSourceId, type NewSource, type SourceMeta } from './meta.ts'
import type { BucketValue } from './view.ts'

export { Source, type WriteResult } from './source.ts'
export { openCorestore } from './logs.ts'
export * from './meta.ts'
export { AGGREGATE_FNS, type AggregateFn, type BucketValue, type Series } from './view.ts'
export { bucketBoundaries, parseBucket, assertTimeZone, wallClockToEpoch, utcOffset, onGrid, type Bucket } from './buckets.ts'

export interface SourceSummary extends SourceMeta {
  points: number
  keys: number
  bytes: number
  logLength: number
  first: number | null
  last: number | null
  series: { name: string; unit: string | null; type: string }[]
}

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

export class Store {
  readonly #db: Database.Database
  readonly #keys: BoxKeys
  readonly #viewsDir: string
  readonly #corestore: Corestore
  readonly #sources = new Map<string, Source>()

  constructor(opts: { db: Database.Database; keys: BoxKeys; logsDir: string; viewsDir: string }) {
    this.#db = opts.db
    this.#keys = opts.keys
    this.#viewsDir = opts.viewsDir
    this.#corestore = openCorestore(opts.logsDir)
  }

  async open(): Promise<void> {
    await this.#corestore.ready()
    const rows = this.#db.prepare('SELECT meta FROM sources WHERE deleted = 0 ORDER BY id').all() as { meta: string }[]
    for (const row of rows) await this.#openSource(JSON.parse(row.meta) as SourceMeta)
  }

  async close(): Promise<void> {
    for (const source of this.#sources.values()) await source.close()
    this.#sources.clear()
    await this.#corestore.close()
  }

  async #openSource(meta: SourceMeta): Promise<Source> {
    const { keyPair, encryptionKey } = this.#keys.sourceLog(meta.id, meta.generation)
    const core = this.#corestore.get({ keyPair, encryption: { key: encryptionKey } })
    const source = new Source(meta, core, path.join(this.#viewsDir, `${meta.id}.${meta.generation}.sqlite`))
    await source.open()
    this.#sources.set(meta.id, source)
    return source
  }

  has(id: string): boolean {
    return this.#sources.has(id)
  }

  get(id: string): Source {
    const source = this.#sources.get(id)
    if (!source) throw new NotFound(`There is no source "${id}". List sources with \`coffer sources list\` or GET /api/v1/sources.`)
    return source
  }

  list(): SourceMeta[] {
    return [...this.#sources.values()].map((s) => s.meta).sort((a, b) => a.id.localeCompare(b.id))
  }

  summary(id: string): SourceSummary {
    const source = this.get(id)
    const counts = source.view.counts()
    const span = source.view.timeSpan()
    const series = [...source.view.seriesById.values()].map(({ name, unit, type }) => ({ name, unit, type }))
    return { ...source.meta, ...counts, ...span, logLength: source.core.length, series }
  }

  async add(input: NewSource): Promise<SourceMeta> {
    checkSourceId(input.id)
    if (this.#sources.has(input.id)) throw new Conflict(`A source named "${input.id}" already exists.`)
    const previous = this.#db.prepare('SELECT generation FROM sources WHERE id = ?').get(input.id) as { generation: number } | undefined
    const meta = newSourceMeta(input, (previous?.generation ?? 0) + 1)
    await this.#openSource(meta)
    this.#db.prepare('INSERT OR REPLACE INTO sources (id, meta, generation, deleted) VALUES (?, ?, ?, 0)').run(meta.id, JSON.stringify(meta), meta.generation)
    return meta
  }

  /** Deletes a source: clears its log blocks from local storage and removes its view. */
  async remove(id: string): Promise<{ count: number }> {
    const source = this.get(id)
    const { points, keys } = source.view.counts()
    const count = points + keys
    await source.clearLog()
    this.#sources.delete(id)
    await source.close()
    for (const suffix of ['', '-wal', '-shm']) fs.rmSync(source.viewFile + suffix, { force: true })
    this.#db.prepare('UPDATE sources SET deleted = 1 WHERE id = ?').run(id)
    return { count }
  }
}
