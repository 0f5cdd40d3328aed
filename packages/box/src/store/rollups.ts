/**
 * Hourly and 5-minute rollups of numeric points (count, sum, min, max, sum of squares and a
 * quantile sketch per series and bucket), kept on ingest the way Home Assistant keeps long-term
 * statistics, so an aggregate over a year reads a row per hour instead of every point. Reading
 * them is the aggregate's business; this module keeps them in step with the points.
 *
 * Only cells worth it are rolled up. A cell (one hour, or five minutes) is rolled once it holds
 * ROLLUP_MIN_POINTS points, of every series and type together: it is then marked in the `rolled`
 * table and has a rollup row for every numeric series with a value in it, exact over all its
 * points. A cell not marked has no rollup rows at all, and fewer points than that, so an
 * aggregate reads its raw points for about what its rows would cost. A sparse series (a reading
 * an hour, say) so pays for no rows, which would outweigh its points, and a dense one for a row
 * per cell, as before. A cell stays rolled when deletions take its points away.
 *
 * `rolled` has a row per hour with any rolled cell, whose `cells` hold a bit per cell of every
 * resolution in that hour (rolledBit).
 */
import type Database from 'better-sqlite3'
import { CHUNK_ROWS, MultiRow } from './multirow.ts'
import { keyOf, SEQ_SPACE } from './points.ts'
import { registerSketchFunctions, sketchOfValues } from './sketch.ts'

/** Coarsest first: an aggregate reads the coarsest cells a bucket covers whole, then finer ones at its edges. */
export const ROLLUP_RESOLUTIONS = [3600, 300] as const

/**
 * A cell is rolled up once it holds this many points. Below, its raw points are read instead of
 * its rows: a handful of rows of a primary-key range against one, and no rows kept on disk.
 */
export const ROLLUP_MIN_POINTS = 8

const COARSEST = ROLLUP_RESOLUTIONS[0]
/** Where each resolution's bits start in an hour's `cells`: the hour's own bit, then the twelve 5-minute cells'. */
const BIT_OFFSETS = ROLLUP_RESOLUTIONS.map((_, r) => ROLLUP_RESOLUTIONS.slice(0, r).reduce((n, res) => n + COARSEST / res, 0))

/** The row of `rolled` (an hour's slot) and the bit in its `cells` that mark the cell of the `res` grid starting at `bucket`. */
export function rolledBit(res: number, bucket: number): { slot: number; bit: number } {
  const slot = Math.floor(bucket / COARSEST)
  return { slot, bit: BIT_OFFSETS[(ROLLUP_RESOLUTIONS as readonly number[]).indexOf(res)]! + (bucket - slot * COARSEST) / res }
}

/** The cells of the `res` grid that an hour's `cells` mark, by their start. */
export function rolledBuckets(res: number, slot: number, cells: number): number[] {
  const offset = BIT_OFFSETS[(ROLLUP_RESOLUTIONS as readonly number[]).indexOf(res)]!
  const out: number[] = []
  for (let i = 0; i < COARSEST / res; i++) if (cells & (1 << (offset + i))) out.push(slot * COARSEST + i * res)
  return out
}

export interface Stats { n: number; sum: number; min: number; max: number; sumsq: number }
/** One block's contribution to a rollup row; its values become the row's sketch. */
interface Rollup extends Stats { res: number; series: number; bucket: number; values: number[] }

/** One block's points in one cell: how many (of any series and type), and its numeric values by series. */
interface CellPart { count: number; series: Map<number, Rollup> }

/** The blocks of a batch that touch one cell, in block order. */
interface CellParts { slot: number; parts: CellPart[]; last: number }

/** What keeping rollups takes, prepared once per view and shared by every batch. */
interface RollupWrites {
  upsert: MultiRow
  mark: MultiRow
  rolled: Database.Statement
  rolledIn: Database.Statement
  /** The statement reading points in `ranges` id ranges before a block, by number of ranges. */
  before: (ranges: number) => Database.Statement
  newest: Database.Statement
  isNumeric: (series: number) => boolean
}

/** Cells and ranges per statement when a batch looks up the cells it touches. */
const LOOKUPS = 64

export class Rollups {
  readonly #db: Database.Database
  readonly #writes: RollupWrites

  /** `isNumeric`: whether a series holds numbers (only those are rolled up). */
  constructor(db: Database.Database, isNumeric: (series: number) => boolean) {
    this.#db = db
    registerSketchFunctions(db)
    const before = new Map<number, Database.Statement>()
    this.#writes = {
      // Every expression on the right of SET reads the row as it was, so the sketch merge sees the old n, min and max.
      upsert: new MultiRow(db, 9, (rows) => `INSERT INTO rollups (res, series, bucket, n, sum, min, max, sumsq, sketch) VALUES ${rows}
        ON CONFLICT DO UPDATE SET n = n + excluded.n, sum = sum + excluded.sum, min = min(min, excluded.min),
        max = max(max, excluded.max), sumsq = sumsq + excluded.sumsq,
        sketch = coffer_sketch_merge(n, min, max, sketch, excluded.n, excluded.min, excluded.max, excluded.sketch)`),
      mark: new MultiRow(db, 2, (rows) => `INSERT INTO rolled (slot, cells) VALUES ${rows} ON CONFLICT DO UPDATE SET cells = cells | excluded.cells`),
      rolled: db.prepare(`SELECT slot, cells FROM rolled WHERE slot IN (${Array(LOOKUPS).fill('?').join(', ')})`).raw(),
      rolledIn: db.prepare('SELECT slot, cells FROM rolled WHERE slot >= ? AND slot <= ?').raw(),
      before: (ranges) => {
        let stmt = before.get(ranges)
        if (!stmt) before.set(ranges, (stmt = db.prepare(`SELECT t, series, val FROM points WHERE (${Array(ranges).fill('(id >= ? AND id < ?)').join(' OR ')}) AND block < ?`).raw()))
        return stmt
      },
      // The time of the newest point of all: the latest table holds each series' newest point.
      newest: db.prepare('SELECT max(t) FROM latest').pluck(),
      isNumeric,
    }
  }

  /** Starts adding consecutive log blocks' points. Call inside a transaction, and finish the batch after the points are written. */
  batch(): RollupBatch {
    return new RollupBatch(this.#writes)
  }

  /**
   * Recomputes from the points the rollup rows of these series over these spans, widened to whole
   * coarsest buckets, after points were dropped. Cells stay rolled or not as they were. Call
   * inside a transaction.
   */
  rebuild(spans: Map<number, { lo: number; hi: number }>): void {
    const clearRollups = this.#db.prepare(`DELETE FROM rollups WHERE res IN (${ROLLUP_RESOLUTIONS.join(', ')}) AND series = ? AND bucket >= ? AND bucket < ?`)
    const rebuildRollups = this.#db.prepare(`INSERT INTO rollups (res, series, bucket, n, sum, min, max, sumsq, sketch)
      SELECT * FROM (SELECT @res AS res, series, CAST(CAST(t / @res AS INTEGER) * @res AS INTEGER) AS bucket, count(val), sum(val), min(val), max(val), sum(val * val), coffer_sketch(val)
        FROM points WHERE id >= @lo AND id < @hi AND series = @series AND val IS NOT NULL GROUP BY 3)
      -- Only in rolled cells. Bound numbers are real, so the arithmetic that finds a cell's bit casts them to integers.
      WHERE ((SELECT cells FROM rolled WHERE slot = bucket / ${COARSEST}) >> CAST(@offset + (bucket % ${COARSEST}) / CAST(@res AS INTEGER) AS INTEGER)) & 1`)
    for (const [series, span] of spans) {
      if (!this.#writes.isNumeric(series)) continue
      const lo = Math.floor(span.lo / COARSEST) * COARSEST
      const hi = (Math.floor(span.hi / COARSEST) + 1) * COARSEST
      clearRollups.run(series, lo, hi)
      ROLLUP_RESOLUTIONS.forEach((res, r) => rebuildRollups.run({ res, lo: keyOf(lo), hi: keyOf(hi), series, offset: BIT_OFFSETS[r] }))
    }
  }
}

function newRollup(res: number, series: number, slot: number): Rollup {
  // The sums start out as doubles, so that V8 need not lay the fields out anew at the first fraction (stats.ts, emptyStats).
  const a = { res, series, bucket: slot * res, n: 0, sum: 0.5, min: Infinity, max: -Infinity, sumsq: 0.5, values: [] }
  a.sum = 0
  a.sumsq = 0
  return a
}

/**
 * One group of blocks' rollup contributions. A rollup row one block adds to is written once per
 * block that touches it, in block order (round r holds each row's r-th contribution), so its
 * floating-point sums come out exactly as a replay of one block at a time computes them.
 *
 * A cell not yet rolled is rolled by the block that brings it to ROLLUP_MIN_POINTS: its rows then
 * start from every value in it up to that block, summed exactly, so whichever blocks came before
 * in the same group or in earlier ones, the rows are the same.
 */
class RollupBatch {
  readonly #writes: RollupWrites
  /** Per resolution, the cells this group's points fall in, by slot. */
  readonly #cells = ROLLUP_RESOLUTIONS.map(() => new Map<number, CellParts>())
  readonly #recent: (CellParts | undefined)[] = ROLLUP_RESOLUTIONS.map(() => undefined)
  /** The ordinal of the current block in this group, and the log index of the group's first. */
  #ordinal = 0
  #first: number | undefined

  constructor(writes: RollupWrites) {
    this.#writes = writes
  }

  /** A point of the current block; `v` is its value if it is a number of a numeric series. */
  add(series: number, t: number, v: number | undefined): void {
    for (let r = 0; r < ROLLUP_RESOLUTIONS.length; r++) {
      const res = ROLLUP_RESOLUTIONS[r]!
      const slot = Math.floor(t / res)
      // Consecutive points nearly always share a cell.
      let cell = this.#recent[r]
      if (cell?.slot !== slot) {
        const cells = this.#cells[r]!
        cell = cells.get(slot)
        if (!cell) cells.set(slot, (cell = { slot, parts: [], last: -1 }))
        this.#recent[r] = cell
      }
      if (cell.last !== this.#ordinal) {
        cell.parts.push({ count: 0, series: new Map() })
        cell.last = this.#ordinal
      }
      const part = cell.parts[cell.parts.length - 1]!
      part.count++
      if (v === undefined) continue
      let a = part.series.get(series)
      if (!a) part.series.set(series, (a = newRollup(res, series, slot)))
      a.values.push(v)
      a.n++
      a.sum += v
      a.sumsq += v * v
      if (v < a.min) a.min = v
      if (v > a.max) a.max = v
    }
  }

  /** Closes the block whose points were added since the last one. */
  endBlock(block: number): void {
    this.#first ??= block
    this.#ordinal++
  }

  /** Writes every round, in order, and the cells newly rolled. Call once the group's points are in the points table. */
  finish(): void {
    if (this.#first === undefined) return
    const rounds: Rollup[][] = []
    const marks = new Map<number, number>()
    const rolled = this.#rolled()
    // Points before this group are no newer than this (a second's margin covers rounding): cells after it held none.
    const newest = ((this.#writes.newest.get() as number | null) ?? -Infinity) + 1
    ROLLUP_RESOLUTIONS.forEach((res, r) => {
      // Series ids stay far below 2^20, so this numeric key is unique per (series, cell).
      const depth = new Map<number, number>()
      const push = (a: Rollup) => {
        const key = (a.bucket / res) * 2 ** 20 + a.series
        const d = depth.get(key) ?? 0
        depth.set(key, d + 1)
        ;(rounds[d] ??= []).push(a)
      }
      const cells: { cell: CellParts; slot: number; bit: number; rolled: boolean }[] = []
      for (const cell of this.#cells[r]!.values()) {
        const { slot, bit } = rolledBit(res, cell.slot * res)
        cells.push({ cell, slot, bit, rolled: (((rolled.get(slot) ?? 0) >> bit) & 1) === 1 })
      }
      const earlier = this.#earlier(res, cells.filter((c) => !c.rolled && c.cell.slot * res <= newest).map((c) => c.cell.slot))
      for (const { cell, slot, bit, rolled } of cells) {
        let from = 0
        if (!rolled) {
          const before = earlier.get(cell.slot)
          let count = before?.count ?? 0
          while (from < cell.parts.length && count < ROLLUP_MIN_POINTS) count += cell.parts[from++]!.count
          // Still too few points to be worth rows: the cell stays raw.
          if (count < ROLLUP_MIN_POINTS) continue
          marks.set(slot, (marks.get(slot) ?? 0) | (1 << bit))
          for (const a of firstRows(res, cell.slot, before?.values, cell.parts.slice(0, from))) push(a)
        }
        for (let i = from; i < cell.parts.length; i++) for (const a of cell.parts[i]!.series.values()) push(a)
      }
    })
    for (const round of rounds) {
      const rows: (number | Buffer | null)[] = []
      for (const a of round) rows.push(a.res, a.series, a.bucket, a.n, a.sum, a.min, a.max, a.sumsq, sketchOfValues(a.values))
      // Chunked here rather than by MultiRow.run, whose values carry no blobs.
      for (let at = 0; at < rows.length; at += CHUNK_ROWS * 9) {
        const chunk = rows.slice(at, at + CHUNK_ROWS * 9)
        this.#writes.upsert.statement(chunk.length / 9).run(chunk)
      }
    }
    this.#writes.mark.run([...marks].flat())
  }

  /** The `cells` of the hours this group touches that have any rolled. */
  #rolled(): Map<number, number> {
    const rolled = new Map<number, number>()
    const slots = [...this.#cells[0]!.keys()]
    if (slots.length === 0) return rolled
    let lo = Infinity
    let hi = -Infinity
    for (const slot of slots) {
      if (slot < lo) lo = slot
      if (slot > hi) hi = slot
    }
    // Points in time order touch a run of hours: one range covers them, and holds few hours besides.
    if (hi - lo < 4 * slots.length) {
      for (const [slot, cells] of this.#writes.rolledIn.all(lo, hi) as [number, number][]) rolled.set(slot, cells)
      return rolled
    }
    for (let at = 0; at < slots.length; at += LOOKUPS) {
      const batch = slots.slice(at, at + LOOKUPS)
      while (batch.length < LOOKUPS) batch.push(-1)
      for (const [slot, cells] of this.#writes.rolled.all(...batch) as [number, number][]) rolled.set(slot, cells)
    }
    return rolled
  }

  /**
   * The points that cells not rolled held before this group: how many, and the numeric values
   * by series. Fewer than ROLLUP_MIN_POINTS each, so reading them is cheap.
   */
  #earlier(res: number, slots: number[]): Map<number, { count: number; values: Map<number, number[]> }> {
    const out = new Map<number, { count: number; values: Map<number, number[]> }>()
    for (let at = 0; at < slots.length; at += LOOKUPS) {
      const batch = new Set(slots.slice(at, at + LOOKUPS))
      const params: number[] = []
      // A hundredth of a second wider on each side: a point's cell is decided by its time below, as ingest decides it.
      for (const slot of batch) params.push(keyOf(slot * res) - SEQ_SPACE, keyOf((slot + 1) * res) + SEQ_SPACE)
      for (const [t, series, val] of this.#writes.before(batch.size).all(...params, this.#first) as [number, number, unknown][]) {
        const slot = Math.floor(t / res)
        if (!batch.has(slot)) continue
        let cell = out.get(slot)
        if (!cell) out.set(slot, (cell = { count: 0, values: new Map() }))
        cell.count++
        if (typeof val !== 'number' || !this.#writes.isNumeric(series)) continue
        const values = cell.values.get(series)
        if (values) values.push(val)
        else cell.values.set(series, [val])
      }
    }
    return out
  }
}

/**
 * The rows a cell starts with when it is rolled: per series, every value it held before the
 * group and in the group's blocks up to the one that rolls it. Summed exactly, so the sums depend
 * on the values alone, not on how the blocks were grouped when they were applied; or, when all of
 * a series' values are in the block that rolls the cell, that block's contribution itself.
 */
function firstRows(res: number, slot: number, before: Map<number, number[]> | undefined, parts: CellPart[]): Rollup[] {
  const bySeries = new Map<number, number[][]>()
  for (const [series, values] of before ?? []) bySeries.set(series, [values])
  const last = parts.length - 1
  parts.forEach((part, i) => {
    for (const [series, a] of part.series) {
      const lists = bySeries.get(series)
      if (lists) lists.push(a.values)
      else bySeries.set(series, i === last ? [] : [a.values])
    }
  })
  const rows: Rollup[] = []
  for (const [series, lists] of bySeries) {
    // A series whose values all come in the block that rolls the cell starts from that block's
    // contribution as it is: a replay block by block finds the very same.
    if (lists.length === 0) {
      rows.push(parts[last]!.series.get(series)!)
      continue
    }
    const a = newRollup(res, series, slot)
    const sum = new ExactSum()
    const sumsq = new ExactSum()
    for (const values of lists) {
      for (const v of values) {
        a.n++
        sum.add(v)
        sumsq.add(v * v)
        if (v < a.min) a.min = v
        if (v > a.max) a.max = v
      }
    }
    a.sum = sum.value()
    a.sumsq = sumsq.value()
    a.values = lists.length === 1 ? lists[0]! : lists.flat()
    rows.push(a)
  }
  return rows
}

/**
 * A sum of doubles rounded once, at the end (Shewchuk's algorithm, as Python's math.fsum): the
 * same for the same values in any order.
 */
export class ExactSum {
  readonly #partials: number[] = []

  add(x: number): void {
    const partials = this.#partials
    let i = 0
    for (let j = 0; j < partials.length; j++) {
      let y = partials[j]!
      if (Math.abs(x) < Math.abs(y)) [x, y] = [y, x]
      const hi = x + y
      const lo = y - (hi - x)
      if (lo !== 0) partials[i++] = lo
      x = hi
    }
    partials.length = i
    partials.push(x)
  }

  value(): number {
    const partials = this.#partials
    let n = partials.length
    if (n === 0) return 0
    let hi = partials[--n]!
    let lo = 0
    while (n > 0) {
      const x = hi
      const y = partials[--n]!
      hi = x + y
      lo = y - (hi - x)
      if (lo !== 0) break
    }
    // Round half to even across the partials left: the rounding above may be off by the next partial's sign.
    if (n > 0 && ((lo < 0 && partials[n - 1]! < 0) || (lo > 0 && partials[n - 1]! > 0))) {
      const y = lo * 2
      const x = hi + y
      if (y === x - hi) hi = x
    }
    return hi
  }
}
