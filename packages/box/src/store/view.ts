/**
 * A source's SQLite view: raw points, 5-minute and hourly rollups kept on ingest (the way
 * Home Assistant keeps long-term statistics), the latest value per series, and the
 * key-value items. It is a cache of the log: `applied` says how many log blocks it holds,
 * and it commits that number in the same transaction as the rows.
 */
import Database from 'better-sqlite3'
import type { SenmlRecord } from '../senml/index.ts'

export type TechnicalType = 'number' | 'string' | 'boolean' | 'bytes'

/** One series: a record name with one unit and one value type. Points refer to it by id. */
export interface Series {
  id: number
  name: string
  unit: string | null
  type: TechnicalType
}

export const ROLLUP_RESOLUTIONS = [3600, 300] as const

const SCHEMA = `
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS series (id INTEGER PRIMARY KEY, name TEXT NOT NULL, unit TEXT, type TEXT NOT NULL, UNIQUE (name, unit, type));
CREATE TABLE IF NOT EXISTS points (t REAL NOT NULL, series INTEGER NOT NULL, val, s REAL);
CREATE INDEX IF NOT EXISTS points_t ON points (t);
CREATE TABLE IF NOT EXISTS blocks (block INTEGER PRIMARY KEY, first INTEGER NOT NULL, last INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS blocks_first ON blocks (first);
CREATE TABLE IF NOT EXISTS rollups (res INTEGER NOT NULL, series INTEGER NOT NULL, bucket INTEGER NOT NULL,
  n INTEGER NOT NULL, sum REAL NOT NULL, min REAL NOT NULL, max REAL NOT NULL, sumsq REAL NOT NULL,
  PRIMARY KEY (res, series, bucket)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS latest (series INTEGER PRIMARY KEY, t REAL NOT NULL, val, s REAL);
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL, t REAL NOT NULL) WITHOUT ROWID;
`

export interface PointRow { t: number; series: number; val: number | string | null; s: number | null }

export class View {
  readonly db: Database.Database
  readonly series = new Map<string, Series>()
  readonly seriesById = new Map<number, Series>()
  readonly #insertPoint: Database.Statement
  readonly #insertSeries: Database.Statement
  readonly #upsertRollup: Database.Statement
  readonly #upsertLatest: Database.Statement
  readonly #setState: Database.Statement
  readonly #insertBlock: Database.Statement

  constructor(file: string) {
    this.db = new Database(file)
    // The view is rebuilt from the log after any crash, so it trades durability for speed.
    this.db.pragma('journal_mode = WAL')
    this.db.pragma('synchronous = OFF')
    this.db.exec(SCHEMA)
    this.#insertPoint = this.db.prepare('INSERT INTO points (t, series, val, s) VALUES (?, ?, ?, ?)')
    this.#insertSeries = this.db.prepare('INSERT INTO series (name, unit, type) VALUES (?, ?, ?)')
    this.#upsertRollup = this.db.prepare(`INSERT INTO rollups (res, series, bucket, n, sum, min, max, sumsq) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT DO UPDATE SET n = n + excluded.n, sum = sum + excluded.sum, min = min(min, excluded.min),
      max = max(max, excluded.max), sumsq = sumsq + excluded.sumsq`)
    this.#upsertLatest = this.db.prepare(`INSERT INTO latest (series, t, val, s) VALUES (?, ?, ?, ?)
      ON CONFLICT DO UPDATE SET t = excluded.t, val = excluded.val, s = excluded.s WHERE excluded.t >= latest.t`)
    this.#setState = this.db.prepare('INSERT OR REPLACE INTO state (key, value) VALUES (?, ?)')
    this.#insertBlock = this.db.prepare('INSERT OR REPLACE INTO blocks (block, first, last) VALUES (?, ?, ?)')
    for (const s of this.db.prepare('SELECT id, name, unit, type FROM series').all() as Series[]) this.#remember(s)
  }

  close(): void {
    this.db.close()
  }

  get applied(): number {
    const row = this.db.prepare("SELECT value FROM state WHERE key = 'applied'").get() as { value: number } | undefined
    return row?.value ?? 0
  }

  setApplied(length: number): void {
    this.#setState.run('applied', length)
  }

  #remember(s: Series): void {
    this.series.set(seriesKey(s.name, s.unit, s.type), s)
    this.seriesById.set(s.id, s)
  }

  seriesFor(name: string, unit: string | null, type: TechnicalType): Series {
    const key = seriesKey(name, unit, type)
    let s = this.series.get(key)
    if (!s) {
      const id = Number(this.#insertSeries.run(name, unit, type).lastInsertRowid)
      s = { id, name, unit, type }
      this.#remember(s)
    }
    return s
  }

  /** Inserts one log block's records, keeping rollups and latest values in step. Call inside a transaction. */
  insertRecords(block: number, records: SenmlRecord[]): void {
    const rollups = new Map<string, Rollup>()
    const latest = new Map<number, PointRow>()
    let first = 0
    let last = 0
    for (let i = 0; i < records.length; i++) {
      const r = records[i]!
      const [type, val] = valueOf(r)
      const series = this.seriesFor(r.n, r.u ?? null, type)
      const rowid = Number(this.#insertPoint.run(r.t, series.id, val, r.s ?? null).lastInsertRowid)
      if (i === 0) first = rowid
      last = rowid
      const prev = latest.get(series.id)
      if (!prev || r.t >= prev.t) latest.set(series.id, { t: r.t, series: series.id, val, s: r.s ?? null })
      if (type === 'number' && val !== null) addToRollups(rollups, series.id, r.t, val as number)
    }
    for (const a of rollups.values()) this.#upsertRollup.run(a.res, a.series, a.bucket, a.n, a.sum, a.min, a.max, a.sumsq)
    for (const p of latest.values()) this.#upsertLatest.run(p.series, p.t, p.val, p.s)
    if (records.length > 0) this.#insertBlock.run(block, first, last)
  }

  /** Log blocks holding any point in [from, to). */
  blocksInRange(from: number, to: number): number[] {
    const rows = this.db.prepare(`SELECT DISTINCT (SELECT block FROM blocks WHERE first <= p.rowid ORDER BY first DESC LIMIT 1) AS block
      FROM points p WHERE p.t >= ? AND p.t < ?`).all(from, to) as { block: number }[]
    return rows.map((r) => r.block).sort((a, b) => a - b)
  }

  /** The points of these blocks that fall outside [from, to), in log order. */
  survivors(blocks: number[], from: number, to: number): SenmlRecord[] {
    const out: SenmlRecord[] = []
    const stmt = this.db.prepare('SELECT p.t, p.series, p.val, p.s FROM blocks b JOIN points p ON p.rowid BETWEEN b.first AND b.last WHERE b.block = ? AND NOT (p.t >= ? AND p.t < ?) ORDER BY p.rowid')
    for (const block of blocks) {
      for (const row of stmt.iterate(block, from, to) as Iterable<PointRow>) out.push(toRecord(this.seriesById.get(row.series)!, row.t, row.val, row.s))
    }
    return out
  }

  /** Removes whole blocks' points, then recomputes the rollups and latest values they touched. Call inside a transaction. */
  dropBlocks(blocks: number[]): void {
    const range = this.db.prepare('SELECT first, last FROM blocks WHERE block = ?')
    const touched = this.db.prepare('SELECT series, min(t) AS lo, max(t) AS hi FROM points WHERE rowid BETWEEN ? AND ? GROUP BY series')
    const spans = new Map<number, { lo: number; hi: number }>()
    for (const block of blocks) {
      const r = range.get(block) as { first: number; last: number } | undefined
      if (!r) continue
      for (const t of touched.all(r.first, r.last) as { series: number; lo: number; hi: number }[]) {
        const span = spans.get(t.series)
        spans.set(t.series, span ? { lo: Math.min(span.lo, t.lo), hi: Math.max(span.hi, t.hi) } : { lo: t.lo, hi: t.hi })
      }
      this.db.prepare('DELETE FROM points WHERE rowid BETWEEN ? AND ?').run(r.first, r.last)
      this.db.prepare('DELETE FROM blocks WHERE block = ?').run(block)
    }
    const coarsest = ROLLUP_RESOLUTIONS[0]
    for (const [series, span] of spans) {
      const lo = Math.floor(span.lo / coarsest) * coarsest
      const hi = (Math.floor(span.hi / coarsest) + 1) * coarsest
      this.db.prepare('DELETE FROM rollups WHERE series = ? AND bucket >= ? AND bucket < ?').run(series, lo, hi)
      for (const res of ROLLUP_RESOLUTIONS) {
        this.db.prepare(`INSERT INTO rollups (res, series, bucket, n, sum, min, max, sumsq)
          SELECT ?, series, CAST(t / ? AS INTEGER) * ?, count(val), sum(val), min(val), max(val), sum(val * val)
          FROM points WHERE series = ? AND t >= ? AND t < ? AND val IS NOT NULL GROUP BY 3`).run(res, res, res, series, lo, hi)
      }
      this.db.prepare('DELETE FROM latest WHERE series = ?').run(series)
      this.db.prepare('INSERT INTO latest (series, t, val, s) SELECT series, t, val, s FROM points WHERE series = ? ORDER BY t DESC LIMIT 1').run(series)
    }
  }

  seriesNamed(names: string[] | undefined): Series[] {
    const all = [...this.seriesById.values()]
    return names === undefined ? all : all.filter((s) => names.includes(s.name))
  }

  /** The newest point of each series, optionally only among points in [from, to). */
  latest(series: Series[], window?: { from: number; to: number }): SenmlRecord[] {
    const out: SenmlRecord[] = []
    const stmt = window
      ? this.db.prepare('SELECT t, val, s FROM points WHERE series = ? AND t >= ? AND t < ? ORDER BY t DESC LIMIT 1')
      : this.db.prepare('SELECT t, val, s FROM latest WHERE series = ?')
    for (const s of series) {
      const row = (window ? stmt.get(s.id, window.from, window.to) : stmt.get(s.id)) as PointRow | undefined
      if (row) out.push(toRecord(s, row.t, row.val, row.s))
    }
    return out.sort((a, b) => a.t - b.t)
  }

  records(q: { from: number; to: number; limit: number; order: 'asc' | 'desc'; series?: Series[] }): SenmlRecord[] {
    const filter = q.series ? `AND series IN (${q.series.map(() => '?').join(',')})` : ''
    const dir = q.order === 'desc' ? 'DESC' : 'ASC'
    const stmt = this.db.prepare(`SELECT t, series, val, s FROM points WHERE t >= ? AND t < ? ${filter} ORDER BY t ${dir}, rowid ${dir} LIMIT ?`)
    const params = [q.from, q.to, ...(q.series ?? []).map((s) => s.id), q.limit]
    return (stmt.all(...params) as PointRow[]).map((row) => toRecord(this.seriesById.get(row.series)!, row.t, row.val, row.s))
  }

  /**
   * Per-bucket statistics of numeric points in [bounds[0], bounds[last]). Reads the coarsest
   * rollup whose grid every boundary sits on; otherwise, or for a median, the raw points.
   */
  aggregate(series: Series[], bounds: number[], fn: AggregateFn): { start: number; end: number; count: number; value: number | null }[] {
    const ids = series.map((s) => s.id)
    const inIds = ids.map(() => '?').join(',')
    const res = fn === 'median' ? undefined : ROLLUP_RESOLUTIONS.find((r) => bounds.every((b) => b % r === 0))
    this.db.exec('CREATE TEMP TABLE IF NOT EXISTS bounds (i INTEGER PRIMARY KEY, lo REAL NOT NULL, hi REAL NOT NULL)')
    this.db.exec('DELETE FROM temp.bounds')
    const insert = this.db.prepare('INSERT INTO temp.bounds (i, lo, hi) VALUES (?, ?, ?)')
    this.db.transaction(() => {
      for (let i = 0; i + 1 < bounds.length; i++) insert.run(i, bounds[i], bounds[i + 1])
    })()
    const rows = (res !== undefined
      ? this.db.prepare(`SELECT b.i, sum(r.n) AS n, sum(r.sum) AS sum, min(r.min) AS min, max(r.max) AS max, sum(r.sumsq) AS sumsq
          FROM temp.bounds b JOIN rollups r ON r.res = ? AND r.series IN (${inIds}) AND r.bucket >= b.lo AND r.bucket < b.hi GROUP BY b.i`).all(res, ...ids)
      : this.db.prepare(`SELECT b.i, count(p.val) AS n, sum(p.val) AS sum, min(p.val) AS min, max(p.val) AS max, sum(p.val * p.val) AS sumsq
          FROM temp.bounds b JOIN points p ON p.t >= b.lo AND p.t < b.hi WHERE p.series IN (${inIds}) AND p.val IS NOT NULL GROUP BY b.i`).all(...ids)
    ) as { i: number; n: number; sum: number; min: number; max: number; sumsq: number }[]
    const stats = new Map(rows.map((r) => [r.i, r]))
    const out = []
    for (let i = 0; i + 1 < bounds.length; i++) {
      const st = stats.get(i)
      const count = st?.n ?? 0
      let value: number | null = null
      if (st && count > 0) {
        if (fn === 'count') value = count
        else if (fn === 'sum') value = st.sum
        else if (fn === 'min') value = st.min
        else if (fn === 'max') value = st.max
        else if (fn === 'mean') value = st.sum / count
        else if (fn === 'sd') value = count > 1 ? Math.sqrt(Math.max(0, (st.sumsq - (st.sum * st.sum) / count) / (count - 1))) : null
        else value = this.#median(ids, inIds, bounds[i]!, bounds[i + 1]!, count)
      } else if (fn === 'count') {
        value = 0
      }
      out.push({ start: bounds[i]!, end: bounds[i + 1]!, count, value })
    }
    return out
  }

  #median(ids: number[], inIds: string, lo: number, hi: number, count: number): number {
    const stmt = this.db.prepare(`SELECT val FROM points WHERE t >= ? AND t < ? AND series IN (${inIds}) AND val IS NOT NULL ORDER BY val LIMIT ? OFFSET ?`)
    const values = (stmt.all(lo, hi, ...ids, 2 - (count % 2), Math.floor((count - 1) / 2)) as { val: number }[]).map((r) => r.val)
    return values.length === 2 ? (values[0]! + values[1]!) / 2 : values[0]!
  }

  kvGet(key: string): { value: unknown; t: number } | undefined {
    const row = this.db.prepare('SELECT value, t FROM kv WHERE key = ?').get(key) as { value: string; t: number } | undefined
    return row && { value: JSON.parse(row.value), t: row.t }
  }

  kvKeys(prefix: string, limit: number): string[] {
    return (this.db.prepare("SELECT key FROM kv WHERE key >= ? AND key < ? || char(1114111) ORDER BY key LIMIT ?").all(prefix, prefix, limit) as { key: string }[]).map((r) => r.key)
  }

  kvPut(key: string, value: unknown, t: number): void {
    this.db.prepare('INSERT OR REPLACE INTO kv (key, value, t) VALUES (?, ?, ?)').run(key, JSON.stringify(value), t)
  }

  kvDelete(key: string): void {
    this.db.prepare('DELETE FROM kv WHERE key = ?').run(key)
  }

  counts(): { points: number; keys: number; bytes: number } {
    const points = (this.db.prepare('SELECT count(*) AS n FROM points').get() as { n: number }).n
    const keys = (this.db.prepare('SELECT count(*) AS n FROM kv').get() as { n: number }).n
    const pages = this.db.pragma('page_count', { simple: true }) as number
    const size = this.db.pragma('page_size', { simple: true }) as number
    return { points, keys, bytes: pages * size }
  }

  timeSpan(): { first: number | null; last: number | null } {
    return this.db.prepare('SELECT min(t) AS first, max(t) AS last FROM points').get() as { first: number | null; last: number | null }
  }
}

export type AggregateFn = 'count' | 'sum' | 'min' | 'max' | 'mean' | 'median' | 'sd'
export const AGGREGATE_FNS: AggregateFn[] = ['count', 'sum', 'min', 'max', 'mean', 'median', 'sd']

interface Rollup { res: number; series: number; bucket: number; n: number; sum: number; min: number; max: number; sumsq: number }

function addToRollups(rollups: Map<string, Rollup>, series: number, t: number, v: number): void {
  for (const res of ROLLUP_RESOLUTIONS) {
    const bucket = Math.floor(t / res) * res
    const key = `${res}:${series}:${bucket}`
    const a = rollups.get(key)
    if (a) {
      a.n++
      a.sum += v
      a.sumsq += v * v
      if (v < a.min) a.min = v
      if (v > a.max) a.max = v
    } else {
      rollups.set(key, { res, series, bucket, n: 1, sum: v, min: v, max: v, sumsq: v * v })
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
