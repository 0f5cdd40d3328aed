/**
 * Per-bucket statistics of numeric points, whatever the bucket edges: each bucket takes the
 * rollup rows of the hours and 5-minute cells it covers whole and raw points only at its edges
 * and in cells too sparse to be rolled up (stats.ts), which keeps a year of hourly means over
 * millions of points to milliseconds on the rollup grid or off it. One series whose bucket edges
 * cut dense hours reads those hours' 5-minute cells instead of the raw points around each edge
 * (edges.ts). Quantiles merge the rollups' sketches the same way (quantiles.ts), taking the values
 * in the 5-minute cells their edges cut from those packed cells too: exact when the range holds
 * few points, within SKETCH_RELATIVE_ERROR otherwise, and exact on request (exact_median, …) up to
 * EXACT_QUANTILE_MAX_POINTS.
 */
import type Database from 'better-sqlite3'
import { InvalidInput } from '../errors/index.ts'
import type { Stats } from './rollups.ts'
import type { Series } from './series.ts'
import { CellReader, type Span } from './cells.ts'
import { emptyStats, rangeStats } from './stats.ts'
import { eachPackedValue, edgeStats } from './edges.ts'
import { exactAccumulators, sketchAccumulators, type PackedValues, type QuantileAccumulator } from './quantiles.ts'
import { SKETCH_RELATIVE_ERROR } from './sketch.ts'

/** Quantile functions and their q; each has an `exact_` twin that reads every raw point. */
const QUANTILES = { median: 0.5, p90: 0.9, p99: 0.99 } as const
type Quantile = keyof typeof QUANTILES

export type AggregateFn = 'count' | 'sum' | 'min' | 'max' | 'mean' | 'sd' | Quantile | `exact_${Quantile}`
export const AGGREGATE_FNS: AggregateFn[] = ['count', 'sum', 'min', 'max', 'mean', 'median', 'sd', 'p90', 'p99', 'exact_median', 'exact_p90', 'exact_p99']

/** Quantiles over at most this many points are exact anyway: reading them costs a few milliseconds. */
export const EXACT_QUANTILE_POINTS = 20_000
/** An exact quantile reads and sorts every point in range; beyond this many it is refused. */
export const EXACT_QUANTILE_MAX_POINTS = 1_000_000

/**
 * One bucket: `value` is the first function asked for; `values` holds each, when several were.
 * `error` is there when a quantile came from sketches: it is then within `relative` × |value|
 * of a true value at its rank.
 */
export interface BucketValue {
  start: number
  end: number
  count: number
  value: number | null
  values?: Partial<Record<AggregateFn, number | null>>
  error?: { relative: number }
}

/**
 * One or several functions of the buckets between consecutive `bounds`, from one pass.
 * `exactMaxPoints`: how many points an exact quantile may read.
 */
export function aggregate(db: Database.Database, series: Series[], bounds: number[], fns: AggregateFn | AggregateFn[], exactMaxPoints = EXACT_QUANTILE_MAX_POINTS): BucketValue[] {
  const list = Array.isArray(fns) ? fns : [fns]
  const buckets: Span[] = []
  for (let i = 0; i + 1 < bounds.length; i++) buckets.push({ lo: bounds[i]!, hi: bounds[i + 1]! })
  const reader = series.length > 0 ? new CellReader(db, series.map((s) => s.id)) : undefined
  // One series off the hour grid: the dense hours' cells answer, where they are kept, and give
  // quantiles the values where their edges cut those cells.
  const one = series.length === 1 ? series[0]!.id : undefined
  const fast = reader && one !== undefined ? edgeStats(db, reader, one, bounds) : undefined
  const stats = fast ?? (reader ? rangeStats(reader, buckets, list.includes('min') || list.includes('max')) : buckets.map(emptyStats))
  const packed: PackedValues | undefined = one !== undefined ? (spans, indices, each) => eachPackedValue(db, one, spans, indices, each) : undefined
  const quantiles = reader ? quantilesOf(reader, buckets, stats, list, exactMaxPoints, packed) : undefined

  return buckets.map((span, i) => {
    const st = stats[i]!
    const acc = quantiles?.[i]
    const bucket: BucketValue = { start: span.lo, end: span.hi, count: st.n, value: valueOf(list[0]!, st, acc) }
    if (list.length > 1) {
      const values: Partial<Record<AggregateFn, number | null>> = {}
      for (const fn of list) values[fn] = fn === list[0] ? bucket.value : valueOf(fn, st, acc)
      bucket.values = values
    }
    if (acc?.approximate && st.n > 0) bucket.error = { relative: SKETCH_RELATIVE_ERROR }
    return bucket
  })
}

function valueOf(fn: AggregateFn, st: Stats, acc: QuantileAccumulator | undefined): number | null {
  const count = st.n
  if (fn === 'count') return count
  if (count === 0) return null
  switch (fn) {
    case 'sum': return st.sum
    case 'min': return st.min
    case 'max': return st.max
    case 'mean': return st.sum / count
    case 'sd': return count > 1 ? Math.sqrt(Math.max(0, (st.sumsq - (st.sum * st.sum) / count) / (count - 1))) : null
    default: return acc!.quantile(QUANTILES[(fn.startsWith('exact_') ? fn.slice(6) : fn) as Quantile])
  }
}

/** Each bucket's values for its quantiles, if any are asked for: exact, or from the sketches. */
function quantilesOf(reader: CellReader, buckets: Span[], stats: Stats[], list: AggregateFn[], exactMaxPoints: number, packed: PackedValues | undefined): QuantileAccumulator[] | undefined {
  const exact = list.filter((fn) => fn.startsWith('exact_'))
  if (exact.length === 0 && !list.some((fn) => fn in QUANTILES)) return undefined
  const points = stats.reduce((n, s) => n + s.n, 0)
  if (exact.length > 0 && points > exactMaxPoints) {
    throw new InvalidInput(`${exact.join(', ')} read every point, and this range holds ${points.toLocaleString('en')}: more than the ${exactMaxPoints.toLocaleString('en')} an exact quantile may read. Ask for ${exact.map((fn) => fn.slice(6)).join(', ')} (within ${SKETCH_RELATIVE_ERROR * 100}%) or a shorter range.`, { field: 'fn' })
  }
  return exact.length > 0 || points <= EXACT_QUANTILE_POINTS ? exactAccumulators(reader, buckets) : sketchAccumulators(reader, buckets, packed)
}
