/**
 * How time ranges fall on a rollup grid: runs of whole cells, answered by rollup rows, and cells
 * that a range's edge cuts, whose parts are answered on the next finer grid and, below the
 * finest, from raw points; and which cells have no rollups, being too sparse to be worth them.
 * Also the reads an aggregate makes of rollup rows and raw points.
 */
import type Database from 'better-sqlite3'
import { keyOf, SEQ_SPACE } from './points.ts'
import { ROLLUP_MIN_POINTS, ROLLUP_RESOLUTIONS, rolledBuckets } from './rollups.ts'

const COARSEST = ROLLUP_RESOLUTIONS[0]

/** A time range [lo, hi) an answer needs. `est`: about how many points it holds, once known. */
export interface Span { lo: number; hi: number; est?: number }

/** Part of a cut cell: [lo, hi) of request `req` (an index into the requests), or of none (-1, a gap). */
export interface Part { req: number; lo: number; hi: number }

/** A cell that range edges cut: its parts cover it, in time order, gaps included. */
export interface CutCell { start: number; parts: Part[] }

export interface GridPlan {
  /** Each request's run of whole cells, [lo, hi) on the grid, in time order, when shorter than `longRun` cells. */
  whole: Part[]
  /** The runs of at least `longRun` whole cells, summed by SQL rather than read row by row. */
  long: Part[]
  /** The cut cells, in time order. */
  cut: CutCell[]
  /** Runs of cells to read rows for, covering the short whole runs and the cut cells, in time order. */
  runs: Span[]
}

/** Lays sorted, disjoint requests on the grid of `res`-second cells. */
export function planGrid(reqs: readonly Span[], res: number, longRun = Infinity): GridPlan {
  const whole: Part[] = []
  const long: Part[] = []
  const cut: CutCell[] = []
  const runs: Span[] = []
  const cutAt = (start: number, part: Part) => {
    const last = cut.at(-1)
    if (last?.start === start) last.parts.push(part)
    else {
      cut.push({ start, parts: [part] })
      extendRuns(runs, start, start + res)
    }
  }
  reqs.forEach(({ lo, hi }, req) => {
    if (!(hi > lo)) return
    // a: the first grid edge at or after lo; z: the last at or before hi.
    const a = Math.ceil(lo / res) * res
    const z = Math.floor(hi / res) * res
    if (a > z) return cutAt(z, { req, lo, hi })
    if (lo < a) cutAt(a - res, { req, lo, hi: a })
    if (a < z && z - a >= longRun * res) long.push({ req, lo: a, hi: z })
    else if (a < z) {
      whole.push({ req, lo: a, hi: z })
      extendRuns(runs, a, z)
    }
    if (z < hi) cutAt(z, { req, lo: z, hi })
  })
  for (const cell of cut) {
    const parts: Part[] = []
    let at = cell.start
    for (const part of cell.parts) {
      if (part.lo > at) parts.push({ req: -1, lo: at, hi: part.lo })
      parts.push(part)
      at = part.hi
    }
    if (at < cell.start + res) parts.push({ req: -1, lo: at, hi: cell.start + res })
    cell.parts = parts
  }
  return { whole, long, cut, runs }
}

/** Adds [lo, hi), at or after every run so far, to these runs in time order: to the last one where they touch. */
function extendRuns(runs: Span[], lo: number, hi: number): void {
  const run = runs.at(-1)
  if (run && lo <= run.hi) run.hi = Math.max(run.hi, hi)
  else runs.push({ lo, hi })
}

/** The runs covering these spans, sorted by start: spans that touch or overlap are merged. */
export function runsOf(spans: readonly Span[]): Span[] {
  const runs: Span[] = []
  for (const { lo, hi } of spans) extendRuns(runs, lo, hi)
  return runs
}

/**
 * The wanted part of a cut cell taken as the cell less its other parts: the largest, where it
 * outweighs the cell's gaps (parts of no request), so that reading the others costs less.
 */
export function complementPart(cell: CutCell): Part | undefined {
  let star: Part | undefined
  let gaps = 0
  for (const part of cell.parts) {
    if (part.req < 0) gaps += part.hi - part.lo
    else if (!star || part.hi - part.lo > star.hi - star.lo) star = part
  }
  return star && star.hi - star.lo > gaps ? star : undefined
}

/** Pieces expected to hold at most this many points are read as rows, not counted by a statement of their own. */
const FEW_POINTS = 8
/**
 * Ranges per statement. Off the grid an aggregate reads a little at each of thousands of bucket
 * edges, where one statement per range would cost more than its rows.
 */
const RANGES_PER_READ = 64

export type StatsRow = [bucket: number, n: number, sum: number, min: number, max: number, sumsq: number]
export type SketchRow = [bucket: number, n: number, min: number, max: number, sketch: Uint8Array | null]
export type RawStatsRow = [n: number, sum: number | null, min: number | null, max: number | null, sumsq: number | null]

/** Whether a span is expected to hold so few points that reading them beats counting them. */
export function holdsFew(span: Span): boolean {
  return (span.est ?? Infinity) <= FEW_POINTS
}

/** Statements by view, prepared once: their text depends only on the number of series read. */
const prepared = new WeakMap<Database.Database, Map<string, Database.Statement>>()

/**
 * The reads of one aggregate over a set of series, each batched: RANGES_PER_READ ranges to a
 * statement, each a primary-key range. Statements are prepared on first use and kept with the view's connection.
 */
export class CellReader {
  readonly #db: Database.Database
  readonly #ids: number[]
  readonly #inIds: string
  readonly #statements: Map<string, Database.Statement>

  /** How many series are read. */
  get seriesCount(): number {
    return this.#ids.length
  }

  constructor(db: Database.Database, ids: number[]) {
    this.#db = db
    this.#ids = ids
    this.#inIds = ids.map(() => '?').join(',')
    this.#statements = prepared.get(db) ?? new Map()
    prepared.set(db, this.#statements)
  }

  /** Rollup rows of the `res` grid in these runs of cells, in no particular order. */
  statsRows(res: number, runs: readonly Span[]): StatsRow[] {
    return this.#rollupRows('bucket, n, sum, min, max, sumsq', res, runs) as StatsRow[]
  }

  sketchRows(res: number, runs: readonly Span[]): SketchRow[] {
    return this.#rollupRows('bucket, n, min, max, sketch', res, runs) as SketchRow[]
  }

  /**
   * Calls `each(i, row, cells)` with the count, sum, min, max and sum of squares of the rollup rows
   * of each range of cells, and how many of its cells have a row.
   */
  eachRollupStats(res: number, ranges: readonly Span[], each: (i: number, row: RawStatsRow, cells: number) => void): void {
    const cells = this.#ids.length === 1 ? 'count(*)' : 'count(DISTINCT bucket)'
    const sql = (k: number) => `SELECT ${k}, coalesce(sum(n), 0), sum(sum), min(min), max(max), sum(sumsq), ${cells} FROM rollups WHERE res = ? AND series IN (${this.#inIds}) AND bucket >= ? AND bucket < ?`
    for (const [at, rows] of this.#batches('rollup stats', sql, ranges.length, (i) => [res, ...this.#ids, ranges[i]!.lo, ranges[i]!.hi])) {
      // The padding parts of the last batch sum nothing, but still answer a row each.
      for (const [k, n, sum, min, max, sumsq, count] of rows as [number, ...RawStatsRow, number][]) if (at + k < ranges.length) each(at + k, [n, sum, min, max, sumsq], count)
    }
  }

  /** The cells of the `res` grid in these runs that hold a rollup row of any of the series, in no particular order. */
  rollupBuckets(res: number, runs: readonly Span[]): number[] {
    return this.#rollupRows('bucket', res, runs).map((row) => row[0] as number)
  }

  /** Whether any cell in [lo, hi) is rolled. */
  anyRolled(lo: number, hi: number): boolean {
    const any = this.#statement('any rolled', () => 'SELECT 1 FROM rolled WHERE slot >= ? AND slot < ? LIMIT 1')
    return any.get(Math.floor(lo / COARSEST), Math.ceil(hi / COARSEST)) !== undefined
  }

  /**
   * Calls `each(k, value)` for every raw value in each of these sorted, disjoint spans, with k the
   * span's index: one range scan per stretch of touching spans, for spans that hold few points.
   */
  eachRawPoint(spans: readonly Span[], each: (k: number, value: number) => void): void {
    const read = this.#statement('raw stretch', () => `SELECT t, val ${this.#rawWhere()}`).raw()
    for (let at = 0; at < spans.length;) {
      let end = at + 1
      while (end < spans.length && spans[end]!.lo === spans[end - 1]!.hi) end++
      const stretch = spans.slice(at, end)
      for (const [t, v] of read.all(this.#rawParams({ lo: stretch[0]!.lo, hi: stretch.at(-1)!.hi })) as [number, number][]) {
        const k = partHolding(stretch, t)
        if (k !== undefined) each(at + k, v)
      }
      at = end
    }
  }

  /**
   * The cells of the `res` grid in these ranges that are rolled (rollups.ts), sorted. Cells not
   * rolled hold few points, of whatever series, and no rollup rows.
   */
  rolledCells(res: number, ranges: readonly Span[]): number[] {
    if (ranges.length === 0) return []
    const hours = (span: Span) => [Math.floor(span.lo / COARSEST), Math.ceil(span.hi / COARSEST)]
    // Sparse sources have no rolled cells at all: one look at the whole stretch answers for them.
    if (!this.anyRolled(ranges[0]!.lo, ranges.at(-1)!.hi)) return []
    const sql = () => Array.from({ length: RANGES_PER_READ }, () => 'SELECT slot, cells FROM rolled WHERE slot >= ? AND slot < ?').join(' UNION ')
    const read = this.#statement('rolled cells', sql).raw()
    const cells = new Set<number>()
    for (let at = 0; at < ranges.length; at += RANGES_PER_READ) {
      const params: number[] = []
      for (let k = at; k < at + RANGES_PER_READ; k++) params.push(...(k < ranges.length ? hours(ranges[k]!) : [0, 0]))
      for (const [slot, mask] of read.all(params) as [number, number][]) for (const bucket of rolledBuckets(res, slot, mask)) cells.add(bucket)
    }
    return [...cells].sort((a, b) => a - b)
  }

  #rollupRows(columns: string, res: number, runs: readonly Span[]): unknown[][] {
    const rows: unknown[][] = []
    const where = `FROM rollups WHERE res = ? AND series IN (${this.#inIds}) AND bucket >= ? AND bucket < ?`
    for (const [, batch] of this.#batches(`rollups ${columns}`, () => `SELECT ${columns} ${where}`, runs.length, (i) => [res, ...this.#ids, runs[i]!.lo, runs[i]!.hi])) rows.push(...batch)
    return rows
  }

  /** Calls `each(i, row)` with count, sum, min, max and sum of squares of the raw values of each span at these indices. */
  eachRawStats(spans: readonly Span[], indices: number[], each: (i: number, row: RawStatsRow) => void): void {
    const sql = (k: number) => `SELECT ${k}, count(val), sum(val), min(val), max(val), sum(val * val) ${this.#rawWhere()}`
    for (const [at, rows] of this.#batches('raw stats', sql, indices.length, (j) => this.#rawParams(spans[indices[j]!]!))) {
      for (const [k, ...row] of rows as [number, ...RawStatsRow][]) if (at + k < indices.length) each(indices[at + k]!, row)
    }
  }

  /**
   * Calls `each(i, value)` for every raw value of each span at these indices. Spans expected to
   * hold a handful of points are read as rows of many ranges at once (t tells which span a row
   * is in), the rest a batch of spans to a statement.
   */
  eachRawValue(spans: readonly Span[], indices: number[], each: (i: number, value: number) => void): void {
    const few = indices.filter((i) => holdsFew(spans[i]!))
    const many = indices.filter((i) => !holdsFew(spans[i]!))
    const sql = (k: number) => `SELECT ${k}, val ${this.#rawWhere()}`
    for (const [at, rows] of this.#batches('raw values', sql, many.length, (j) => this.#rawParams(spans[many[j]!]!))) {
      for (const [k, v] of rows as [number, number][]) each(many[at + k]!, v)
    }
    if (few.length === 0) return
    const ranges = Array(RANGES_PER_READ).fill('(id >= ? AND id < ?)').join(' OR ')
    const read = this.#statement('raw rows', () => `SELECT t, val FROM points WHERE (${ranges}) AND series IN (${this.#inIds}) AND val IS NOT NULL`).raw()
    for (let at = 0; at < few.length; at += RANGES_PER_READ) {
      const batch = few.slice(at, at + RANGES_PER_READ)
      const batchSpans = batch.map((i) => spans[i]!)
      const params: number[] = []
      for (const span of batchSpans) params.push(keyOf(span.lo), keyOf(span.hi) + SEQ_SPACE)
      while (params.length < 2 * RANGES_PER_READ) params.push(0, 0)
      for (const [t, v] of read.all(...params, ...this.#ids) as [number, number][]) {
        const k = partHolding(batchSpans, t)
        if (k !== undefined) each(batch[k]!, v)
      }
    }
  }

  #rawWhere(): string {
    return `FROM points WHERE id >= ? AND id < ? AND t >= ? AND t < ? AND series IN (${this.#inIds}) AND val IS NOT NULL`
  }

  #rawParams(span: Span): number[] {
    return [keyOf(span.lo), keyOf(span.hi) + SEQ_SPACE, span.lo, span.hi, ...this.#ids]
  }

  /**
   * Runs `count` ranges through one compound statement of RANGES_PER_READ parts (part k's SQL is
   * part(k)), a batch at a time; the last batch's spare parts get an empty range. Returns each
   * batch's first index and rows.
   */
  #batches(name: string, part: (k: number) => string, count: number, paramsOf: (i: number) => unknown[]): [number, unknown[][]][] {
    if (count === 0) return []
    const stmt = this.#statement(name, () => Array.from({ length: RANGES_PER_READ }, (_, k) => part(k)).join(' UNION ALL ')).raw()
    const empty = paramsOf(0).map(() => 0)
    const batches: [number, unknown[][]][] = []
    for (let at = 0; at < count; at += RANGES_PER_READ) {
      const params: unknown[] = []
      for (let k = 0; k < RANGES_PER_READ; k++) params.push(...(at + k < count ? paramsOf(at + k) : empty))
      batches.push([at, stmt.all(params) as unknown[][]])
    }
    return batches
  }

  #statement(name: string, sql: () => string): Database.Statement {
    const key = `${name} ${this.#ids.length}`
    let stmt = this.#statements.get(key)
    if (!stmt) this.#statements.set(key, (stmt = this.#db.prepare(sql())))
    return stmt
  }
}

/** The index of the cut cell starting at `start`, if any. */
export function cutCellAt(cut: readonly CutCell[], start: number): number | undefined {
  let lo = 0
  let hi = cut.length - 1
  while (lo <= hi) {
    const mid = (lo + hi) >> 1
    const at = cut[mid]!.start
    if (at === start) return mid
    if (start < at) hi = mid - 1
    else lo = mid + 1
  }
  return undefined
}

/** The index of the part among sorted, disjoint `parts` that holds time t, if any. */
export function partHolding(parts: readonly { lo: number; hi: number }[], t: number): number | undefined {
  let lo = 0
  let hi = parts.length - 1
  while (lo <= hi) {
    const mid = (lo + hi) >> 1
    if (t < parts[mid]!.lo) hi = mid - 1
    else if (t >= parts[mid]!.hi) lo = mid + 1
    else return mid
  }
  return undefined
}

/**
 * Of these parts of requests (sorted by time, each in cells of the `res` grid that hold no
 * rollup row of the series read), the pieces in cells that are not rolled: those hold the
 * series' points, if any, raw, and few of them. In rolled cells the series have no points.
 */
export function unrolledParts(reader: CellReader, res: number, holes: readonly Part[]): Part[] {
  if (holes.length === 0) return []
  const ranges: Span[] = []
  for (const hole of holes) {
    const lo = Math.floor(hole.lo / res) * res
    const hi = Math.ceil(hole.hi / res) * res
    const last = ranges.at(-1)
    if (last && lo <= last.hi) last.hi = Math.max(last.hi, hi)
    else ranges.push({ lo, hi })
  }
  const rolled = reader.rolledCells(res, ranges)
  if (rolled.length === 0) return [...holes]
  const out: Part[] = []
  let i = 0
  for (const hole of holes) {
    // The rolled cells that overlap the hole, in order; what lies between them is read raw.
    while (i > 0 && rolled[i - 1]! + res > hole.lo) i--
    while (i < rolled.length && rolled[i]! + res <= hole.lo) i++
    let at = hole.lo
    for (let j = i; j < rolled.length && rolled[j]! < hole.hi; j++) {
      if (rolled[j]! > at) out.push({ req: hole.req, lo: at, hi: rolled[j]! })
      at = Math.max(at, rolled[j]! + res)
    }
    if (at < hole.hi) out.push({ req: hole.req, lo: at, hi: hole.hi })
  }
  return out
}

/**
 * The cells of these runs of whole cells that hold no rollup row of the series read, as parts of
 * their requests, merged where they touch. `rows[w]`: how many rows were read in whole[w], of
 * rows `read` (bucket first); `gappy`: runs whose rows were only counted, and fell short of their cells.
 */
export function wholeHoles(reader: CellReader, res: number, whole: readonly Part[], rows: readonly number[], read: readonly (readonly [bucket: number, ...unknown[]])[], gappy: readonly Part[]): Part[] {
  // With one series a run is complete when it has a row per cell; most are, and need no more look.
  const open = whole.filter((part, w) => reader.seriesCount !== 1 || rows[w]! < (part.hi - part.lo) / res)
  if (open.length === 0 && gappy.length === 0) return []
  const present = new Set<number>()
  for (const row of read) present.add(row[0])
  for (const bucket of reader.rollupBuckets(res, gappy)) present.add(bucket)
  const holes: Part[] = []
  for (const part of [...open, ...gappy]) {
    for (let cell = part.lo; cell < part.hi; cell += res) {
      if (present.has(cell)) continue
      const last = holes.at(-1)
      if (last && last.req === part.req && last.hi === cell) last.hi = cell + res
      else holes.push({ req: part.req, lo: cell, hi: cell + res })
    }
  }
  return holes
}

/**
 * A cell of ROLLUP_RESOLUTIONS[level] holding fewer points than this is too sparse for most of its
 * cells on the next finer grid to be rolled: its parts are then read raw, not looked for there
 * first. (0 on the finest grid, whose parts are read raw anyway.)
 */
export function sparseBelow(level: number): number {
  const finer = ROLLUP_RESOLUTIONS[level + 1]
  return finer === undefined ? 0 : (ROLLUP_RESOLUTIONS[level]! / finer) * ROLLUP_MIN_POINTS
}

/** Parts in cells not rolled, as spans to read raw (with how many points they may hold at most), and their requests. */
export function rawSpans(parts: readonly Part[], res: number): { spans: Span[]; reqs: number[] } {
  const spans = parts.map((part): Span => ({ lo: part.lo, hi: part.hi, est: (ROLLUP_MIN_POINTS - 1) * (Math.ceil(part.hi / res) - Math.floor(part.lo / res)) }))
  return { spans, reqs: parts.map((part) => part.req) }
}
