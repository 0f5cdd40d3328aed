/**
 * count, sum, min, max and sum of squares of time ranges, from the coarsest rollups that fit and
 * raw points only at the edges, whatever the edges are.
 *
 * Each range takes the rollup rows of the hourly cells it covers whole. A cell that range edges
 * cut is split into parts, computed on the 5-minute grid the same way, and those cut again
 * from raw points. Counts and sums subtract, so the largest part of a cut cell is the cell less
 * its other parts: a range from one second past the hour reads the hour's row and one raw
 * second, not 59 minutes of rows and points. A minimum or maximum subtracts only when the
 * cell's extreme lies outside the parts taken away; when it may not, that part is computed on
 * the finer grid after all. A part expected to hold a handful of points is read raw at once, and so
 * are the parts of a 5-minute cell that has no part to take as the rest: its row would only cost a
 * read as dear as theirs (an hour cut 150 s past reads its first 150 s and nothing else).
 *
 * Cells holding few points are not rolled up at all (rollups.ts): a cell without a row of the
 * series is empty of them if it is rolled, and read raw if not. Ranges in which no cell is rolled
 * are read raw in one scan; the parts of a cut cell too sparse for its finer cells to be rolled go
 * straight to raw points.
 */
import { ROLLUP_RESOLUTIONS, type Stats } from './rollups.ts'
import { complementPart, cutCellAt, holdsFew, partHolding, planGrid, rawSpans, runsOf, sparseBelow, unrolledParts, wholeHoles, type CellReader, type CutCell, type GridPlan, type Part, type Span, type StatsRow } from './cells.ts'

/** Runs of at least this many whole cells are summed by SQL; shorter ones are cheaper read as rows. */
const LONG_RUN = 4

export function emptyStats(): Stats {
  // The sums start out as doubles. A literal 0 has V8 lay the fields out for small integers and
  // lay them out anew at the first fractional sum, which left aggregates off the grid (hourly
  // means from a second past the hour) twice as slow in about half of all processes.
  const stats = { n: 0, sum: 0.5, min: Infinity, max: -Infinity, sumsq: 0.5 }
  stats.sum = 0
  stats.sumsq = 0
  return stats
}

export function merge(into: Stats, n: number, sum: number, min: number, max: number, sumsq: number): void {
  if (n === 0) return
  into.n += n
  into.sum += sum
  into.sumsq += sumsq
  if (min < into.min) into.min = min
  if (max > into.max) into.max = max
}

function mergeStats(into: Stats, s: Stats): void {
  merge(into, s.n, s.sum, s.min, s.max, s.sumsq)
}

/**
 * Statistics of each of the sorted, disjoint ranges, reading the grid of ROLLUP_RESOLUTIONS[level]
 * and finer. `extremes`: whether min and max must be right (they cost more off the grid).
 */
export function rangeStats(reader: CellReader, reqs: readonly Span[], extremes: boolean, level = 0): Stats[] {
  const out = reqs.map(emptyStats)
  const few: number[] = []
  const rest: number[] = []
  reqs.forEach((span, i) => (holdsFew(span) ? few : rest).push(i))
  reader.eachRawValue(reqs, few, (i, v) => merge(out[i]!, 1, v, v, v, v * v))
  const res = ROLLUP_RESOLUTIONS[level]
  if (level === 0 && rest.length > 0 && !reader.anyRolled(reqs[rest[0]!]!.lo, reqs[rest.at(-1)!]!.hi)) {
    // No cell is rolled, so each holds few points: ranges of many cells are summed by SQL, and the
    // short ones read in one scan.
    const long = rest.filter((i) => reqs[i]!.hi - reqs[i]!.lo >= LONG_RUN * ROLLUP_RESOLUTIONS[0])
    reader.eachRawStats(reqs, long, (i, [n, sum, min, max, sumsq]) => merge(out[i]!, n, sum ?? 0, min ?? Infinity, max ?? -Infinity, sumsq ?? 0))
    scannedStats(reader, reqs, long.length > 0 ? rest.filter((i) => reqs[i]!.hi - reqs[i]!.lo < LONG_RUN * ROLLUP_RESOLUTIONS[0]) : rest, out)
    return out
  }
  if (res === undefined) {
    reader.eachRawStats(reqs, rest, (i, [n, sum, min, max, sumsq]) => merge(out[i]!, n, sum ?? 0, min ?? Infinity, max ?? -Infinity, sumsq ?? 0))
    return out
  }

  // Parts refer to the ranges read on this grid, rest[part.req].
  let plan = planGrid(rest.map((i) => reqs[i]!), res, LONG_RUN)
  if (level === ROLLUP_RESOLUTIONS.length - 1) plan = withoutRawCuts(reader, reqs, rest, plan, res, extremes, out)
  // Runs of whole cells some of which hold no row of the series: those are looked at below.
  const gappy: Part[] = []
  reader.eachRollupStats(res, plan.long, (k, [n, sum, min, max, sumsq], cells) => {
    const run = plan.long[k]!
    merge(out[rest[run.req]!]!, n, sum ?? 0, min ?? Infinity, max ?? -Infinity, sumsq ?? 0)
    if (cells < (run.hi - run.lo) / res) gappy.push(run)
  })
  const cutStats = plan.cut.map(emptyStats)
  const rows = reader.statsRows(res, plan.runs)
  const wholeRows = new Array<number>(plan.whole.length).fill(0)
  for (const [bucket, n, sum, min, max, sumsq] of rows) {
    const k = cutCellAt(plan.cut, bucket)
    if (k !== undefined) merge(cutStats[k]!, n, sum, min, max, sumsq)
    else {
      const w = partHolding(plan.whole, bucket)
      if (w === undefined) continue
      merge(out[rest[plan.whole[w]!.req]!]!, n, sum, min, max, sumsq)
      wholeRows[w]!++
    }
  }

  holeStats(reader, res, plan, wholeRows, rows, gappy, cutStats, extremes, (req, s) => mergeStats(out[rest[req]!]!, s))

  // The parts of cut cells to compute on the finer grid: every part wanted, or, where the largest
  // wanted part outweighs the gaps, every part but that one (gaps included). Those of a cell too
  // sparse for the finer grid are read raw.
  const below = sparseBelow(level)
  const finer: Span[] = []
  const finerRaw: boolean[] = []
  const largest = plan.cut.map((cell, k): Part | undefined => {
    const n = cutStats[k]!.n
    if (n === 0) return undefined
    const complement = complementPart(cell)
    for (const part of cell.parts) {
      if (part === complement || (!complement && part.req < 0)) continue
      finer.push({ lo: part.lo, hi: part.hi, est: (n * (part.hi - part.lo)) / res })
      finerRaw.push(n < below)
    }
    return complement
  })
  const parts = finerStats(reader, finer, finerRaw, extremes, level)

  const retry: { req: number; span: Span }[] = []
  const retryRaw: boolean[] = []
  let j = 0
  plan.cut.forEach((cell, k) => {
    const cs = cutStats[k]!
    if (cs.n === 0) return
    const star = largest[k]
    if (!star) {
      for (const part of cell.parts) if (part.req >= 0) mergeStats(out[rest[part.req]!]!, parts[j++]!)
      return
    }
    const others = emptyStats()
    for (const part of cell.parts) {
      if (part === star) continue
      const s = parts[j++]!
      mergeStats(others, s)
      if (part.req >= 0) mergeStats(out[rest[part.req]!]!, s)
    }
    const n = cs.n - others.n
    if (n === 0) return
    // With ties, or the extreme in a part taken away, the largest part's own extreme is unknown.
    const minKnown = others.n === 0 || others.min > cs.min
    const maxKnown = others.n === 0 || others.max < cs.max
    if (extremes && !(minKnown && maxKnown)) {
      retry.push({ req: rest[star.req]!, span: { lo: star.lo, hi: star.hi, est: (n * (star.hi - star.lo)) / res } })
      retryRaw.push(cs.n < below)
      return
    }
    merge(out[rest[star.req]!]!, n, cs.sum - others.sum, cs.min, cs.max, cs.sumsq - others.sumsq)
  })
  const retried = finerStats(reader, retry.map((r) => r.span), retryRaw, extremes, level)
  retry.forEach((r, i) => mergeStats(out[r.req]!, retried[i]!))
  return out
}

/**
 * On the finest grid a cut cell's row serves only to take its complement part (complementPart)
 * as the cell less the rest: the wanted parts of a cell without one are read raw at once, with no
 * look at its row first, which would cost as much again as their raw read. Returns the plan
 * without those cells; their statistics go to `out`.
 */
function withoutRawCuts(reader: CellReader, reqs: readonly Span[], rest: number[], plan: GridPlan, res: number, extremes: boolean, out: Stats[]): GridPlan {
  const kept: CutCell[] = []
  const direct: Part[] = []
  for (const cell of plan.cut) {
    if (complementPart(cell)) kept.push(cell)
    else for (const part of cell.parts) if (part.req >= 0) direct.push(part)
  }
  if (direct.length === 0) return plan
  const spans = direct.map((part): Span => {
    const req = reqs[rest[part.req]!]!
    return { lo: part.lo, hi: part.hi, est: req.est === undefined ? undefined : (req.est * (part.hi - part.lo)) / (req.hi - req.lo) }
  })
  rangeStats(reader, spans, extremes, ROLLUP_RESOLUTIONS.length).forEach((s, i) => mergeStats(out[rest[direct[i]!.req]!]!, s))
  const read = [...plan.whole, ...kept.map((cell) => ({ lo: cell.start, hi: cell.start + res }))].sort((a, b) => a.lo - b.lo)
  return { whole: plan.whole, long: plan.long, cut: kept, runs: runsOf(read) }
}

/**
 * The statistics of the parts, in cells of the `res` grid, that hold no rollup row of the series:
 * cells of whole runs without a row (`rows[w]` read in whole[w]; `gappy`: long runs that fell
 * short), and cut cells without one. In rolled cells the series have no points; the rest are
 * read raw. Calls `each(req, stats)` per part read, req indexing the requests the plan was made of.
 */
function holeStats(reader: CellReader, res: number, plan: GridPlan, rows: number[], read: StatsRow[], gappy: Part[], cutStats: Stats[], extremes: boolean, each: (req: number, stats: Stats) => void): void {
  const holes = wholeHoles(reader, res, plan.whole, rows, read, gappy)
  plan.cut.forEach((cell, k) => {
    if (cutStats[k]!.n === 0) for (const part of cell.parts) if (part.req >= 0) holes.push(part)
  })
  if (holes.length === 0) return
  const raw = rawSpans(unrolledParts(reader, res, holes.sort((a, b) => a.lo - b.lo)), res)
  rangeStats(reader, raw.spans, extremes, ROLLUP_RESOLUTIONS.length).forEach((s, i) => each(raw.reqs[i]!, s))
}

/** Statistics of parts of cut cells of ROLLUP_RESOLUTIONS[level]: on the next finer grid, or, `raw[i]`, from raw points. */
function finerStats(reader: CellReader, spans: Span[], raw: boolean[], extremes: boolean, level: number): Stats[] {
  if (!raw.includes(true)) return rangeStats(reader, spans, extremes, level + 1)
  const a = rangeStats(reader, spans.filter((_, i) => !raw[i]), extremes, level + 1)
  const b = rangeStats(reader, spans.filter((_, i) => raw[i]), extremes, ROLLUP_RESOLUTIONS.length)
  let i = 0
  let j = 0
  return spans.map((_, k) => (raw[k] ? b[j++]! : a[i++]!))
}

/** Statistics of ranges in which no cell is rolled, so that each holds few points: one scan per stretch of touching ranges. */
function scannedStats(reader: CellReader, reqs: readonly Span[], indices: number[], out: Stats[]): void {
  const spans = indices.map((i) => reqs[i]!)
  reader.eachRawPoint(spans, (k, v) => merge(out[indices[k]!]!, 1, v, v, v, v * v))
}
