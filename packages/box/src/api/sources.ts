/** Sources, ingest, queries, key-value items, live updates and the catalogue. */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { Type } from '@sinclair/typebox'
import { AGGREGATE_FNS, LOGICAL_TYPES, SOURCE_KINDS, TECHNICAL_TYPES, assertTimeZone, bucketBoundaries, onGrid, parseBucket, type AggregateFn, type NewSource, type Series } from '../store/index.ts'
import { allowsSource, windowOf } from '../arbiter/index.ts'
import { catalogue, HYPERCAT_CONTENT_TYPE } from '../catalogue/index.ts'
import { parseSenmlCbor, parseSenmlJson, resolvePack, toSenmlCbor, toSenmlJson, SENML_CBOR, SENML_JSON, type SenmlRecord } from '../senml/index.ts'
import { Forbidden, InvalidInput, NotFound, UnsupportedMediaType } from '../errors/index.ts'
import { audited, authorized, bearer, eventStream, type Ctx } from './guard.ts'
import { parseNames, parseRange, parseTime } from './params.ts'
import type { ApiDeps } from './index.ts'

const SourceParams = Type.Object({ source: Type.String({ pattern: '^[a-z0-9][a-z0-9._-]{0,62}$', description: 'Source id' }) })
const KeyParams = Type.Object({ source: SourceParams.properties.source, key: Type.String({ minLength: 1, maxLength: 512 }) })
const Time = Type.String({ description: 'ISO 8601 or epoch seconds' })
const Problem = Type.Object({ type: Type.String(), title: Type.String(), status: Type.Integer(), detail: Type.String() }, { additionalProperties: true })
const errors = { 400: Problem, 401: Problem, 403: Problem, 404: Problem }

const Attribute = Type.Object({
  name: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9:./_-]*$', maxLength: 256 }),
  technicalType: Type.Union(TECHNICAL_TYPES.map((t) => Type.Literal(t))),
  logicalType: Type.Optional(Type.Union(LOGICAL_TYPES.map((t) => Type.Literal(t)))),
  unit: Type.Optional(Type.String({ maxLength: 64 })),
  description: Type.Optional(Type.String({ maxLength: 1024 })),
}, { additionalProperties: false })

const NewSourceBody = Type.Object({
  id: SourceParams.properties.source,
  kind: Type.Optional(Type.Union(SOURCE_KINDS.map((k) => Type.Literal(k)))),
  description: Type.Optional(Type.String({ maxLength: 1024 })),
  logicalType: Type.Optional(Type.Union(LOGICAL_TYPES.map((t) => Type.Literal(t)))),
  attributes: Type.Optional(Type.Array(Attribute, { maxItems: 256 })),
}, { additionalProperties: false })

const RecordsQuery = Type.Object({
  from: Type.Optional(Time), to: Type.Optional(Time),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000, default: 1000 })),
  order: Type.Optional(Type.Union([Type.Literal('asc'), Type.Literal('desc')], { default: 'asc' })),
  name: Type.Optional(Type.String({ description: 'Record names, comma-separated' })),
})

const AggregateQuery = Type.Object({
  fn: Type.String({
    pattern: `^(${AGGREGATE_FNS.join('|')})(,(${AGGREGATE_FNS.join('|')}))*$`,
    description: `One of ${AGGREGATE_FNS.join(', ')}; or several, comma-separated (mean,min,max), computed in one pass: each bucket then also carries \`values\` by function`,
  }),
  bucket: Type.String({ description: 'Bucket size: 1m, 5m, 1h, 1d, 1w …' }),
  from: Time, to: Time,
  tz: Type.Optional(Type.String({ default: 'UTC', description: 'IANA time zone for day and week buckets' })),
  name: Type.Optional(Type.String()),
})

export function sourceRoutes(api: FastifyInstance, deps: ApiDeps): void {
  const { store } = deps
  const guard = (operation: Parameters<typeof audited>[1], access: Parameters<typeof authorized>[1], handler: Parameters<typeof authorized>[2]) =>
    audited(deps, operation, authorized(deps, access, handler))
  const visible = (ctx: Ctx) => store.list().filter((s) => allowsSource(ctx.scope, s.id))

  api.get('/cat', { schema: { summary: 'Hypercat 3.0 catalogue of the sources this token may see', tags: ['catalogue'] } },
    guard('read', () => ({ op: 'read' }), async (_req, reply, ctx) => {
      reply.type(HYPERCAT_CONTENT_TYPE)
      return catalogue(deps.home.config.identity, visible(ctx).map((s) => store.summary(s.id)))
    }))

  api.get('/sources', { schema: { summary: 'List sources', tags: ['sources'] } },
    guard('read', () => ({ op: 'read' }), async (_req, _reply, ctx) => visible(ctx).map((s) => store.summary(s.id))))

  api.post('/sources', { schema: { summary: 'Add a source', tags: ['sources'], body: NewSourceBody, response: { 201: Type.Any(), ...errors } } },
    guard('admin', () => ({ op: 'admin' }), async (req, reply, ctx) => {
      const body = req.body as NewSource
      ctx.source = body.id
      const meta = await store.add(body)
      reply.status(201)
      return meta
    }))

  api.get('/sources/:source', { schema: { summary: 'Describe a source', tags: ['sources'], params: SourceParams } },
    guard('read', (req) => ({ op: 'read', source: req.params.source }), async (req) => store.summary(req.params.source!)))

  api.delete('/sources/:source', { schema: { summary: 'Delete a source, its view and its log blocks', tags: ['sources'], params: SourceParams } },
    guard('delete', (req) => ({ op: 'admin', source: req.params.source }), async (req, _reply, ctx) => {
      const { count } = await store.remove(req.params.source!)
      ctx.records = count
      return { deleted: req.params.source, records: count }
    }))

  api.post('/sources/:source/records', {
    schema: {
      summary: 'Append a SenML pack (atomic: all records or none)', tags: ['records'], params: SourceParams,
      description: `Body: ${SENML_JSON} (or application/json) or ${SENML_CBOR}. Relative times (< 2^28) are relative to now.`,
    },
  }, guard('write', (req) => ({ op: 'write', source: req.params.source }), async (req, reply, ctx) => {
    const source = store.get(req.params.source!)
    const records = parsePack(req)
    const result = await source.appendRecords(records)
    ctx.records = result.count
    ctx.bytes = result.bytes
    reply.status(201)
    return { stored: result.count }
  }))

  api.delete('/sources/:source/records', {
    schema: { summary: 'Delete the records in [from, to) from the view and clear them from the local log', tags: ['records'], params: SourceParams, querystring: Type.Object({ from: Time, to: Time }) },
  }, guard('delete', (req) => ({ op: 'delete', source: req.params.source, from: parseTime(req.query.from, 'from'), to: parseTime(req.query.to, 'to') }), async (req, _reply, ctx) => {
    const from = parseTime(req.query.from, 'from')!
    const to = parseTime(req.query.to, 'to')!
    if (!(to > from)) throw new InvalidInput('The time range is empty: `to` must be after `from`.', { field: 'to' })
    const result = await store.get(req.params.source!).deleteRange(from, to)
    ctx.records = result.count
    return { deleted: result.count }
  }))

  api.get('/sources/:source/records', { schema: { summary: 'Raw records in [from, to)', tags: ['records'], params: SourceParams, querystring: RecordsQuery } },
    guard('read', (req) => ({ op: 'read', source: req.params.source, granularity: 0, from: parseTime(req.query.from, 'from'), to: parseTime(req.query.to, 'to') }), async (req, reply, ctx) => {
      const source = store.get(req.params.source!)
      const range = parseRange(req.query, windowOf(ctx.scope))
      const names = parseNames(req.query.name)
      const records = source.view.records({
        ...range,
        limit: Number(req.query.limit ?? 1000),
        order: req.query.order === 'desc' ? 'desc' : 'asc',
        series: names && source.view.seriesNamed(names),
      })
      return sendSenml(req, reply, ctx, records)
    }))

  api.get('/sources/:source/latest', { schema: { summary: 'The newest record of each name', tags: ['records'], params: SourceParams, querystring: Type.Object({ name: Type.Optional(Type.String()) }) } },
    guard('read', (req) => ({ op: 'read', source: req.params.source, granularity: 0 }), async (req, reply, ctx) => {
      const source = store.get(req.params.source!)
      const window = windowOf(ctx.scope)
      const bounded = Number.isFinite(window.from) || Number.isFinite(window.to)
      const records = source.view.latest(source.view.seriesNamed(parseNames(req.query.name)), bounded ? window : undefined)
      return sendSenml(req, reply, ctx, records)
    }))

  api.get('/sources/:source/aggregate', { schema: { summary: 'Bucketed statistics (rollups answer coarse buckets)', tags: ['records'], params: SourceParams, querystring: AggregateQuery } },
    guard('read', (req) => ({
      op: 'read', source: req.params.source, granularity: parseBucket(req.query.bucket!).seconds,
      from: parseTime(req.query.from, 'from', zone(req.query.tz)), to: parseTime(req.query.to, 'to', zone(req.query.tz)),
    }), async (req, _reply, ctx) => {
      const source = store.get(req.params.source!)
      const tz = zone(req.query.tz)
      const bucket = parseBucket(req.query.bucket!)
      const from = parseTime(req.query.from, 'from', tz)!
      const to = parseTime(req.query.to, 'to', tz)!
      if (ctx.scope.granularity > 0) assertOnGrid(ctx.scope.granularity, bucket.seconds, from, to, tz, deps.home.config.timeZone ?? 'UTC')
      const series = numericSeries(source.view.seriesNamed(undefined), req.query.name, source.meta.id)
      const fns = [...new Set(req.query.fn!.split(','))] as AggregateFn[]
      const buckets = source.view.aggregate(series, bucketBoundaries(from, to, bucket, tz), fns)
      ctx.records = buckets.length
      return { source: source.meta.id, name: series[0]?.name ?? req.query.name ?? null, unit: series[0]?.unit ?? null, fn: req.query.fn, bucket: bucket.spec, tz, from, to, buckets }
    }))

  api.get('/sources/:source/live', {
    schema: { summary: 'Server-sent events: each new batch of records as a SenML `records` event', tags: ['records'], params: SourceParams },
  }, guard('observe', (req) => ({ op: 'observe', source: req.params.source, granularity: 0 }), async (req, reply, ctx) => {
    const source = store.get(req.params.source!)
    const names = parseNames((req.query as Record<string, string>).name)
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
  }))

  api.get('/sources/:source/kv', { schema: { summary: 'List keys of a key-value source', tags: ['kv'], params: SourceParams, querystring: Type.Object({ prefix: Type.Optional(Type.String()), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000, default: 1000 })) }) } },
    guard('read', (req) => ({ op: 'read', source: req.params.source, granularity: 0 }), async (req, _reply, ctx) => {
      const keys = store.get(req.params.source!).view.kvKeys(req.query.prefix ?? '', Number(req.query.limit ?? 1000))
      ctx.records = keys.length
      return { keys }
    }))

  api.get('/sources/:source/kv/:key', { schema: { summary: 'Get an item', tags: ['kv'], params: KeyParams } },
    guard('read', (req) => ({ op: 'read', source: req.params.source, granularity: 0 }), async (req, _reply, ctx) => {
      const item = store.get(req.params.source!).view.kvGet(req.params.key!)
      if (!item) throw new NotFound(`Source "${req.params.source}" has no key "${req.params.key}".`)
      ctx.records = 1
      return { key: req.params.key, value: item.value, t: item.t }
    }))

  api.put('/sources/:source/kv/:key', { schema: { summary: 'Put an item (any JSON value)', tags: ['kv'], params: KeyParams } },
    guard('write', (req) => ({ op: 'write', source: req.params.source }), async (req, _reply, ctx) => {
      if (req.body === undefined) throw new InvalidInput('The body must be a JSON value.')
      const result = await store.get(req.params.source!).put(req.params.key!, req.body)
      ctx.records = result.count
      ctx.bytes = result.bytes
      return { key: req.params.key, stored: true }
    }))

  api.delete('/sources/:source/kv/:key', { schema: { summary: 'Delete an item', tags: ['kv'], params: KeyParams } },
    guard('delete', (req) => ({ op: 'delete', source: req.params.source }), async (req, _reply, ctx) => {
      const source = store.get(req.params.source!)
      if (!source.view.kvGet(req.params.key!)) throw new NotFound(`Source "${req.params.source}" has no key "${req.params.key}".`)
      const result = await source.delete(req.params.key!)
      ctx.records = result.count
      return { key: req.params.key, deleted: true }
    }))
}

/**
 * A token limited to coarse detail may only ask for whole cells of its grid, in the box's own
 * time zone: buckets clipped at an arbitrary edge, or days in another zone, would let two
 * answers be subtracted into finer detail than the grant allows.
 */
function assertOnGrid(granularity: number, bucketSeconds: number, from: number, to: number, tz: string, boxZone: string): void {
  const cell = describeCell(granularity)
  if (tz !== boxZone) throw new Forbidden(`This token allows ${cell} buckets in the box's time zone (${boxZone}) only; ${tz} was asked for.`)
  if (bucketSeconds % granularity !== 0) throw new Forbidden(`This token allows buckets made of whole ${cell} cells; ${bucketSeconds}s buckets are not.`)
  if (!onGrid(from, granularity, tz) || !onGrid(to, granularity, tz)) {
    throw new Forbidden(`This token allows whole ${cell} cells only: \`from\` and \`to\` must fall on ${granularity % 86400 === 0 ? 'local midnights' : `multiples of ${granularity}s in local time`} (${boxZone}).`)
  }
}

function describeCell(seconds: number): string {
  return seconds % 86400 === 0 ? `${seconds / 86400}-day` : `${seconds}s`
}

function zone(tz: string | undefined): string {
  assertTimeZone(tz ?? 'UTC')
  return tz ?? 'UTC'
}

function parsePack(req: FastifyRequest): SenmlRecord[] {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase()
  const now = Date.now() / 1000
  if (type === SENML_CBOR) return parseSenmlCbor(req.body as Buffer, now)
  if (type === SENML_JSON) return parseSenmlJson(req.body as Buffer, now)
  // Fastify has already parsed a plain JSON body: resolve it as it is.
  if (type === 'application/json') return resolvePack(req.body, now)
  throw new UnsupportedMediaType(`Records must be ${SENML_JSON} or ${SENML_CBOR}, not "${type || 'none'}".`)
}

function sendSenml(req: FastifyRequest, reply: FastifyReply, ctx: Ctx, records: SenmlRecord[]): string | Buffer {
  ctx.records = records.length
  if ((req.headers.accept ?? '').includes(SENML_CBOR)) {
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

/** The numeric series an aggregate runs over: the named one, or the only one there is. */
function numericSeries(all: Series[], name: string | undefined, sourceId: string): Series[] {
  const numeric = all.filter((s) => s.type === 'number')
  if (name !== undefined) {
    const named = numeric.filter((s) => s.name === name)
    if (named.length === 0) throw new NotFound(`Source "${sourceId}" has no numeric records named "${name}".`)
    return named
  }
  const names = [...new Set(numeric.map((s) => s.name))]
  if (names.length > 1) throw new InvalidInput(`Source "${sourceId}" has several numeric names (${names.join(', ')}): choose one with name=.`, { field: 'name' })
  return numeric
}
