/**
 * The few routes that cannot be operations (see routes.ts) still go through the operation
 * layer's guard, as Fastify wrappers around their handler: `audited(authorized(handler))`. Login
 * has no token yet, and a server-sent event stream is not one answer. audited() runs the
 * handler as an audited section (Operations.audited), which files the decision — allowed or
 * denied, with record and byte counts — before the response leaves; authorized() checks the
 * bearer token and what it allows (Operations.authorize).
 */
import type { ServerResponse } from 'node:http'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Access, Scope } from '../arbiter/index.ts'
import type { AccessKind, Decision, Operations } from '../operations/index.ts'

export interface Ctx extends Decision {
  scope: Scope
}

type Req = FastifyRequest<{ Params: Record<string, string>; Querystring: Record<string, string>; Body: unknown }>
export type Handler<C> = (req: Req, reply: FastifyReply, ctx: C) => Promise<unknown>

export interface GuardDeps {
  ops: Operations
}

export function bearer(req: FastifyRequest): string | undefined {
  const header = req.headers.authorization
  if (header?.startsWith('Bearer ')) return header.slice(7).trim()
  // EventSource cannot set headers, so live streams may pass the token in the query.
  const query = req.query as Record<string, string> | undefined
  return query?.access_token
}

/** What an audit entry calls a request: its method and route, e.g. `GET /api/v1/sources/:source/live`. */
export function actionOf(req: FastifyRequest): string {
  return `${req.method} ${req.routeOptions.url ?? req.url}`
}

/** Checks the token, then asks `access(req)` what the request does and checks the token allows it. */
export function authorized(deps: GuardDeps, access: (req: Req) => Access, handler: Handler<Ctx>): Handler<Decision> {
  return async (req, reply, decision) => {
    deps.ops.authorize(decision, bearer(req), access(req))
    return handler(req, reply, decision as Ctx)
  }
}

export function audited(deps: GuardDeps, kind: AccessKind, handler: Handler<Decision>): (req: Req, reply: FastifyReply) => Promise<unknown> {
  return (req, reply) => deps.ops.audited(kind, actionOf(req), req.params?.source ?? null, async (decision) => {
    const result = await handler(req, reply, decision)
    decision.status = reply.statusCode
    return result
  })
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
