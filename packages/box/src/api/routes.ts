/**
 * HTTP routes as thin adapters over operations: a route names its method, path and operation,
 * and how a request becomes the operation's input (by default its path parameters, query
 * string and JSON body, merged). The operation's schemas document the route in the OpenAPI
 * document — request and answer — but Fastify does not validate them: Operations.call()
 * authenticates first and then validates, for HTTP as for every other caller.
 */
import { Type, type Static, type TObject, type TSchema } from '@sinclair/typebox'
import type { FastifyInstance, FastifyReply, FastifyRequest, FastifySchema, HTTPMethods } from 'fastify'
import type { Operation, OperationContext, Operations } from '../operations/index.ts'
import { bearer } from './guard.ts'

export const Problem = Type.Object({ type: Type.String(), title: Type.String(), status: Type.Integer(), detail: Type.String() }, { additionalProperties: true })

export interface RouteOptions<O> {
  tags: string[]
  /** The operation's input from the request; by default query, a JSON object body and params, merged (the path's params win). */
  input?: (req: FastifyRequest) => unknown
  /** How the result becomes the response, inside the audited section; by default it is sent as JSON. */
  present?: (result: O, ctx: OperationContext, req: FastifyRequest, reply: FastifyReply) => string | Buffer | object
  /** The body as documented, when it is not the rest of the input (SenML, a file, any JSON value). */
  body?: TSchema
  /** The query string as documented, when a route with a body takes the rest of its input there (an upload's options). */
  querystring?: TSchema
  /** The success answer as documented, when it is not the output as JSON (a page or a PDF, by format). */
  response?: TSchema
  /** The largest body the route takes, when it is not the box's usual limit. */
  bodyLimit?: number
  /** The statuses a success may answer with, as documented, when its operation picks one by result. */
  statuses?: number[]
  description?: string
}

/** operationRoute() bound to one Fastify instance and the box's operations. */
export type RouteFn = <I extends TSchema, O extends TSchema>(method: HTTPMethods, url: string, op: Operation<I, O>, opts: RouteOptions<Static<O>>) => void

export function operationRoute<I extends TSchema, O extends TSchema>(
  api: FastifyInstance, ops: Operations, method: HTTPMethods, url: string, op: Operation<I, O>, opts: RouteOptions<Static<O>>,
): void {
  const status = op.status ?? 200
  const { present } = opts
  // What the audit entries call the route, e.g. `GET /api/v1/sources/:source/latest`: found on its first request.
  let action: string | undefined
  const schema: FastifySchema = {
    summary: op.summary, tags: opts.tags, ...(opts.description ? { description: opts.description } : {}), ...documented(method, url, op, opts),
    response: { ...Object.fromEntries((opts.statuses ?? [status]).map((code) => [code, opts.response ?? op.output])), 400: Problem, 401: Problem, 403: Problem, 404: Problem },
  }
  api.route({
    method, url, schema, ...(opts.bodyLimit ? { bodyLimit: opts.bodyLimit } : {}),
    // Validation is the operation's, after authentication; answers are sent as they are.
    validatorCompiler: () => (value) => ({ value }),
    serializerCompiler: () => (data) => JSON.stringify(data),
    handler: async (req: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
      // The path names what is acted on: neither the query string nor the body can override it.
      const input = opts.input ? opts.input(req) : { ...(req.query as object), ...(isObject(req.body) ? req.body : {}), ...(req.params as object) }
      // A GET route answers HEAD too, under its own name.
      const called = req.method === method ? (action ??= `${method} ${req.routeOptions.url}`) : `${req.method} ${req.routeOptions.url}`
      return ops.call(op, input, { token: bearer(req), action: called }, (result, ctx) => {
        reply.status(ctx.status)
        return present ? present(result, ctx, req, reply) : result
      })
    },
  })
}

/** The route's parameters, query string and body, as the OpenAPI document shows them. */
function documented(method: HTTPMethods, url: string, op: Operation, { body, querystring }: { body?: TSchema; querystring?: TSchema }): Record<string, TSchema> {
  const input = op.input as TSchema as TObject
  const names = [...url.matchAll(/:(\w+)/g)].map((m) => m[1]!)
  const rest = Object.keys(input.properties ?? {}).filter((k) => !names.includes(k))
  const doc: Record<string, TSchema> = {}
  if (names.length > 0) doc.params = Type.Pick(input, names)
  if (querystring) doc.querystring = leaveOutDefaults(querystring as TObject)
  if (method === 'GET' || method === 'DELETE') {
    if (rest.length > 0) doc.querystring = leaveOutDefaults(Type.Pick(input, rest))
  } else if (body) {
    doc.body = body
  } else if (rest.length > 0) {
    doc.body = leaveOutDefaults(Type.Pick(input, rest))
  }
  return doc
}

/** A field with a default may be left out: the operation fills it in before it checks what is required. */
function leaveOutDefaults(schema: TObject): TObject {
  return { ...schema, required: (schema.required ?? []).filter((key) => (schema.properties[key] as TSchema | undefined)?.default === undefined) }
}

function isObject(value: unknown): value is object {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !Buffer.isBuffer(value)
}
