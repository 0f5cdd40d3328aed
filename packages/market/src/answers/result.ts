/**
 * A query's result as the processor reads it: the state, who took part per privacy class, each
 * class's noised value with its ε and error bars, and the merged value with its standard
 * deviation and 95 % interval, with the parameters used, as JSON or CSV. What the privacy module
 * computes is passed on as it is; this only names and lays it out.
 */
import { Type, type Static } from '@sinclair/typebox'
import { PROTOCOL } from '../aggregation/index.ts'
import type { MergedResult, ClassResult } from '../privacy/index.ts'
import type { SharingLevel } from '../protocol/index.ts'
import type { QuerySpec } from '../query/index.ts'
import type { Statistic } from './statistic.ts'

const Num = Type.Number()
const Interval = Type.Array(Num, { minItems: 2, maxItems: 2, description: '[low, high]' })
const ValueOrBuckets = Type.Union([Num, Type.Array(Num)], { description: 'A number; for a histogram, one count per bucket' })
const Intervals = Type.Union([Interval, Type.Array(Interval)], { description: '95 % interval; for a histogram, one per bucket' })
const DatasetValue = Type.Union([Type.String(), Num, Type.Boolean(), Type.Null()])
const Levels = { low: Type.Integer(), medium: Type.Integer(), high: Type.Integer() }

const NoiseStatement = Type.Union([Type.Null(), Type.Object({
  mechanism: Type.String(),
  level: Type.String(),
  epsilon: Type.String(),
  scales: Type.Array(Type.String(), { description: 'Discrete Laplace scale per coordinate, in fixed-point units' }),
})])

export const ClassRelease = Type.Object({
  level: Type.Union([Type.Literal('low'), Type.Literal('medium'), Type.Literal('high')]),
  epsilon: Type.String({ description: 'The ε this class was released at (a decimal or a/b)' }),
  reports: Type.Integer({ description: 'Verified reports counted, matching or not' }),
  value: ValueOrBuckets,
  standardDeviation: Num,
  halfWidth95: Num,
  interval95: Intervals,
  noise: Type.Object({ leader: NoiseStatement, helper: NoiseStatement }, { description: 'What each aggregator says it added' }),
})

export const QueryResultSchema = Type.Object({
  queryId: Type.String(),
  state: Type.Union([Type.Literal('pending'), Type.Literal('released'), Type.Literal('not_enough'), Type.Literal('cancelled')], {
    description: 'pending until the deadline or close; not_enough when fewer than the minimum answered (nothing released); cancelled when withdrawn',
  }),
  message: Type.Optional(Type.String()),
  statistic: Type.Optional(Type.Object({
    kind: Type.Union([Type.Literal('count'), Type.Literal('sum'), Type.Literal('mean'), Type.Literal('histogram')]),
    attribute: Type.Optional(Type.String()),
    bounds: Type.Optional(Type.Object({ lower: Num, upper: Num, decimals: Type.Integer() })),
    buckets: Type.Optional(Type.Array(Type.Object({ from: Type.Union([Num, Type.Null()]), to: Type.Union([Num, Type.Null()]) }))),
  }, { description: 'What a statistics or histogram query released; absent for a dataset' })),
  dataset: Type.Optional(Type.Object({
    columns: Type.Array(Type.Object({
      name: Type.String({ description: 'The column as the query wrote it' }),
      attribute: Type.String(),
      generalisation: Type.Union([Type.String(), Type.Null()], { description: '"band 10", "prefix 2", or null for a value kept as it is' }),
      sensitive: Type.Boolean(),
    })),
    rows: Type.Array(Type.Array(DatasetValue), { description: 'One per released record, in random order, values in column order' }),
    classes: Type.Array(Type.Object({
      level: Type.Union([Type.Literal('low'), Type.Literal('medium'), Type.Literal('high')]),
      k: Type.Integer(),
      l: Type.Integer(),
      records: Type.Integer(),
      values: Type.Array(DatasetValue, { description: 'The quasi-identifiers the class shares, in the order of the columns that are not sensitive' }),
    }), { description: 'Each released equivalence class' }),
    suppressed: Type.Integer({ description: 'Records not released: in a class smaller than k or less diverse than l, or the decoy of a box that did not match (the two look the same)' }),
    rejected: Type.Integer({ description: 'Records shown to be forged and dropped' }),
  }, { description: 'What a dataset query released; absent for statistics' })),
  minimum: Type.Integer({ description: 'Participants needed for anything to be released' }),
  participants: Type.Object({ total: Type.Integer(), ...Levels }, { description: 'Boxes that answered, per privacy class' }),
  releasedAt: Type.Optional(Type.String({ format: 'date-time' })),
  value: Type.Optional(ValueOrBuckets),
  matched: Type.Optional(Type.Number({ description: 'How many matched, as the noised counts say' })),
  standardDeviation: Type.Optional(Num),
  halfWidth95: Type.Optional(Num),
  interval95: Type.Optional(Intervals),
  classes: Type.Array(ClassRelease),
  payment: Type.Optional(Type.Object({
    owners: Type.Integer({ description: 'Boxes paid: those whose answers were counted' }),
    paid: Type.Integer({ description: 'Satoshis paid to them out of the escrow' }),
    refunded: Type.Integer({ description: 'Satoshis of the escrow returned to the processor' }),
  }, { description: 'What the query cost, once it ended' })),
  parameters: Type.Object({
    protocol: Type.String(),
    mechanism: Type.Union([Type.Literal('discrete-laplace'), Type.Literal('k-anonymity')]),
    aggregators: Type.Integer({ description: 'Each adds the full noise on its own: the result is protected if either is honest' }),
    note: Type.String(),
  }),
})
export type QueryResult = Static<typeof QueryResultSchema>

const PARAMETERS: QueryResult['parameters'] = {
  protocol: PROTOCOL,
  mechanism: 'discrete-laplace',
  aggregators: 2,
  note: 'Each privacy class is aggregated and noised on its own (Prio3 over two aggregators, each adding exact discrete Laplace noise at the class\'s ε), then the classes are added up. Error bars are those of the noise; a mean is clipped to the declared bounds.',
}

const DATASET_PARAMETERS: QueryResult['parameters'] = {
  protocol: 'coffer-star-v1',
  mechanism: 'k-anonymity',
  aggregators: 1,
  note: 'Each box generalises its own record and seals it so that it opens only when at least k boxes at its privacy level sent the same quasi-identifiers (threshold secret sharing after STAR). A class is released when it holds at least k records and every sensitive column takes at least l distinct values in it (k and l per level: low 5 and 2, medium 10 and 3, high 20 and 4). The market sees how many records share each class, never the values of one below k; it could guess small classes by trying every possible generalised value.',
}

/** A dataset query's result before release: who took part, no rows. */
export function pendingDataset(queryId: string, spec: QuerySpec, participants: QueryResult['participants']): QueryResult {
  return { queryId, state: 'pending', minimum: spec.participants.min, participants, classes: [], parameters: DATASET_PARAMETERS }
}

export function pendingResult(queryId: string, statistic: Statistic, spec: QuerySpec, participants: QueryResult['participants']): QueryResult {
  const edges = statistic.edges
  return {
    queryId,
    state: 'pending',
    statistic: {
      kind: statistic.kind,
      ...(statistic.attribute ? { attribute: statistic.attribute } : {}),
      ...(statistic.bounds ? { bounds: statistic.bounds } : {}),
      ...(edges ? { buckets: edges.slice(0, -1).map((from, i) => ({ from, to: edges[i + 1]! })) } : {}),
    },
    minimum: spec.participants.min,
    participants,
    classes: [],
    parameters: PARAMETERS,
  }
}

const interval = (value: number | number[], half: number) =>
  Array.isArray(value) ? value.map((v) => [v - half, v + half]) : [value - half, value + half]

export function describeRelease(
  base: QueryResult,
  merged: MergedResult,
  classes: { level: SharingLevel; reports: number; result: ClassResult; noise: unknown }[],
): QueryResult {
  return {
    ...base,
    state: 'released',
    releasedAt: new Date().toISOString(),
    value: merged.value,
    ...(merged.matched === undefined ? {} : { matched: merged.matched }),
    standardDeviation: merged.error.standardDeviation,
    halfWidth95: merged.error.halfWidth95,
    interval95: interval(merged.value, merged.error.halfWidth95),
    classes: merged.classes.map((summary, i) => ({
      level: summary.level,
      epsilon: summary.epsilon,
      reports: classes[i]!.reports,
      value: summary.value,
      standardDeviation: summary.error.standardDeviation,
      halfWidth95: summary.error.halfWidth95,
      interval95: interval(summary.value, summary.error.halfWidth95),
      noise: classes[i]!.noise as QueryResult['classes'][number]['noise'],
    })),
  } as QueryResult
}

/** A CSV cell; a text that a spreadsheet would run as a formula (=, +, -, @) is written with a leading quote mark. */
const cell = (v: unknown) => {
  if (v === undefined || v === null) return ''
  const text = typeof v === 'string' && /^[=+\-@\t\r]/.test(v) ? `'${v}` : String(v)
  return /[",\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text
}
const csv = (rows: unknown[][]) => rows.map((r) => r.map(cell).join(',')).join('\n') + '\n'

/**
 * One row per value (per bucket for a histogram): the merged answer first, then each class. For
 * a dataset, one row per released record, its columns named as the query wrote them.
 */
export function resultCsv(result: QueryResult): string {
  if (result.dataset) return csv([result.dataset.columns.map((c) => c.name), ...result.dataset.rows])
  const header = ['query_id', 'state', 'class', 'epsilon', 'participants', 'bucket_from', 'bucket_to', 'value', 'standard_deviation', 'ci95_low', 'ci95_high']
  const rows: unknown[][] = []
  const buckets = result.statistic?.buckets
  const push = (cls: string, epsilon: string, participants: number, value: number | number[] | undefined, sd: number | undefined, half: number | undefined) => {
    const values = value === undefined ? [undefined] : Array.isArray(value) ? value : [value]
    values.forEach((v, i) => {
      const bucket = Array.isArray(value) && buckets ? buckets[i] : undefined
      rows.push([result.queryId, result.state, cls, epsilon, participants, bucket?.from, bucket?.to, v, sd, v === undefined || half === undefined ? undefined : v - half, v === undefined || half === undefined ? undefined : v + half])
    })
  }
  push('all', '', result.participants.total, result.value, result.standardDeviation, result.halfWidth95)
  for (const c of result.classes) push(c.level, c.epsilon, result.participants[c.level], c.value, c.standardDeviation, c.halfWidth95)
  return csv([header, ...rows])
}
