/**
 * The markets the owner joined, and the queries they published. The box asks each market for
 * its queries since the last one it has (so a box that was off catches up), keeps every query
 * with what became of it, and judges each as it arrives: the owner's privacy levels and rules
 * decide it, or it waits for the owner. Nothing here sends anything to a market: the box only
 * reads a market's public feed; answers leave through the gateway.
 */
import crypto from 'node:crypto'
import type Database from 'better-sqlite3'
import { Type, type TSchema } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import {
  ACCOUNT_SIGNATURE, ACCOUNT_SIGNED_AT, FeedPage, OwnerAccount, PaymentTerms, accountSigningText,
  type PublishedQuery, type Vocabulary,
} from '@coffer/market/protocol'
import { BadGateway, Conflict, InvalidInput, NotFound } from '../errors/index.ts'
import type { GrantedDestination } from '../gateway/index.ts'
import { budgetForLevel, periodOf, toText } from '@coffer/market/privacy'
import { factsOf, judge, levelOf, MarketRule, PrivacyLevels } from './rules.ts'
import type { Mapping } from './evaluate.ts'

export const QUERY_STATES = ['waiting', 'accepted', 'declined', 'cannot', 'answered', 'closed'] as const
export type QueryState = (typeof QUERY_STATES)[number]

export interface MarketInfo {
  id: string
  url: string
  joinedAt: number
  /** The next sequence number the box will ask for. */
  nextSeq: number
  syncedAt: number | null
  lastError: string | null
}

export interface ReceivedQuery {
  market: string
  id: string
  seq: number
  state: QueryState
  decidedBy: 'owner' | 'rule' | 'level' | null
  decidedAt: number | null
  reason: string | null
  receivedAt: number
  /** The ε this query took from the owner's budget, once the box set out to answer it. */
  spent: string | null
  answeredAt: number | null
  /** What the market paid into the owner's balance for it, as the box last read its account; null while nothing is known to be paid. */
  earned: { sat: number; at: string } | null
  published: PublishedQuery
}

/**
 * The owner's money at one market, as the box keeps it: the payout address they set (and whether
 * the market took it), and their account there as last read (balance, what each answer earned,
 * payouts).
 */
export interface MarketPayments {
  market: string
  payoutAddress: { address: string; setAt: number; delivered: boolean; problem: string | null } | null
  account: OwnerAccount | null
  /** When the account was last read, epoch seconds. */
  readAt: number | null
  lastError: string | null
}

/** Who reads an account: the box's identity, which signs the request. */
export interface AccountReader {
  boxId: string
  sign(text: string): string
}

/** The owner's ε spent per logical type in the current period: exact rationals, as text. */
export type BudgetUsages = Record<string, { periodStart: string; spent: string }>

/** A page of a feed at most; a box that was off for long reads several. */
const PAGE = 200
const FETCH_TIMEOUT_MS = 10_000

/** How often an open box reads the markets it joined. */
const SYNC_EVERY_MS = 5 * 60_000

export interface MembershipDeps {
  db: Database.Database
  /** Told when a market could not be read in the background; its error is also kept for the owner. */
  onSyncError?: (market: string, err: Error) => void
  /** Run after each background read of the markets: answering what was accepted. */
  afterSync?: () => Promise<void>
  /** How the box reaches a market: `fetch`, or a stand-in in tests. */
  fetch?: typeof fetch
  now?: () => number
}

export class Membership {
  readonly #db: Database.Database
  readonly #fetch: typeof fetch
  readonly #now: () => number
  readonly #onSyncError: NonNullable<MembershipDeps['onSyncError']>
  readonly #afterSync: MembershipDeps['afterSync']
  #timer: NodeJS.Timeout | undefined
  #syncing: Promise<void> | undefined

  constructor(deps: MembershipDeps) {
    this.#db = deps.db
    this.#onSyncError = deps.onSyncError ?? (() => undefined)
    this.#afterSync = deps.afterSync
    this.#fetch = deps.fetch ?? fetch
    this.#now = deps.now ?? (() => Date.now() / 1000)
  }

  /** Reads every market now, and then every few minutes while the box is open. */
  open(): void {
    this.#timer ??= setInterval(() => void this.syncAll(), SYNC_EVERY_MS).unref()
    void this.syncAll()
  }

  async close(): Promise<void> {
    clearInterval(this.#timer)
    this.#timer = undefined
    await this.#syncing
  }

  /** Reads every joined market, one after another; one that fails does not stop the others. */
  syncAll(): Promise<void> {
    this.#syncing ??= (async () => {
      for (const { id } of this.list()) {
        await this.sync(id).catch((err: Error) => this.#onSyncError(id, err))
      }
      await this.#afterSync?.()
    })().finally(() => { this.#syncing = undefined })
    return this.#syncing
  }

  /** Queries whose deadline passed while they waited for the owner, or for the box to answer, are closed: nothing more can be done with them. */
  #closeEnded(market: string): void {
    const now = this.#now()
    const close = this.#db.prepare(`UPDATE market_queries SET state = 'closed', reason = ?, decided_at = COALESCE(decided_at, ?) WHERE market = ? AND id = ? AND state = ?`)
    const open = this.#db.prepare(`SELECT * FROM market_queries WHERE market = ? AND state IN ('waiting', 'accepted')`).all(market) as QueryRow[]
    for (const row of open) {
      const { deadline } = JSON.parse(row.query) as PublishedQuery
      if (Date.parse(deadline) / 1000 > now) continue
      const why = row.state === 'waiting' ? `its deadline (${deadline}) passed before you decided` : `its deadline (${deadline}) passed before the box could answer: ${row.reason ?? 'the market could not be reached'}`
      close.run(why, now, row.market, row.id, row.state)
    }
  }

  /** Joins the market at `url` once it answered as a market does; its queries are read at once. */
  async join(url: string): Promise<MarketInfo> {
    const base = marketUrl(url)
    const existing = this.#db.prepare('SELECT * FROM markets WHERE url = ?').get(base) as MarketRow | undefined
    if (existing) throw new Conflict(`You have already joined ${base} (as ${existing.id}).`)
    const vocabulary = await this.#get(base, '/api/v1/vocabulary', 'its vocabulary')
    if (!isVocabulary(vocabulary)) throw new BadGateway(`The market at ${base} answered with something that is not a vocabulary; is this the address of a Coffer market?`)
    const id = marketId(base)
    this.#db.prepare('INSERT INTO markets (id, url, vocabulary, joined_at) VALUES (?, ?, ?, ?)').run(id, base, JSON.stringify(vocabulary), this.#now())
    await this.sync(id)
    return this.market(id)
  }

  /** Leaves a market: its queries are forgotten, and what was answered stays in the audit log. */
  leave(id: string): void {
    this.market(id)
    this.#db.transaction(() => {
      this.#db.prepare('DELETE FROM market_queries WHERE market = ?').run(id)
      this.#db.prepare('DELETE FROM markets WHERE id = ?').run(id)
      const payments = this.#allPayments()
      delete payments[id]
      this.#save('payments', PaymentsSchema, payments)
    })()
  }

  list(): MarketInfo[] {
    return (this.#db.prepare('SELECT * FROM markets ORDER BY joined_at').all() as MarketRow[]).map(fromMarketRow)
  }

  market(id: string): MarketInfo {
    const row = this.#db.prepare('SELECT * FROM markets WHERE id = ?').get(id) as MarketRow | undefined
    if (!row) throw new NotFound(`You have not joined a market "${id}"; \`coffer market list\` shows the ones you have.`)
    return fromMarketRow(row)
  }

  /**
   * Reads a market's queries since the last one the box holds, page by page, and judges each;
   * closes those whose deadline passed first. A market that cannot be reached keeps what the
   * box has; its error is kept for the owner.
   */
  async sync(id: string): Promise<{ received: number }> {
    const market = this.market(id)
    this.#closeEnded(id)
    let next = market.nextSeq
    let received = 0
    try {
      for (;;) {
        const page = await this.#page(market.url, next, PAGE)
        this.#keep(market.id, page.queries)
        received += page.queries.length
        if (page.next <= next || page.queries.length === 0) break
        next = page.next
        this.#db.prepare('UPDATE markets SET next_seq = ? WHERE id = ?').run(next, id)
      }
      this.#db.prepare('UPDATE markets SET synced_at = ?, last_error = NULL WHERE id = ?').run(this.#now(), id)
      return { received }
    } catch (err) {
      this.#db.prepare('UPDATE markets SET last_error = ? WHERE id = ?').run((err as Error).message, id)
      throw err
    }
  }

  queries(filter: { state?: QueryState; market?: string; limit?: number } = {}): ReceivedQuery[] {
    const rows = this.#db.prepare(`SELECT * FROM market_queries WHERE (@state IS NULL OR state = @state) AND (@market IS NULL OR market = @market)
      ORDER BY received_at DESC, seq DESC LIMIT @limit`).all({ state: filter.state ?? null, market: filter.market ?? null, limit: filter.limit ?? 100 }) as QueryRow[]
    const earned = this.#earnings()
    return rows.map((row) => fromQueryRow(row, earned))
  }

  query(id: string): ReceivedQuery {
    const rows = this.#db.prepare('SELECT * FROM market_queries WHERE id = ?').all(id) as QueryRow[]
    if (rows.length === 0) throw new NotFound(`No market query "${id}" has reached this box; \`coffer market list\` shows the ones that have.`)
    if (rows.length > 1) throw new Conflict(`Two markets published a query "${id}"; name it as market:id (${rows.map((r) => `${r.market}:${r.id}`).join(', ')}).`)
    return fromQueryRow(rows[0]!, this.#earnings())
  }

  /** The owner's money at each joined market (or one), as last read. */
  payments(id?: string): MarketPayments[] {
    const all = this.#allPayments()
    return (id === undefined ? this.list() : [this.market(id)]).map((m) => ({ market: m.id, payoutAddress: null, account: null, readAt: null, lastError: null, ...all[m.id] }))
  }

  /** The payout address the owner just set for a market, before it is sent: the gateway may send it there while it is on its way. */
  notePayoutAddress(id: string, address: string): void {
    this.market(id)
    this.#updatePayments(id, { payoutAddress: { address, setAt: this.#now(), delivered: false, problem: null } })
  }

  /** The market took the address, or why it did not (it is tried again only when the owner sets it again). */
  settlePayoutAddress(id: string, outcome: { delivered: true } | { delivered: false; problem: string }): void {
    const current = this.payments(id)[0]!.payoutAddress
    if (!current) return
    this.#updatePayments(id, { payoutAddress: { ...current, delivered: outcome.delivered, problem: outcome.delivered ? null : outcome.problem } })
  }

  /** Where the payout address for a market is sent. */
  payoutAddressUrl(id: string): string {
    return `${this.market(id).url}/api/v1/owners/payout-address`
  }

  /** The market's payment terms: its network, threshold and fee rate. */
  async paymentTerms(id: string): Promise<PaymentTerms> {
    const { url } = this.market(id)
    const terms = await this.#get(url, '/api/v1/payments', 'how it pays')
    if (!Value.Check(PaymentTerms, terms)) throw new BadGateway(`The market at ${url} answered with something that is not its payment terms; it may be a market that pays no one.`)
    return terms
  }

  /**
   * Reads the owner's account at a market, in a request the box's identity signs, and keeps it:
   * what the statement and the cockpit show when the market cannot be reached.
   */
  async readAccount(id: string, reader: AccountReader): Promise<MarketPayments> {
    const { url } = this.market(id)
    const signedAt = new Date(this.#now() * 1000).toISOString()
    try {
      const account = await this.#get(url, `/api/v1/owners/${reader.boxId}/account`, 'your account', {
        [ACCOUNT_SIGNED_AT]: signedAt, [ACCOUNT_SIGNATURE]: reader.sign(accountSigningText(reader.boxId, signedAt)),
      })
      if (!Value.Check(OwnerAccount, account)) throw new BadGateway(`The market at ${url} answered with something that is not your account there.`)
      this.#updatePayments(id, { account, readAt: this.#now(), lastError: null })
    } catch (err) {
      this.#updatePayments(id, { lastError: (err as Error).message })
      throw err
    }
    return this.payments(id)[0]!
  }

  /** The owner's own decision on a query that is waiting (or one they decided before, while it is open). */
  decide(id: string, decision: 'accept' | 'decline'): ReceivedQuery {
    const query = this.query(id)
    if (!['waiting', 'accepted', 'declined'].includes(query.state)) {
      throw new Conflict(`Query ${id} is ${query.state}; only a query that is waiting, accepted or declined can be decided.`)
    }
    if (Date.parse(query.published.deadline) / 1000 <= this.#now()) throw new Conflict(`Query ${id} closed at ${query.published.deadline}; it can no longer be decided.`)
    this.#db.prepare(`UPDATE market_queries SET state = ?, decided_by = 'owner', decided_at = ?, reason = NULL WHERE market = ? AND id = ?`)
      .run(decision === 'accept' ? 'accepted' : 'declined', this.#now(), query.market, query.id)
    return this.query(id)
  }

  /**
   * Where a market may be sent answers: the answer endpoint of each query the owner (or their
   * rule) accepted and the box has not answered, while it is open. The gateway sends to nothing else.
   */
  destinations(id: string): GrantedDestination[] {
    const market = this.#db.prepare('SELECT url FROM markets WHERE id = ?').get(id) as { url: string } | undefined
    if (!market) return []
    const now = this.#now()
    const answers = this.queries({ market: id, state: 'accepted', limit: 1000 })
      .filter((q) => Date.parse(q.published.deadline) / 1000 > now)
      .map((q) => ({ id: q.id, url: answerUrl(market.url, q.id), frequency: 'on-demand' as const, maxBytes: MAX_ANSWER_BYTES, policy: 'auto' as const }))
    // The payout address the owner set, only until the market has it.
    const address = this.#allPayments()[id]?.payoutAddress
    const payout = address && !address.delivered
      ? [{ id: 'payout-address', url: `${market.url}/api/v1/owners/payout-address`, frequency: 'on-demand' as const, maxBytes: MAX_PAYOUT_ADDRESS_BYTES, policy: 'auto' as const }]
      : []
    return [...answers, ...payout]
  }

  /** Ends a query's course: answered, or one the box cannot answer (with why). */
  settle(query: ReceivedQuery, state: 'answered' | 'cannot', reason: string): ReceivedQuery {
    this.#db.prepare('UPDATE market_queries SET state = ?, reason = ?, answered_at = ? WHERE market = ? AND id = ?')
      .run(state, reason, state === 'answered' ? this.#now() : null, query.market, query.id)
    return this.query(query.id)
  }

  /** Why an accepted query is not answered yet (its market could not be reached, say); it is tried again. */
  note(query: ReceivedQuery, reason: string): void {
    this.#db.prepare(`UPDATE market_queries SET reason = ? WHERE market = ? AND id = ? AND state = 'accepted'`).run(reason, query.market, query.id)
  }

  /** Takes a query's ε from the owner's budget, with the budget's new state, in one transaction. */
  spend(query: ReceivedQuery, epsilon: string, usages: BudgetUsages): void {
    this.#db.transaction(() => {
      this.#save('budget', BudgetSchema, { ...this.budget, ...usages })
      this.#db.prepare('UPDATE market_queries SET spent = ? WHERE market = ? AND id = ?').run(epsilon, query.market, query.id)
    })()
  }

  get budget(): BudgetUsages {
    return this.#setting('budget', BudgetSchema, {})
  }

  /** The owner's own choices of where each attribute is found; the box's defaults fill in the rest. */
  get mapping(): Mapping {
    return this.#setting('mapping', MappingSchema, {})
  }

  set mapping(mapping: Mapping) {
    this.#save('mapping', MappingSchema, mapping)
  }

  get levels(): PrivacyLevels {
    return this.#setting('levels', PrivacyLevels, {})
  }

  set levels(levels: PrivacyLevels) {
    this.#save('levels', PrivacyLevels, levels)
    this.#rejudge()
  }

  get rules(): MarketRule[] {
    return this.#setting('rules', RuleList, [])
  }

  set rules(rules: MarketRule[]) {
    this.#save('rules', RuleList, rules)
    this.#rejudge()
  }

  #keep(market: string, queries: PublishedQuery[]): void {
    const insert = this.#db.prepare(`INSERT OR IGNORE INTO market_queries (market, id, seq, query, state, decided_by, decided_at, reason, received_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
    const now = this.#now()
    const verdictOf = this.#verdicts()
    this.#db.transaction(() => {
      for (const query of queries) {
        const { state, by, reason } = verdictOf(query)
        insert.run(market, query.id, query.seq, JSON.stringify(query), state, by, by === null ? null : now, reason, now)
      }
    })()
  }

  /**
   * Judges again, after the owner changed levels or rules, every open query that no one decided
   * yet or that a level kept out: the owner's own decisions and the box's answers stand.
   */
  #rejudge(): void {
    const now = this.#now()
    const verdictOf = this.#verdicts()
    const update = this.#db.prepare('UPDATE market_queries SET state = ?, decided_by = ?, decided_at = ?, reason = ? WHERE market = ? AND id = ?')
    this.#db.transaction(() => {
      const open = (this.#db.prepare(`SELECT * FROM market_queries WHERE state = 'waiting' OR (state = 'cannot' AND decided_by = 'level') OR (state IN ('accepted', 'declined') AND decided_by = 'rule')`)
        .all() as QueryRow[]).map((row) => fromQueryRow(row, new Map())).filter((q) => Date.parse(q.published.deadline) / 1000 > now)
      for (const query of open) {
        const { state, by, reason } = verdictOf(query.published)
        update.run(state, by, by === null ? null : now, reason, query.market, query.id)
      }
    })()
  }

  /** The state the owner's levels and rules, as they are now, give a query. */
  #verdicts(): (query: PublishedQuery) => { state: QueryState; by: 'rule' | 'level' | null; reason: string | null } {
    const { levels, rules } = this
    return (query) => {
      const verdict = judge(factsOf(query), levels, rules)
      switch (verdict.decision) {
        case 'ask': return { state: 'waiting', by: null, reason: null }
        case 'cannot': return { state: 'cannot', by: 'level', reason: verdict.reason }
        default: return { state: verdict.decision === 'accept' ? 'accepted' : 'declined', by: 'rule', reason: `rule ${verdict.rule + 1}` }
      }
    }
  }

  /** The vocabulary of a market the box joined: what its queries' attributes mean. */
  vocabulary(id: string): Vocabulary {
    const row = this.#db.prepare('SELECT vocabulary FROM markets WHERE id = ?').get(id) as { vocabulary: string } | undefined
    if (!row) throw new NotFound(`You have not joined a market "${id}".`)
    return JSON.parse(row.vocabulary) as Vocabulary
  }

  async #page(url: string, since: number, limit: number): Promise<FeedPage> {
    const page = await this.#get(url, `/api/v1/feed?since=${since}&limit=${limit}`, 'its queries')
    if (!Value.Check(FeedPage, page)) throw new BadGateway(`The market at ${url} answered with something that is not a page of queries; is this the address of a Coffer market?`)
    return page
  }

  #allPayments(): Record<string, Omit<MarketPayments, 'market'>> {
    return this.#setting('payments', PaymentsSchema, {})
  }

  #updatePayments(id: string, change: Partial<Omit<MarketPayments, 'market'>>): void {
    const all = this.#allPayments()
    const current = all[id] ?? { payoutAddress: null, account: null, readAt: null, lastError: null }
    this.#save('payments', PaymentsSchema, { ...all, [id]: { ...current, ...change } })
  }

  /** What each answered query earned, by market and query, from the accounts as last read. */
  #earnings(): Map<string, { sat: number; at: string }> {
    const earned = new Map<string, { sat: number; at: string }>()
    for (const [market, { account }] of Object.entries(this.#allPayments())) {
      for (const e of account?.earnings ?? []) earned.set(`${market}\n${e.queryId}`, { sat: e.amount, at: e.at })
    }
    return earned
  }

  async #get(url: string, path: string, what: string, headers: Record<string, string> = {}): Promise<unknown> {
    let response: Response
    try {
      response = await this.#fetch(`${url}${path}`, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS), headers: { accept: 'application/json', ...headers } })
    } catch (err) {
      throw new BadGateway(`The market at ${url} could not be reached (${(err as Error).message}); check the address, or try again later.`)
    }
    if (!response.ok) throw new BadGateway(`The market at ${url} answered ${response.status} when asked for ${what}; is this the address of a Coffer market?`)
    return response.json().catch(() => undefined)
  }

  #setting<T>(key: string, schema: TSchema, fallback: T): T {
    const row = this.#db.prepare('SELECT value FROM market_settings WHERE key = ?').get(key) as { value: string } | undefined
    if (!row) return fallback
    const value = JSON.parse(row.value) as unknown
    return Value.Check(schema, value) ? value as T : fallback
  }

  #save(key: string, schema: TSchema, value: unknown): void {
    const errors = [...Value.Errors(schema, value)].slice(0, 3)
    if (errors.length > 0) throw new InvalidInput(`The market ${key} are not valid: ${errors.map((e) => `${e.path || '/'} ${e.message}`).join('; ')}.`)
    this.#db.prepare('INSERT INTO market_settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(key, JSON.stringify(value))
  }
}

const RuleList = Type.Array(MarketRule)
const PaymentsSchema = Type.Record(Type.String(), Type.Object({
  payoutAddress: Type.Union([Type.Object({ address: Type.String(), setAt: Type.Number(), delivered: Type.Boolean(), problem: Type.Union([Type.String(), Type.Null()]) }), Type.Null()]),
  account: Type.Union([OwnerAccount, Type.Null()]),
  readAt: Type.Union([Type.Number(), Type.Null()]),
  lastError: Type.Union([Type.String(), Type.Null()]),
}))
const BudgetSchema = Type.Record(Type.String(), Type.Object({ periodStart: Type.String(), spent: Type.String() }))
export const MappingKey = Type.String({ pattern: '^[A-Za-z][A-Za-z0-9_]*\\.[A-Za-z][A-Za-z0-9_]*$', description: 'LogicalType.attribute' })
export const MappingPlace = Type.Object({
  source: Type.String({ minLength: 1, maxLength: 200 }), name: Type.Optional(Type.String({ maxLength: 200, description: 'The record name, when the source holds several' })),
}, { additionalProperties: false })
export const MappingSchema = Type.Record(MappingKey, MappingPlace)

/** Each logical type's budget this period: what its level allows a month, and what answers spent of it. */
export function budgetReport(membership: Membership, now: Date) {
  const spent = membership.budget
  const types = [...new Set([...Object.keys(membership.levels), ...Object.keys(spent)])].sort()
  const { start, end } = periodOf('month', now)
  return types.map((logicalType) => {
    const level = levelOf(membership.levels, logicalType)
    const usage = spent[logicalType]
    const current = usage && Date.parse(usage.periodStart) >= start.getTime() ? usage.spent : '0'
    return {
      logicalType, level, spent: current, limit: level === 'dont_share' ? null : toText(budgetForLevel(level).limit),
      periodStart: start.toISOString(), periodEnd: end.toISOString(),
    }
  })
}

function isVocabulary(value: unknown): value is Vocabulary {
  return typeof value === 'object' && value !== null && Array.isArray((value as Vocabulary).types)
}

/** Where a query's answers go. */
export function answerUrl(market: string, query: string): string {
  return `${market}/api/v1/queries/${encodeURIComponent(query)}/answers`
}

/** An answer is two encrypted shares of one value and a signature: a few kilobytes. */
const MAX_ANSWER_BYTES = 256 * 1024
/** A payout address with the box's id, the time and a signature. */
const MAX_PAYOUT_ADDRESS_BYTES = 4096

/** A market's address as kept: http(s), no query, fragment or trailing slash. */
export function marketUrl(text: string): string {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw new InvalidInput(`"${text}" is not a URL; give a market's address, like https://market.example.org.`)
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new InvalidInput(`A market is reached over http or https, not ${url.protocol}`)
  if (url.username || url.password) throw new InvalidInput('A market\'s address carries no user name or password.')
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`
}

/** A short name for a market, from its address: its host, and a hash when the address has more. */
function marketId(url: string): string {
  const { hostname, port, pathname } = new URL(url)
  const base = `${hostname}${port ? `-${port}` : ''}`.replace(/[^A-Za-z0-9.-]/g, '-')
  return pathname === '' || pathname === '/' ? base : `${base}-${crypto.createHash('sha256').update(url).digest('hex').slice(0, 6)}`
}

interface MarketRow { id: string; url: string; joined_at: number; next_seq: number; synced_at: number | null; last_error: string | null }
interface QueryRow {
  market: string; id: string; seq: number; query: string; state: QueryState; decided_by: ReceivedQuery['decidedBy']; decided_at: number | null; reason: string | null
  received_at: number; spent: string | null; answered_at: number | null
}

function fromMarketRow(row: MarketRow): MarketInfo {
  return { id: row.id, url: row.url, joinedAt: row.joined_at, nextSeq: row.next_seq, syncedAt: row.synced_at, lastError: row.last_error }
}

function fromQueryRow(row: QueryRow, earned: Map<string, { sat: number; at: string }>): ReceivedQuery {
  return {
    market: row.market, id: row.id, seq: row.seq, state: row.state, decidedBy: row.decided_by, decidedAt: row.decided_at, reason: row.reason,
    receivedAt: row.received_at, spent: row.spent, answeredAt: row.answered_at, earned: earned.get(`${row.market}\n${row.id}`) ?? null,
    published: JSON.parse(row.query) as PublishedQuery,
  }
}
