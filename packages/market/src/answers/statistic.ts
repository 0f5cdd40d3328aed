/**
 * What one statistics or histogram query aggregates, read off its question and spec: the kind
 * of Prio3 task, the declared bounds at a fixed-point precision, the histogram's inner edges.
 * The market answers one statistic per query for now (a dataset, none: see dataset.ts); a question that selects several is
 * refused when posted rather than published with an answer it cannot release.
 */
import { planNoise, type NoisePlan, type SharingLevel } from '../privacy/index.ts'
import type { AggregationKind } from '../aggregation/index.ts'
import type { Query, QueryProblem, QuerySpec } from '../query/index.ts'

export interface Statistic {
  kind: AggregationKind
  /** The aggregated attribute (LogicalType.attribute); absent for COUNT(*). */
  attribute?: string
  /** For sum and mean: the declared bounds and the decimals kept. */
  bounds?: { lower: number; upper: number; decimals: number }
  /** For a histogram: the query's edges, and the task's inner edges (values outside go to the outer buckets). */
  edges?: number[]
  innerEdges?: number[]
}

/** Digits after the decimal point needed to write the bounds exactly: 0 for whole numbers, at most 6. */
function decimalsOf(...values: number[]): number {
  let decimals = 0
  for (const v of values) {
    const [mantissa, exponent] = Math.abs(v).toExponential().split('e') as [string, string]
    const fraction = mantissa.split('.')[1]?.length ?? 0
    decimals = Math.max(decimals, fraction - Number(exponent))
  }
  return Math.min(decimals, 6)
}

/** The statistic, or the problems that keep the market from aggregating it. Datasets are not offered yet. */
export function statisticOf(query: Query, spec: QuerySpec): { statistic?: Statistic; problems: QueryProblem[] } {
  if (spec.answer === 'dataset') return { problems: [{ path: '/answer', message: 'A dataset releases records, not a statistic.' }] }
  if (query.select.length !== 1) {
    return { problems: [{ path: '/select', message: `This market releases one statistic per query; this one selects ${query.select.length}. Post one query per statistic.` }] }
  }
  const selection = query.select[0]!
  if (!('aggregate' in selection)) return { problems: [{ path: '/select/0', message: 'A statistics answer aggregates: COUNT, SUM, AVG or HISTOGRAM.' }] }
  if (selection.aggregate === 'count') {
    return { statistic: { kind: 'count', ...('value' in selection ? { attribute: selection.value.attribute } : {}) }, problems: [] }
  }
  const attribute = selection.value.attribute
  if (selection.aggregate === 'histogram') {
    const edges = selection.edges
    if (edges.length < 3) return { problems: [{ path: '/select/0/edges', message: 'A histogram needs at least two buckets (three edges) here.' }] }
    return { statistic: { kind: 'histogram', attribute, edges: [...edges], innerEdges: edges.slice(1, -1) }, problems: [] }
  }
  const declared = spec.bounds[attribute]
  if (declared === undefined) return { problems: [{ path: `/bounds/${attribute}`, message: `Declare the bounds of ${attribute}.` }] }
  const bounds = { lower: declared.lo, upper: declared.hi, decimals: decimalsOf(declared.lo, declared.hi) }
  return { statistic: { kind: selection.aggregate === 'avg' ? 'mean' : 'sum', attribute, bounds }, problems: [] }
}

/** The noise each aggregator adds to one privacy class of this statistic (two aggregators, each enough alone). */
export function planFor(statistic: Statistic, level: SharingLevel): NoisePlan {
  return planNoise({
    kind: statistic.kind,
    level,
    aggregators: 2,
    ...(statistic.bounds ? { bounds: { lo: statistic.bounds.lower, hi: statistic.bounds.upper }, decimals: statistic.bounds.decimals } : {}),
    ...(statistic.innerEdges ? { buckets: statistic.innerEdges.length + 1 } : {}),
  })
}

/** The statistic a task was made for (the inverse of what posting did), so the helper plans its noise from the task alone. */
export function statisticOfTask(task: { kind: AggregationKind; bounds?: { lower: number; upper: number; decimals: number }; edges?: number[] }): Statistic {
  return { kind: task.kind, ...(task.bounds ? { bounds: { ...task.bounds } } : {}), ...(task.edges ? { innerEdges: [...task.edges] } : {}) }
}
