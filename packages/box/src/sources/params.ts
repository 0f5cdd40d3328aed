/** Query-string parsing shared by the routes: times, limits, name lists. */
import { InvalidInput } from '../errors/index.ts'
import { wallClockToEpoch } from '../store/index.ts'

const EPOCH = /^-?\d{1,12}(\.\d+)?$/
const ISO = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/

/** ISO 8601 or epoch seconds → epoch seconds. An ISO time without an offset is wall-clock time in `tz`. */
export function parseTime(value: string | undefined, field: string, tz = 'UTC'): number | undefined {
  if (value === undefined || value === '') return undefined
  if (EPOCH.test(value)) return Number(value)
  const iso = ISO.exec(value)
  if (iso) {
    const hasOffset = iso[4] !== undefined
    const ms = Date.parse(hasOffset ? value : `${value.replace(' ', 'T')}${iso[1] ? '' : 'T00:00'}Z`)
    if (!Number.isNaN(ms)) return hasOffset || tz === 'UTC' ? ms / 1000 : wallClockToEpoch(tz, ms / 1000)
  }
  throw new InvalidInput(`${field}=${JSON.stringify(value)} is not a time: use ISO 8601 (2026-11-01T00:00:00Z) or epoch seconds.`, { field })
}

export function parseNames(value: string | undefined): string[] | undefined {
  return value === undefined || value === '' ? undefined : value.split(',')
}

export interface Range {
  from: number
  to: number
}

/** A [from, to) range, defaulting to the whole of a token's window, or all time. */
export function parseRange(query: { from?: string; to?: string }, window: Range): Range {
  const from = parseTime(query.from, 'from') ?? (Number.isFinite(window.from) ? window.from : 0)
  const to = parseTime(query.to, 'to') ?? (Number.isFinite(window.to) ? window.to : Number.MAX_SAFE_INTEGER)
  if (!(to > from)) throw new InvalidInput('The time range is empty: `to` must be after `from`.', { field: 'to' })
  return { from, to }
}
