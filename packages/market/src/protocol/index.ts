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
import { TaskDescription } from '../aggregation/schema.ts'

export {
  Query, QuerySpec, Value, Selection, Column, Comparison, Bounds, OPERATORS, ANSWER_KINDS, MIN_PARTICIPANTS_FLOOR,
  type SeriesValue, type Operator, type AnswerKind, type QueryProblem,
} from '../query/schema.ts'
export { describeQuery } from '../query/describe.ts'
export { TaskDescription, AggregationKind, AggregatorEndpoint, DeclaredBounds, VdafSpec, PROTOCOL } from '../aggregation/schema.ts'
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
  /**
   * For statistics and histogram answers: the secure-aggregation task of each privacy class
   * (its partition is the level). A box answering at level L builds its report for tasks[L],
   * sealed to both aggregators' HPKE keys given there. Absent for datasets.
   */
  tasks: Type.Optional(Type.Partial(Type.Object({ low: TaskDescription, medium: TaskDescription, high: TaskDescription }, { additionalProperties: false }))),
})
export type PublishedQuery = Static<typeof PublishedQuery>

export const FeedPage = Type.Object({
  queries: Type.Array(PublishedQuery, { description: 'Open queries after `since`, in sequence order' }),
  next: Type.Integer({ minimum: 0, description: 'The `since` for the next request: the last sequence number read' }),
})
export type FeedPage = Static<typeof FeedPage>

const Base64url = (maxLength: number) => Type.String({ pattern: '^[A-Za-z0-9_-]+$', maxLength })

/**
 * A box's answer to a statistics or histogram query: its Prio3 report as two uploads, one
 * sealed to each aggregator (opaque to the market; see the aggregation README for the bytes),
 * the privacy level it was given at, which puts it in that level's privacy class, and the box's
 * Ed25519 signature over answerSigningText(answer) with its identity key. The signature lets
 * the market count one answer per box and refuse an upload replayed under another box's name;
 * the market learns who answered, never what or whether the box matched.
 */
export const Answer = Type.Object({
  queryId: Id,
  /** The box's Ed25519 public key, 32 bytes as 64 lowercase hex digits. */
  boxId: Type.String({ pattern: '^[0-9a-f]{64}$' }),
  privacyLevel: literals(SHARING_LEVELS),
  /** The upload for the leader (Report.leader), base64url without padding. */
  leader: Base64url(1_000_000),
  /** The upload for the helper (Report.helper), base64url without padding; the leader forwards it. */
  helper: Base64url(1_000_000),
  /** Ed25519 (RFC 8032) signature of answerSigningText(answer) in UTF-8, 64 bytes as base64url without padding. */
  signature: Type.String({ pattern: '^[A-Za-z0-9_-]{86}$' }),
})
export type Answer = Static<typeof Answer>

/**
 * What a box signs, as UTF-8, with its identity key (libsodium's crypto_sign_detached, i.e.
 * plain Ed25519), and what the market verifies. Every field but the signature, one per line,
 * behind a version tag so the signature cannot be taken for one over anything else.
 */
export function answerSigningText(answer: Omit<Answer, 'signature'>): string {
  return `coffer-market-answer-v1\n${answer.queryId}\n${answer.boxId}\n${answer.privacyLevel}\n${answer.leader}\n${answer.helper}`
}

/** One box's sealed dataset record (see the star module): each field base64url without padding. */
export const DatasetRecord = Type.Object({
  tag: Base64url(64),
  x: Base64url(64),
  y: Base64url(64),
  nonce: Base64url(64),
  ciphertext: Base64url(4096),
}, { additionalProperties: false })
export type DatasetRecord = Static<typeof DatasetRecord>

/**
 * A box's answer to a dataset query: its generalised record, sealed so that the market can open
 * it only when at least k boxes at the same privacy level sent the same class (k is the level's),
 * signed like a statistics answer. A box that does not match sends a decoy of the same size.
 */
export const DatasetAnswer = Type.Object({
  queryId: Id,
  boxId: Type.String({ pattern: '^[0-9a-f]{64}$' }),
  privacyLevel: literals(SHARING_LEVELS),
  record: DatasetRecord,
  signature: Type.String({ pattern: '^[A-Za-z0-9_-]{86}$' }),
})
export type DatasetAnswer = Static<typeof DatasetAnswer>

/** What a box signs for a dataset answer: the same rules as answerSigningText, its own version tag. */
export function datasetAnswerSigningText(answer: Omit<DatasetAnswer, 'signature'>): string {
  const { tag, x, y, nonce, ciphertext } = answer.record
  return `coffer-market-dataset-answer-v1\n${answer.queryId}\n${answer.boxId}\n${answer.privacyLevel}\n${tag}\n${x}\n${y}\n${nonce}\n${ciphertext}`
}

/** Either kind of answer, as the answers route takes it. */
export const AnyAnswer = Type.Union([Answer, DatasetAnswer])
export type AnyAnswer = Static<typeof AnyAnswer>

export {
  NETWORKS, ENTRY_KINDS, PaymentTerms, ProcessorAccount, PayoutAddressBody, PayoutAddressSet, OwnerAccount, OwnerEarning, OwnerPayout, PAYOUT_STATES,
  ACCOUNT_SIGNED_AT, ACCOUNT_SIGNATURE, SIGNATURE_WINDOW_SECONDS, accountSigningText, payoutAddressSigningText,
  type Network, type PayoutState,
} from './payments.ts'
