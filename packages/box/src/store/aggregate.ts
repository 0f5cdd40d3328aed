/**
 * Per-bucket statistics of numeric points. Reads the coarsest rollup whose grid every bucket
 * boundary sits on, merging its rows into the buckets in one pass, which keeps a year of hourly
 * means over millions of points to milliseconds; otherwise, or for a median, the raw points.
 */
import type Database from 'better-sqlite3'
import { keyOf, SEQ_SPACE } from './points.ts'
import { ROLLUP_RESOLUTIONS, type Stats } from './rollups.ts'
import type { Series } from './series.ts'

export type AggregateFn = 'count' | 'sum' | 'min' | 'max' | 'mean' | 'median' | 'sd'
export const AGGREGATE_FNS: AggregateFn[] = ['count', 'sum', 'min', 'max', 'mean', 'median', 'sd']

/** One bucket: `value` is the first function asked for; `values` holds each, when several were. */
export interface BucketValue { start: number; end: number; count: number; value: number | null; values?: Partial<Record<AggregateFn, number | null>> }

/** One or several functions of the buckets between consecutive `bounds`, from one pass. */
export function aggregate(db: Database.Database, series: Series[], bounds: number[], fns: AggregateFn | AggregateFn[]): BucketValue[] {
  const list = Array.isArray(fns) ? fns : [fns]
  const ids = series.map((s) => s.id)
  const inIds = ids.map(() => '?').join(',')
  const wantsMedian = list.includes('median')
  const res = wantsMedian ? undefined : ROLLUP_RESOLUTIONS.find((r) => bounds.every((b) => b % r === 0))
  const stats = res === undefined ? rawStats(db, ids, inIds, bounds) : rollupStats(db, ids, inIds, bounds, res)
  const medianStmt = wantsMedian && ids.length > 0
    ? db.prepare(`SELECT val FROM points WHERE id >= ? AND id < ? AND t >= ? AND t < ? AND series IN (${inIds}) AND val IS NOT NULL ORDER BY val LIMIT ? OFFSET ?`)
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
function rollupStats(db: Database.Database, ids: number[], inIds: string, bounds: number[], res: number): Stats[] {
  const stats: Stats[] = []
  if (ids.length === 0) return stats
  const rows = db.prepare(`SELECT bucket, n, sum, min, max, sumsq FROM rollups WHERE res = ? AND series IN (${inIds}) AND bucket >= ? AND bucket < ? ORDER BY bucket`)
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
function rawStats(db: Database.Database, ids: number[], inIds: string, bounds: number[]): Stats[] {
  const stats: Stats[] = []
  if (ids.length === 0) return stats
  const stmt = db.prepare(`SELECT count(val) AS n, sum(val) AS sum, min(val) AS min, max(val) AS max, sum(val * val) AS sumsq
      FROM points WHERE id >= ? AND id < ? AND t >= ? AND t < ? AND series IN (${inIds}) AND val IS NOT NULL`)
  for (let i = 0; i + 1 < bounds.length; i++) {
    const lo = bounds[i]!
    const hi = bounds[i + 1]!
    stats[i] = stmt.get(keyOf(lo), keyOf(hi) + SEQ_SPACE, lo, hi, ...ids) as Stats
  }
  return stats
}

/** The middle value (or the mean of the middle two) of a bucket's `count` points, read in value order. */
function median(stmt: Database.Statement, ids: number[], lo: number, hi: number, count: number): number {
  const values = (stmt.all(keyOf(lo), keyOf(hi) + SEQ_SPACE, lo, hi, ...ids, 2 - (count % 2), Math.floor((count - 1) / 2)) as { val: number }[]).map((r) => r.val)
  return values.length === 2 ? (values[0]! + values[1]!) / 2 : values[0]!
}
