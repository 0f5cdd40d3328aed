/**
 * The statement's data-market part: each answer the box sent a market in the month, with what
 * its query was for, what it promised and what it paid, matched against the audit log; and the
 * owner's account at each market (balance, and the payouts made or settled in the month). The box's records of the
 * queries it answered say who asked, why, at which level and for what price; the audit log says
 * what actually left. Each is checked against the other: an answer the box recorded that the
 * log does not show sent is flagged, and an answer the log shows that the box holds no record of
 * (its market was left since, which forgets its queries) is listed with what the log knows.
 */
import type { AuditEntry } from '../audit/index.ts'

/** A market's subject in the audit log and the gateway: `market:<market id>`. */
export const MARKET_SUBJECT = 'market:'

/**
 * What the box keeps of a query it answered: the market module's record of it (its
 * `ReceivedQuery` in the state 'answered'), of which the statement needs only this.
 */
export interface AnswerRecord {
  market: string
  id: string
  /** "answered at level medium": the privacy level the answer was given at. */
  reason: string | null
  /** The ε taken from the owner's budget, an exact rational as text ("1/2"). */
  spent: string | null
  /** Epoch seconds. */
  answeredAt: number | null
  /** What the market paid into the owner's balance for it, as the box last read; null or absent while nothing is known to be paid. */
  earned?: { sat: number; at: string } | null
  published: {
    processor: { id: string; name: string }
    spec: { purpose: string; price: { amount: number; currency: string } }
  }
}

export interface MarketAnswer {
  market: string
  query: string
  /** When it was sent (the audit log's time when it shows the answer, else the box's record's), epoch seconds. */
  sentAt: number
  /** null, with purpose, level, ε and price: the box holds no record of this answer, only the log. */
  processor: { id: string; name: string } | null
  purpose: string | null
  privacyLevel: string | null
  epsilon: string | null
  /** What the processor promised each participant, in satoshis. */
  priceSat: number | null
  /** What the market paid into the owner's balance for it; null while it has not (or the box does not know it has). */
  earnedSat: number | null
  /** The answer's size as it left, from the audit log; null when the log does not show it. */
  bytes: number | null
  /** The box's records say it answered this query. */
  recorded: boolean
  /** The audit log shows the answer sent, through the gateway, to the query's answer endpoint. */
  logged: boolean
}

/**
 * The owner's account at one market as the box last read it (the market module's MarketPayments),
 * of which the statement needs only this.
 */
export interface AccountRecord {
  market: string
  /** Epoch seconds. */
  readAt: number | null
  account: {
    balance: number
    inFlight: number
    threshold: number
    payoutAddress: string | null
    payouts: { txid: string; state: string; address: string; sent: number; fee: number; createdAt: string; settledAt: string | null }[]
  } | null
}

export interface MarketAccount {
  market: string
  /** When the box last read it, epoch seconds: balances are as of then, not the month's end. */
  readAt: number
  balanceSat: number
  inFlightSat: number
  thresholdSat: number
  payoutAddress: string | null
  /** Payouts made or settled in the month. */
  payouts: { txid: string; state: string; address: string; sentSat: number; feeSat: number; madeAt: number; settledAt: number | null }[]
}

export interface MarketsPart {
  answers: MarketAnswer[]
  /** The sat the recorded answers promise; answers known only from the log add nothing (their price is not known). */
  promisedSat: number
  /** What the month's answers were paid into the owner's balances, so far. */
  earnedSat: number
  /** The owner's account at each market with something to show: a balance, or payouts in the month. */
  accounts: MarketAccount[]
  /** Answers the box recorded that the month's audit log does not show sent. */
  notLogged: number
  /** Answers the audit log shows that the box holds no record of. */
  notRecorded: number
}

/**
 * How far apart, in seconds, an answer's export entry and the box's record of it may fall. The
 * gateway times its entry before it sends (which may take up to its 10-second timeout) and the
 * box records the answer after: near midnight the two may fall in different months, and the
 * answer belongs to the month the log shows it leaving in.
 */
export const MATCH_SLACK = 60

const ANSWER_PATH = /\/api\/v1\/queries\/([^/?#]+)\/answers$/
const LEVEL = /^answered at level (\S+)$/

interface Sent { time: number; bytes: number; seq: number }

/** The answers a month's audit log shows sent to markets, taken entry by entry, with the records matched at the end. */
export class MarketAnswersTally {
  readonly #from: number
  readonly #to: number
  readonly #sent = new Map<string, Sent[]>()

  constructor(from: number, to: number) {
    this.#from = from
    this.#to = to
  }

  /** Entries up to MATCH_SLACK outside the month are taken too, to match records made across midnight. */
  add(e: AuditEntry & { seq?: number }): void {
    if (e.operation !== 'export' || !e.subject.startsWith(MARKET_SUBJECT)) return
    if (e.time < this.#from - MATCH_SLACK || e.time >= this.#to + MATCH_SLACK) return
    // Sent only: a refusal, a queued request or a failed delivery is in the market's own part of the statement.
    if (e.outcome === 'deny' || e.status === 202 || e.status < 200 || e.status > 299) return
    const query = queryOf(e.destination ?? e.action.replace(/^EXPORT /, ''))
    if (query === null) return
    const key = keyOf(e.subject.slice(MARKET_SUBJECT.length), query)
    const sends = this.#sent.get(key) ?? []
    sends.push({ time: e.time, bytes: e.bytes, seq: e.seq ?? 0 })
    this.#sent.set(key, sends)
  }

  /** The month's part, or null when the month had no market answer, no payout and no balance to show. */
  finish(records: Iterable<AnswerRecord>, accountRecords: Iterable<AccountRecord> = []): MarketsPart | null {
    const inMonth = (time: number) => time >= this.#from && time < this.#to
    const unmatched = new Map([...this.#sent].map(([key, sends]) => [key, [...sends].sort((a, b) => a.time - b.time || a.seq - b.seq)]))
    const answers: MarketAnswer[] = []
    for (const record of records) {
      const at = record.answeredAt
      if (at === null || at < this.#from - MATCH_SLACK || at >= this.#to + MATCH_SLACK) continue
      const key = keyOf(record.market, record.id)
      const sends = unmatched.get(key) ?? []
      // The send the record was made after: the last one before it, or failing that the nearest.
      const before = sends.filter((s) => s.time <= at).length
      const send = sends.length === 0 ? undefined : sends.splice(Math.max(before - 1, 0), 1)[0]!
      const sentAt = send?.time ?? at
      if (!inMonth(sentAt)) continue
      const { processor, spec } = record.published
      answers.push({
        market: record.market, query: record.id, sentAt,
        processor: { id: processor.id, name: processor.name }, purpose: spec.purpose,
        privacyLevel: LEVEL.exec(record.reason ?? '')?.[1] ?? null, epsilon: record.spent,
        priceSat: spec.price.currency === 'sat' ? spec.price.amount : null, earnedSat: record.earned?.sat ?? null,
        bytes: send?.bytes ?? null, recorded: true, logged: send !== undefined,
      })
    }
    for (const [key, sends] of unmatched) {
      const cut = key.indexOf('\n')
      const market = key.slice(0, cut)
      const query = key.slice(cut + 1)
      for (const send of sends) {
        if (!inMonth(send.time)) continue
        answers.push({
          market, query, sentAt: send.time, processor: null, purpose: null, privacyLevel: null, epsilon: null, priceSat: null, earnedSat: null,
          bytes: send.bytes, recorded: false, logged: true,
        })
      }
    }
    const accounts = [...accountRecords].flatMap((r): MarketAccount[] => {
      if (!r.account || r.readAt === null) return []
      const time = (iso: string | null) => (iso === null ? null : Date.parse(iso) / 1000)
      const payouts = r.account.payouts
        .map((p) => ({ txid: p.txid, state: p.state, address: p.address, sentSat: p.sent, feeSat: p.fee, madeAt: time(p.createdAt)!, settledAt: time(p.settledAt) }))
        .filter((p) => inMonth(p.madeAt) || (p.settledAt !== null && inMonth(p.settledAt)))
        .sort((a, b) => a.madeAt - b.madeAt || compare(a.txid, b.txid))
      if (payouts.length === 0 && r.account.balance === 0 && r.account.inFlight === 0 && !answers.some((a) => a.market === r.market)) return []
      return [{
        market: r.market, readAt: r.readAt, balanceSat: r.account.balance, inFlightSat: r.account.inFlight, thresholdSat: r.account.threshold,
        payoutAddress: r.account.payoutAddress, payouts,
      }]
    }).sort((a, b) => compare(a.market, b.market))
    if (answers.length === 0 && accounts.length === 0) return null
    answers.sort((a, b) => a.sentAt - b.sentAt || compare(a.market, b.market) || compare(a.query, b.query))
    return {
      answers,
      accounts,
      promisedSat: answers.reduce((sum, a) => sum + (a.priceSat ?? 0), 0),
      earnedSat: answers.reduce((sum, a) => sum + (a.earnedSat ?? 0), 0),
      notLogged: answers.filter((a) => !a.logged).length,
      notRecorded: answers.filter((a) => !a.recorded).length,
    }
  }
}

/** The query id in an answer endpoint's URL, `<market>/api/v1/queries/<id>/answers`; null for any other URL. */
function queryOf(url: string): string | null {
  const m = ANSWER_PATH.exec(url)
  if (!m) return null
  try {
    return decodeURIComponent(m[1]!)
  } catch {
    return null
  }
}

function keyOf(market: string, query: string): string {
  return `${market}\n${query}`
}

function compare(a: string, b: string): number {
  return a === b ? 0 : a < b ? -1 : 1
}
