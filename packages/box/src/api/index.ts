/**
 * The HTTP API (Fastify). Every route has a schema, which is both its validation and its
 * OpenAPI documentation; every error leaves as RFC 9457 problem+json; every route runs an
 * operation through Operations.call() (see routes.ts), except the docs and what cannot be an
 * operation, which goes through audited(authorized(handler)) (see guard.ts): login, which has
 * no token yet, and the server-sent event streams. A driver kind's own routes (the OwnTracks
 * endpoint, which authenticates devices by password) are its own, run through the same
 * operation layer.
 */
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify'
import AjvCompiler from '@fastify/ajv-compiler'
import SerializerSelector from '@fastify/fast-json-stringify-compiler'
import type { Logger } from 'pino'
import { checkMapTiles, type Home } from '../home/index.ts'
import type { Store } from '../store/index.ts'
import type { Arbiter } from '../arbiter/index.ts'
import type { Drivers } from '../drivers/index.ts'
import type { Importers } from '../importers/index.ts'
import type { Apps } from '../apps/index.ts'
import type { Gateway } from '../gateway/index.ts'
import type { Operations } from '../operations/index.ts'
import type { SourceOperations } from '../sources/index.ts'
import type { AppOperations } from '../apps/operations.ts'
import type { ExportOperations } from '../gateway/operations.ts'
import type { HomeOperations } from '../home/operations.ts'
import type { GrantOperations } from '../arbiter/operations.ts'
import type { AuditOperations } from '../audit/operations.ts'
import type { StatementOperations } from '../statement/operations.ts'
import type { DriverOperations } from '../drivers/operations.ts'
import type { ImportOperations } from '../importers/operations.ts'
import type { MarketOperations } from '../market/index.ts'
import type { BackupOperations } from '../backup/index.ts'
import type { RecoveryOperations } from '../recovery/index.ts'
import type { Groups, GroupOperations } from '../groups/index.ts'
import { CofferError, PayloadTooLarge, UnsupportedMediaType, NotFound, InvalidInput } from '../errors/index.ts'
import { SENML_CBOR, SENML_JSON } from '../senml/index.ts'
import { sourceRoutes } from './sources.ts'
import { adminRoutes } from './admin.ts'
import { driverRoutes } from './drivers.ts'
import { importRoutes } from './imports.ts'
import { statementRoutes } from './statement.ts'
import { appRoutes } from './apps.ts'
import { marketRoutes } from './market.ts'
import { backupRoutes } from './backup.ts'
import { recoveryRoutes } from './recovery.ts'
import { groupDriveRoutes, groupRoutes } from './groups.ts'
import { cockpitRoutes, isCockpitPath, sendCockpit } from './cockpit.ts'
import { docsRoutes } from './docs.ts'

export interface ApiDeps {
  home: Home
  store: Store
  arbiter: Arbiter
  drivers: Drivers
  importers: Importers
  apps: Apps
  gateway: Gateway
  ops: Operations
  sources: SourceOperations
  appOps: AppOperations
  exportOps: ExportOperations
  homeOps: HomeOperations
  grantOps: GrantOperations
  auditOps: AuditOperations
  statementOps: StatementOperations
  driverOps: DriverOperations
  importOps: ImportOperations
  marketOps: MarketOperations
  backupOps: BackupOperations
  recoveryOps: RecoveryOperations
  groups: Groups
  groupOps: GroupOperations
  logger: Logger
}

export const BODY_LIMIT = 16 * 1024 * 1024
export const PROBLEM_JSON = 'application/problem+json'

export function createApi(deps: ApiDeps): FastifyInstance {
  // A tile server set by hand in config.json is checked like one set through the API.
  const tileOrigin = () => {
    try {
      return deps.home.config.map && checkMapTiles(deps.home.config.map).origin
    } catch {
      return undefined
    }
  }
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    // Each request gets a child logger that names it; a logger that logs nothing needs none.
    childLoggerFactory: (logger, bindings, opts) => logger.level === 'silent' ? logger : logger.child(bindings, opts),
    bodyLimit: BODY_LIMIT,
    // The schemas are built with TypeBox, so they are not checked against the JSON Schema meta-schema
    // on every start: compiling the meta-schema was a quarter of the time routes took to get ready.
    ajv: { customOptions: { coerceTypes: true, removeAdditional: false, allErrors: false, validateSchema: false } },
    schemaController: { compilersFactory: onFirstUse() },
  })

  for (const type of [SENML_JSON, SENML_CBOR]) {
    app.addContentTypeParser(type, { parseAs: 'buffer' }, (_req, body, done) => done(null, body))
  }

  // Before any route: the document is made of the routes it sees added.
  docsRoutes(app)

  app.setErrorHandler((err: FastifyError, req, reply) => {
    const problem = toCofferError(err)
    // A 503 says the box is busy for a moment (see Unavailable), not that something broke.
    if (problem.status >= 500 && problem.status !== 503) req.log.error({ err }, 'request failed')
    if (typeof problem.extras.retryAfter === 'number') reply.header('retry-after', String(Math.ceil(problem.extras.retryAfter)))
    reply.status(problem.status).type(PROBLEM_JSON).send(problem.toProblem())
  })
  app.setNotFoundHandler((req, reply) => {
    if (isCockpitPath(req)) return sendCockpit(req, reply)
    const problem = new NotFound(`No route ${req.method} ${req.url.split('?')[0]}. The API is described at /api/v1/openapi.json.`)
    reply.status(404).type(PROBLEM_JSON).send(problem.toProblem())
  })

  app.register(async (api) => {
    sourceRoutes(api, deps)
    adminRoutes(api, deps)
    driverRoutes(api, deps)
    importRoutes(api, deps)
    statementRoutes(api, deps)
    appRoutes(api, deps)
    marketRoutes(api, deps)
    backupRoutes(api, deps)
    recoveryRoutes(api, deps)
    groupRoutes(api, deps)
  }, { prefix: '/api/v1' })
  groupDriveRoutes(app, deps)
  cockpitRoutes(app, tileOrigin)

  return app
}

/**
 * Fastify's own validator and serializer compilers, but each route's schemas are compiled when the
 * route is first used instead of all at start, where they took about 30 ms of `coffer start`'s
 * time to its first answer. A route's validator keeps Fastify's contract: `errors` after a failure.
 * Each app has one pool of each, as under Fastify's defaults, so the same schemas and options share
 * one Ajv instance.
 */
function onFirstUse() {
  const validators = AjvCompiler()
  const serializers = SerializerSelector()
  return {
    buildValidator: ((externalSchemas, options) => {
      const compile = validators(externalSchemas, options)
      return (route) => {
        let validate: ReturnType<typeof compile> | undefined
        const lazy = (data: unknown) => {
          validate ??= compile(route)
          const valid = validate(data)
          lazy.errors = validate.errors
          return valid
        }
        lazy.errors = undefined as ReturnType<typeof compile>['errors']
        // Fastify calls a validator and reads its `errors`; Ajv's other fields are for Ajv.
        return lazy as unknown as ReturnType<typeof compile>
      }
    }) satisfies typeof validators,
    buildSerializer: ((externalSchemas, options) => {
      const compile = serializers(externalSchemas, options)
      return (route) => {
        let serialize: ReturnType<typeof compile> | undefined
        return (doc: unknown) => (serialize ??= compile(route))(doc)
      }
    }) satisfies typeof serializers,
  }
}

/** Maps Fastify's own errors (validation, body size, media type) onto Coffer's typed errors. */
function toCofferError(err: FastifyError): CofferError {
  if (err instanceof CofferError) return err
  if (err.validation) {
    const first = err.validation[0]
    const field = first?.instancePath?.replace(/^\//, '') || (first?.params as { missingProperty?: string } | undefined)?.missingProperty || err.validationContext
    return new InvalidInput(`${err.validationContext ?? 'request'}${field ? ` ${field}` : ''}: ${first?.message ?? err.message}`, { field })
  }
  if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new PayloadTooLarge(`The body is larger than ${BODY_LIMIT / 1024 / 1024} MiB: send smaller batches.`)
  if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || err.statusCode === 415) {
    return new UnsupportedMediaType(`This route does not accept that content type: ${err.message.replace(/^Unsupported Media Type: ?/, '')}. SenML goes in as ${SENML_JSON} or ${SENML_CBOR}; other bodies as application/json.`)
  }
  if (err.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || err.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || err instanceof SyntaxError) {
    return new InvalidInput(`The body is not valid JSON: ${err.message}`)
  }
  if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) return new CofferError(err.statusCode, 'bad-request', 'Bad request', err.message)
  return new CofferError(500, 'internal', 'Internal error', 'The box hit an unexpected error and logged it. Try again; if it persists, look at the box log.')
}
