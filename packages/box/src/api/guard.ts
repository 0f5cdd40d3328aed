/**
 * The cross-cutting steps for the few routes that cannot be operations (see routes.ts), as
 * wrappers around their handler: `audited(authorized(handler))`. Login has no token yet, the
 * OwnTracks endpoint authenticates a device by its password, and a server-sent event stream is
 * not one answer. authorized() checks the bearer token and what it allows; audited() appends
 * the decision — allowed or denied, with record and byte counts — to the audit log before the
 * response leaves.
 */
import type { ServerResponse } from 'node:http'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { decisionEntry, type AuditLog, type Decision, type Operation } from '../audit/index.ts'
import type { Access, Arbiter, Scope } from '../arbiter/index.ts'
import { CofferError, Unauthorized } from '../errors/index.ts'

export interface Ctx extends Decision {
  scope: Scope
}

export interface AnonCtx extends Omit<Ctx, 'scope'> {
  scope?: Scope
}

type Req = FastifyRequest<{ Params: Record<string, string>; Querystring: Record<string, string>; Body: unknown }>
export type Handler<C> = (req: Req, reply: FastifyReply, ctx: C) => Promise<unknown>

export interface GuardDeps {
  audit: AuditLog
  arbiter: Arbiter
}

export function bearer(req: FastifyRequest): string | undefined {
  const header = req.headers.authorization
  if (header?.startsWith('Bearer ')) return header.slice(7).trim()
  // EventSource cannot set headers, so live streams may pass the token in the query.
  const query = req.query as Record<string, string> | undefined
  return query?.access_token
}

/** Checks the token, then asks `access(req)` what the request does and checks the token allows it. */
export function authorized(deps: GuardDeps, access: (req: Req) => Access, handler: Handler<Ctx>): Handler<AnonCtx> {
  return async (req, reply, ctx) => {
    try {
      ctx.scope = deps.arbiter.authenticate(bearer(req))
    } catch (err) {
      // A revoked or expired token is still genuine: its holder is named in the audit entry.
      if (err instanceof Unauthorized) ctx.holder = err.holder
      throw err
    }
    const wanted = access(req)
    if (wanted.op === 'read') ctx.granularity = wanted.granularity
    deps.arbiter.authorize(ctx.scope, wanted)
    return handler(req, reply, ctx as Ctx)
  }
}

export function audited(deps: GuardDeps, operation: Operation, handler: Handler<AnonCtx>): (req: Req, reply: FastifyReply) => Promise<unknown> {
  return async (req, reply) => {
    const ctx: AnonCtx = { records: 0, bytes: 0, source: req.params?.source ?? null }
    const record = (status: number, reason?: string) =>
      deps.audit.record(decisionEntry(ctx, operation, `${req.method} ${req.routeOptions.url ?? req.url}`, status, reason))
    try {
      const result = await handler(req, reply, ctx)
      const entry = record(reply.statusCode)
      // Changes and admin actions answer only once their entry is on disk. An allowed read's
      // entry is queued before its answer leaves and committed within the same group commit;
      // not waiting for it keeps reads as fast as the log's write latency allows.
      if (operation === 'read') entry.catch((err) => req.log.error({ err }, 'audit write failed'))
      else await entry
      return result
    } catch (err) {
      const status = err instanceof CofferError ? err.status : 500
      await record(status, err instanceof CofferError ? err.message : 'internal error')
      throw err
    }
  }
}

/** Owner-only routes: the token must allow `admin`; the decision is audited as an admin action. */
export function ownerOnly(deps: GuardDeps, handler: Handler<Ctx>): (req: Req, reply: FastifyReply) => Promise<unknown> {
  return audited(deps, 'admin', authorized(deps, () => ({ op: 'admin' }), handler))
}

/** Takes the response over for server-sent events. */
export function eventStream(reply: FastifyReply): ServerResponse {
  reply.hijack()
  reply.raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' })
  return reply.raw
}
