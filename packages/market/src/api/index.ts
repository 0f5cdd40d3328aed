/**
 * The market's HTTP API (Fastify + TypeBox). Every route has request and response schemas,
 * which are its validation, its serialisation and its OpenAPI document (/api/v1/openapi.json);
 * every error leaves as RFC 9457 problem+json, never with a stack.
 *
 * Processors authenticate with `Authorization: Bearer <API key>`. Boxes read the feed and the
 * vocabulary without one: what a query asks is public to every box, by design.
 */
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyTypeProvider } from 'fastify'
import swagger from '@fastify/swagger'
import type { Static, TSchema } from '@sinclair/typebox'
import type { Logger } from 'pino'
import type { ServerResponse } from 'node:http'
import { MarketError, InvalidInput, NotFound, PayloadTooLarge, Unavailable, UnsupportedMediaType } from '../errors/index.ts'
import type { Processors } from '../processors/index.ts'
import type { Queries } from '../queries/index.ts'
import type { FeedHub } from '../queries/feed.ts'
import { QuerySpec } from '../query/index.ts'
import { Vocabulary as VocabularySchema, type Vocabulary } from '../vocabulary/index.ts'
import type { Helper, Leader } from '../answers/index.ts'
import { resultCsv } from '../answers/index.ts'
import { marketPages } from '../pages/index.ts'
import type { Payments } from '../payments/index.ts'
import type { PayoutRun, Payouts } from '../payouts/index.ts'
import { ACCOUNT_SIGNATURE, ACCOUNT_SIGNED_AT } from '../protocol/index.ts'
import { publishedLevels, WHAT_THE_MARKET_SEES } from '../privacy/index.ts'
import {
  AnswerAccepted, AnswerSchema, FeedPageSchema, FeedQuerystring, HpkeConfigAnswer, IdParams, ListQuery, PostedQuerySchema, PrepareAnswer,
  PrepareBody, ProblemSchema, ProcessorSchema, QueryList, QueryResultSchema, QueryWithParticipation, RegisterBody, Registered, ReleaseAnswer,
  ReleaseBody, ReportsAnswer, ReportsBody, ResultQuerystring, StreamQuerystring, ValidationSchema, FeedLive,
  PrivacyTable, AccountQuery, BoxParams, DepositAnswer, DepositBody, LedgerCheckSchema, OwnerAccount, PaymentTerms, PayoutAddressBody, PayoutAddressSet, ProcessorAccount,
  CoinAdded, CoinBody, LimitQuery, PayoutDetailSchema, PayoutList, PayoutParams, PayoutRunSchema, WalletStateSchema,
} from './schemas.ts'

/**
 * TypeBox's own provider types bodies with StaticDecode, which makes a union built from a list
 * (`Type.Union(REDUCTIONS.map(Type.Literal))`, as the query schemas are) `never`. No schema
 * here uses transforms, so the plain Static type is the same thing without that flaw.
 */
interface TypeBoxStatic extends FastifyTypeProvider {
  validator: this['schema'] extends TSchema ? Static<this['schema']> : unknown
  serializer: this['schema'] extends TSchema ? Static<this['schema']> : unknown
}

export interface ApiDeps {
  /** A helper market serves only the aggregator endpoints; a market without aggregation serves no answers. */
  role: 'leader' | 'helper' | 'none'
  processors: Processors
  queries: Queries
  feed?: FeedHub
  /** Where boxes may subscribe to announcements of new queries, besides the event stream. */
  announcements?: { nats: string; subject: string }
  vocabulary: Vocabulary
  logger: Logger
  leader?: Leader
  helper?: Helper
  /** This market's aggregator HpkeConfig, published for the other aggregator and for anyone checking a task. */
  hpkeConfig?: string
  payments: Payments
  /** The operator's routes (deposits, the ledger, payouts, the wallet), when the operator set a token. */
  operator?: { authenticate(authorization: string | undefined): void }
  /** Payouts, when the market holds a wallet; runPayouts runs them one at a time in this process. */
  payouts?: Payouts
  runPayouts?: () => Promise<PayoutRun>
}

/** One answer: two uploads of a few kilobytes at most (a 100-bucket histogram's are the largest). */
export const ANSWER_BODY_LIMIT = 1024 * 1024
/** What the leader forwards to the helper: every helper upload of one privacy class. */
export const BATCH_BODY_LIMIT = 512 * 1024 * 1024

/** A query spec is a few kilobytes at most (its text is capped at 8 KiB); anything far larger is a mistake or abuse. */
export const BODY_LIMIT = 64 * 1024
export const PROBLEM_JSON = 'application/problem+json'
/** Sent on an idle event stream so proxies and clients see it is alive. */
const KEEP_ALIVE_MS = 15_000

const problems = (...statuses: number[]) => Object.fromEntries(statuses.map((s) => [s, ProblemSchema]))

export function createApi(deps: ApiDeps): FastifyInstance {
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    bodyLimit: BODY_LIMIT,
    // TypeBox builds the schemas, so they need not be checked against the meta-schema at every start.
    ajv: { customOptions: { coerceTypes: true, removeAdditional: false, allErrors: false, validateSchema: false } },
  }).withTypeProvider<TypeBoxStatic>()

  // Fastify reads text/plain by default; the market takes JSON only, so a text body is a 415, not a spec that fails.
  app.removeContentTypeParser('text/plain')

  app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'Coffer market API', version: '1', description: 'Processors post aggregate queries; boxes read them from the feed and decide.' },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: "A processor's API key" },
          operator: { type: 'http', scheme: 'bearer', description: "The operator's token (coffer-market serve --operator-token)" },
        },
      },
    },
  })

  app.setErrorHandler((err: FastifyError, req, reply) => {
    const problem = toMarketError(err)
    if (problem.status >= 500) req.log.error({ err }, 'request failed')
    reply.status(problem.status).type(PROBLEM_JSON).send(problem.toProblem())
  })
  app.setNotFoundHandler((req, reply) => {
    const problem = new NotFound(`No route ${req.method} ${req.url.split('?')[0]}. The API is described at /api/v1/openapi.json.`)
    reply.status(404).type(PROBLEM_JSON).send(problem.toProblem())
  })

  // Open event streams would hold the server's close; they end first, and clients reconnect elsewhere.
  const streams = new Set<ServerResponse>()
  app.addHook('preClose', async () => {
    for (const res of streams) res.end()
  })

  const who = (authorization: string | undefined) => deps.processors.authenticate(authorization)
  const bearer = [{ bearer: [] }]
  // Posting and validating check the body themselves, so that every fault comes back with its
  // path, and text questions with line and column; the schema stays for the OpenAPI document.
  const checkedByService = () => () => true

  app.register(async (plugin) => {
    const api = plugin.withTypeProvider<TypeBoxStatic>()
    api.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger())

    if (deps.hpkeConfig !== undefined) {
      const hpkeConfig = deps.hpkeConfig
      api.get('/aggregator/hpke-config', {
        schema: { summary: "This market's aggregator key (a DAP HpkeConfig), which tasks publish to boxes", tags: ['aggregator'], response: { 200: HpkeConfigAnswer } },
      }, async () => ({ hpkeConfig }))
    }
    const helper = deps.helper
    if (helper) {
      const leaderOnly = [{ bearer: [] }]
      api.post('/aggregator/reports', {
        schema: { summary: "Helper: take and open a batch's helper uploads (one privacy class of one query)", tags: ['aggregator'], security: leaderOnly, body: ReportsBody, response: { 200: ReportsAnswer, ...problems(400, 401) } },
        bodyLimit: BATCH_BODY_LIMIT,
      }, async (req) => {
        helper.authenticate(req.headers.authorization)
        return helper.receive(req.body)
      })
      api.post('/aggregator/prepare', {
        schema: { summary: "Helper: check each report's proof with the leader's preparation shares", tags: ['aggregator'], security: leaderOnly, body: PrepareBody, response: { 200: PrepareAnswer, ...problems(400, 401, 409) } },
        bodyLimit: BATCH_BODY_LIMIT,
      }, async (req) => {
        helper.authenticate(req.headers.authorization)
        return helper.prepare(req.body)
      })
      api.post('/aggregator/release', {
        schema: { summary: "Helper: count what the leader counted, add this aggregator's noise, release its aggregate share (once)", tags: ['aggregator'], security: leaderOnly, body: ReleaseBody, response: { 200: ReleaseAnswer, ...problems(400, 401, 409) } },
        // The commit names every report counted: 16 bytes each, past the default limit from a few thousand on.
        bodyLimit: BATCH_BODY_LIMIT,
      }, async (req) => {
        helper.authenticate(req.headers.authorization)
        return helper.release(req.body)
      })
      return
    }

    api.get('/vocabulary', {
      schema: { summary: 'The logical types and attributes queries may name', tags: ['boxes'], response: { 200: VocabularySchema } },
    }, async () => deps.vocabulary)

    api.get('/privacy', {
      schema: { summary: 'The privacy levels owners choose from, with the parameters each stands for, and what the market can see of the answers', tags: ['boxes'], response: { 200: PrivacyTable } },
    }, async () => ({ levels: publishedLevels(), whatTheMarketSees: WHAT_THE_MARKET_SEES }))

    api.post('/processors', {
      schema: { summary: 'Register a processor; the API key is in this answer only', tags: ['processors'], body: RegisterBody, response: { 201: Registered, ...problems(400) } },
    }, async (req, reply) => {
      reply.status(201)
      return deps.processors.register(req.body)
    })

    api.get('/processors/me', {
      schema: { summary: 'The processor this API key belongs to', tags: ['processors'], security: bearer, response: { 200: ProcessorSchema, ...problems(401) } },
    }, async (req) => who(req.headers.authorization))

    api.post('/queries/validate', {
      schema: { summary: 'Check a query without posting it', tags: ['queries'], body: QuerySpec, response: { 200: ValidationSchema, ...problems(400) } },
      validatorCompiler: checkedByService,
    }, async (req) => deps.queries.validate(req.body))

    api.post('/queries', {
      schema: { summary: 'Post a query: it is checked, numbered and published to the feed', tags: ['queries'], security: bearer, body: QuerySpec, response: { 201: PostedQuerySchema, ...problems(400, 401) } },
      validatorCompiler: checkedByService,
    }, async (req, reply) => {
      const processor = await who(req.headers.authorization)
      const posted = await deps.queries.post(processor, req.body)
      reply.status(201)
      return posted
    })

    api.get('/queries', {
      schema: { summary: "This processor's queries, newest first", tags: ['queries'], security: bearer, querystring: ListQuery, response: { 200: QueryList, ...problems(400, 401) } },
    }, async (req) => ({ queries: await deps.queries.list(await who(req.headers.authorization), req.query) }))

    api.get('/queries/:id', {
      schema: { summary: 'One query, with how many boxes took part', tags: ['queries'], security: bearer, params: IdParams, response: { 200: QueryWithParticipation, ...problems(400, 401, 404) } },
    }, async (req) => deps.queries.get(await who(req.headers.authorization), req.params.id))

    api.post('/queries/:id/close', {
      schema: { summary: 'Stop taking part: no box joins after this', tags: ['queries'], security: bearer, params: IdParams, response: { 200: PostedQuerySchema, ...problems(400, 401, 404, 409) } },
    }, async (req) => deps.queries.close(await who(req.headers.authorization), req.params.id))

    api.post('/queries/:id/cancel', {
      schema: { summary: 'Withdraw the query: nothing will be released', tags: ['queries'], security: bearer, params: IdParams, response: { 200: PostedQuerySchema, ...problems(400, 401, 404, 409) } },
    }, async (req) => deps.queries.cancel(await who(req.headers.authorization), req.params.id))

    const payments = deps.payments
    api.get('/payments', {
      schema: { summary: 'How this market pays owners: the network, the payout threshold and the fee rate', tags: ['payments'], response: { 200: PaymentTerms } },
    }, async () => payments.terms)

    api.get('/processors/me/account', {
      schema: { summary: "This processor's balance, what its queries hold in escrow, and each movement, newest first", tags: ['payments'], security: bearer, querystring: AccountQuery, response: { 200: ProcessorAccount, ...problems(400, 401) } },
    }, async (req) => payments.processorAccount((await who(req.headers.authorization)).id, req.query.limit))

    api.post('/owners/payout-address', {
      schema: {
        summary: "Set an owner's payout address, signed with the box's Ed25519 key",
        description: 'No API key: the signature is the box\'s. Refused when it does not verify or was signed more than ten minutes from now (401), when the address is not one of the market\'s network (400), or when the market makes no payouts or holds an address this box signed later (409).',
        tags: ['boxes'], body: PayoutAddressBody, response: { 200: PayoutAddressSet, ...problems(400, 401, 409) },
      },
    }, async (req) => payments.setPayoutAddress(req.body))

    api.get('/owners/:boxId/account', {
      schema: {
        summary: "An owner's balance, what each query earned them and their payouts, for a request the box signed",
        description: 'The box signs `coffer-market-account-v1\\n<boxId>\\n<signedAt>` and sends signedAt and the signature in the x-coffer-signed-at and x-coffer-signature headers.',
        tags: ['boxes'], params: BoxParams, response: { 200: OwnerAccount, ...problems(400, 401) },
      },
    }, async (req) => payments.ownerAccount(req.params.boxId, { signedAt: header(req.headers[ACCOUNT_SIGNED_AT]), signature: header(req.headers[ACCOUNT_SIGNATURE]) }))

    if (deps.operator) {
      const operator = deps.operator
      const operatorOnly = [{ operator: [] }]
      api.post('/operator/deposits', {
        schema: { summary: 'Record a processor\'s deposit, once per reference', tags: ['operator'], security: operatorOnly, body: DepositBody, response: { 200: DepositAnswer, 201: DepositAnswer, ...problems(400, 401, 404, 409) } },
      }, async (req, reply) => {
        operator.authenticate(req.headers.authorization)
        const deposit = await payments.deposit(req.body)
        reply.status(deposit.recorded ? 201 : 200)
        return deposit
      })
      api.get('/operator/ledger', {
        schema: { summary: 'Whether the ledger balances, with the total held by each kind of account', tags: ['operator'], security: operatorOnly, response: { 200: LedgerCheckSchema, ...problems(401) } },
      }, async (req) => {
        operator.authenticate(req.headers.authorization)
        return payments.check()
      })

      const payouts = deps.payouts
      const runPayouts = deps.runPayouts
      if (payouts && runPayouts) {
        api.post('/operator/payouts', {
          schema: { summary: 'Follow the payouts under way, then pay every owner due, one transaction per batch', tags: ['operator'], security: operatorOnly, response: { 200: PayoutRunSchema, ...problems(401) } },
        }, async (req) => {
          operator.authenticate(req.headers.authorization)
          return runPayouts()
        })
        api.get('/operator/payouts', {
          schema: { summary: 'Payouts, newest first', tags: ['operator'], security: operatorOnly, querystring: LimitQuery, response: { 200: PayoutList, ...problems(401) } },
        }, async (req) => {
          operator.authenticate(req.headers.authorization)
          return { payouts: await payouts.list(req.query.limit) }
        })
        api.get('/operator/payouts/:id', {
          schema: { summary: 'One payout, with each owner it pays', tags: ['operator'], security: operatorOnly, params: PayoutParams, response: { 200: PayoutDetailSchema, ...problems(400, 401, 404) } },
        }, async (req) => {
          operator.authenticate(req.headers.authorization)
          return payouts.get(req.params.id)
        })
        api.get('/operator/wallet', {
          schema: { summary: "The market wallet's address and coins", tags: ['operator'], security: operatorOnly, response: { 200: WalletStateSchema, ...problems(401) } },
        }, async (req) => {
          operator.authenticate(req.headers.authorization)
          return payouts.walletState()
        })
        api.post('/operator/wallet/coins', {
          schema: { summary: 'Record a coin sent to the wallet\'s address, once its transaction confirmed', tags: ['operator'], security: operatorOnly, body: CoinBody, response: { 200: CoinAdded, 201: CoinAdded, ...problems(400, 401, 409) } },
        }, async (req, reply) => {
          operator.authenticate(req.headers.authorization)
          const added = await payouts.addCoin(req.body)
          reply.status(added.added ? 201 : 200)
          return added
        })
      }
    }

    const leader = deps.leader
    if (leader) {
      api.post('/queries/:id/answers', {
        schema: {
          summary: "A box's answer, signed with the box's Ed25519 key: for statistics, its report as two uploads (leader's and helper's); for a dataset, its sealed record; and its privacy level",
          description: 'No API key: the signature is the box\'s. Refused when the signature does not verify (401), the upload or record is forged, replayed, malformed or of the wrong kind for the query (400), or the query is closed, past its deadline, full, or already answered by this box (409).',
          tags: ['boxes'], params: IdParams, body: AnswerSchema, response: { 202: AnswerAccepted, ...problems(400, 401, 404, 409) },
        },
        bodyLimit: ANSWER_BODY_LIMIT,
      }, async (req, reply) => {
        if (req.body.queryId !== req.params.id) throw new InvalidInput('The answer is for another query than the URL names.', { field: 'queryId' })
        const accepted = await leader.submit(req.body)
        reply.status(202)
        return accepted
      })

      api.get('/queries/:id/result', {
        schema: {
          summary: "The query's result: state, participants per privacy class, each class's noised value with ε and error bars, the merged value with its standard deviation and 95 % interval, and the parameters used",
          description: 'With `?format=csv`, one row per value (per bucket for a histogram): the merged answer (class `all`), then each class.',
          tags: ['queries'], security: bearer, params: IdParams, querystring: ResultQuerystring,
          response: { 200: { description: 'The result, as JSON or (format=csv) text/csv', content: { 'application/json': { schema: QueryResultSchema }, 'text/csv': { schema: { type: 'string' } } } }, ...problems(400, 401, 404, 409) },
        },
      }, async (req, reply) => {
        const processor = await who(req.headers.authorization)
        const result = await leader.result(processor.id, req.params.id)
        if (req.query.format === 'csv') {
          reply.type('text/csv; charset=utf-8').header('content-disposition', `attachment; filename="result-${req.params.id}.csv"`)
          return resultCsv(result)
        }
        return result
      })
    }

    const feed = deps.feed as FeedHub
    api.get('/feed', {
      schema: { summary: 'Open queries after a sequence number, for a box catching up', tags: ['boxes'], querystring: FeedQuerystring, response: { 200: FeedPageSchema, ...problems(400) } },
    }, async (req) => deps.queries.feed(req.query.since ?? 0, req.query.limit ?? 100))

    api.get('/feed/live', {
      schema: { summary: 'How a box hears of new queries as they are published: the event stream, and NATS when the market announces there', tags: ['boxes'], response: { 200: FeedLive } },
    }, async () => ({
      stream: '/api/v1/feed/stream',
      nats: deps.announcements ? { servers: deps.announcements.nats, subject: deps.announcements.subject } : null,
    }))

    api.get('/feed/stream', {
      schema: {
        summary: 'Server-sent events: each newly published query as an `query` event whose id is its sequence number',
        tags: ['boxes'], querystring: StreamQuerystring,
      },
    }, (req, reply) => {
      const lastEventId = Number(req.headers['last-event-id'])
      const since = Number.isSafeInteger(lastEventId) && lastEventId >= 0 ? lastEventId : req.query.since ?? 0
      reply.hijack()
      const res = reply.raw
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' })
      res.write(': coffer market feed\n\n')
      streams.add(res)
      const stop = feed.subscribe(since, (entries) => {
        for (const entry of entries) res.write(`id: ${entry.seq}\nevent: query\ndata: ${JSON.stringify(entry)}\n\n`)
      })
      const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), KEEP_ALIVE_MS)
      res.on('close', () => {
        stop()
        clearInterval(keepAlive)
        streams.delete(res)
      })
    })
  }, { prefix: '/api/v1' })
  // The processors' pages, at / (built into packages/market-ui/dist).
  app.register(marketPages)

  return app
}

/** One header's value, when a client sent it once. */
function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? undefined : value
}

/** Maps Fastify's own errors (validation, body size, media type) onto the market's typed errors. */
function toMarketError(err: FastifyError): MarketError {
  if (err instanceof MarketError) return err
  if (err.validation) {
    const first = err.validation[0]
    const field = first?.instancePath?.replace(/^\//, '') || (first?.params as { missingProperty?: string } | undefined)?.missingProperty || err.validationContext
    return new InvalidInput(`${err.validationContext ?? 'request'}${field ? ` ${field}` : ''}: ${first?.message ?? err.message}`, { field })
  }
  if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new PayloadTooLarge(`The body is larger than ${BODY_LIMIT / 1024} KiB. A query spec is a few kilobytes: check what is being sent.`)
  if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || err.statusCode === 415) {
    return new UnsupportedMediaType('The market takes request bodies as application/json.')
  }
  if (err.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || err.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || err instanceof SyntaxError) {
    return new InvalidInput(`The body is not valid JSON: ${err.message}`)
  }
  // Connection failures, and PostgreSQL's connection (08) and shutdown (57P) classes: the database, not the request.
  if (typeof err.code === 'string' && /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|08|57P)/.test(err.code)) {
    return new Unavailable('The market cannot reach its database just now. Try again shortly.')
  }
  if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) return new MarketError(err.statusCode, 'bad-request', 'Bad request', err.message)
  return new MarketError(500, 'internal', 'Internal error', 'The market hit an unexpected error and logged it. Try again; if it persists, tell its operator.')
}
