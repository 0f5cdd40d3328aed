/** Request and response schemas of the market's API: validation, response serialisation and the OpenAPI document in one. */
import { Type, type Static } from '@sinclair/typebox'
import { Query, QuerySpec } from '../query/index.ts'
import { TaskDescription } from '../protocol/index.ts'

export const ProblemSchema = Type.Object({
  type: Type.String(),
  title: Type.String(),
  status: Type.Integer(),
  detail: Type.String(),
}, { additionalProperties: true, description: 'RFC 9457 problem details' })

export const QueryProblemSchema = Type.Object({
  path: Type.String({ description: 'JSON pointer into the posted body: /question, /participants/min' }),
  message: Type.String(),
  offset: Type.Optional(Type.Integer({ description: 'In a text question, where the problem starts (0-based)' })),
  line: Type.Optional(Type.Integer()),
  column: Type.Optional(Type.Integer()),
})

export const ProcessorSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  contact: Type.Union([Type.String(), Type.Null()]),
  registeredAt: Type.String({ format: 'date-time' }),
})

export const RegisterBody = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 200, pattern: '\\S', description: 'Shown to box owners as who asks' }),
  contact: Type.Optional(Type.String({ maxLength: 500, description: 'How owners and the market reach the processor: an email address or a URL' })),
}, { additionalProperties: false })

export const Registered = Type.Object({
  processor: ProcessorSchema,
  key: Type.String({ description: 'The API key, shown only now: send it as `Authorization: Bearer <key>`' }),
})

const Status = Type.Union([Type.Literal('open'), Type.Literal('closed'), Type.Literal('cancelled')])

export const PostedQuerySchema = Type.Object({
  id: Type.String(),
  seq: Type.Integer({ description: 'The query\'s place in the feed' }),
  status: Status,
  spec: QuerySpec,
  query: Query,
  text: Type.String({ description: 'The question in canonical text form' }),
  postedAt: Type.String({ format: 'date-time' }),
  endedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
})

export const QueryWithParticipation = Type.Composite([PostedQuerySchema, Type.Object({
  participation: Type.Object({
    accepted: Type.Integer(),
    declined: Type.Integer(),
    answered: Type.Integer(),
    levels: Type.Object({ low: Type.Integer(), medium: Type.Integer(), high: Type.Integer() }, { description: 'Answers received per privacy class' }),
  }, { description: 'How many boxes decided, so far' }),
})])

export const QueryList = Type.Object({ queries: Type.Array(PostedQuerySchema) })

export const ListQuery = Type.Object({
  status: Type.Optional(Status),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
})

export const IdParams = Type.Object({ id: Type.String({ format: 'uuid' }) })

export const ValidationSchema = Type.Object({
  valid: Type.Boolean(),
  problems: Type.Array(QueryProblemSchema),
  query: Type.Optional(Query),
  text: Type.Optional(Type.String()),
})

export const FeedQuerystring = Type.Object({
  since: Type.Optional(Type.Integer({ minimum: 0, default: 0, description: 'The last sequence number the box has; 0 for everything' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
})

export { FeedPage as FeedPageSchema } from '../protocol/index.ts'

export const StreamQuerystring = Type.Object({
  since: Type.Optional(Type.Integer({ minimum: 0, description: 'Where to start; the Last-Event-ID header, when a reconnecting client sends it, takes precedence' })),
})

export const FeedLive = Type.Object({
  stream: Type.String({ description: 'The server-sent event stream of this market, relative to its URL' }),
  nats: Type.Union([Type.Object({
    servers: Type.String({ description: 'The NATS server the market announces on' }),
    subject: Type.String({ description: 'Each message is one published query, as in the feed, with its sequence number; a gap in the numbers is filled from /feed?since=' }),
  }), Type.Null()], { description: 'Where a box may subscribe instead, when the market announces on NATS' }),
})

export { AnyAnswer as AnswerSchema } from '../protocol/index.ts'
export { QueryResultSchema } from '../answers/index.ts'

export const AnswerAccepted = Type.Object({
  reportId: Type.String({ description: 'The report id (base64url), as the box made it' }),
}, { description: 'The answer is kept; it counts in the result released at the deadline' })

export const ResultQuerystring = Type.Object({
  format: Type.Optional(Type.Union([Type.Literal('json'), Type.Literal('csv')], { default: 'json' })),
})

const B64 = Type.String({ pattern: '^[A-Za-z0-9_-]*$' })

export const HpkeConfigAnswer = Type.Object({ hpkeConfig: Type.String({ description: "This aggregator's DAP HpkeConfig, base64url" }) })
export const ReportsBody = Type.Object({
  task: TaskDescription,
  uploads: Type.Array(B64, { description: "The helper's uploads of the batch, as boxes sent them" }),
})
export const ReportsAnswer = Type.Object({ accepted: Type.Integer({ description: 'Uploads that opened and fit the task' }) })
export const PrepareBody = Type.Object({ taskId: Type.String({ pattern: '^[A-Za-z0-9_-]{43}$' }), prepareInit: B64 })
export const PrepareAnswer = Type.Object({ prepareResp: B64 })
export const ReleaseBody = Type.Object({ taskId: Type.String({ pattern: '^[A-Za-z0-9_-]{43}$' }), commit: B64 })
export const ReleaseAnswer = Type.Object({ aggregateShare: B64 })

export { PaymentTerms, ProcessorAccount, PayoutAddressBody, PayoutAddressSet, OwnerAccount } from '../protocol/index.ts'

export const BoxParams = Type.Object({ boxId: Type.String({ pattern: '^[0-9a-f]{64}$' }) })
export const AccountQuery = Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })) })

export const DepositBody = Type.Object({
  processorId: Type.String({ minLength: 1, maxLength: 64 }),
  amount: Type.Integer({ minimum: 1, description: 'Satoshis received from the processor' }),
  reference: Type.String({ minLength: 1, maxLength: 200, pattern: '\\S', description: 'What identifies the payment (a transaction id, a bank reference): one deposit per reference' }),
}, { additionalProperties: false })

export const DepositAnswer = Type.Object({
  entryId: Type.Integer(),
  processorId: Type.String(),
  amount: Type.Integer(),
  reference: Type.String(),
  recorded: Type.Boolean({ description: 'false when this reference had been recorded before: nothing changed' }),
  balance: Type.Integer({ description: 'The processor\'s balance now' }),
})

const Totals = Type.Object({
  processor: Type.Integer(), escrow: Type.Integer(), owner: Type.Integer(), payouts: Type.Integer(), fees: Type.Integer(), deposits: Type.Integer(), paid: Type.Integer(),
})
export const LedgerCheckSchema = Type.Object({
  entriesBalance: Type.Boolean({ description: 'Every entry\'s lines add up to zero' }),
  balancesMatchLines: Type.Boolean({ description: 'Every account\'s balance is the sum of its lines' }),
  total: Type.Integer({ description: 'All balances together: 0 when everything paid in is held or paid out' }),
  byKind: Totals,
  entries: Type.Integer(),
})

const Instant = Type.String({ format: 'date-time' })
export const PayoutSummarySchema = Type.Object({
  id: Type.String(),
  txid: Type.String(),
  state: Type.Union([Type.Literal('signed'), Type.Literal('broadcast'), Type.Literal('confirmed'), Type.Literal('failed')]),
  owners: Type.Integer(),
  sent: Type.Integer({ description: 'What the owners receive, together' }),
  fee: Type.Integer({ description: 'The transaction\'s network fee' }),
  feePerOwner: Type.Integer({ description: 'Each owner\'s share of the fee, taken from what they are sent' }),
  vbytes: Type.Integer({ description: 'The transaction\'s size in virtual bytes' }),
  createdAt: Instant,
  broadcastAt: Type.Union([Instant, Type.Null()]),
  settledAt: Type.Union([Instant, Type.Null()]),
  error: Type.Union([Type.String(), Type.Null()]),
})
export const PayoutDetailSchema = Type.Composite([PayoutSummarySchema, Type.Object({
  lines: Type.Array(Type.Object({ boxId: Type.String(), address: Type.String(), amount: Type.Integer(), fee: Type.Integer(), vout: Type.Integer() })),
})])
export const PayoutList = Type.Object({ payouts: Type.Array(PayoutSummarySchema) })
export const PayoutRunSchema = Type.Object({
  made: Type.Array(PayoutSummarySchema),
  broadcast: Type.Array(Type.String()),
  confirmed: Type.Array(Type.String()),
  failed: Type.Array(Type.String(), { description: 'Refused by the network: the money is back in the owners\' balances' }),
  problems: Type.Array(Type.String()),
})
export const WalletStateSchema = Type.Object({
  address: Type.String({ description: 'Where the operator sends the coins payouts are made from' }),
  network: Type.String(),
  available: Type.Integer(),
  pending: Type.Integer({ description: 'Change of payouts not confirmed yet' }),
  coins: Type.Array(Type.Object({
    txid: Type.String(), vout: Type.Integer(), amount: Type.Integer(),
    state: Type.Union([Type.Literal('available'), Type.Literal('pending'), Type.Literal('spent')]),
    spentBy: Type.Union([Type.String(), Type.Null()]), changeOf: Type.Union([Type.String(), Type.Null()]),
  })),
})
export const CoinBody = Type.Object({
  txid: Type.String({ pattern: '^[0-9a-f]{64}$' }),
  vout: Type.Integer({ minimum: 0 }),
  amount: Type.Integer({ minimum: 1 }),
}, { additionalProperties: false })
export const CoinAdded = Type.Object({ added: Type.Boolean({ description: 'false when the wallet held this coin already' }) })
export const PayoutParams = Type.Object({ id: Type.String({ format: 'uuid' }) })
export const LimitQuery = Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })) })

export const PrivacyTable = Type.Object({
  levels: Type.Array(Type.Object({
    level: Type.String(),
    shares: Type.Boolean({ description: 'false for dont_share: such an owner never answers' }),
    epsilon: Type.Optional(Type.String({ description: 'ε of one statistics answer, a decimal or a fraction' })),
    monthlyBudget: Type.Optional(Type.String({ description: 'ε an owner\'s box may spend on one logical type in a calendar month' })),
    k: Type.Optional(Type.Integer({ description: 'A released dataset class has at least k records' })),
    l: Type.Optional(Type.Integer({ description: '…and at least l distinct values of each sensitive column' })),
    description: Type.String(),
  })),
  whatTheMarketSees: Type.Object({ statistics: Type.String(), datasets: Type.String() }, { description: 'The processors\' terms: what this market can see of the answers' }),
})
export type PrivacyTableBody = Static<typeof PrivacyTable>
