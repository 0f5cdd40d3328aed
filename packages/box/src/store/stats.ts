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
 * the finer grid after all. A part expected to hold a handful of points is read raw at once.
 */
import { ROLLUP_RESOLUTIONS, type Stats } from './rollups.ts'
import { cutCellAt, holdsFew, partHolding, planGrid, type CellReader, type Part, type Span } from './cells.ts'

/** Runs of at least this many whole cells are summed by SQL; shorter ones are cheaper read as rows. */
const LONG_RUN = 4

export function emptyStats(): Stats {
  return { n: 0, sum: 0, min: Infinity, max: -Infinity, sumsq: 0 }
}

function merge(into: Stats, n: number, sum: number, min: number, max: number, sumsq: number): void {
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
  if (res === undefined) {
    reader.eachRawStats(reqs, rest, (i, [n, sum, min, max, sumsq]) => merge(out[i]!, n, sum ?? 0, min ?? Infinity, max ?? -Infinity, sumsq ?? 0))
    return out
  }

  // Parts refer to the ranges read on this grid, rest[part.req].
  const plan = planGrid(rest.map((i) => reqs[i]!), res, LONG_RUN)
  reader.eachRollupStats(res, plan.long, (k, [n, sum, min, max, sumsq]) => merge(out[rest[plan.long[k]!.req]!]!, n, sum ?? 0, min ?? Infinity, max ?? -Infinity, sumsq ?? 0))
  const cutStats = plan.cut.map(emptyStats)
  for (const [bucket, n, sum, min, max, sumsq] of reader.statsRows(res, plan.runs)) {
    const k = cutCellAt(plan.cut, bucket)
    if (k !== undefined) merge(cutStats[k]!, n, sum, min, max, sumsq)
    else {
      const w = partHolding(plan.whole, bucket)
      if (w !== undefined) merge(out[rest[plan.whole[w]!.req]!]!, n, sum, min, max, sumsq)
    }
  }

  // The parts of cut cells to compute on the finer grid: every part wanted, or, where the largest
  // wanted part outweighs the gaps, every part but that one (gaps included).
  const finer: Span[] = []
  const largest = plan.cut.map((cell, k): Part | undefined => {
    const n = cutStats[k]!.n
    if (n === 0) return undefined
    let star: Part | undefined
    let gaps = 0
    for (const part of cell.parts) {
      if (part.req < 0) gaps += part.hi - part.lo
      else if (!star || part.hi - part.lo > star.hi - star.lo) star = part
    }
    const complement = star && star.hi - star.lo > gaps ? star : undefined
    for (const part of cell.parts) {
      if (part === complement || (!complement && part.req < 0)) continue
      finer.push({ lo: part.lo, hi: part.hi, est: (n * (part.hi - part.lo)) / res })
    }
    return complement
  })
  const parts = rangeStats(reader, finer, extremes, level + 1)

  const retry: { req: number; span: Span }[] = []
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
      return
    }
    merge(out[rest[star.req]!]!, n, cs.sum - others.sum, cs.min, cs.max, cs.sumsq - others.sumsq)
  })
  const retried = rangeStats(reader, retry.map((r) => r.span), extremes, level + 1)
  retry.forEach((r, i) => mergeStats(out[r.req]!, retried[i]!))
  return out
}
