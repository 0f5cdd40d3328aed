/**
 * What Google's location history formats share: they are JSON, streamed an array item at a time,
 * with times as ISO strings or epoch-millisecond strings, and places and spans of time written
 * the same way as records.
 */
import type { Readable } from 'node:stream'
import { parser as jsonParser } from 'stream-json'
import { pick } from 'stream-json/filters/pick.js'
import { streamValues } from 'stream-json/streamers/stream-values.js'
import chain from 'stream-chain'
import { InvalidInput } from '../errors/index.ts'
import type { SenmlRecord } from '../senml/index.ts'
import { BATCH, malformed } from './common.ts'

/** Streams the elements of the arrays a path pattern picks, each turned into records by `convert`. */
export async function* jsonItems(input: Readable, filter: RegExp, convert: (item: Record<string, unknown>, index: number) => SenmlRecord[]): AsyncGenerator<SenmlRecord[]> {
  const pipeline = chain([input, jsonParser(), pick({ filter }), streamValues()])
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

/** A Google time: ISO 8601, or epoch milliseconds written as a string. */
export function time(value: unknown): number {
  if (typeof value === 'string') return /^\d+$/.test(value) ? Number(value) / 1000 : Date.parse(value) / 1000
  return NaN
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
