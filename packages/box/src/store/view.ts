/**
 * A source's SQLite view: a cache of its log. The view opens the file, owns the schema and
 * `applied` — how many log blocks it holds, committed in the same transaction as the rows — and
 * feeds each log block to the parts that keep its tables: the series, the points, their
 * rollups, the dense hours' 5-minute cells (edges.ts), the latest point per series and key-value
 * items. Aggregates read the rollups, the cells or the points.
 */
import Database from 'better-sqlite3'
import type { SenmlRecord } from '../senml/index.ts'
import type { TechnicalType } from './meta.ts'
import { aggregate, type AggregateFn, type BucketValue } from './aggregate.ts'
import { KeyValues } from './kv.ts'
import { Latest } from './latest.ts'
import { Points } from './points.ts'
import { Rollups } from './rollups.ts'
import { EdgeCells } from './edges.ts'
import { SeriesRegistry, valueOf, type Series } from './series.ts'

// What callers of the view pass it and get back, and the time limit sources check records against.
export { AGGREGATE_FNS, type AggregateFn, type BucketValue } from './aggregate.ts'
export { MAX_TIME } from './points.ts'
export type { Series } from './series.ts'

/**
 * The view's layout; a view of another layout is rebuilt from the log. 2: points and latest values
 * keep ut. 3: rollup rows keep a quantile sketch. 4: only cells of enough points are rolled up,
 * and listed in `rolled`.
 */
const VIEW_SCHEMA = 4

const SCHEMA = `
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS series (id INTEGER PRIMARY KEY, name TEXT NOT NULL, unit TEXT, type TEXT NOT NULL, UNIQUE (name, unit, type));
CREATE TABLE IF NOT EXISTS points (id INTEGER PRIMARY KEY, t REAL NOT NULL, series INTEGER NOT NULL, val, s REAL, ut REAL, block INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS blocks (block INTEGER PRIMARY KEY, tmin REAL NOT NULL, tmax REAL NOT NULL);
CREATE TABLE IF NOT EXISTS rollups (res INTEGER NOT NULL, series INTEGER NOT NULL, bucket INTEGER NOT NULL,
  n INTEGER NOT NULL, sum REAL NOT NULL, min REAL NOT NULL, max REAL NOT NULL, sumsq REAL NOT NULL, sketch BLOB,
  PRIMARY KEY (res, series, bucket)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rolled (slot INTEGER PRIMARY KEY, cells INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS hourcells (id INTEGER PRIMARY KEY, cells BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS edgecells (id INTEGER PRIMARY KEY, pts BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS latest (series INTEGER PRIMARY KEY, t REAL NOT NULL, val, s REAL, ut REAL);
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL, t REAL NOT NULL) WITHOUT ROWID;
`

export class View {
  readonly db: Database.Database
  /** Every series, by name, unit and type together. */
  readonly series: Map<string, Series>
  readonly seriesById: Map<number, Series>
  readonly #series: SeriesRegistry
  readonly #points: Points
  readonly #rollups: Rollups
  readonly #edges: EdgeCells
  readonly #latest: Latest
  readonly #kv: KeyValues
  readonly #setState: Database.Statement
  #pointCount: number
  #applied: number

  constructor(file: string) {
    this.db = new Database(file)
    // The view is rebuilt from the log after any crash, so it trades durability for speed.
    this.db.pragma('journal_mode = WAL')
    this.db.pragma('synchronous = OFF')
    // Pages are read through a memory map, not a read call each: an aggregate off the rollup grid
    // reads megabytes of cells, more than the view's own page cache holds (sized for many open
    // views), and a read call per page cost it more than the rest of its work. Mapped pages are the
    // kernel's page cache, which it reclaims under pressure. (2 GiB - 64 KiB: SQLite's largest.)
    this.db.pragma('mmap_size = 2147418112')
    // A view laid out by an older Coffer lacks what this one keeps (ut, say): refuse it, and the
    // source throws it away and rebuilds it from the log.
    const laidOut = this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'state'").get() !== undefined
    if (laidOut && (this.db.prepare("SELECT value FROM state WHERE key = 'schema'").get() as { value: number } | undefined)?.value !== VIEW_SCHEMA) {
      this.db.close()
      throw new Error(`${file} is laid out for an older Coffer`)
    }
    this.db.exec(SCHEMA)
    this.#series = new SeriesRegistry(this.db)
    this.series = this.#series.byKey
    this.seriesById = this.#series.byId
    this.#points = new Points(this.db, this.#series)
    const isNumeric = (id: number) => this.#series.byId.get(id)?.type === 'number'
    this.#rollups = new Rollups(this.db, isNumeric)
    this.#edges = new EdgeCells(this.db, isNumeric)
    this.#latest = new Latest(this.db)
    this.#kv = new KeyValues(this.db)
    const getState = this.db.prepare('SELECT value FROM state WHERE key = ?')
    this.#setState = this.db.prepare('INSERT OR REPLACE INTO state (key, value) VALUES (?, ?)')
    this.#setState.run('schema', VIEW_SCHEMA)
    this.#pointCount = (getState.get('points') as { value: number } | undefined)?.value ?? 0
    this.#applied = (getState.get('applied') as { value: number } | undefined)?.value ?? 0
  }

  close(): void {
    this.db.close()
  }

  /**
   * Runs `fn` in one transaction. What the view keeps in memory beside its tables follows each
   * change as it is made, so a transaction that fails leaves the memory ahead of the tables:
   * then the latest values are read from their table again.
   */
  transaction<T>(fn: () => T): T {
    try {
      return this.db.transaction(fn)()
    } catch (err) {
      this.#latest.forget()
      throw err
    }
  }

  /** How many points the view holds. */
  get points(): number {
    return this.#pointCount
  }

  /** How many log blocks the view holds. */
  get applied(): number {
    return this.#applied
  }

  /** Records that `length` log blocks are applied. Call inside the transaction that applied them. */
  setApplied(length: number): void {
    this.#setState.run('applied', length)
    this.#setState.run('points', this.#pointCount)
    // Kept in memory too; a transaction that fails after this marks the source broken until a restart reloads the view.
    this.#applied = length
  }

  /**
   * Inserts consecutive log blocks' records, keeping rollups and latest values in step. Call
   * inside a transaction. Blocks applied together share multi-row statements: a group of small
   * blocks (one phone location each) costs a few statements, not a few per record.
   */
  insertBlocks(blocks: { index: number; records: SenmlRecord[] }[]): void {
    const points = this.#points.batch()
    const rollups = this.#rollups.batch()
    const edges = this.#edges.batch()
    const latest = this.#latest.batch()
    for (const { index: block, records } of blocks) {
      if (records.length === 0) continue
      let last: { n: string; u: string | undefined; type: TechnicalType; series: Series } | undefined
      for (let i = 0; i < records.length; i++) {
        const r = records[i]!
        const [type, val] = valueOf(r)
        // Consecutive records usually share a series: skip the map lookup then.
        if (!last || last.n !== r.n || last.u !== r.u || last.type !== type) last = { n: r.n, u: r.u, type, series: this.#series.of(r.n, r.u ?? null, type) }
        const series = last.series.id
        const s = r.s ?? null
        const ut = r.ut ?? null
        points.add(block, i, r.t, series, val, s, ut)
        latest.add(series, r.t, val, s, ut)
        const number = type === 'number' && val !== null ? val as number : undefined
        rollups.add(series, r.t, number)
        if (number !== undefined) edges.add(series, r.t, number)
      }
      points.endBlock(block)
      rollups.endBlock(block)
      edges.endBlock(block)
      this.#pointCount += records.length
    }
    points.finish()
    rollups.finish()
    edges.finish()
    latest.finish()
  }

  /** Log blocks holding any point in [from, to). */
  blocksInRange(from: number, to: number): number[] {
    return this.#points.blocksInRange(from, to)
  }

  /** The points of these blocks that fall outside [from, to), by block, each block's in time order. */
  survivors(blocks: number[], from: number, to: number): Map<number, SenmlRecord[]> {
    return this.#points.survivors(blocks, from, to)
  }

  /** Removes whole blocks' points, then recomputes the rollups and latest values they touched. Call inside a transaction. */
  dropBlocks(blocks: number[]): void {
    const spans = this.#points.seriesSpans(blocks)
    this.#pointCount -= this.#points.drop(blocks)
    this.#rollups.rebuild(spans)
    this.#edges.rebuild(spans)
    this.#latest.rebuild(spans.keys())
  }

  seriesNamed(names: string[] | undefined): Series[] {
    return this.#series.named(names)
  }

  /** Whether a record with this name already has a point at exactly time t. */
  hasPointAt(name: string, t: number): boolean {
    return this.#series.withName(name).some((s) => {
      // A series' latest time is its greatest: a newer reading (nearly every one) needs no search
      // among the points of its hundredth of a second, which many series may share.
      const latest = this.#latest.time(s.id)
      return latest !== undefined && t <= latest && this.#points.hasAt(s.id, t)
    })
  }

  /** The newest point of each series, optionally only among points in [from, to). */
  latest(series: Series[], window?: { from: number; to: number }): SenmlRecord[] {
    return this.#latest.of(series, window)
  }

  records(q: { from: number; to: number; limit: number; order: 'asc' | 'desc'; series?: Series[] }): SenmlRecord[] {
    return this.#points.records(q)
  }

  /** Per-bucket statistics of numeric points, one or several functions from one pass. */
  aggregate(series: Series[], bounds: number[], fns: AggregateFn | AggregateFn[]): BucketValue[] {
    return aggregate(this.db, series, bounds, fns)
  }

  kvGet(key: string): { value: unknown; t: number } | undefined {
    return this.#kv.get(key)
  }

  kvKeys(prefix: string, limit: number): string[] {
    return this.#kv.keys(prefix, limit)
  }

  kvPut(key: string, value: unknown, t: number): void {
    this.#kv.put(key, value, t)
  }

  kvDelete(key: string): void {
    this.#kv.delete(key)
  }

  counts(): { points: number; keys: number; bytes: number } {
    const keys = this.#kv.count()
    const pages = this.db.pragma('page_count', { simple: true }) as number
    const size = this.db.pragma('page_size', { simple: true }) as number
    return { points: this.#pointCount, keys, bytes: pages * size }
  }

  timeSpan(): { first: number | null; last: number | null } {
    return this.#points.timeSpan()
  }
}
