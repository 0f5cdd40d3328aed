/**
 * What Google's location history formats share: they are JSON, streamed an array item at a time,
 * with times as ISO strings or epoch values, and places and spans of time written the same way
 * as records.
 */
import type { Readable } from 'node:stream'
import { InvalidInput } from '../errors/index.ts'
import type { SenmlRecord } from '../senml/index.ts'
import { BATCH, malformed } from './common.ts'

/** Streams the elements of the arrays a path pattern picks, each turned into records by `convert`. */
export async function* jsonItems(input: Readable, filter: RegExp, convert: (item: Record<string, unknown>, index: number) => SenmlRecord[]): AsyncGenerator<SenmlRecord[]> {
  // Loaded with the first file, not with the box.
  const [{ parser }, { pick }, { streamValues }, { default: chain }] = await Promise.all([
    import('stream-json'), import('stream-json/filters/pick.js'), import('stream-json/streamers/stream-values.js'), import('stream-chain'),
  ])
  const pipeline = chain([input, parser(), pick({ filter }), streamValues()])
  let batch: SenmlRecord[] = []
  let index = 0
  try {
    for await (const { value } of pipeline as AsyncIterable<{ value: Record<string, unknown> }>) {
      batch.push(...convert(value, index++))
      if (batch.length >= BATCH) {
        yield batch
        batch = []
      }
    }
  } catch (err) {
    if (err instanceof InvalidInput) throw err
    throw malformed(`after ${index} items`, err)
  }
  if (batch.length > 0) yield batch
}

/**
 * Epoch values below this are seconds, the rest milliseconds. 10^11 seconds is the year 5138;
 * 10^11 milliseconds is March 1973, years before any location history Google kept — so the two
 * cannot be confused for any time these files hold.
 */
const EPOCH_SECONDS_BELOW = 1e11

/**
 * A Google time in epoch seconds: ISO 8601, or an epoch value (a number, or digits in a string)
 * in seconds or milliseconds, told apart by its size (EPOCH_SECONDS_BELOW). Google writes its
 * ISO times in UTC or with an offset; one without an offset is read as UTC, never in the
 * host's zone.
 */
export function time(value: unknown): number {
  const epoch = typeof value === 'number' ? value : typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : undefined
  if (epoch !== undefined) return Number.isFinite(epoch) && epoch >= 0 ? (epoch < EPOCH_SECONDS_BELOW ? epoch : epoch / 1000) : NaN
  const m = typeof value === 'string' ? /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?))?(Z|[+-]\d{2}:?\d{2})?$/i.exec(value) : null
  return m ? Date.parse(`${m[1]}T${m[2] ?? '00:00'}${m[3] ?? 'Z'}`) / 1000 : NaN
}

/** A place as `<prefix>lat` and `<prefix>lon` records, if there is one. */
export function place(prefix: string, t: number, at: [number, number] | undefined): SenmlRecord[] {
  return at ? [{ n: `${prefix}lat`, u: 'lat', t, v: at[0] }, { n: `${prefix}lon`, u: 'lon', t, v: at[1] }] : []
}

/** A span of time as a `<prefix>duration` record at its start; one without a start is malformed. */
export function span(prefix: string, start: number, end: number, index: number, what: string): SenmlRecord[] {
  if (!Number.isFinite(start)) throw new InvalidInput(`${what} ${index} has no start time. Nothing was imported.`, { index, field: 'startTime' })
  return Number.isFinite(end) ? [{ n: `${prefix}duration`, u: 's', t: start, v: end - start }] : []
}
