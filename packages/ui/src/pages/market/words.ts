/**
 * The market in the owner's words: what each privacy level means, what a query would take and
 * how it is protected, what a rule does. Plain functions of the box's answers, so they are tested
 * on their own.
 */
import type { AnswerKind, PayoutState, PrivacyLevel, Query } from '@coffer/market/protocol'
import type { QueryState } from '../../../../box/src/market/index.ts'
import type { MarketRule, PrivacyLevels, QueryDetail } from './api.ts'

export interface SharingMeaning {
  name: string
  /** ε of one statistics answer, as a fraction. */
  epsilon: string
  /** ε one logical type may spend in a calendar month. */
  monthly: string
  /** How many answers at this level fit in a month's budget. */
  answersPerMonth: number
  /** A released dataset's groups hold at least k people… */
  k: number
  /** …with at least l different values of each sensitive attribute. */
  l: number
  says: string
}

/**
 * The market's privacy table (PRIVACY_PARAMETERS in its privacy module, which needs Node's crypto
 * and so is not loaded here), said for owners. A Record over every level, so a new level cannot be
 * added there without being explained here.
 */
export const LEVELS: Record<PrivacyLevel, SharingMeaning | { name: string; says: string }> = {
  low: { name: 'Low', epsilon: '1', monthly: '5', answersPerMonth: 5, k: 5, l: 2, says: 'Sharper answers: one answer changes what anyone can conclude about you by at most a factor of 2.7.' },
  medium: { name: 'Medium', epsilon: '1/2', monthly: '2', answersPerMonth: 4, k: 10, l: 3, says: 'Twice the noise of low: at most a factor of 1.65 per answer.' },
  high: { name: 'High', epsilon: '1/10', monthly: '1/2', answersPerMonth: 5, k: 20, l: 4, says: 'Ten times the noise of low: at most a factor of 1.1 per answer, hard to tell from not taking part.' },
  dont_share: { name: 'Don’t share', says: 'Never answered, whatever a rule says.' },
}

export const LEVEL_ORDER = Object.keys(LEVELS) as PrivacyLevel[]

export function sharing(level: PrivacyLevel): SharingMeaning | null {
  const meaning = LEVELS[level]
  return 'epsilon' in meaning ? meaning : null
}

/** "ε = 1/2 per answer, at most 2 a month (4 answers); datasets only in groups of 10 or more with 3 different values". */
export function levelParameters(level: PrivacyLevel): string {
  const m = sharing(level)
  if (!m) return 'never answers'
  return `ε = ${m.epsilon} per answer, at most ${m.monthly} per month (${m.answersPerMonth} answers); datasets only in groups of at least k = ${m.k} people with l = ${m.l} different values`
}

/** A logical type has a level only once the owner gives it one: until then it is not shared. */
export function levelOf(levels: PrivacyLevels, logicalType: string): PrivacyLevel {
  return levels[logicalType] ?? 'dont_share'
}

/** Every logical type a query reads, in what it asks or in its conditions: the part before the dot. */
export function logicalTypesOf(query: Query): string[] {
  const attributes = [
    ...query.select.flatMap((s) => 'value' in s ? [s.value.attribute] : []),
    ...(query.where ?? []).flat().map((c) => c.value.attribute),
  ]
  return [...new Set(attributes.map((a) => a.split('.')[0]!))].sort()
}

/** The strictest of the owner's levels for these types: the one an answer touching them all is given. */
export function strictestLevel(levels: PrivacyLevels, types: readonly string[]): PrivacyLevel {
  return types.map((t) => levelOf(levels, t)).reduce<PrivacyLevel>((a, b) => LEVEL_ORDER.indexOf(b) > LEVEL_ORDER.indexOf(a) ? b : a, 'low')
}

export const STATES: Record<QueryState, string> = {
  waiting: 'waiting for you',
  accepted: 'accepted',
  declined: 'declined',
  cannot: 'cannot be answered',
  answered: 'answered',
  closed: 'closed',
}

export const ANSWER_KINDS: Record<AnswerKind, string> = {
  statistics: 'statistics (counts, sums, averages)',
  histogram: 'histograms',
  dataset: 'datasets',
}

/** Waiting queries first, as they need the owner; the rest as the box lists them, newest first. */
export function waitingFirst(queries: readonly QueryDetail[]): QueryDetail[] {
  return [...queries.filter((q) => q.state === 'waiting'), ...queries.filter((q) => q.state !== 'waiting')]
}

const clip = (n: number) => n.toLocaleString('en')

/** What would leave the box if it answered, or what did. */
export function whatLeaves(q: QueryDetail): string {
  if (q.state === 'cannot') return 'Nothing: your box cannot answer it.'
  if (q.state === 'declined') return 'Nothing: you declined it.'
  const { spec } = q.published
  if (spec.answer === 'dataset') return 'Your values as one row of a dataset, released only within groups of people who look the same.'
  const bounds = Object.entries(spec.bounds).map(([attribute, b]) => `${attribute} between ${clip(b.lo)} and ${clip(b.hi)}`)
  const value = bounds.length > 0 ? `your value, clipped to ${bounds.join(' and ')},` : 'whether you match,'
  const shares = `Two encrypted shares of ${value} one for each of the market's two aggregators: neither can read its share alone, and noise is added before anyone sees a total.`
  return q.state === 'answered' ? `Sent: ${shares[0]!.toLowerCase()}${shares.slice(1)}` : shares
}

/** How the answer would be protected, at the owner's levels for the kinds of data it touches. */
export function protection(q: QueryDetail, levels: PrivacyLevels): string {
  const types = logicalTypesOf(q.published.query)
  const withheld = types.filter((t) => levelOf(levels, t) === 'dont_share')
  if (withheld.length > 0) return `You do not share ${list(withheld)}: your box does not answer queries about ${withheld.length > 1 ? 'them' : 'it'}.`
  const level = strictestLevel(levels, types)
  const m = sharing(level)!
  const which = `at ${m.name.toLowerCase()} privacy, your level for ${list(types)}`
  const market = 'The market learns that your box answered, never what it answered or whether you matched its conditions.'
  if (q.published.spec.answer === 'dataset') return `Released ${which}: only in groups of at least ${m.k} people, each with at least ${m.l} different values. ${market}`
  const budgets = types.map((t) => `${t}'s ${sharing(levelOf(levels, t))!.monthly}`)
  return `Answered ${which}: noise with ε = ${m.epsilon} per answer, taken from a monthly budget (${list(budgets)}); a query that would overrun it is refused. ${market}`
}

/** A query's state with the box's reason: "answered at level medium", "cannot be answered (it asks for …)". */
export function stateWords(q: Pick<QueryDetail, 'state' | 'reason' | 'decidedBy'>): string {
  if (!q.reason) return STATES[q.state]
  // The box's reasons for an answer start with the state itself.
  if (q.reason.startsWith(q.state)) return q.reason
  return q.decidedBy === 'rule' && q.reason.startsWith('rule') ? `${STATES[q.state]} by your ${q.reason}` : `${STATES[q.state]} (${q.reason})`
}

/** What became of a query the owner just accepted, in a sentence. */
export function outcome(q: QueryDetail): string {
  const reason = q.reason ? ` (${q.reason})` : ''
  switch (q.state) {
    case 'answered': return `${capitalised(stateWords(q))}: your box sent its two encrypted shares to the market.`
    case 'accepted': return `Accepted, but not answered yet${reason}; the box tries again each time it reads the market.`
    case 'cannot': return `Your box could not answer it${reason}.`
    default: return `It is ${stateWords(q)}.`
  }
}

export function capitalised(text: string): string {
  return text.length === 0 ? text : `${text[0]!.toUpperCase()}${text.slice(1)}`
}

/** "30d" → "30 days". */
export function retentionWords(retention: string): string {
  const m = /^(\d+)(d|w|mo|y)$/.exec(retention)
  if (!m) return retention
  const unit = { d: 'day', w: 'week', mo: 'month', y: 'year' }[m[2] as 'd' | 'w' | 'mo' | 'y']
  return `${m[1]} ${unit}${m[1] === '1' ? '' : 's'}`
}

/** A rule as a sentence: "Accept queries only about Activity, paying at least 100 sat". */
export function describeRule(rule: MarketRule): string {
  const when = [
    rule.logicalTypes && `only about ${list(rule.logicalTypes, 'or')}`,
    rule.minPrice !== undefined && `paying at least ${rule.minPrice} sat`,
    rule.levels && `where your level is ${list(rule.levels.map((l) => LEVELS[l].name.toLowerCase()), 'or')}`,
    rule.purposeIncludes && `whose purpose mentions “${rule.purposeIncludes}”`,
    rule.processors && `from ${list(rule.processors, 'or')}`,
    rule.answers && `asking for ${list(rule.answers.map((a) => ANSWER_KINDS[a]), 'or')}`,
  ].filter((w): w is string => typeof w === 'string')
  return `${rule.action === 'accept' ? 'Accept' : 'Decline'} ${when.length > 0 ? `queries ${when.join(', ')}` : 'every query'}.`
}

function list(items: readonly string[], and = 'and'): string {
  return items.length <= 1 ? items.join('') : `${items.slice(0, -1).join(', ')} ${and} ${items.at(-1)}`
}

/** Satoshis, as markets price and pay. */
export function sat(amount: number): string {
  return `${amount.toLocaleString('en')} sat`
}

const PAYOUT_STATES: Record<PayoutState, string> = {
  signed: 'made, not sent yet',
  broadcast: 'sent, waiting for confirmation',
  confirmed: 'confirmed: paid',
  failed: 'refused by the network; back in your balance',
}

export function payoutState(state: PayoutState): string {
  return PAYOUT_STATES[state]
}

/** What an answered query earned, or why not yet; null for a query not answered. */
export function earnedWords(q: Pick<QueryDetail, 'state' | 'earned'>): string | null {
  if (q.earned) return `${sat(q.earned.sat)}, paid into your balance on ${q.earned.at.slice(0, 10)}`
  if (q.state !== 'answered') return null
  return 'Nothing yet: the market pays once it releases the result, if the query reaches its minimum.'
}
