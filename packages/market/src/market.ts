/**
 * createMarket: the market service wired from its parts, in one readable place. Storage is
 * PostgreSQL when a connection string is given, else embedded PGlite in dataDir (in memory
 * without one). Everything a request needs is in the database, so several markets on one
 * PostgreSQL serve the same market.
 */
import pino, { type Logger } from 'pino'
import type { FastifyInstance } from 'fastify'
import { openDatabase, type Database } from './db/index.ts'
import { createProcessors, type Processors } from './processors/index.ts'
import { createQueries, type Queries } from './queries/index.ts'
import { createFeedHub, type FeedHub } from './queries/feed.ts'
import { natsFanout, postgresFanout, type Fanout } from './fanout/index.ts'
import { createApi } from './api/index.ts'
import { DEFAULT_VOCABULARY, type Vocabulary } from './vocabulary/index.ts'
import { aggregatorKeys, createHelper, createLeader, type Helper, type Leader } from './answers/index.ts'
import type { AggregatorKeys } from './aggregation/index.ts'
import { createPayments, DEFAULT_FEE_RATE, DEFAULT_THRESHOLD, operatorGuard, type Payments, type PaymentsConfig } from './payments/index.ts'
import { bitcoinRpc, createPayouts, openWallet, type Broadcaster, type PayoutRun, type Payouts } from './payouts/index.ts'
import { InvalidInput } from './errors/index.ts'

/**
 * Which aggregator this market is for statistics answers. A leader serves processors and boxes
 * and drives the helper over HTTP; a helper (another operator's market) serves only the
 * aggregator endpoints, to the leader whose token it knows. Without it the market publishes
 * queries but takes no answers. `keys` default to a pair kept in the database; `verifyKey` is
 * the secret the two operators agree once (each task's Prio3 verify key is derived from it).
 */
export type AggregationConfig =
  | { role: 'leader'; helper: { url: string; token: string }; verifyKey: string; keys?: AggregatorKeys; publicUrl?: string; releasePollMs?: number }
  | { role: 'helper'; leaderToken: string; verifyKey: string; keys?: AggregatorKeys }

/**
 * The market's wallet and its way to the network. With a key (WIF, on the payments' network) and
 * a broadcaster (a node's JSON-RPC URL, or one given in code), the market pays owners out.
 */
export interface PayoutConfig {
  walletKey?: string
  /** http://user:password@host:port/ of a Bitcoin Core node (with -txindex). */
  bitcoinRpc?: string
  broadcaster?: Broadcaster
  /** Confirmations that make a payout final. */
  confirmations?: number
  /** Owners per payout transaction. */
  batchMax?: number
  /** How often the market makes and follows payouts; 0: only when the operator asks. */
  payoutEveryMs?: number
}

export interface MarketConfig {
  /** A PostgreSQL connection string. */
  database?: string
  /** The embedded database's directory, when no PostgreSQL is given. */
  dataDir?: string
  port?: number
  host?: string
  vocabulary?: Vocabulary
  logLevel?: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'
  /** How often the feed's event streams look for queries a lost notification did not announce. */
  feedPollMs?: number
  /**
   * A NATS server to announce each published query on (the subject defaults to
   * coffer.market.feed): every market process on it and every box subscribed hears at once.
   * Without one, processes hear of each other's posts through PostgreSQL's NOTIFY.
   */
  nats?: { url: string; subject?: string }
  aggregation?: AggregationConfig
  /** How owners are paid: the network, the payout threshold, the fee rate, and the wallet payouts are made from. */
  payments?: PaymentsConfig & PayoutConfig
  /** The operator's secret for the operator's routes (deposits, the ledger); without one, those routes are not served. */
  operatorToken?: string
}

export interface Market {
  open(): Promise<void>
  /** Starts serving HTTP; resolves to the URL it listens on. */
  listen(): Promise<string>
  close(): Promise<void>
  readonly url: string | undefined
  readonly db: Database
  readonly processors: Processors
  readonly queries: Queries
  /** Deposits, balances, owners' accounts and the ledger's check. */
  readonly payments: Payments
  /** The leader's answers and releases (role leader only). */
  readonly leader: Leader | undefined
  /** Releases every due query now, as the background loop does; resolves to how many. */
  releaseDue(): Promise<number>
  /** The market's payouts, when it holds a wallet. */
  readonly payouts: Payouts | undefined
  /** Follows and makes payouts now, as the background loop does. */
  runPayouts(): Promise<PayoutRun>
}

export function createMarket(config: MarketConfig = {}): Market {
  const logger: Logger = pino({ level: config.logLevel ?? 'warn', redact: ['req.headers.authorization'] })
  const vocabulary = config.vocabulary ?? DEFAULT_VOCABULARY
  let db: Database | undefined
  let processors: Processors | undefined
  let queries: Queries | undefined
  let payments: Payments | undefined
  let feed: FeedHub | undefined
  let fanout: Fanout | undefined
  let app: FastifyInstance | undefined
  let url: string | undefined
  let closing: Promise<void> | undefined
  let leader: Leader | undefined
  let helper: Helper | undefined
  let releaseTimer: NodeJS.Timeout | undefined
  let releasing: Promise<number> | undefined
  let again = false
  let payouts: Payouts | undefined
  let payoutTimer: NodeJS.Timeout | undefined
  let paying: Promise<PayoutRun> | undefined

  // One payout run at a time per process; other processes on the database are safe to run beside it.
  const runPayouts = (): Promise<PayoutRun> => {
    if (!payouts) return Promise.reject(new InvalidInput('This market holds no wallet: it makes no payouts. Start it with a wallet key, a network and a Bitcoin node.'))
    const run = payouts
    paying ??= run.run().finally(() => (paying = undefined))
    return paying
  }

  // One release run at a time per process; a kick during a run asks for one more after it.
  const releaseDue = (): Promise<number> => {
    if (!leader) return Promise.resolve(0)
    if (releasing) {
      again = true
      return releasing
    }
    const run = leader
    releasing = (async () => {
      let total = 0
      do {
        again = false
        try {
          total += await run.releaseDue()
        } catch (err) {
          logger.warn({ err }, 'releasing due queries failed; the next run tries again')
        }
      } while (again && !closing)
      return total
    })().finally(() => (releasing = undefined))
    return releasing
  }

  const opened = <T>(part: T | undefined): T => {
    if (part === undefined) throw new Error('The market is not open: call open() first.')
    return part
  }

  return {
    async open() {
      const aggregation = config.aggregation
      const pay = config.payments ?? {}
      // The wallet is checked before the database opens: a wrong key or a missing node refuses to start, leaving nothing open.
      let wallet: { wallet: ReturnType<typeof openWallet>; broadcaster: Broadcaster } | undefined
      if (pay.walletKey && aggregation?.role !== 'helper') {
        if (!pay.network) throw new InvalidInput('A wallet key needs the network it is for: bitcoin, testnet or regtest.')
        const broadcaster = pay.broadcaster ?? (pay.bitcoinRpc ? bitcoinRpc(pay.bitcoinRpc) : undefined)
        if (!broadcaster) throw new InvalidInput('Payouts need a way to the Bitcoin network: the JSON-RPC URL of a Bitcoin node.')
        wallet = { wallet: openWallet(pay.walletKey, pay.network), broadcaster }
      }
      // NATS too is reached before the database opens: an unreachable server refuses to start, leaving nothing open.
      const nats = config.nats && aggregation?.role !== 'helper'
        ? await natsFanout({ ...config.nats, onError: (err) => logger.warn({ err }, 'a query could not be announced on NATS; subscribers catch up from the feed') })
        : undefined
      try {
        db = await openDatabase({ url: config.database, dataDir: config.dataDir })
      } catch (err) {
        await nats?.close()
        throw err
      }
      processors = createProcessors(db)
      if (wallet) {
        payouts = createPayouts(db, {
          ...wallet, threshold: pay.threshold ?? DEFAULT_THRESHOLD, feeRate: pay.feeRate ?? DEFAULT_FEE_RATE,
          ...(pay.batchMax ? { batchMax: pay.batchMax } : {}), ...(pay.confirmations ? { confirmations: pay.confirmations } : {}),
        })
      }
      payments = createPayments(db, { ...pay, paysOut: payouts !== undefined })
      const keys = aggregation ? await aggregatorKeys(db, aggregation.role, aggregation.keys) : undefined
      if (aggregation?.role === 'leader') {
        leader = createLeader(db, {
          keys: keys!, verifyKey: aggregation.verifyKey, helper: aggregation.helper,
          publicUrl: () => aggregation.publicUrl ?? url ?? `http://${config.host ?? '127.0.0.1'}:${config.port ?? 7790}`,
        })
      }
      if (aggregation?.role === 'helper') helper = createHelper(db, { keys: keys!, verifyKey: aggregation.verifyKey, leaderToken: aggregation.leaderToken })
      const lead = leader
      if (!helper) fanout = nats ?? postgresFanout(db)
      queries = createQueries(db, vocabulary, {
        ...(lead ? { tasksFor: (id, query, spec, at) => lead.tasksFor(id, query, spec, at), onEnded: () => void releaseDue() } : {}),
        ...(fanout ? { fanout } : {}),
      })
      if (fanout) {
        feed = createFeedHub(db, queries, fanout, { pollMs: config.feedPollMs, onError: (err) => logger.warn({ err }, 'feed stream could not read the feed') })
        await feed.open()
      }
      app = createApi({
        role: aggregation?.role ?? 'none', processors, queries, feed, announcements: fanout?.subscription, vocabulary, logger, leader, helper, hpkeConfig: keys?.hpkeConfig, payments,
        ...(config.operatorToken ? { operator: operatorGuard(config.operatorToken) } : {}),
        ...(payouts ? { payouts, runPayouts } : {}),
      })
      await app.ready()
      if (aggregation?.role === 'leader') {
        releaseTimer = setInterval(() => void releaseDue(), aggregation.releasePollMs ?? 5000)
        releaseTimer.unref()
      }
      const every = pay.payoutEveryMs ?? 3_600_000
      if (payouts && every > 0) {
        payoutTimer = setInterval(() => void runPayouts().then((run) => {
          for (const problem of run.problems) logger.warn({ problem }, 'payouts')
        }, (err: unknown) => logger.warn({ err }, 'payouts failed; the next run tries again')), every)
        payoutTimer.unref()
      }
    },

    async listen() {
      url = await opened(app).listen({ port: config.port ?? 7790, host: config.host ?? '127.0.0.1' })
      return url
    },

    close() {
      closing ??= (async () => {
        clearInterval(releaseTimer)
        clearInterval(payoutTimer)
        await releasing
        await paying?.catch(() => undefined)
        await app?.close()
        await feed?.close()
        await fanout?.close()
        await db?.close()
      })()
      return closing
    },

    get url() {
      return url
    },
    get db() {
      return opened(db)
    },
    get processors() {
      return opened(processors)
    },
    get queries() {
      return opened(queries)
    },
    get payments() {
      return opened(payments)
    },
    get leader() {
      return leader
    },
    get payouts() {
      return payouts
    },
    releaseDue,
    runPayouts,
  }
}
