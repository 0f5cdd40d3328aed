/**
 * The owner's side of the data markets: join and leave markets, read the queries they publish in
 * plain words, decide each, and set the privacy levels and rules that decide for the owner.
 * Owner only, audited as admin actions.
 */
import { Type, type Static } from '@sinclair/typebox'
import { OwnerAccount, PublishedQuery, describeQuery } from '@coffer/market/protocol'
import { defineOperation, ownerOnly, EpochSeconds } from '../operations/index.ts'
import { MappingKey, MappingPlace, MappingSchema, QUERY_STATES, budgetReport, type Membership, type ReceivedQuery } from './membership.ts'
import type { Store } from '../store/index.ts'
import { InvalidInput } from '../errors/index.ts'
import { MarketRule, PrivacyLevelSchema, PrivacyLevels } from './rules.ts'
import type { Answerer } from './answer.ts'

const MarketSchema = Type.Object({
  id: Type.String({ description: 'A short name for the market, from its address' }),
  url: Type.String(),
  joinedAt: EpochSeconds,
  nextSeq: Type.Integer({ description: 'The next query sequence number the box will ask the market for' }),
  syncedAt: Type.Union([EpochSeconds, Type.Null()]),
  lastError: Type.Union([Type.String(), Type.Null()], { description: 'Why the last attempt to read the market failed, if it did' }),
})

const QueryState = Type.Union(QUERY_STATES.map((s) => Type.Literal(s)), {
  description: 'waiting (for the owner), accepted, declined, cannot (touches data the owner does not share), answered, closed',
})

const ReceivedQuerySchema = Type.Object({
  market: Type.String(),
  id: Type.String(),
  seq: Type.Integer(),
  state: QueryState,
  decidedBy: Type.Union([Type.Literal('owner'), Type.Literal('rule'), Type.Literal('level'), Type.Null()]),
  decidedAt: Type.Union([EpochSeconds, Type.Null()]),
  reason: Type.Union([Type.String(), Type.Null()], { description: 'Which rule decided, or why the box cannot answer' }),
  receivedAt: EpochSeconds,
  spent: Type.Union([Type.String(), Type.Null()], { description: 'The ε this query took from the owner\'s budget, an exact fraction' }),
  answeredAt: Type.Union([EpochSeconds, Type.Null()]),
  earned: Type.Union([Type.Object({ sat: Type.Integer({ minimum: 0 }), at: Type.String({ format: 'date-time' }) }), Type.Null()], {
    description: 'What the market paid into your balance for it, as the box last read your account there; null while nothing is known to be paid',
  }),
  published: PublishedQuery,
})

const MarketPaymentsSchema = Type.Object({
  market: Type.String(),
  payoutAddress: Type.Union([Type.Object({
    address: Type.String(), setAt: EpochSeconds,
    delivered: Type.Boolean({ description: 'The market took it' }),
    problem: Type.Union([Type.String(), Type.Null()], { description: 'Why it did not reach the market' }),
  }), Type.Null()]),
  account: Type.Union([OwnerAccount, Type.Null()], { description: 'Your account at the market as last read: balance, what each answer earned, payouts' }),
  readAt: Type.Union([EpochSeconds, Type.Null()]),
  lastError: Type.Union([Type.String(), Type.Null()], { description: 'Why the last read of the account failed, if it did' }),
})

/** The owner's money at one market: payout address, balance, earnings and payouts. */
export type MarketPaymentsView = Static<typeof MarketPaymentsSchema>

const QueryDetail = Type.Composite([ReceivedQuerySchema, Type.Object({
  description: Type.String({ description: 'What the query asks, in plain words' }),
})])

/** A query as the owner's API answers it: what the box keeps of it, and the query in plain words. */
export type QueryDetail = Static<typeof QueryDetail>

const MappingRow = Type.Object({
  attribute: Type.String(), technicalType: Type.String(), unit: Type.Union([Type.String(), Type.Null()]),
  source: Type.Union([Type.String(), Type.Null()], { description: 'null: the box cannot answer about it' }),
  name: Type.Union([Type.String(), Type.Null()]),
  by: Type.Union([Type.Literal('owner'), Type.Literal('default'), Type.Null()]),
})
/** Where the box finds one attribute of a market's vocabulary, and who chose it. */
export type MappingRow = Static<typeof MappingRow>

const MarketInput = Type.Object({ market: Type.String({ maxLength: 200 }) })
const QueryInput = Type.Object({ id: Type.String({ maxLength: 200 }) })

export interface MarketOperationsDeps {
  membership: Membership
  answerer: Answerer
  store: Store
}

export function marketOperations({ membership, answerer, store }: MarketOperationsDeps) {
  // In the words of the query's own market's vocabulary.
  const detail = (query: ReceivedQuery) => ({ ...query, description: describeQuery(query.published.query, membership.vocabulary(query.market)) })

  return {
    list: defineOperation({
      name: 'market.list', summary: 'The data markets this box has joined', audit: 'admin',
      input: Type.Object({}), output: Type.Array(MarketSchema),
      access: ownerOnly,
      run: async () => membership.list(),
    }),

    join: defineOperation({
      name: 'market.join', summary: 'Join a data market: the box reads its queries; nothing is answered without consent', audit: 'admin', status: 201,
      input: Type.Object({ url: Type.String({ maxLength: 2000, description: 'The market\'s address' }) }),
      output: MarketSchema,
      access: ownerOnly,
      run: async ({ url }) => membership.join(url),
    }),

    leave: defineOperation({
      name: 'market.leave', summary: 'Leave a data market and forget its queries', audit: 'admin',
      input: MarketInput, output: Type.Object({ left: Type.String() }),
      access: ownerOnly,
      run: async ({ market }) => {
        membership.leave(market)
        return { left: market }
      },
    }),

    sync: defineOperation({
      name: 'market.sync', summary: 'Read a market\'s queries published since the last one this box holds, answer those accepted, and read your account there', audit: 'admin',
      input: MarketInput, output: Type.Object({ received: Type.Integer() }),
      access: ownerOnly,
      run: async ({ market }) => {
        const read = await membership.sync(market)
        await answerer.answerAccepted()
        return read
      },
    }),

    queries: defineOperation({
      name: 'market.queries', summary: 'Queries the markets published, newest first, with what became of each', audit: 'admin',
      input: Type.Object({
        state: Type.Optional(QueryState),
        market: Type.Optional(Type.String()),
        limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
      }),
      output: Type.Array(QueryDetail),
      access: ownerOnly,
      run: async (filter) => membership.queries(filter).map(detail),
    }),

    query: defineOperation({
      name: 'market.query', summary: 'One query: who asks, why, what would leave, how it is protected, what it pays', audit: 'admin',
      input: QueryInput, output: QueryDetail,
      access: ownerOnly,
      run: async ({ id }) => detail(membership.query(id)),
    }),

    accept: defineOperation({
      name: 'market.accept', summary: 'Consent to a query: the box answers it now, through the gateway', audit: 'admin',
      input: QueryInput, output: QueryDetail,
      access: ownerOnly,
      run: async ({ id }) => {
        const accepted = membership.decide(id, 'accept')
        try {
          return detail(await answerer.answer(accepted))
        } catch {
          // Not delivered (the market is down, say): it stays accepted, with why, and is tried again with the next read of the market.
          return detail(membership.query(id))
        }
      },
    }),

    decline: defineOperation({
      name: 'market.decline', summary: 'Decline a query: the box will not answer it', audit: 'admin',
      input: QueryInput, output: QueryDetail,
      access: ownerOnly,
      run: async ({ id }) => detail(membership.decide(id, 'decline')),
    }),

    levels: defineOperation({
      name: 'market.levels.get', summary: 'The owner\'s privacy level for each logical type; a type not named is not shared', audit: 'admin',
      input: Type.Object({}), output: PrivacyLevels,
      access: ownerOnly,
      run: async () => membership.levels,
    }),

    setLevels: defineOperation({
      name: 'market.levels.set', summary: 'Set privacy levels by logical type; dont_share means never answered', audit: 'admin',
      input: Type.Object({ levels: PrivacyLevels }), output: PrivacyLevels,
      access: ownerOnly,
      run: async ({ levels }) => {
        // Open queries are judged again; any a change lets a rule accept are answered in the background.
        membership.levels = { ...membership.levels, ...levels }
        void answerer.answerAccepted()
        return membership.levels
      },
    }),

    mapping: defineOperation({
      name: 'market.mapping.get', summary: 'Where the box finds each attribute of a market\'s vocabulary: the owner\'s choices over the box\'s defaults', audit: 'admin',
      input: MarketInput,
      output: Type.Array(MappingRow),
      access: ownerOnly,
      run: async ({ market }) => {
        const vocabulary = membership.vocabulary(market)
        const defaults = answerer.defaults(market)
        const own = membership.mapping
        return vocabulary.types.flatMap((type) => type.attributes.map((a) => {
          const attribute = `${type.name}.${a.name}`
          const place = own[attribute] ?? defaults[attribute]
          return {
            attribute, technicalType: a.technicalType, unit: a.unit ?? null, source: place?.source ?? null, name: place?.name ?? null,
            by: own[attribute] ? 'owner' as const : place ? 'default' as const : null,
          }
        }))
      },
    }),

    setMapping: defineOperation({
      name: 'market.mapping.set',
      summary: 'Say where the box finds attributes (LogicalType.attribute → source and record name, or null to go back to the default); the rest stay as they are',
      audit: 'admin',
      input: Type.Object({ mapping: Type.Record(MappingKey, Type.Union([MappingPlace, Type.Null()])) }), output: MappingSchema,
      access: ownerOnly,
      run: async ({ mapping }) => {
        const next = { ...membership.mapping }
        for (const [attribute, place] of Object.entries(mapping)) {
          if (place === null) {
            delete next[attribute]
            continue
          }
          if (!store.has(place.source)) throw new InvalidInput(`There is no source "${place.source}"; \`coffer sources list\` shows the box's sources.`)
          next[attribute] = place
        }
        membership.mapping = next
        return membership.mapping
      },
    }),

    budget: defineOperation({
      name: 'market.budget.get', summary: 'The privacy budget: ε spent this month per logical type, against its level\'s monthly allowance', audit: 'admin',
      input: Type.Object({}),
      output: Type.Array(Type.Object({
        logicalType: Type.String(), level: PrivacyLevelSchema,
        spent: Type.String({ description: 'ε spent this period, an exact fraction' }), limit: Type.Union([Type.String(), Type.Null()], { description: 'null: not shared' }),
        periodStart: Type.String(), periodEnd: Type.String(),
      })),
      access: ownerOnly,
      run: async () => budgetReport(membership, new Date()),
    }),

    payments: defineOperation({
      name: 'market.payments.get', summary: 'Your money at the markets: the payout address, the balance, what each answer earned and the payouts', audit: 'admin',
      input: Type.Object({
        market: Type.Optional(Type.String({ maxLength: 200, description: 'One market; all joined when absent' })),
        refresh: Type.Optional(Type.Boolean({ description: 'Read the accounts from the markets first (a failure is kept in lastError)' })),
      }),
      output: Type.Array(MarketPaymentsSchema),
      access: ownerOnly,
      run: async ({ market, refresh }) => {
        const markets = membership.payments(market)
        if (refresh) for (const m of markets) await answerer.readAccount(m.market).catch(() => undefined)
        return membership.payments(market)
      },
    }),

    setPayoutAddress: defineOperation({
      name: 'market.payoutAddress.set', summary: 'Set where a market pays you: a Bitcoin address on its network, signed by the box and sent through the gateway', audit: 'admin',
      input: Type.Object({ market: Type.String({ maxLength: 200 }), address: Type.String({ minLength: 1, maxLength: 100 }) }),
      output: MarketPaymentsSchema,
      access: ownerOnly,
      run: async ({ market, address }) => answerer.setPayoutAddress(market, address.trim()),
    }),

    rules: defineOperation({
      name: 'market.rules.get', summary: 'The owner\'s rules: the first that matches a new query accepts or declines it', audit: 'admin',
      input: Type.Object({}), output: Type.Array(MarketRule),
      access: ownerOnly,
      run: async () => membership.rules,
    }),

    setRules: defineOperation({
      name: 'market.rules.set', summary: 'Replace the owner\'s rules (in order; the first match decides)', audit: 'admin',
      input: Type.Object({ rules: Type.Array(MarketRule, { maxItems: 100 }) }), output: Type.Array(MarketRule),
      access: ownerOnly,
      run: async ({ rules }) => {
        membership.rules = rules
        void answerer.answerAccepted()
        return membership.rules
      },
    }),
  }
}

export type MarketOperations = ReturnType<typeof marketOperations>
