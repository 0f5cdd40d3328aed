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
import { createApi } from './api/index.ts'
import { DEFAULT_VOCABULARY, type Vocabulary } from './vocabulary/index.ts'

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
}

export function createMarket(config: MarketConfig = {}): Market {
  const logger: Logger = pino({ level: config.logLevel ?? 'warn', redact: ['req.headers.authorization'] })
  const vocabulary = config.vocabulary ?? DEFAULT_VOCABULARY
  let db: Database | undefined
  let processors: Processors | undefined
  let queries: Queries | undefined
  let feed: FeedHub | undefined
  let app: FastifyInstance | undefined
  let url: string | undefined
  let closing: Promise<void> | undefined

  const opened = <T>(part: T | undefined): T => {
    if (part === undefined) throw new Error('The market is not open: call open() first.')
    return part
  }

  return {
    async open() {
      db = await openDatabase({ url: config.database, dataDir: config.dataDir })
      processors = createProcessors(db)
      queries = createQueries(db, vocabulary)
      feed = createFeedHub(db, queries, { pollMs: config.feedPollMs, onError: (err) => logger.warn({ err }, 'feed stream could not read the feed') })
      await feed.open()
      app = createApi({ processors, queries, feed, vocabulary, logger })
      await app.ready()
    },

    async listen() {
      url = await opened(app).listen({ port: config.port ?? 7790, host: config.host ?? '127.0.0.1' })
      return url
    },

    close() {
      closing ??= (async () => {
        await app?.close()
        await feed?.close()
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
  }
}
