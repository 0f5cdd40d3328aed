/**
 * A source's SQLite view: raw points, 5-minute and hourly rollups kept on ingest (the way
 * Home Assistant keeps long-term statistics), the latest point per series, and key-value
 * items. It is a cache of the log: `applied` says how many log blocks it holds, committed in
 * the same transaction as the rows.
 *
 * Points are clustered by time: the row id is the time in hundredths of a second times 2^13
 * plus a sequence number, so time ranges are primary-key ranges and ingest maintains one
 * b-tree, not a table and an index. Ids stay below 2^53, exact in JavaScript, for times up to
 * MAX_TIME. The sequence number derives from the block and position, so a view rebuilt from
 * the log gets the very same ids.
 */
import Database from 'better-sqlite3'
import type { SenmlRecord } from '../senml/index.ts'
import type { TechnicalType } from './meta.ts'
import { InvalidInput } from '../errors/index.ts'

/** One series: a record name with one unit and one value type. Points refer to it by id. */
export interface Series {
  id: number
  name: string
  unit: string | null
  type: TechnicalType
}

export type AggregateFn = 'count' | 'sum' | 'min' | 'max' | 'mean' | 'median' | 'sd'
export const AGGREGATE_FNS: AggregateFn[] = ['count', 'sum', 'min', 'max', 'mean', 'median', 'sd']
export const ROLLUP_RESOLUTIONS = [3600, 300] as const

const SEQ_SPACE = 2 ** 13
/** Rows per multi-row INSERT: 64 × 6 parameters stays well under SQLite's limit of 32,766. */
const CHUNK_ROWS = 64
/** The latest time a point may carry, in epoch seconds (the year 2286). */
export const MAX_TIME = 1e10

/** The smallest point id at or after time t (seconds). */
function keyOf(t: number): number {
  return Math.floor(Math.min(t, MAX_TIME) * 100) * SEQ_SPACE
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS series (id INTEGER PRIMARY KEY, name TEXT NOT NULL, unit TEXT, type TEXT NOT NULL, UNIQUE (name, unit, type));
CREATE TABLE IF NOT EXISTS points (id INTEGER PRIMARY KEY, t REAL NOT NULL, series INTEGER NOT NULL, val, s REAL, block INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS blocks (block INTEGER PRIMARY KEY, tmin REAL NOT NULL, tmax REAL NOT NULL);
CREATE TABLE IF NOT EXISTS rollups (res INTEGER NOT NULL, series INTEGER NOT NULL, bucket INTEGER NOT NULL,
  n INTEGER NOT NULL, sum REAL NOT NULL, min REAL NOT NULL, max REAL NOT NULL, sumsq REAL NOT NULL,
  PRIMARY KEY (res, series, bucket)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS latest (series INTEGER PRIMARY KEY, t REAL NOT NULL, val, s REAL);
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL, t REAL NOT NULL) WITHOUT ROWID;
`

/** Multi-row writes of what ingest keeps beside the points; `sql` takes the VALUES rows. */
const MULTI_ROW = {
  rollups: {
    width: 8,
    sql: (rows: string) => `INSERT INTO rollups (res, series, bucket, n, sum, min, max, sumsq) VALUES ${rows}
      ON CONFLICT DO UPDATE SET n = n + excluded.n, sum = sum + excluded.sum, min = min(min, excluded.min),
      max = max(max, excluded.max), sumsq = sumsq + excluded.sumsq`,
  },
  latest: {
    width: 4,
    sql: (rows: string) => `INSERT INTO latest (series, t, val, s) VALUES ${rows}
      ON CONFLICT DO UPDATE SET t = excluded.t, val = excluded.val, s = excluded.s WHERE excluded.t >= latest.t`,
  },
  blocks: { width: 3, sql: (rows: string) => `INSERT OR REPLACE INTO blocks (block, tmin, tmax) VALUES ${rows}` },
} as const

interface PointRow { t: number; series: number; val: number | string | null; s: number | null }
interface Rollup { res: number; series: number; bucket: number; n: number; sum: number; min: number; max: number; sumsq: number }
/** One bucket: `value` is the first function asked for; `values` holds each, when several were. */
export interface BucketValue { start: number; end: number; count: number; value: number | null; values?: Partial<Record<AggregateFn, number | null>> }
interface Stats { n: number; sum: number; min: number; max: number; sumsq: number }

export class View {
  readonly db: Database.Database
  readonly series = new Map<string, Series>()
  readonly seriesById = new Map<number, Series>()
  readonly #seriesByName = new Map<string, Series[]>()
  #points: number
  #applied: number
  readonly #stmts: ReturnType<typeof prepare>
  readonly #chunkStatements = new Map<number, Database.Statement>()
  readonly #multiRow = new Map<string, Database.Statement>()
  readonly #latestTimes = new Map<number, number>()

  constructor(file: string) {
    this.db = new Database(file)
    // The view is rebuilt from the log after any crash, so it trades durability for speed.
    this.db.pragma('journal_mode = WAL')
    this.db.pragma('synchronous = OFF')
    this.db.exec(SCHEMA)
    this.#stmts = prepare(this.db)
    for (const s of this.db.prepare('SELECT id, name, unit, type FROM series').all() as Series[]) this.#remember(s)
    this.#points = (this.#stmts.getState.get('points') as { value: number } | undefined)?.value ?? 0
    this.#applied = (this.#stmts.getState.get('applied') as { value: number } | undefined)?.value ?? 0
  }

  close(): void {
    this.db.close()
  }

  /** How many points the view holds. */
  get points(): number {
    return this.#points
  }

  /** How many log blocks the view holds. */
  get applied(): number {
    return this.#applied
  }

  /** Records that `length` log blocks are applied. Call inside the transaction that applied them. */
  setApplied(length: number): void {
    this.#stmts.setState.run('applied', length)
    this.#stmts.setState.run('points', this.#points)
    // Kept in memory too; a transaction that fails after this marks the source broken until a restart reloads the view.
    this.#applied = length
  }

  #remember(s: Series): void {
    this.series.set(seriesKey(s.name, s.unit, s.type), s)
    this.seriesById.set(s.id, s)
    this.#seriesByName.set(s.name, [...(this.#seriesByName.get(s.name) ?? []), s])
  }

  #seriesFor(name: string, unit: string | null, type: TechnicalType): Series {
    const key = seriesKey(name, unit, type)
    let s = this.series.get(key)
    if (!s) {
      s = { id: Number(this.#stmts.insertSeries.run(name, unit, type).lastInsertRowid), name, unit, type }
      this.#remember(s)
    }
    return s
  }

  /**
   * Inserts consecutive log blocks' records, keeping rollups and latest values in step. Call
   * inside a transaction. Blocks applied together share multi-row statements: a group of small
   * blocks (one phone location each) costs a few statements, not a few per record.
   */
  insertBlocks(blocks: { index: number; records: SenmlRecord[] }[]): void {
    // A rollup row one block adds to is written once per block that touches it, in block order
    // (round r holds each row's r-th contribution), so its floating-point sums come out exactly as
    // a replay of one block at a time computes them.
    const rounds: Map<number, Rollup>[][] = []
    const depth = ROLLUP_RESOLUTIONS.map(() => new Map<number, number>())
    const latest = new Map<number, PointRow>()
    const spans: (number | null)[] = []
    const points: (number | string | null)[] = []
    for (const { index: block, records } of blocks) {
      if (records.length === 0) continue
      const rollups = ROLLUP_RESOLUTIONS.map(() => new Map<number, Rollup>())
      let last: { n: string; u: string | undefined; type: TechnicalType; series: Series } | undefined
      let tmin = Infinity
      let tmax = -Infinity
      for (let i = 0; i < records.length; i++) {
        const r = records[i]!
        const [type, val] = valueOf(r)
        // Consecutive records usually share a series: skip the map lookup then.
        if (!last || last.n !== r.n || last.u !== r.u || last.type !== type) last = { n: r.n, u: r.u, type, series: this.#seriesFor(r.n, r.u ?? null, type) }
        const series = last.series.id
        points.push(keyOf(r.t) + ((block * 1000 + i) % SEQ_SPACE), r.t, series, val, r.s ?? null, block)
        if (points.length === CHUNK_ROWS * 6) this.#insertChunk(points.splice(0))
        if (r.t < tmin) tmin = r.t
        if (r.t > tmax) tmax = r.t
        const prev = latest.get(series)
        // Later blocks win ties, as one upsert per block would have it.
        if (!prev || r.t >= prev.t) latest.set(series, { t: r.t, series, val, s: r.s ?? null })
        if (type === 'number' && val !== null) addToRollups(rollups, series, r.t, val as number)
      }
      for (let res = 0; res < rollups.length; res++) {
        for (const [key, a] of rollups[res]!) {
          const d = depth[res]!.get(key) ?? 0
          depth[res]!.set(key, d + 1)
          ;(rounds[d] ??= ROLLUP_RESOLUTIONS.map(() => new Map()))[res]!.set(key, a)
        }
      }
      spans.push(block, tmin, tmax)
      this.#points += records.length
    }
    this.#insertChunk(points)
    for (const round of rounds) {
      const rows: number[] = []
      for (const map of round) for (const a of map.values()) rows.push(a.res, a.series, a.bucket, a.n, a.sum, a.min, a.max, a.sumsq)
      this.#runRows('rollups', rows)
    }
    const latestRows: (number | string | null)[] = []
    for (const p of latest.values()) {
      latestRows.push(p.series, p.t, p.val, p.s)
      const known = this.#latestTimes.get(p.series)
      if (known !== undefined && p.t > known) this.#latestTimes.set(p.series, p.t)
    }
    this.#runRows('latest', latestRows)
    this.#runRows('blocks', spans)
  }

  /** Runs a multi-row statement over `values`, CHUNK_ROWS rows at a time. */
  #runRows(kind: keyof typeof MULTI_ROW, values: (number | string | null)[]): void {
    const { width } = MULTI_ROW[kind]
    for (let at = 0; at < values.length; at += CHUNK_ROWS * width) {
      const chunk = values.slice(at, at + CHUNK_ROWS * width)
      const rows = chunk.length / width
      const key = `${kind}:${rows}`
      let stmt = this.#multiRow.get(key)
      if (!stmt) {
        stmt = this.db.prepare(MULTI_ROW[kind].sql(Array(rows).fill(`(${Array(width).fill('?').join(', ')})`).join(', ')))
        this.#multiRow.set(key, stmt)
      }
      stmt.run(chunk)
    }
  }

  /**
   * Inserts rows (six values each) with one multi-row statement: crossing into SQLite once per
   * chunk, not per point, is most of ingest speed. A statement that hits an id already taken
   * is undone whole by SQLite, and its rows then go in one by one.
   */
  #insertChunk(values: (number | string | null)[]): void {
    const rows = values.length / 6
    if (rows === 0) return
    let stmt = this.#chunkStatements.get(rows)
    if (!stmt) {
      stmt = this.db.prepare(`INSERT INTO points (id, t, series, val, s, block) VALUES ${Array(rows).fill('(?, ?, ?, ?, ?, ?)').join(', ')}`)
      this.#chunkStatements.set(rows, stmt)
    }
    try {
      stmt.run(values)
    } catch (err) {
      if ((err as { code?: string }).code !== 'SQLITE_CONSTRAINT_PRIMARYKEY') throw err
      for (let i = 0; i < values.length; i += 6) this.#insertPoint(...(values.slice(i, i + 6) as [number, number, number, number | string | null, number | null, number]))
    }
  }

  #insertPoint(id: number, t: number, series: number, val: number | string | null, s: number | null, block: number): void {
    const insert = this.#stmts.insertPoint
    if (insert.run(id, t, series, val, s, block).changes === 1) return
    // Another point in the same hundredth of a second holds this id: take the next one above
    // the highest there, or failing that any free one.
    const base = id - (id % SEQ_SPACE)
    const { top } = this.#stmts.topId.get(base, base + SEQ_SPACE) as { top: number }
    if (top + 1 < base + SEQ_SPACE && insert.run(top + 1, t, series, val, s, block).changes === 1) return
    for (let at = base; at < base + SEQ_SPACE; at++) if (insert.run(at, t, series, val, s, block).changes === 1) return
    throw new InvalidInput(`More than ${SEQ_SPACE} points fall in the same hundredth of a second at t=${t}.`)
  }

  /** Log blocks holding any point in [from, to). */
  blocksInRange(from: number, to: number): number[] {
    const rows = this.db.prepare('SELECT DISTINCT block FROM points WHERE id >= ? AND id < ? AND t >= ? AND t < ? ORDER BY block')
      .all(keyOf(from), keyOf(to) + SEQ_SPACE, from, to) as { block: number }[]
    return rows.map((r) => r.block)
  }

  /** The points of these blocks that fall outside [from, to), in time order. */
  survivors(blocks: number[], from: number, to: number): SenmlRecord[] {
    const out: SenmlRecord[] = []
    for (const row of this.#blockPoints(blocks, 'p.t, p.series, p.val, p.s', 'AND NOT (p.t >= ? AND p.t < ?)', [from, to]) as PointRow[]) {
      out.push(toRecord(this.seriesById.get(row.series)!, row.t, row.val, row.s))
    }
    return out.sort((a, b) => a.t - b.t)
  }

  #blockPoints(blocks: number[], columns: string, filter = '', params: number[] = []): unknown[] {
    const select = this.db.prepare(`SELECT ${columns} FROM points p WHERE p.id >= ? AND p.id < ? AND p.block = ? ${filter}`)
    const rows: unknown[] = []
    for (const block of blocks) {
      const b = this.#stmts.blockSpan.get(block) as { tmin: number; tmax: number } | undefined
      if (b) rows.push(...select.all(keyOf(b.tmin), keyOf(b.tmax) + SEQ_SPACE, block, ...params))
    }
    return rows
  }

  /** Removes whole blocks' points, then recomputes the rollups and latest values they touched. Call inside a transaction. */
  dropBlocks(blocks: number[]): void {
    const spans = new Map<number, { lo: number; hi: number }>()
    for (const t of this.#blockPoints(blocks, 'p.series, min(p.t) AS lo, max(p.t) AS hi', 'GROUP BY p.series') as { series: number; lo: number; hi: number }[]) {
      const span = spans.get(t.series)
      spans.set(t.series, span ? { lo: Math.min(span.lo, t.lo), hi: Math.max(span.hi, t.hi) } : { lo: t.lo, hi: t.hi })
    }
    const deletePoints = this.db.prepare('DELETE FROM points WHERE id >= ? AND id < ? AND block = ?')
    const deleteBlock = this.db.prepare('DELETE FROM blocks WHERE block = ?')
    for (const block of blocks) {
      const b = this.#stmts.blockSpan.get(block) as { tmin: number; tmax: number } | undefined
      if (!b) continue
      this.#points -= deletePoints.run(keyOf(b.tmin), keyOf(b.tmax) + SEQ_SPACE, block).changes
      deleteBlock.run(block)
    }
    const clearRollups = this.db.prepare(`DELETE FROM rollups WHERE res IN (${ROLLUP_RESOLUTIONS.join(', ')}) AND series = ? AND bucket >= ? AND bucket < ?`)
    const rebuildRollups = this.db.prepare(`INSERT INTO rollups (res, series, bucket, n, sum, min, max, sumsq)
      SELECT ?, series, CAST(t / ? AS INTEGER) * ?, count(val), sum(val), min(val), max(val), sum(val * val)
      FROM points WHERE id >= ? AND id < ? AND series = ? AND val IS NOT NULL GROUP BY 3`)
    const clearLatest = this.db.prepare('DELETE FROM latest WHERE series = ?')
    const rebuildLatest = this.db.prepare('INSERT INTO latest (series, t, val, s) SELECT series, t, val, s FROM points WHERE series = ? ORDER BY id DESC LIMIT 1')
    const coarsest = ROLLUP_RESOLUTIONS[0]
    for (const [series, span] of spans) {
      const lo = Math.floor(span.lo / coarsest) * coarsest
      const hi = (Math.floor(span.hi / coarsest) + 1) * coarsest
      clearRollups.run(series, lo, hi)
      for (const res of ROLLUP_RESOLUTIONS) rebuildRollups.run(res, res, res, keyOf(lo), keyOf(hi), series)
      clearLatest.run(series)
      rebuildLatest.run(series)
      this.#latestTimes.delete(series)
    }
  }

  seriesNamed(names: string[] | undefined): Series[] {
    if (names === undefined) return [...this.seriesById.values()]
    return names.flatMap((name) => this.#seriesByName.get(name) ?? [])
  }

  /** Whether a record with this name already has a point at exactly time t. */
  hasPointAt(name: string, t: number): boolean {
    const key = keyOf(t)
    return (this.#seriesByName.get(name) ?? []).some((s) => {
      // A series' latest time is its greatest: a newer reading (nearly every one) needs no search
      // among the points of its hundredth of a second, which many series may share.
      const latest = this.#latestTime(s.id)
      return latest !== undefined && t <= latest && this.#stmts.pointAt.get(key, key + SEQ_SPACE, t, s.id) !== undefined
    })
  }

  /**
   * The time of a series' newest point, remembered after the first look. The memory may run ahead
   * of the table (a transaction that failed), never behind it, so it never hides a point.
   */
  #latestTime(series: number): number | undefined {
    let t = this.#latestTimes.get(series)
    if (t === undefined) {
      t = (this.#stmts.latestTime.get(series) as { t: number } | undefined)?.t
      if (t !== undefined) this.#latestTimes.set(series, t)
    }
    return t
  }

  /** The newest point of each series, optionally only among points in [from, to). */
  latest(series: Series[], window?: { from: number; to: number }): SenmlRecord[] {
    const out: SenmlRecord[] = []
    for (const s of series) {
      const row = (window
        ? this.#stmts.latestIn.get(s.id, keyOf(window.from), keyOf(window.to) + SEQ_SPACE, window.from, window.to)
        : this.#stmts.latest.get(s.id)) as PointRow | undefined
      if (row) out.push(toRecord(s, row.t, row.val, row.s))
    }
    return out.sort((a, b) => a.t - b.t)
  }

  records(q: { from: number; to: number; limit: number; order: 'asc' | 'desc'; series?: Series[] }): SenmlRecord[] {
    const filter = q.series ? `AND series IN (${q.series.map(() => '?').join(',')})` : ''
    const dir = q.order === 'desc' ? 'DESC' : 'ASC'
    const stmt = this.db.prepare(`SELECT t, series, val, s FROM points WHERE id >= ? AND id < ? AND t >= ? AND t < ? ${filter} ORDER BY id ${dir} LIMIT ?`)
    const params = [keyOf(q.from), keyOf(q.to) + SEQ_SPACE, q.from, q.to, ...(q.series ?? []).map((s) => s.id), q.limit]
    return (stmt.all(...params) as PointRow[]).map((row) => toRecord(this.seriesById.get(row.series)!, row.t, row.val, row.s))
  }

  /**
   * Per-bucket statistics of numeric points, one or several functions from one pass. Reads the
   * coarsest rollup whose grid every boundary sits on; otherwise, or for a median, the raw points.
   */
  aggregate(series: Series[], bounds: number[], fns: AggregateFn | AggregateFn[]): BucketValue[] {
    const list = Array.isArray(fns) ? fns : [fns]
    const ids = series.map((s) => s.id)
    const inIds = ids.map(() => '?').join(',')
    const wantsMedian = list.includes('median')
    const res = wantsMedian ? undefined : ROLLUP_RESOLUTIONS.find((r) => bounds.every((b) => b % r === 0))
    const stats = res === undefined ? this.#rawStats(ids, inIds, bounds) : this.#rollupStats(ids, inIds, bounds, res)
    const medianStmt = wantsMedian && ids.length > 0
      ? this.db.prepare(`SELECT val FROM points WHERE id >= ? AND id < ? AND t >= ? AND t < ? AND series IN (${inIds}) AND val IS NOT NULL ORDER BY val LIMIT ? OFFSET ?`)
      : undefined
    const out: BucketValue[] = []
    for (let i = 0; i + 1 < bounds.length; i++) {
      const lo = bounds[i]!
      const hi = bounds[i + 1]!
      const st = stats[i]
      const count = st?.n ?? 0
      const valueOf = (fn: AggregateFn): number | null => {
        if (fn === 'count') return count
        if (!st || count === 0) return null
        switch (fn) {
          case 'sum': return st.sum
          case 'min': return st.min
          case 'max': return st.max
          case 'mean': return st.sum / count
          case 'sd': return count > 1 ? Math.sqrt(Math.max(0, (st.sumsq - (st.sum * st.sum) / count) / (count - 1))) : null
          case 'median': return median(medianStmt!, ids, lo, hi, count)
        }
      }
      const bucket: BucketValue = { start: lo, end: hi, count, value: valueOf(list[0]!) }
      if (list.length > 1) bucket.values = Object.fromEntries(list.map((fn) => [fn, fn === list[0] ? bucket.value : valueOf(fn)]))
      out.push(bucket)
    }
    return out
  }

  /** Merges rollup rows, in time order, into the buckets they fall in: one pass over each. */
  #rollupStats(ids: number[], inIds: string, bounds: number[], res: number): Stats[] {
    const stats: Stats[] = []
    if (ids.length === 0) return stats
    const rows = this.db.prepare(`SELECT bucket, n, sum, min, max, sumsq FROM rollups WHERE res = ? AND series IN (${inIds}) AND bucket >= ? AND bucket < ? ORDER BY bucket`)
      .raw().all(res, ...ids, bounds[0], bounds.at(-1)) as [number, number, number, number, number, number][]
    let i = 0
    for (const [bucket, n, sum, min, max, sumsq] of rows) {
      while (bucket >= bounds[i + 1]!) i++
      const st = stats[i]
      if (!st) stats[i] = { n, sum, min, max, sumsq }
      else {
        st.n += n
        st.sum += sum
        st.sumsq += sumsq
        if (min < st.min) st.min = min
        if (max > st.max) st.max = max
      }
    }
    return stats
  }

  /** Statistics straight from raw points, one indexed range scan per bucket. */
  #rawStats(ids: number[], inIds: string, bounds: number[]): Stats[] {
    const stats: Stats[] = []
    if (ids.length === 0) return stats
    const stmt = this.db.prepare(`SELECT count(val) AS n, sum(val) AS sum, min(val) AS min, max(val) AS max, sum(val * val) AS sumsq
      FROM points WHERE id >= ? AND id < ? AND t >= ? AND t < ? AND series IN (${inIds}) AND val IS NOT NULL`)
    for (let i = 0; i + 1 < bounds.length; i++) {
      const lo = bounds[i]!
      const hi = bounds[i + 1]!
      stats[i] = stmt.get(keyOf(lo), keyOf(hi) + SEQ_SPACE, lo, hi, ...ids) as Stats
    }
    return stats
  }

  kvGet(key: string): { value: unknown; t: number } | undefined {
    const row = this.#stmts.kvGet.get(key) as { value: string; t: number } | undefined
    return row && { value: JSON.parse(row.value), t: row.t }
  }

  kvKeys(prefix: string, limit: number): string[] {
    return (this.db.prepare('SELECT key FROM kv WHERE key >= ? AND key < ? || char(1114111) ORDER BY key LIMIT ?').all(prefix, prefix, limit) as { key: string }[]).map((r) => r.key)
  }

  kvPut(key: string, value: unknown, t: number): void {
    this.#stmts.kvPut.run(key, JSON.stringify(value), t)
  }

  kvDelete(key: string): void {
    this.#stmts.kvDelete.run(key)
  }

  counts(): { points: number; keys: number; bytes: number } {
    const keys = (this.db.prepare('SELECT count(*) AS n FROM kv').get() as { n: number }).n
    const pages = this.db.pragma('page_count', { simple: true }) as number
    const size = this.db.pragma('page_size', { simple: true }) as number
    return { points: this.#points, keys, bytes: pages * size }
  }

  timeSpan(): { first: number | null; last: number | null } {
    const first = this.db.prepare('SELECT t FROM points ORDER BY id LIMIT 1').get() as { t: number } | undefined
    const last = this.db.prepare('SELECT t FROM points ORDER BY id DESC LIMIT 1').get() as { t: number } | undefined
    return { first: first?.t ?? null, last: last?.t ?? null }
  }
}

function prepare(db: Database.Database) {
  return {
    getState: db.prepare('SELECT value FROM state WHERE key = ?'),
    setState: db.prepare('INSERT OR REPLACE INTO state (key, value) VALUES (?, ?)'),
    insertSeries: db.prepare('INSERT INTO series (name, unit, type) VALUES (?, ?, ?)'),
    insertPoint: db.prepare('INSERT OR IGNORE INTO points (id, t, series, val, s, block) VALUES (?, ?, ?, ?, ?, ?)'),
    topId: db.prepare('SELECT max(id) AS top FROM points WHERE id >= ? AND id < ?'),
    latest: db.prepare('SELECT t, val, s FROM latest WHERE series = ?'),
    latestTime: db.prepare('SELECT t FROM latest WHERE series = ?'),
    blockSpan: db.prepare('SELECT tmin, tmax FROM blocks WHERE block = ?'),
    kvGet: db.prepare('SELECT value, t FROM kv WHERE key = ?'),
    kvPut: db.prepare('INSERT OR REPLACE INTO kv (key, value, t) VALUES (?, ?, ?)'),
    kvDelete: db.prepare('DELETE FROM kv WHERE key = ?'),
    pointAt: db.prepare('SELECT 1 FROM points WHERE id >= ? AND id < ? AND t = ? AND series = ? LIMIT 1'),
    latestIn: db.prepare('SELECT t, val, s FROM points WHERE series = ? AND id >= ? AND id < ? AND t >= ? AND t < ? ORDER BY id DESC LIMIT 1'),
  }
}

/** The middle value (or the mean of the middle two) of a bucket's `count` points, read in value order. */
function median(stmt: Database.Statement, ids: number[], lo: number, hi: number, count: number): number {
  const values = (stmt.all(keyOf(lo), keyOf(hi) + SEQ_SPACE, lo, hi, ...ids, 2 - (count % 2), Math.floor((count - 1) / 2)) as { val: number }[]).map((r) => r.val)
  return values.length === 2 ? (values[0]! + values[1]!) / 2 : values[0]!
}

function addToRollups(rollups: Map<number, Rollup>[], series: number, t: number, v: number): void {
  for (let r = 0; r < ROLLUP_RESOLUTIONS.length; r++) {
    const res = ROLLUP_RESOLUTIONS[r]!
    const slot = Math.floor(t / res)
    // Series ids stay far below 2^20, so this numeric key is unique per (series, bucket).
    const key = slot * 2 ** 20 + series
    const a = rollups[r]!.get(key)
    if (a) {
      a.n++
      a.sum += v
      a.sumsq += v * v
      if (v < a.min) a.min = v
      if (v > a.max) a.max = v
    } else {
      rollups[r]!.set(key, { res, series, bucket: slot * res, n: 1, sum: v, min: v, max: v, sumsq: v * v })
    }
  }
}

function seriesKey(name: string, unit: string | null, type: TechnicalType): string {
  return `${name}\u0000${unit ?? ''}\u0000${type}`
}

export function valueOf(r: SenmlRecord): [TechnicalType, number | string | null] {
  if (r.v !== undefined) return ['number', r.v]
  if (r.vs !== undefined) return ['string', r.vs]
  if (r.vb !== undefined) return ['boolean', r.vb ? 1 : 0]
  if (r.vd !== undefined) return ['bytes', r.vd]
  return ['number', null] // a record carrying only a sum
}

export function toRecord(series: Series, t: number, val: number | string | null, s: number | null): SenmlRecord {
  const r: SenmlRecord = { n: series.name, t }
  if (series.unit !== null) r.u = series.unit
  if (val !== null) {
    if (series.type === 'number') r.v = val as number
    else if (series.type === 'string') r.vs = val as string
    else if (series.type === 'boolean') r.vb = val === 1
    else r.vd = val as string
  }
  if (s !== null) r.s = s
  return r
}
