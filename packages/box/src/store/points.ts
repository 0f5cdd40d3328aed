/**
 * Raw points, and the time span of each log block's points (the blocks table), so a block's
 * points can be found again to drop it.
 *
 * Points are clustered by time: the row id is the time in hundredths of a second times 2^13
 * plus a sequence number, so time ranges are primary-key ranges and ingest maintains one
 * b-tree, not a table and an index. Ids stay below 2^53, exact in JavaScript, for times up to
 * MAX_TIME. The sequence number derives from the block and position, so a view rebuilt from
 * the log gets the very same ids.
 */
import type Database from 'better-sqlite3'
import type { SenmlRecord } from '../senml/index.ts'
import { InvalidInput } from '../errors/index.ts'
import { CHUNK_ROWS, MultiRow } from './multirow.ts'
import { toRecord, type Series, type SeriesRegistry } from './series.ts'

export const SEQ_SPACE = 2 ** 13
/** The latest time a point may carry, in epoch seconds (the year 2286). */
export const MAX_TIME = 1e10

/** The smallest point id at or after time t (seconds). */
export function keyOf(t: number): number {
  return Math.floor(Math.min(t, MAX_TIME) * 100) * SEQ_SPACE
}

export interface PointRow { t: number; series: number; val: number | string | null; s: number | null; ut: number | null }

/** What writing points takes, prepared once per view and shared by every batch. */
interface PointWrites {
  points: MultiRow
  blocks: MultiRow
  insertPoint: Database.Statement
  topId: Database.Statement
}

export class Points {
  readonly #db: Database.Database
  readonly #series: SeriesRegistry
  readonly #writes: PointWrites
  readonly #blockSpan: Database.Statement
  readonly #pointAt: Database.Statement

  constructor(db: Database.Database, series: SeriesRegistry) {
    this.#db = db
    this.#series = series
    this.#writes = {
      points: new MultiRow(db, 7, (rows) => `INSERT INTO points (id, t, series, val, s, ut, block) VALUES ${rows}`),
      blocks: new MultiRow(db, 3, (rows) => `INSERT OR REPLACE INTO blocks (block, tmin, tmax) VALUES ${rows}`),
      insertPoint: db.prepare('INSERT OR IGNORE INTO points (id, t, series, val, s, ut, block) VALUES (?, ?, ?, ?, ?, ?, ?)'),
      topId: db.prepare('SELECT max(id) AS top FROM points WHERE id >= ? AND id < ?'),
    }
    this.#blockSpan = db.prepare('SELECT tmin, tmax FROM blocks WHERE block = ?')
    this.#pointAt = db.prepare('SELECT 1 FROM points WHERE id >= ? AND id < ? AND t = ? AND series = ? LIMIT 1')
  }

  /** Starts writing consecutive log blocks' points. Call inside a transaction, and finish the batch in it. */
  batch(): PointBatch {
    return new PointBatch(this.#writes)
  }

  /** Log blocks holding any point in [from, to). */
  blocksInRange(from: number, to: number): number[] {
    const rows = this.#db.prepare('SELECT DISTINCT block FROM points WHERE id >= ? AND id < ? AND t >= ? AND t < ? ORDER BY block')
      .all(keyOf(from), keyOf(to) + SEQ_SPACE, from, to) as { block: number }[]
    return rows.map((r) => r.block)
  }

  /** The points of these blocks that fall outside [from, to), by block (in the order given, those holding any), each block's in time order. */
  survivors(blocks: number[], from: number, to: number): Map<number, SenmlRecord[]> {
    const out = new Map<number, SenmlRecord[]>()
    for (const row of this.#blockPoints(blocks, 'p.t, p.series, p.val, p.s, p.ut, p.block', 'AND NOT (p.t >= ? AND p.t < ?)', [from, to]) as (PointRow & { block: number })[]) {
      let records = out.get(row.block)
      if (!records) out.set(row.block, (records = []))
      records.push(toRecord(this.#series.byId.get(row.series)!, row.t, row.val, row.s, row.ut))
    }
    for (const records of out.values()) records.sort((a, b) => a.t - b.t)
    return out
  }

  /** The series these blocks' points belong to, each with the time span those points cover. */
  seriesSpans(blocks: number[]): Map<number, { lo: number; hi: number }> {
    const spans = new Map<number, { lo: number; hi: number }>()
    for (const t of this.#blockPoints(blocks, 'p.series, min(p.t) AS lo, max(p.t) AS hi', 'GROUP BY p.series') as { series: number; lo: number; hi: number }[]) {
      const span = spans.get(t.series)
      spans.set(t.series, span ? { lo: Math.min(span.lo, t.lo), hi: Math.max(span.hi, t.hi) } : { lo: t.lo, hi: t.hi })
    }
    return spans
  }

  #blockPoints(blocks: number[], columns: string, filter = '', params: number[] = []): unknown[] {
    const select = this.#db.prepare(`SELECT ${columns} FROM points p WHERE p.id >= ? AND p.id < ? AND p.block = ? ${filter}`)
    const rows: unknown[] = []
    for (const block of blocks) {
      const b = this.#blockSpan.get(block) as { tmin: number; tmax: number } | undefined
      if (b) rows.push(...select.all(keyOf(b.tmin), keyOf(b.tmax) + SEQ_SPACE, block, ...params))
    }
    return rows
  }

  /** Removes whole blocks' points; returns how many went. Call inside a transaction. */
  drop(blocks: number[]): number {
    const deletePoints = this.#db.prepare('DELETE FROM points WHERE id >= ? AND id < ? AND block = ?')
    const deleteBlock = this.#db.prepare('DELETE FROM blocks WHERE block = ?')
    let removed = 0
    for (const block of blocks) {
      const b = this.#blockSpan.get(block) as { tmin: number; tmax: number } | undefined
      if (!b) continue
      removed += deletePoints.run(keyOf(b.tmin), keyOf(b.tmax) + SEQ_SPACE, block).changes
      deleteBlock.run(block)
    }
    return removed
  }

  /** Whether a series has a point at exactly time t. */
  hasAt(series: number, t: number): boolean {
    const key = keyOf(t)
    return this.#pointAt.get(key, key + SEQ_SPACE, t, series) !== undefined
  }

  records(q: { from: number; to: number; limit: number; order: 'asc' | 'desc'; series?: Series[] }): SenmlRecord[] {
    const filter = q.series ? `AND series IN (${q.series.map(() => '?').join(',')})` : ''
    const dir = q.order === 'desc' ? 'DESC' : 'ASC'
    const stmt = this.#db.prepare(`SELECT t, series, val, s, ut FROM points WHERE id >= ? AND id < ? AND t >= ? AND t < ? ${filter} ORDER BY id ${dir} LIMIT ?`)
    const params = [keyOf(q.from), keyOf(q.to) + SEQ_SPACE, q.from, q.to, ...(q.series ?? []).map((s) => s.id), q.limit]
    return (stmt.all(...params) as PointRow[]).map((row) => toRecord(this.#series.byId.get(row.series)!, row.t, row.val, row.s, row.ut))
  }

  timeSpan(): { first: number | null; last: number | null } {
    const first = this.#db.prepare('SELECT t FROM points ORDER BY id LIMIT 1').get() as { t: number } | undefined
    const last = this.#db.prepare('SELECT t FROM points ORDER BY id DESC LIMIT 1').get() as { t: number } | undefined
    return { first: first?.t ?? null, last: last?.t ?? null }
  }
}

/**
 * One group of blocks' points on their way in: rows go to SQLite a chunk at a time as they
 * come, each block's time span when the group is done.
 */
class PointBatch {
  readonly #writes: PointWrites
  readonly #values: (number | string | null)[] = []
  readonly #spans: number[] = []
  #tmin = Infinity
  #tmax = -Infinity

  constructor(writes: PointWrites) {
    this.#writes = writes
  }

  /** Adds the point at `position` in log block `block`. */
  add(block: number, position: number, t: number, series: number, val: number | string | null, s: number | null, ut: number | null): void {
    const values = this.#values
    values.push(keyOf(t) + ((block * 1000 + position) % SEQ_SPACE), t, series, val, s, ut, block)
    if (values.length === CHUNK_ROWS * 7) this.#insertChunk(values.splice(0))
    if (t < this.#tmin) this.#tmin = t
    if (t > this.#tmax) this.#tmax = t
  }

  /** Closes the block whose points were added since the last one. */
  endBlock(block: number): void {
    this.#spans.push(block, this.#tmin, this.#tmax)
    this.#tmin = Infinity
    this.#tmax = -Infinity
  }

  /** Writes the last points and every block's time span. */
  finish(): void {
    this.#insertChunk(this.#values)
    this.#writes.blocks.run(this.#spans)
  }

  /**
   * Inserts rows (seven values each) with one multi-row statement. A statement that hits an id
   * already taken is undone whole by SQLite, and its rows then go in one by one.
   */
  #insertChunk(values: (number | string | null)[]): void {
    const rows = values.length / 7
    if (rows === 0) return
    try {
      this.#writes.points.statement(rows).run(values)
    } catch (err) {
      if ((err as { code?: string }).code !== 'SQLITE_CONSTRAINT_PRIMARYKEY') throw err
      for (let i = 0; i < values.length; i += 7) this.#insertPoint(...(values.slice(i, i + 7) as [number, number, number, number | string | null, number | null, number | null, number]))
    }
  }

  #insertPoint(id: number, t: number, series: number, val: number | string | null, s: number | null, ut: number | null, block: number): void {
    const insert = this.#writes.insertPoint
    if (insert.run(id, t, series, val, s, ut, block).changes === 1) return
    // Another point in the same hundredth of a second holds this id: take the next one above
    // the highest there, or failing that any free one.
    const base = id - (id % SEQ_SPACE)
    const { top } = this.#writes.topId.get(base, base + SEQ_SPACE) as { top: number }
    if (top + 1 < base + SEQ_SPACE && insert.run(top + 1, t, series, val, s, ut, block).changes === 1) return
    for (let at = base; at < base + SEQ_SPACE; at++) if (insert.run(at, t, series, val, s, ut, block).changes === 1) return
    throw new InvalidInput(`More than ${SEQ_SPACE} points fall in the same hundredth of a second at t=${t}.`)
  }
}
