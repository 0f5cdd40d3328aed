/**
 * Sources, their records and key-value items, and the catalogue: the operations every caller
 * uses to read and write data — HTTP clients, apps' host calls, drivers and importers alike.
 * The store does the work; these operations say what each call needs a token to allow.
 */
import { Type } from '@sinclair/typebox'
import type { Home } from '../home/index.ts'
import {
  AGGREGATE_FNS, LOGICAL_TYPES, SOURCE_KINDS, SourceId, TECHNICAL_TYPES, assertTimeZone, bucketBoundaries, onGrid, parseBucket,
  type AggregateFn, type Series, type Store,
} from '../store/index.ts'
import { allowsSource, windowOf } from '../arbiter/index.ts'
import { catalogue } from '../catalogue/index.ts'
import { parseSenml, resolvePack, SENML_CBOR, SENML_JSON, type SenmlRecord } from '../senml/index.ts'
import { Forbidden, InvalidInput, NotFound, UnsupportedMediaType } from '../errors/index.ts'
import { TimeText, defineOperation, type OperationContext } from '../operations/index.ts'
import { durationCell } from '../duration/index.ts'
import { parseNames, parseRange, parseTime } from './params.ts'

export { parseNames, parseRange, parseTime, type Range } from './params.ts'


export const SenmlRecordSchema = Type.Object({
  n: Type.String(), t: Type.Number(), u: Type.Optional(Type.String()),
  v: Type.Optional(Type.Number()), vs: Type.Optional(Type.String()), vb: Type.Optional(Type.Boolean()), vd: Type.Optional(Type.String()),
  s: Type.Optional(Type.Number()), ut: Type.Optional(Type.Number()),
}, { description: 'A resolved SenML record (RFC 8428)' })

const Attribute = Type.Object({
  name: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9:./_-]*$', maxLength: 256 }),
  technicalType: Type.Union(TECHNICAL_TYPES.map((t) => Type.Literal(t))),
  logicalType: Type.Optional(Type.Union(LOGICAL_TYPES.map((t) => Type.Literal(t)))),
  unit: Type.Optional(Type.String({ maxLength: 64 })),
  description: Type.Optional(Type.String({ maxLength: 1024 })),
}, { additionalProperties: false })

const SourceMetaSchema = Type.Object({
  id: SourceId,
  kind: Type.Union(SOURCE_KINDS.map((k) => Type.Literal(k))),
  description: Type.String(),
  logicalType: Type.Union(LOGICAL_TYPES.map((t) => Type.Literal(t))),
  attributes: Type.Array(Attribute),
  createdAt: Type.String(),
  generation: Type.Integer(),
})

export const SourceSummarySchema = Type.Composite([SourceMetaSchema, Type.Object({
  points: Type.Integer(), keys: Type.Integer(), bytes: Type.Integer(), logLength: Type.Integer(),
  first: Type.Union([Type.Number(), Type.Null()]), last: Type.Union([Type.Number(), Type.Null()]),
  series: Type.Array(Type.Object({ name: Type.String(), unit: Type.Union([Type.String(), Type.Null()]), type: Type.String() })),
})])

const BucketSchema = Type.Object({
  start: Type.Number(), end: Type.Number(), count: Type.Integer(), value: Type.Union([Type.Number(), Type.Null()]),
  values: Type.Optional(Type.Record(Type.String(), Type.Union([Type.Number(), Type.Null()]), { description: 'By function, when several were asked for' })),
  error: Type.Optional(Type.Object({ relative: Type.Number() }, {
    description: "Present when the bucket's quantiles (median, p90, p99) came from the rollups' sketches: each is within `relative` × |value| of a true value at its rank. Absent when they are exact",
  })),
})

export const AggregateSchema = Type.Object({
  source: SourceId, name: Type.Union([Type.String(), Type.Null()]), unit: Type.Union([Type.String(), Type.Null()]),
  fn: Type.String(), bucket: Type.String(), tz: Type.String(), from: Type.Number(), to: Type.Number(), buckets: Type.Array(BucketSchema),
})

const HypercatRel = Type.Object({ rel: Type.String(), val: Type.String() })
const HypercatSchema = Type.Object({
  'catalogue-metadata': Type.Array(HypercatRel),
  items: Type.Array(Type.Object({ href: Type.String(), 'item-metadata': Type.Array(HypercatRel) })),
}, { description: 'A Hypercat 3.0 catalogue' })

const SourceInput = Type.Object({ source: SourceId })
const KeyInput = Type.Object({ source: SourceId, key: Type.String({ minLength: 1, maxLength: 512 }) })
const Deleted = Type.Object({ deleted: Type.Integer() })

/** A pack the box itself resolved (drivers, importers), not bytes or JSON from outside. */
export const RESOLVED = 'resolved'

export interface SourcesDeps {
  home: Home
  store: Store
}

export function sourceOperations({ home, store }: SourcesDeps) {
  const visible = (ctx: OperationContext) => store.list().filter((s) => allowsSource(ctx.scope, s.id)).map((s) => store.summary(s.id))
  const ownerZone = () => home.config.timeZone ?? 'UTC'

  return {
    catalogue: defineOperation({
      name: 'catalogue', summary: 'Hypercat 3.0 catalogue of the sources this token may see', audit: 'read',
      input: Type.Object({}), output: HypercatSchema,
      access: () => ({ op: 'read' }),
      run: async (_input, ctx) => catalogue(home.config.identity, visible(ctx)),
    }),

    list: defineOperation({
      name: 'sources.list', summary: 'List the sources this token covers', audit: 'read',
      input: Type.Object({}), output: Type.Array(SourceSummarySchema),
      access: () => ({ op: 'read' }),
      run: async (_input, ctx) => visible(ctx),
    }),

    get: defineOperation({
      name: 'sources.get', summary: 'Describe a source', audit: 'read',
      input: SourceInput, output: SourceSummarySchema,
      access: ({ source }) => ({ op: 'read', source }),
      run: async ({ source }) => store.summary(source),
    }),

    add: defineOperation({
      name: 'sources.add', summary: 'Add a source', audit: 'admin', status: 201,
      input: Type.Object({
        id: SourceId,
        kind: Type.Optional(Type.Union(SOURCE_KINDS.map((k) => Type.Literal(k)))),
        description: Type.Optional(Type.String({ maxLength: 1024 })),
        logicalType: Type.Optional(Type.Union(LOGICAL_TYPES.map((t) => Type.Literal(t)))),
        attributes: Type.Optional(Type.Array(Attribute, { maxItems: 256 })),
      }, { additionalProperties: false }),
      output: SourceMetaSchema,
      access: () => ({ op: 'admin' }),
      run: async (input, ctx) => {
        ctx.source = input.id
        return store.add(input)
      },
    }),

    remove: defineOperation({
      name: 'sources.remove', summary: 'Delete a source, its view and its log blocks', audit: 'delete',
      input: SourceInput, output: Type.Object({ deleted: SourceId, records: Type.Integer() }),
      access: ({ source }) => ({ op: 'admin', source }),
      run: async ({ source }, ctx) => {
        const { count } = await store.remove(source)
        ctx.records = count
        return { deleted: source, records: count }
      },
    }),

    append: defineOperation({
      name: 'records.append', summary: 'Append a SenML pack (atomic: all records or none)', audit: 'write', status: 201,
      input: Type.Object({
        source: SourceId,
        pack: Type.Unknown({ description: 'SenML JSON or CBOR' }),
        format: Type.String({ description: `${SENML_JSON}, ${SENML_CBOR} or application/json` }),
        origin: Type.Optional(Type.String({ description: 'The import that writes these records' })),
      }),
      output: Type.Object({
        stored: Type.Integer(),
        log: Type.Object({ first: Type.Integer(), blocks: Type.Integer() }, { description: 'The blocks of the source\'s log that hold them' }),
      }),
      access: ({ source }) => ({ op: 'write', source }),
      run: async ({ source, pack, format, origin }, ctx) => {
        // An unknown source is refused before the body is read, and again if it went while the body was.
        store.get(source)
        const records = await resolveRecords(pack, format)
        const result = await store.get(source).appendRecords(records, { origin })
        ctx.records = result.count
        ctx.bytes = result.bytes
        return { stored: result.count, log: { first: result.first, blocks: result.blocks } }
      },
    }),

    deleteRange: defineOperation({
      name: 'records.delete', summary: 'Delete the records in [from, to) from the view and clear them from the local log', audit: 'delete',
      input: Type.Object({ source: SourceId, from: TimeText, to: TimeText }), output: Deleted,
      access: ({ source, from, to }) => ({ op: 'delete', source, from: parseTime(from, 'from'), to: parseTime(to, 'to') }),
      run: async (input, ctx) => {
        const from = parseTime(input.from, 'from')!
        const to = parseTime(input.to, 'to')!
        if (!(to > from)) throw new InvalidInput('The time range is empty: `to` must be after `from`.', { field: 'to' })
        const result = await store.get(input.source).deleteRange(from, to)
        ctx.records = result.count
        return { deleted: result.count }
      },
    }),

    records: defineOperation({
      name: 'records.read', summary: 'Raw records in [from, to)', audit: 'read',
      input: Type.Object({
        source: SourceId, from: Type.Optional(TimeText), to: Type.Optional(TimeText),
        limit: Type.Integer({ minimum: 1, maximum: 100_000, default: 1000 }),
        order: Type.Union([Type.Literal('asc'), Type.Literal('desc')], { default: 'asc' }),
        name: Type.Optional(Type.String({ description: 'Record names, comma-separated' })),
      }),
      output: Type.Array(SenmlRecordSchema),
      access: ({ source, from, to }) => ({ op: 'read', source, granularity: 0, from: parseTime(from, 'from'), to: parseTime(to, 'to') }),
      run: async (input, ctx) => {
        const source = store.get(input.source)
        const names = parseNames(input.name)
        const records = source.view.records({
          ...parseRange(input, windowOf(ctx.scope)), limit: input.limit, order: input.order,
          series: names && source.view.seriesNamed(names),
        })
        ctx.records = records.length
        return records
      },
    }),

    latest: defineOperation({
      name: 'records.latest', summary: 'The newest record of each name', audit: 'read',
      input: Type.Object({ source: SourceId, name: Type.Optional(Type.String({ description: 'Record names, comma-separated' })) }),
      output: Type.Array(SenmlRecordSchema),
      access: ({ source }) => ({ op: 'read', source, granularity: 0 }),
      run: async (input, ctx) => {
        const source = store.get(input.source)
        const window = windowOf(ctx.scope)
        const bounded = Number.isFinite(window.from) || Number.isFinite(window.to)
        const records = source.view.latest(source.view.seriesNamed(parseNames(input.name)), bounded ? window : undefined)
        ctx.records = records.length
        return records
      },
    }),

    aggregate: defineOperation({
      name: 'records.aggregate', summary: 'Bucketed statistics (rollups answer coarse buckets)', audit: 'read',
      input: Type.Object({
        source: SourceId,
        fn: Type.String({
          pattern: `^(${AGGREGATE_FNS.join('|')})(,(${AGGREGATE_FNS.join('|')}))*$`,
          description: `One of ${AGGREGATE_FNS.join(', ')}; or several, comma-separated (mean,min,max), computed in one pass: each bucket then also carries \`values\` by function`,
        }),
        bucket: Type.String({ description: 'Bucket size: 1m, 5m, 1h, 1d, 1w, 1mo, 1y …; days, weeks, months and years follow the local calendar' }),
        from: TimeText, to: TimeText,
        tz: Type.String({ default: 'UTC', description: 'IANA time zone for day and week buckets' }),
        name: Type.Optional(Type.String()),
      }),
      output: AggregateSchema,
      access: ({ source, bucket, from, to, tz }) => ({
        op: 'read', source, granularity: parseBucket(bucket).seconds, from: parseTime(from, 'from', zone(tz)), to: parseTime(to, 'to', zone(tz)),
      }),
      run: async (input, ctx) => {
        const source = store.get(input.source)
        const tz = zone(input.tz)
        const bucket = parseBucket(input.bucket)
        const from = parseTime(input.from, 'from', tz)!
        const to = parseTime(input.to, 'to', tz)!
        const bounds = bucketBoundaries(from, to, bucket, tz)
        if (ctx.scope.granularity > 0) assertWholeCells(ctx.scope.granularity, bounds, tz, ownerZone())
        const series = numericSeries(source.view.seriesNamed(undefined), input.name, source.meta.id)
        const fns = [...new Set(input.fn.split(','))] as AggregateFn[]
        const buckets = source.view.aggregate(series, bounds, fns)
        ctx.records = buckets.length
        return { source: source.meta.id, name: series[0]?.name ?? input.name ?? null, unit: series[0]?.unit ?? null, fn: input.fn, bucket: bucket.spec, tz, from, to, buckets }
      },
    }),

    keys: defineOperation({
      name: 'kv.keys', summary: 'List keys of a key-value source', audit: 'read',
      input: Type.Object({ source: SourceId, prefix: Type.String({ default: '' }), limit: Type.Integer({ minimum: 1, maximum: 10_000, default: 1000 }) }),
      output: Type.Object({ keys: Type.Array(Type.String()) }),
      access: ({ source }) => ({ op: 'read', source, granularity: 0 }),
      run: async ({ source, prefix, limit }, ctx) => {
        const keys = store.get(source).view.kvKeys(prefix, limit)
        ctx.records = keys.length
        return { keys }
      },
    }),

    getItem: defineOperation({
      name: 'kv.get', summary: 'Get an item', audit: 'read',
      input: KeyInput, output: Type.Object({ key: Type.String(), value: Type.Unknown(), t: Type.Number() }),
      access: ({ source }) => ({ op: 'read', source, granularity: 0 }),
      run: async ({ source, key }, ctx) => {
        const item = store.get(source).view.kvGet(key)
        if (!item) throw new NotFound(`Source "${source}" has no key "${key}".`)
        ctx.records = 1
        return { key, value: item.value, t: item.t }
      },
    }),

    putItem: defineOperation({
      name: 'kv.put', summary: 'Put an item (any JSON value)', audit: 'write',
      input: Type.Object({ source: SourceId, key: KeyInput.properties.key, value: Type.Unknown() }),
      output: Type.Object({ key: Type.String(), stored: Type.Boolean() }),
      access: ({ source }) => ({ op: 'write', source }),
      run: async ({ source, key, value }, ctx) => {
        if (value === undefined) throw new InvalidInput('The body must be a JSON value.')
        const result = await store.get(source).put(key, value)
        ctx.records = result.count
        ctx.bytes = result.bytes
        return { key, stored: true }
      },
    }),

    deleteItem: defineOperation({
      name: 'kv.delete', summary: 'Delete an item', audit: 'delete',
      input: KeyInput, output: Type.Object({ key: Type.String(), deleted: Type.Boolean() }),
      access: ({ source }) => ({ op: 'delete', source }),
      run: async ({ source, key }, ctx) => {
        const target = store.get(source)
        if (!target.view.kvGet(key)) throw new NotFound(`Source "${source}" has no key "${key}".`)
        const result = await target.delete(key)
        ctx.records = result.count
        return { key, deleted: true }
      },
    }),
  }
}

export type SourceOperations = ReturnType<typeof sourceOperations>

/** SenML bytes are parsed in a parsing thread when they are many (see parseSenml). */
async function resolveRecords(pack: unknown, format: string): Promise<SenmlRecord[]> {
  const now = Date.now() / 1000
  if (format === RESOLVED) return pack as SenmlRecord[]
  if (format === 'application/json') return resolvePack(pack, now)
  if ((format === SENML_CBOR || format === SENML_JSON) && Buffer.isBuffer(pack)) {
    return parseSenml(pack, format === SENML_CBOR ? 'cbor' : 'json', now)
  }
  throw new UnsupportedMediaType(`Records must be ${SENML_JSON} or ${SENML_CBOR}, not "${format || 'none'}".`)
}

/**
 * A token limited to coarse detail may only ask for whole cells of its grant's grid, in the
 * box's own time zone: every bucket edge must be an edge of that anchored grid (see
 * bucketBoundaries), whatever unit the request spells its buckets in. Buckets clipped at an
 * arbitrary edge, fixed 24-hour steps drifting off local midnights at a clock change, two
 * overlapping 2-day grids, or days in another zone would all let answers be subtracted into
 * finer detail than the grant allows.
 */
function assertWholeCells(granularity: number, bounds: number[], tz: string, boxZone: string): void {
  const cell = durationCell(granularity)
  if (tz !== boxZone) throw new Forbidden(`This token allows ${cell} buckets in the box's time zone (${boxZone}) only; ${tz} was asked for.`)
  const off = bounds.find((b) => !onGrid(b, granularity, tz))
  if (off !== undefined) {
    throw new Forbidden(`This token allows whole ${cell} cells only: every bucket edge must fall on the ${cell} grid in ${boxZone}, and ${new Date(off * 1000).toISOString()} does not.`)
  }
}

function zone(tz: string): string {
  assertTimeZone(tz)
  return tz
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
