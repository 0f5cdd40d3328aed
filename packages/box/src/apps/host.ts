/**
 * An app's host calls: what its SDK asks for during a run, looked up in a table and dispatched
 * straight to the box's operations with the app's own tokens — the same authentication, arbiter
 * check and audit entry as any client's request, with no HTTP in between. Tokens stay on this
 * side: the sandbox never holds one. Each answer is serialised once, as the JSON text the app
 * receives. Calls arrive here one by one: the sandbox takes batches apart, counts every call
 * against the run's budget and limits how many of an app's calls run at once.
 */
import type { Logger } from 'pino'
import type { Arbiter } from '../arbiter/index.ts'
import type { Gateway } from '../gateway/index.ts'
import type { Static, TSchema } from '@sinclair/typebox'
import type { Operation, OperationContext, Operations, Present } from '../operations/index.ts'
import type { SourceOperations } from '../sources/index.ts'
import { utcOffset, wallClockToEpoch, type AggregateFn, type AggregateResult, type Store } from '../store/index.ts'
import { CofferError, Forbidden, InvalidInput } from '../errors/index.ts'
import type { HostCall } from '../sandbox/index.ts'
import { ownSourceId, type Consent } from './consent.ts'
import type { Manifest } from './manifest.ts'

const TOKEN_SECONDS = 15 * 60
const MAX_DAYS = 3660

/** The grants an app holds: one per granted source request, and one for its own sources. */
export interface AppGrants {
  requests: Record<string, string>
  own?: string
}

export interface HostDeps {
  ops: Operations
  sources: SourceOperations
  store: Store
  arbiter: Arbiter
  gateway: Gateway
  logger: Logger
  timeZone: string
  saveView(app: string, manifest: Manifest, view: string, spec: unknown): Promise<{ view: string }>
}

type Args = Record<string, unknown>

/** The host calls of one run of `app`, with tokens minted for that run from its grants. */
export function hostCalls(deps: HostDeps, app: string, manifest: Manifest, consent: Consent, grants: AppGrants): HostCall {
  const tokens = mintTokens(deps.arbiter, consent, grants)
  const operation = <I extends TSchema, O extends TSchema>(op: Operation<I, O>, token: string | undefined, input: Args, present: Present<Static<O>, string> = json): Promise<string> =>
    deps.ops.call(op, input, { token, action: `APP ${op.name}` }, present)

  const table: Record<string, (a: Args) => Promise<string> | string> = {
    granted: () => JSON.stringify({
      sources: consent.sources.map(({ request, sources, ops, granularity, window }) => ({ request, sources, ops, granularity, window, series: Object.fromEntries(sources.map((id) => [id, series(deps.store, id)])) })),
      own: (manifest.ownSources ?? []).map((s) => s.id),
      timeZone: deps.timeZone,
    }),
    days: (a) => JSON.stringify(dayEdges(deps.timeZone, Number(a.count), Date.now() / 1000)),
    records: (a) => operation(deps.sources.records, tokens.forRead(a.source), a),
    latest: (a) => operation(deps.sources.latest, tokens.forRead(a.source), a),
    aggregate: (a) => {
      // The SDK asks for columns; an app that calls the bridge itself gets buckets.
      const { shape, ...input } = a
      return operation(deps.sources.aggregate, tokens.forRead(a.source), { ...input, tz: a.tz ?? deps.timeZone },
        shape === 'columns' ? (result, ctx) => json(toColumns(result), ctx) : json)
    },
    // Any source but the app's own is refused by the arbiter, and so audited; the app is told what it may write.
    write: async (a) => {
      const own = String(a.source ?? '')
      const input = { source: ownSourceId(app, own), pack: a.records ?? [], format: 'application/json' }
      try {
        return await operation(deps.sources.append, tokens.own ?? tokens.forRead(undefined), input)
      } catch (err) {
        if (!(err instanceof Forbidden) || manifest.ownSources?.some((s) => s.id === own)) throw err
        throw new Forbidden(`${app} declares no own source "${own}"; it may write only to ${(manifest.ownSources ?? []).map((s) => s.id).join(', ') || 'none'}.`)
      }
    },
    export: async (a) => JSON.stringify(await deps.gateway.request(app, String(a.destination ?? ''), a.payload)),
    view: async (a) => JSON.stringify(await deps.saveView(app, manifest, String(a.id ?? ''), a.spec)),
  }

  return async (method, args) => {
    const handler = Object.hasOwn(table, method) ? table[method] : undefined
    if (!handler) throw new InvalidInput(`The SDK has no call "${method}".`)
    try {
      return await handler(typeof args === 'object' && args !== null ? { ...args } : {})
    } catch (err) {
      // The app is told only that the box could not answer; the owner's log says why.
      if (!(err instanceof CofferError)) deps.logger.error({ err, app, method }, 'an app call failed')
      throw err
    }
  }
}

/**
 * An aggregate's buckets as columns, which the SDK turns back into buckets inside the app. The
 * app's interpreter (QuickJS, in WebAssembly) parses a few arrays of numbers several times faster
 * than one object per bucket: for a year of days, about 0.5 ms against 2.5 ms.
 */
export interface AggregateColumns extends Omit<AggregateResult, 'buckets'> {
  columns: {
    start: number[]
    end: number[]
    count: number[]
    value: (number | null)[]
    /** By function, when several were asked for. */
    values?: Partial<Record<AggregateFn, (number | null)[]>>
    /** Each bucket's relative error, null where its quantiles are exact. */
    error?: (number | null)[]
  }
}

function toColumns({ buckets, ...rest }: AggregateResult): AggregateColumns {
  const columns: AggregateColumns['columns'] = {
    start: buckets.map((b) => b.start), end: buckets.map((b) => b.end), count: buckets.map((b) => b.count), value: buckets.map((b) => b.value),
  }
  const fns = Object.keys(buckets[0]?.values ?? {}) as AggregateFn[]
  if (fns.length > 0) columns.values = Object.fromEntries(fns.map((fn) => [fn, buckets.map((b) => b.values?.[fn] ?? null)]))
  if (buckets.some((b) => b.error)) columns.error = buckets.map((b) => b.error?.relative ?? null)
  return { ...rest, columns }
}

/** The answer as the JSON text the app receives; its size is what the audit entry counts. */
function json(result: unknown, ctx: OperationContext): string {
  const text = JSON.stringify(result)
  ctx.bytes = Buffer.byteLength(text)
  return text
}

interface Tokens {
  own: string | undefined
  forRead: (source: unknown) => string | undefined
}

/**
 * An app's tokens are minted once per grant and reused by its runs until a minute before they
 * expire: a run then costs no signing, and the arbiter checks a token's signature only the first
 * time it sees it. New grants (a new consent) mean new grant ids, and so new tokens.
 */
const minted = new WeakMap<Arbiter, Map<string, { tokens: Tokens; until: number }>>()

function mintTokens(arbiter: Arbiter, consent: Consent, grants: AppGrants): Tokens {
  let cache = minted.get(arbiter)
  if (!cache) minted.set(arbiter, (cache = new Map()))
  const key = JSON.stringify([consent.sources, grants])
  const now = Date.now() / 1000
  const known = cache.get(key)
  if (known && known.until > now) return known.tokens
  if (cache.size >= 1024) cache.clear()
  const tokens = mintFresh(arbiter, consent, grants)
  cache.set(key, { tokens, until: now + TOKEN_SECONDS - 60 })
  return tokens
}

function mintFresh(arbiter: Arbiter, consent: Consent, grants: AppGrants): Tokens {
  const mint = (grant: string | undefined) => grant === undefined ? undefined : arbiter.mint(grant, { ttlSeconds: TOKEN_SECONDS }).token
  const byRequest = new Map(consent.sources.map((s) => [s.request, mint(grants.requests[s.request])]))
  const own = mint(grants.own)
  return {
    own,
    // A source outside every grant still goes to the box with one of the app's tokens, so the refusal is the arbiter's, and audited.
    forRead: (source) => {
      const granted = consent.sources.find((s) => s.sources.includes(String(source)))
      return (granted && byRequest.get(granted.request)) ?? [...byRequest.values()].find(Boolean) ?? own
    },
  }
}

/** The names and units a granted source holds: what its catalogue entry shows, no data. */
function series(store: Store, source: string): { name: string; unit: string | null }[] {
  return store.has(source) ? store.summary(source).series.map(({ name, unit }) => ({ name, unit })) : []
}

/** Local midnights: the edges of the last `count` days in `tz`, today included. */
function dayEdges(tz: string, count: number, now: number): number[] {
  if (!Number.isInteger(count) || count < 1 || count > MAX_DAYS) throw new InvalidInput(`days: count must be a whole number from 1 to ${MAX_DAYS}.`)
  const today = new Date((now + utcOffset(tz, now)) * 1000)
  const edges: number[] = []
  for (let back = count - 1; back >= -1; back--) {
    edges.push(wallClockToEpoch(tz, Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate() - back) / 1000))
  }
  return edges
}
