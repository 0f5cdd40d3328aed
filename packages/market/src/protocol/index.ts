/**
 * What boxes and a market exchange: a query as boxes receive it, a page of the feed, and a box's
 * answer. The box imports this (`@coffer/market/protocol`), so it stays plain: TypeBox schemas
 * and the parts of the query language that need no parser. It imports the query folder's
 * parser-free modules directly rather than its index, which would load the generated parser:
 * a box receives queries in their JSON form and never parses text.
 */
import { Type, type Static } from '@sinclair/typebox'
import { Query, QuerySpec } from '../query/schema.ts'
import { literals } from '../vocabulary/index.ts'

export {
  Query, QuerySpec, Value, Selection, Comparison, Bounds, OPERATORS, ANSWER_KINDS, MIN_PARTICIPANTS_FLOOR,
  type SeriesValue, type Operator, type AnswerKind, type QueryProblem,
} from '../query/schema.ts'
export { describeQuery } from '../query/describe.ts'
export { printQuery } from '../query/print.ts'
export {
  DEFAULT_VOCABULARY, Vocabulary as VocabularySchema, findAttribute, REDUCTIONS, TECHNICAL_TYPES,
  type Vocabulary, type LogicalType, type Attribute, type FoundAttribute, type Reduction, type TechnicalType,
} from '../vocabulary/index.ts'

/** The privacy levels an owner sets per logical type (myneData's); what each means is the privacy module's table. */
export const PRIVACY_LEVELS = ['low', 'medium', 'high', 'dont_share'] as const
export type PrivacyLevel = (typeof PRIVACY_LEVELS)[number]
/** The levels at which a box answers; at "don't share" it never does, so no answer carries it. */
export const SHARING_LEVELS = ['low', 'medium', 'high'] as const satisfies readonly Exclude<PrivacyLevel, 'dont_share'>[]
export type SharingLevel = (typeof SHARING_LEVELS)[number]


const Id = Type.String({ minLength: 1, maxLength: 64 })
const Instant = Type.String({ format: 'date-time' })

/** A query as the market publishes it to boxes. */
export const PublishedQuery = Type.Object({
  id: Id,
  /** Its place in the market's feed: a box that has read up to n asks for what came after n. */
  seq: Type.Integer({ minimum: 1 }),
  processor: Type.Object({
    id: Id,
    name: Type.String({ maxLength: 200 }),
    contact: Type.Optional(Type.Union([Type.String({ maxLength: 200 }), Type.Null()])),
  }),
  /** As the processor posted it: purpose, price, participants, bounds, answer kind, retention. */
  spec: QuerySpec,
  /** The question in its JSON form, as the market checked it: what a box evaluates. */
  query: Query,
  /** The question in canonical text, for showing. */
  text: Type.Optional(Type.String()),
  postedAt: Instant,
  /** Consent closes, and answers are gathered, at this instant (the spec's deadline). */
  deadline: Instant,
})
export type PublishedQuery = Static<typeof PublishedQuery>

export const FeedPage = Type.Object({
  queries: Type.Array(PublishedQuery, { description: 'Open queries after `since`, in sequence order' }),
  next: Type.Integer({ minimum: 0, description: 'The `since` for the next request: the last sequence number read' }),
})
export type FeedPage = Static<typeof FeedPage>

/**
 * A box's answer to a statistics query: an encrypted report, opaque to the market, and the
 * privacy level it was given at, which puts it in that level's privacy class. The aggregation
 * work defines what the report bytes hold.
 */
export const Answer = Type.Object({
  queryId: Id,
  boxId: Id,
  /** The report's bytes, base64url without padding. */
  report: Type.String({ pattern: '^[A-Za-z0-9_-]*$', maxLength: 1_000_000 }),
  privacyLevel: literals(SHARING_LEVELS),
})
export type Answer = Static<typeof Answer>
