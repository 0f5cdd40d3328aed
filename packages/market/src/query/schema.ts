/**
 * The JSON form of a query, and of a whole posted query (its spec). The text form parses into
 * exactly this, and printQuery writes it back. Schemas only bound sizes and shapes; whether
 * names exist, types match and numbers make sense is checkQuery's and checkSpec's to say, with
 * a message and a place for each problem.
 */
import { FormatRegistry, Type, type Static } from '@sinclair/typebox'
import { BUCKET_PATTERN, REDUCTIONS, literals } from '../vocabulary/index.ts'

// TypeBox's Value.Check fails a format it does not know, so whoever checks a spec or a feed page
// needs this one registered (Fastify's validator knows it already): RFC 3339 date-time.
if (!FormatRegistry.Has('date-time')) {
  FormatRegistry.Set('date-time', (v) => /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/i.test(v) && !Number.isNaN(Date.parse(v)))
}

/** The longest query text parseQuery reads: a real question fits in a few hundred characters. */
export const MAX_QUERY_TEXT = 8192
export const MAX_SELECTIONS = 32
export const MAX_GROUPS = 32
export const MAX_COMPARISONS_PER_GROUP = 32
/** A histogram's edges: 2 to 101, so 1 to 100 buckets. */
export const MAX_HISTOGRAM_EDGES = 101
/** The fewest participants a query may ask for: fewer, and one person's answer stands out. */
export const MIN_PARTICIPANTS_FLOOR = 10
export const MAX_PARTICIPANTS = 10_000_000

export const AttributeName = Type.String({ pattern: '^[A-Za-z][A-Za-z0-9_]*\\.[A-Za-z][A-Za-z0-9_]*$', maxLength: 129, description: 'LogicalType.attribute' })
const Reduction = literals(REDUCTIONS)
const DateText = Type.String({ pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}$', description: 'A calendar date, YYYY-MM-DD, in the box owner\'s time zone' })

/** An attribute with one value per person: Identity.age. */
export const PlainValue = Type.Object({ attribute: AttributeName }, { additionalProperties: false })

/**
 * One person's value of a time series: the values per period (`series`: a day's steps are their
 * sum), reduced over a window of dates (`window`: the mean of those daily totals from `from`
 * up to, not including, `to`).
 */
export const SeriesValue = Type.Object({
  attribute: AttributeName,
  series: Type.Object({
    bucket: Type.String({ pattern: BUCKET_PATTERN, description: 'The period: 1h, 1d, 1w, 1mo' }),
    reduce: Reduction,
  }, { additionalProperties: false }),
  window: Type.Object({
    reduce: Reduction,
    from: DateText,
    to: Type.String({ ...DateText, description: 'The first date after the window' }),
  }, { additionalProperties: false }),
}, { additionalProperties: false })

export const Value = Type.Union([SeriesValue, PlainValue])
export type Value = Static<typeof Value>
export type SeriesValue = Static<typeof SeriesValue>

export const CountAll = Type.Object({ aggregate: Type.Literal('count') }, { additionalProperties: false, description: 'COUNT(*): how many answer' })
export const Aggregate = Type.Object({
  aggregate: Type.Union([Type.Literal('count'), Type.Literal('sum'), Type.Literal('avg')]),
  value: Value,
}, { additionalProperties: false })
export const Histogram = Type.Object({
  aggregate: Type.Literal('histogram'),
  value: Value,
  edges: Type.Array(Type.Number(), { minItems: 2, maxItems: MAX_HISTOGRAM_EDGES, description: 'Ascending; n edges make n - 1 buckets, the last one closed; values outside go to the outer buckets' }),
}, { additionalProperties: false })
/** The widest text prefix a dataset may keep: longer is no generalisation at all. */
export const MAX_PREFIX = 32

/**
 * A value listed for a dataset, generalised in the box before it leaves: a number as the band of
 * `band` width that holds it (age 37, band 10 → 30), a text as its first `prefix` characters
 * (postcode 52062, prefix 2 → 52). The values that are not `sensitive` are the quasi-identifiers:
 * records alike in all of them form an equivalence class, released only with at least k members;
 * a sensitive value must take at least l distinct values in each released class.
 */
export const Column = Type.Object({
  value: Value,
  band: Type.Optional(Type.Number({ exclusiveMinimum: 0, description: 'Numbers: the width of the bands a value is released as, e.g. 10 for ages 30–40' })),
  prefix: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PREFIX, description: 'Text: how many leading characters are released, e.g. 2 of a postcode' })),
  sensitive: Type.Optional(Type.Literal(true, { description: 'What the dataset is about (not a quasi-identifier): each released class holds at least l distinct values of it' })),
}, { additionalProperties: false })
export type Column = Static<typeof Column>

export const Selection = Type.Union([Histogram, Aggregate, CountAll, Column])
export type Selection = Static<typeof Selection>

export const OPERATORS = ['=', '!=', '<', '>', '<=', '>='] as const
export type Operator = (typeof OPERATORS)[number]

export const Comparison = Type.Object({
  value: Value,
  op: literals(OPERATORS),
  literal: Type.Union([Type.String({ maxLength: 256 }), Type.Number(), Type.Boolean()]),
}, { additionalProperties: false })
export type Comparison = Static<typeof Comparison>

export const Query = Type.Object({
  select: Type.Array(Selection, { minItems: 1, maxItems: MAX_SELECTIONS }),
  where: Type.Optional(Type.Array(
    Type.Array(Comparison, { minItems: 1, maxItems: MAX_COMPARISONS_PER_GROUP }),
    { minItems: 1, maxItems: MAX_GROUPS, description: 'Disjunctive normal form: a person matches when every comparison of at least one group holds' },
  )),
}, { additionalProperties: false })
export type Query = Static<typeof Query>

export const ANSWER_KINDS = ['statistics', 'histogram', 'dataset'] as const
export type AnswerKind = (typeof ANSWER_KINDS)[number]

export const Bounds = Type.Object({ lo: Type.Number(), hi: Type.Number() }, { additionalProperties: false })
export type Bounds = Static<typeof Bounds>

export const QuerySpec = Type.Object({
  question: Type.Union([Type.String({ minLength: 1, maxLength: MAX_QUERY_TEXT }), Query], { description: 'The query, in its text or its JSON form' }),
  purpose: Type.String({ minLength: 1, maxLength: 2000, description: 'Why the processor asks, in plain words an owner reads' }),
  price: Type.Object({
    amount: Type.Integer({ minimum: 0, description: 'Paid to each participant' }),
    currency: Type.Literal('sat', { description: 'Satoshis' }),
  }, { additionalProperties: false }),
  deadline: Type.String({ format: 'date-time', description: 'Owners may consent until then; answers are gathered then' }),
  participants: Type.Object({
    min: Type.Integer({ minimum: 1, description: `Fewer by the deadline and nothing is released; at least ${MIN_PARTICIPANTS_FLOOR}` }),
    max: Type.Integer({ minimum: 1, maximum: MAX_PARTICIPANTS }),
  }, { additionalProperties: false }),
  bounds: Type.Record(Type.String({ pattern: AttributeName.pattern }), Bounds, {
    description: "Per aggregated numeric attribute: each person's value is clipped to [lo, hi] before it leaves the box",
  }),
  answer: literals(ANSWER_KINDS),
  retention: Type.String({ pattern: '^[1-9][0-9]{0,3}(d|w|mo|y)$', description: 'How long the processor keeps the answer: 30d, 6mo, 2y' }),
}, { additionalProperties: false })
export type QuerySpec = Static<typeof QuerySpec>

/** One thing wrong with a query or spec: where (a JSON pointer, and in a text the place), and what. */
export interface QueryProblem {
  path: string
  message: string
  offset?: number
  line?: number
  column?: number
}
