/** Sources, ingest, queries, key-value items, live updates and the catalogue, over HTTP. */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { Type } from '@sinclair/typebox'
import { windowOf } from '../arbiter/index.ts'
import { HYPERCAT_CONTENT_TYPE } from '../catalogue/index.ts'
import { parseNames } from '../sources/index.ts'
import { toSenmlCbor, toSenmlJson, SENML_CBOR, SENML_JSON, type SenmlRecord } from '../senml/index.ts'
import type { OperationContext } from '../operations/index.ts'
import { audited, authorized, bearer, eventStream } from './guard.ts'
import { operationRoute, type RouteFn } from './routes.ts'
import type { ApiDeps } from './index.ts'

export function sourceRoutes(api: FastifyInstance, deps: ApiDeps): void {
  const { store, ops, sources } = deps
  const route: RouteFn = (method, url, op, opts) => operationRoute(api, ops, method, url, op, opts)

  route('GET', '/cat', sources.catalogue, { tags: ['catalogue'], present: (catalogue, _ctx, _req, reply) => {
    reply.type(HYPERCAT_CONTENT_TYPE)
    return catalogue
  } })
  route('GET', '/sources', sources.list, { tags: ['sources'] })
  route('POST', '/sources', sources.add, { tags: ['sources'] })
  route('GET', '/sources/:source', sources.get, { tags: ['sources'] })
  route('DELETE', '/sources/:source', sources.remove, { tags: ['sources'] })

  route('POST', '/sources/:source/records', sources.append, {
    tags: ['records'],
    description: `Body: ${SENML_JSON} (or application/json) or ${SENML_CBOR}. Relative times (< 2^28) are relative to now.`,
    body: Type.Unknown({ description: 'A SenML pack' }),
    // Fastify has already parsed a plain JSON body; SenML arrives as bytes.
    input: (req) => ({ source: (req.params as { source: string }).source, pack: req.body, format: (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase() }),
  })
  route('DELETE', '/sources/:source/records', sources.deleteRange, { tags: ['records'] })
  route('GET', '/sources/:source/records', sources.records, { tags: ['records'], present: senml })
  route('GET', '/sources/:source/latest', sources.latest, { tags: ['records'], present: senml })
  route('GET', '/sources/:source/aggregate', sources.aggregate, { tags: ['records'] })

  route('GET', '/sources/:source/kv', sources.keys, { tags: ['kv'] })
  route('GET', '/sources/:source/kv/:key', sources.getItem, { tags: ['kv'] })
  route('PUT', '/sources/:source/kv/:key', sources.putItem, {
    tags: ['kv'], body: Type.Unknown({ description: 'Any JSON value' }),
    input: (req) => ({ ...(req.params as object), value: req.body }),
  })
  route('DELETE', '/sources/:source/kv/:key', sources.deleteItem, { tags: ['kv'] })

  api.get('/sources/:source/live', {
    schema: { summary: 'Server-sent events: each new batch of records as a SenML `records` event', tags: ['records'], params: Type.Object({ source: Type.String() }) },
  }, audited(deps, 'observe', authorized(deps, (req) => ({ op: 'observe', source: req.params.source, granularity: 0 }), async (req, reply, ctx) => {
    const source = store.get(req.params.source!)
    const names = parseNames(req.query.name)
    const stream = eventStream(reply)
    stream.write(': subscribed\n\n')
    const onRecords = (records: SenmlRecord[]) => {
      // Each event re-checks the token, so a revocation ends the stream.
      try {
        deps.arbiter.authorize(deps.arbiter.authenticate(bearer(req)), { op: 'observe', source: source.meta.id, granularity: 0 })
      } catch {
        stream.end('event: revoked\ndata: {}\n\n')
        return
      }
      const window = windowOf(ctx.scope)
      const visible = records.filter((r) => (!names || names.includes(r.n)) && r.t >= window.from && r.t < window.to)
      if (visible.length > 0) stream.write(`event: records\ndata: ${toSenmlJson(visible)}\n\n`)
    }
    const heartbeat = setInterval(() => stream.write(': keep-alive\n\n'), 15_000)
    source.events.on('records', onRecords)
    stream.on('close', () => {
      clearInterval(heartbeat)
      source.events.off('records', onRecords)
    })
  })))
}

/** Records as SenML JSON, or CBOR when the client accepts it; the bytes sent are what the audit entry counts. */
function senml(records: SenmlRecord[], ctx: OperationContext, req: FastifyRequest, reply: FastifyReply): string | Buffer {
  if (req.headers.accept?.includes(SENML_CBOR)) {
    const body = Buffer.from(toSenmlCbor(records))
    ctx.bytes = body.length
    reply.type(SENML_CBOR)
    return body
  }
  const body = toSenmlJson(records)
  ctx.bytes = Buffer.byteLength(body)
  reply.type(SENML_JSON)
  return body
}
