/**
 * Answering a market's query the owner accepted. For statistics: the box works out the owner's part
 * (evaluate.ts), at the strictest privacy level of the kinds of data it touches, spends that
 * level's ε from the owner's budget for each of them, splits the value into two encrypted Prio3
 * shares — one for each aggregator, neither able to read it alone — signs the answer with the
 * box's identity key, and sends it through the gateway, which audits it and keeps its bytes.
 * A box that does not match sends a report that adds nothing, so no one learns who matched.
 * For a dataset: the owner's values generalised as the query says, sealed so the market can read
 * them only if at least k boxes at the owner's level send the same class (k and l are the
 * level's); a box that does not match sends a decoy of the same size.
 */
import type { Logger } from 'pino'
import { BudgetExceeded, budgetForLevel, parametersForQuery, parseRational, spendForAnswer, toText, type Budget, type BudgetUsage } from '@coffer/market/privacy'
import {
  answerSigningText, datasetAnswerSigningText, payoutAddressSigningText,
  type Answer, type Column, type DatasetAnswer, type PayoutAddressBody, type PublishedQuery, type Query, type TaskDescription,
} from '@coffer/market/protocol'
import type { Arbiter } from '../arbiter/index.ts'
import type { Gateway } from '../gateway/index.ts'
import { MARKET_SENDER } from '../gateway/index.ts'
import type { BoxKeys } from '../keys/index.ts'
import { sign } from '../keys/index.ts'
import type { Store } from '../store/index.ts'
import { Conflict, InvalidInput } from '../errors/index.ts'
import { attributesOf, defaultMapping, type Evaluator, type Mapping } from './evaluate.ts'
import { answerUrl, type AccountReader, type MarketPayments, type Membership, type ReceivedQuery } from './membership.ts'
import { levelOf, logicalTypesOf } from './rules.ts'

export interface AnswererDeps {
  membership: Membership
  evaluator: Evaluator
  arbiter: Arbiter
  gateway: Gateway
  keys: BoxKeys
  store: Store
  logger: Logger
  now?: () => Date
}

/** Why a query the owner accepted cannot be answered: the box says so instead of answering. */
class CannotAnswer extends Error {}

export class Answerer {
  readonly #deps: AnswererDeps
  readonly #now: () => Date
  #running: Promise<void> | undefined

  constructor(deps: AnswererDeps) {
    this.#deps = deps
    this.#now = deps.now ?? (() => new Date())
  }

  /**
   * Answers every accepted query that is still open, one after another (one failing does not stop
   * the rest), then reads what the answers earned at each market the box has answered or set a
   * payout address with.
   */
  answerAccepted(): Promise<void> {
    const { membership, logger } = this.#deps
    this.#running ??= (async () => {
      for (const query of membership.queries({ state: 'accepted', limit: 1000 })) {
        await this.answer(query).catch((err: Error) => logger.warn({ market: query.market, query: query.id, err: err.message }, 'a market query could not be answered'))
      }
      const answered = new Set(membership.queries({ state: 'answered', limit: Number.MAX_SAFE_INTEGER }).map((q) => q.market))
      for (const { market, payoutAddress } of membership.payments()) {
        if (!answered.has(market) && !payoutAddress) continue
        await this.readAccount(market).catch((err: Error) => logger.warn({ market, err: err.message }, 'a market account could not be read'))
      }
    })().finally(() => { this.#running = undefined })
    return this.#running
  }

  /**
   * Sets where a market pays the owner: checked against the market's network, signed with the
   * box's identity key, and sent through the gateway, which audits it and keeps its bytes.
   */
  async setPayoutAddress(market: string, address: string): Promise<MarketPayments> {
    const { membership, gateway, keys } = this.#deps
    const terms = await membership.paymentTerms(market)
    if (!terms.network) throw new Conflict(`The market ${market} makes no payouts: its operator has set no Bitcoin network. What your answers earn stays in your balance there.`)
    // Bitcoin's address formats load here, on their one use, not with every start of the box.
    const { payoutAddressProblem } = await import('@coffer/market/addresses')
    const problem = payoutAddressProblem(address, terms.network)
    if (problem) throw new InvalidInput(`${problem}; this market pays out on ${terms.network}.`, { field: 'address' })
    const unsigned = { boxId: keys.identity.publicKey.toString('hex'), address, signedAt: this.#now().toISOString() }
    const body: PayoutAddressBody = { ...unsigned, signature: sign(Buffer.from(payoutAddressSigningText(unsigned)), keys.identity).toString('base64url') }
    membership.notePayoutAddress(market, address)
    try {
      await gateway.request(`${MARKET_SENDER}${market}`, membership.payoutAddressUrl(market), body)
    } catch (err) {
      membership.settlePayoutAddress(market, { delivered: false, problem: (err as Error).message })
      throw err
    }
    membership.settlePayoutAddress(market, { delivered: true })
    return this.readAccount(market).catch(() => membership.payments(market)[0]!)
  }

  /** Reads the owner's account at a market (balance, what each answer earned, payouts) and keeps it. */
  readAccount(market: string): Promise<MarketPayments> {
    return this.#deps.membership.readAccount(market, this.#reader())
  }

  #reader(): AccountReader {
    const { identity } = this.#deps.keys
    return { boxId: identity.publicKey.toString('hex'), sign: (text) => sign(Buffer.from(text), identity).toString('base64url') }
  }

  async close(): Promise<void> {
    await this.#running
  }

  /**
   * Where the box looks for each attribute of a market's vocabulary unless the owner says otherwise:
   * sources that market may read before those their holder's rules keep from it.
   */
  defaults(market: string): Mapping {
    const { membership, store, arbiter } = this.#deps
    const readable = (source: string) => arbiter.refusalOf({ subject: `${MARKET_SENDER}${market}`, sources: [source], ops: ['read'], windows: [], granularity: 0 }) === undefined
    return defaultMapping(membership.vocabulary(market), store, readable)
  }

  /** Answers one accepted query now. A query the box cannot answer is marked so, with the reason. */
  async answer(query: ReceivedQuery): Promise<ReceivedQuery> {
    const { membership } = this.#deps
    if (query.state !== 'accepted') throw new Conflict(`Query ${query.id} is ${query.state}; only an accepted query is answered.`)
    try {
      await this.#answer(query)
      return membership.query(query.id)
    } catch (err) {
      if (err instanceof CannotAnswer) return membership.settle(query, 'cannot', err.message)
      membership.note(query, `not answered yet: ${(err as Error).message}`)
      throw err
    }
  }

  async #answer(query: ReceivedQuery): Promise<void> {
    const { membership, evaluator, arbiter, gateway, keys } = this.#deps
    const { published } = query
    const now = this.#now()
    if (Date.parse(published.deadline) <= now.getTime()) throw new CannotAnswer('it closed before the box could answer')
    const levels = membership.levels
    const types = logicalTypesOf(published.query)
    let parameters
    try {
      parameters = parametersForQuery({ byType: levels }, types)
    } catch (err) {
      throw new CannotAnswer(`it asks for data you do not share (${(err as Error).message})`)
    }
    const dataset = published.spec.answer === 'dataset'
    const task = published.tasks?.[parameters.level]
    const selection = dataset ? undefined : statisticOf(published.query)
    // Prio3 and its arithmetic load when a statistic is answered, not with every box.
    const aggregation = selection ? await import('@coffer/market/aggregation') : undefined
    if (selection) {
      if (!task) throw new CannotAnswer(`the market takes no answers at your privacy level (${parameters.level}) for it`)
      checkTaskFor(aggregation!.checkTask, task, published, parameters.level, selection.attribute)
    }
    const mapping: Mapping = { ...this.defaults(query.market), ...membership.mapping }
    const missing = evaluator.unmapped(published.query, mapping)
    if (missing.length > 0) throw new CannotAnswer(`the box does not know where to find ${missing.join(', ')} (map ${missing.length > 1 ? 'them' : 'it'} to a source)`)
    // The market reads the owner's data through a grant of its own, for the sources this query needs, gone once it is answered.
    // A source whose holder's rules keep it from markets (a group's copy) is refused here, before any ε is spent.
    const sources = [...new Set(attributesOf(published.query).map((a) => mapping[a]!.source))]
    const scope = { subject: `${MARKET_SENDER}${query.market}`, sources, ops: ['read' as const], windows: [], granularity: 0 }
    const refused = arbiter.refusalOf(scope)
    if (refused) throw new CannotAnswer(refused)

    // ε is spent before anything leaves, and not given back if sending fails: an answer that may have arrived counts.
    // A dataset adds no noise, so it spends none: k and l of the owner's level protect it instead.
    if (query.spent === null && !dataset) {
      const budgets: Record<string, Budget> = Object.fromEntries(types.map((t) => [t, budgetForLevel(levelOf(levels, t))]))
      let spent: Record<string, BudgetUsage>
      try {
        spent = spendForAnswer(this.#usages(), budgets, types, parameters.epsilon, now)
      } catch (err) {
        if (err instanceof BudgetExceeded) throw new CannotAnswer(`your privacy budget has no room for it: ${err.message}`)
        throw err
      }
      membership.spend(query, toText(parameters.epsilon), Object.fromEntries(Object.entries(spent).map(([t, u]) => [t, { periodStart: u.periodStart, spent: toText(u.spent) }])))
    }

    const grant = arbiter.createGrant({ ...scope, description: `Market ${query.market}: query ${query.id}` })
    let evaluation
    try {
      const token = arbiter.mint(grant.id, { ttlSeconds: 300 }).token
      evaluation = await evaluator.evaluate(published.query, mapping, token, `MARKET ${query.market} ${query.id}`)
    } finally {
      arbiter.revoke(grant.id)
    }
    const boxId = keys.identity.publicKey.toString('hex')
    let body: Answer | DatasetAnswer
    if (selection && task && aggregation) {
      const own = evaluation.values[selection.index]
      const value = task.kind === 'count' ? evaluation.matched : evaluation.matched && typeof own === 'number' ? own : null
      const report = await aggregation.makeReport(task, aggregation.measurementFor(task, value), now)
      const unsigned: Omit<Answer, 'signature'> = {
        queryId: published.id, boxId, privacyLevel: parameters.level,
        leader: Buffer.from(report.leader).toString('base64url'), helper: Buffer.from(report.helper).toString('base64url'),
      }
      body = { ...unsigned, signature: sign(Buffer.from(answerSigningText(unsigned)), keys.identity).toString('base64url') }
    } else {
      // Sealed so the market can open it only with k − 1 others of the same class at this level; a box that does not match sends a decoy.
      const { datasetRecord } = await import('@coffer/market/star')
      const record = datasetRecord(published.id, published.query.select as Column[], parameters.level, parameters.k, evaluation.matched ? evaluation.values : null)
      const unsigned: Omit<DatasetAnswer, 'signature'> = { queryId: published.id, boxId, privacyLevel: parameters.level, record }
      body = { ...unsigned, signature: sign(Buffer.from(datasetAnswerSigningText(unsigned)), keys.identity).toString('base64url') }
    }
    const market = membership.market(query.market)
    await gateway.request(`${MARKET_SENDER}${query.market}`, answerUrl(market.url, published.id), body)
    membership.settle(query, 'answered', dataset ? `answered at level ${parameters.level}: a sealed record, released only in a class of at least ${parameters.k}` : `answered at level ${parameters.level}`)
  }

  #usages(): Record<string, BudgetUsage> {
    return Object.fromEntries(Object.entries(this.#deps.membership.budget).map(([t, u]) => [t, { periodStart: u.periodStart, spent: parseRational(u.spent) }]))
  }
}

/** The one statistic a query asks (count, sum, mean or histogram), where it is among what it selects, and the attribute it is over. */
function statisticOf(query: Query): { index: number; attribute: string | undefined } {
  const index = query.select.findIndex((s) => 'aggregate' in s)
  const selection = query.select[index]
  if (!selection || query.select.length !== 1) throw new CannotAnswer('the box answers one statistic per query, and this one asks for more')
  return { index, attribute: 'value' in selection ? selection.value.attribute : undefined }
}

/**
 * The task the market handed out is the one the owner was shown: for this query and level, with
 * the declared bounds (a wider range would let one value stand out), two different aggregators,
 * and a VDAF that follows from its kind and bounds.
 */
function checkTaskFor(checkTask: (task: TaskDescription) => void, task: TaskDescription, published: PublishedQuery, level: string, attribute: string | undefined): void {
  try {
    checkTask(task)
  } catch (err) {
    throw new CannotAnswer(`the market's aggregation task for it is not valid (${(err as Error).message})`)
  }
  if (task.queryId !== published.id || task.partition !== level) throw new CannotAnswer('the market\'s aggregation task belongs to another query or privacy level')
  const declared = attribute === undefined ? undefined : published.spec.bounds[attribute]
  if (declared && (task.bounds?.lower !== declared.lo || task.bounds?.upper !== declared.hi)) {
    throw new CannotAnswer(`the market's aggregation task clips to other bounds than the query declares (${declared.lo} to ${declared.hi})`)
  }
}
