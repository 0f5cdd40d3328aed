/**
 * The Coffer app SDK: what an app's code calls, inside the box's sandbox. Every call crosses
 * to the box as JSON and is checked there against the owner's grant — the SDK is a
 * convenience, never the thing that enforces anything.
 *
 * Calls made in the same turn (for example inside one `Promise.all`) travel together in a
 * single crossing, so a thousand queries cost one round trip, not a thousand — but still a
 * thousand of the run's calls: the box counts each one against its limits.
 *
 *   import { defineApp, aggregate, granted, view } from '@coffer/sdk'
 *   defineApp(async () => {
 *     const { sources } = await granted()
 *     …
 *   })
 */

import type { AggregateColumns, AggregateFn, AggregateResult, BucketValue, ExportRecord, Granted, GrantedSource, SenmlRecord } from '@coffer/box'

/** What the calls below answer: the box's own types. */
export type { AggregateFn, AggregateResult, BucketValue, ExportRecord, Granted, GrantedSource, SenmlRecord }

/** A record to write: the time defaults to the run's clock. */
export type NewRecord = Omit<SenmlRecord, 't' | 'ut'> & { t?: number }

/** An error the box answered a call with: `status` is its HTTP status (403 refused, 404 missing …). */
export class CofferCallError extends Error {
  readonly status: number
  constructor(message: string, status: number) {
    super(message)
    this.name = 'CofferCallError'
    this.status = status
  }
}

type Time = number | string

interface Bridge {
  call(method: string, args: string): Promise<string>
}

interface Queued {
  method: string
  args: unknown
  resolve: (value: unknown) => void
  reject: (err: Error) => void
}

let queue: Queued[] = []

function bridge(): Bridge {
  const found = (globalThis as { coffer?: Bridge }).coffer
  if (!found) throw new Error('This code runs inside a Coffer box (or the coffer-app harness): there is no box to call here.')
  return found
}

function call<T>(method: string, args: unknown): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (queue.length === 0) void Promise.resolve().then(flush)
    queue.push({ method, args, resolve: resolve as (value: unknown) => void, reject })
  })
}

async function flush(): Promise<void> {
  const calls = queue
  queue = []
  if (calls.length === 1) {
    const [only] = calls as [Queued]
    try {
      only.resolve(JSON.parse(await bridge().call(only.method, JSON.stringify(only.args ?? null))))
    } catch (err) {
      only.reject(asCallError(err))
    }
    return
  }
  try {
    const answers = JSON.parse(await bridge().call('batch', JSON.stringify(calls.map(({ method, args }) => ({ method, args }))))) as
      ({ ok: true; value: unknown } | { ok: false; error: { detail?: string; title?: string; status?: number } })[]
    answers.forEach((answer, i) => {
      const queued = calls[i]!
      if (answer.ok) queued.resolve(answer.value)
      else queued.reject(new CofferCallError(answer.error.detail ?? answer.error.title ?? 'The box refused the call.', answer.error.status ?? 500))
    })
  } catch (err) {
    for (const queued of calls) queued.reject(asCallError(err))
  }
}

function asCallError(err: unknown): Error {
  const e = err as { message?: string; status?: number }
  return typeof e?.status === 'number' ? new CofferCallError(e.message ?? 'The box refused the call.', e.status) : err as Error
}

/** Declares the app's entry point: the box calls it with the run's event and keeps what it returns. */
export function defineApp<E = unknown, R = unknown>(main: (event: E) => R | Promise<R>): void {
  (globalThis as { main?: unknown }).main = main
}

/** What the owner granted this app: sources per request, their detail and window, and the time zone. */
export function granted(): Promise<Granted> {
  return call('granted', {})
}

/** Raw records in [from, to): only where the grant allows raw detail. */
export function records(source: string, opts: { from?: Time; to?: Time; name?: string; limit?: number; order?: 'asc' | 'desc' } = {}): Promise<SenmlRecord[]> {
  return call('records', { source, ...opts })
}

/**
 * Bucketed statistics; buckets no finer than the grant allows, on the owner's time-zone grid.
 * Several functions (`fn: ['mean', 'min', 'max']`) come from one pass: each bucket's `values`.
 */
export async function aggregate(source: string, opts: { fn: AggregateFn | AggregateFn[]; bucket: string; from: Time; to: Time; name?: string }): Promise<AggregateResult> {
  return fromColumns(await call<AggregateColumns | AggregateResult>('aggregate', { source, ...opts, fn: [opts.fn].flat().join(','), shape: 'columns' }))
}

/** The box sends an aggregate's buckets as columns, which cross into the sandbox faster; the app gets buckets. */
function fromColumns(answer: AggregateColumns | AggregateResult): AggregateResult {
  if (!('columns' in answer)) return answer
  const { columns: { start, end, count, value, values, error }, ...rest } = answer
  const fns = Object.keys(values ?? {}) as AggregateFn[]
  const buckets = new Array<BucketValue>(start.length)
  for (let i = 0; i < start.length; i++) {
    const bucket: BucketValue = { start: start[i]!, end: end[i]!, count: count[i]!, value: value[i]! }
    if (fns.length > 0) bucket.values = Object.fromEntries(fns.map((fn) => [fn, values![fn]![i]!]))
    const relative = error?.[i]
    if (relative !== undefined && relative !== null) bucket.error = { relative }
    buckets[i] = bucket
  }
  return { ...rest, buckets }
}

/** The newest record of each name (raw detail). */
export function latest(source: string, opts: { name?: string } = {}): Promise<SenmlRecord[]> {
  return call('latest', { source, ...opts })
}

/** Writes records to one of the app's own sources (its manifest's `ownSources`). */
export function write(source: string, rows: NewRecord[]): Promise<{ count: number }> {
  const now = Date.now() / 1000
  return call('write', { source, records: rows.map((r) => ({ ...r, t: r.t ?? now })) })
}

/** Sends a payload out through the box's gateway, to a destination the owner granted — exactly as the manifest wrote it. */
export function exportTo(destination: string, payload: unknown): Promise<ExportRecord> {
  return call('export', { destination, payload })
}

/** Shows the owner a view: a Vega-Lite spec with its data inline (no URLs). */
export function view(id: string, spec: Record<string, unknown>): Promise<{ view: string }> {
  return call('view', { id, spec })
}

/**
 * Local midnights in the owner's time zone: `count` + 1 edges, from the start of the day
 * `count - 1` days ago to the end of today — the edges of the last `count` days, today included.
 * (The sandbox has no time-zone database; the box answers this.) Across a change of clocks those
 * days can reach back more than `count` × 24 hours, so a manifest reading them asks for a window
 * one day longer: `"window": "31d"` for 30 days.
 */
export function dayEdges(count: number): Promise<number[]> {
  return call('days', { count })
}
