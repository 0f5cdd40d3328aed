/**
 * Bucket boundaries for aggregates. Buckets shorter than a day are fixed lengths aligned to
 * the time zone's wall clock; day, week, month and year buckets follow the local calendar, so
 * a day in a DST change is 23 or 25 hours long. Weeks start on Monday.
 */
import { InvalidInput } from '../errors/index.ts'
import { DAY, MONTH, WEEK, readDuration, type Duration } from '../duration/index.ts'

/** A bucket size; its `seconds` are nominal (a local day may differ by an hour). */
export interface Bucket extends Duration {
  spec: string
}

export const MAX_BUCKETS = 100_000

export function parseBucket(spec: string): Bucket {
  const duration = readDuration(spec)
  if (!duration) throw new InvalidInput(`"${spec}" is not a bucket size: use a number and a unit, like 5m, 1h, 1d, 1w, 1mo or 1y.`, { field: 'bucket' })
  return { spec, ...duration }
}

const formatters = new Map<string, Intl.DateTimeFormat>()

function formatter(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz)
  if (!f) {
    try {
      f = new Intl.DateTimeFormat('en-US', {
        timeZone: tz, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric',
      })
    } catch {
      throw new InvalidInput(`"${tz}" is not a known time zone: use an IANA name such as Europe/Berlin or UTC.`, { field: 'tz' })
    }
    formatters.set(tz, f)
  }
  return f
}

export function assertTimeZone(tz: string): void {
  formatter(tz)
}

interface LocalTime { year: number; month: number; day: number; hour: number; minute: number; second: number }

function localTime(tz: string, epochSeconds: number): LocalTime {
  const d = new Date((Math.floor(epochSeconds) + utcOffset(tz, epochSeconds)) * 1000)
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), hour: d.getUTCHours(), minute: d.getUTCMinutes(), second: d.getUTCSeconds() }
}

/** The zone's offset as Intl reports it: exact, and some microseconds a call. */
function offsetFromIntl(tz: string, epochSeconds: number): number {
  const parts: Record<string, number> = {}
  for (const p of formatter(tz).formatToParts(new Date(Math.floor(epochSeconds) * 1000))) {
    if (p.type !== 'literal') parts[p.type] = Number(p.value)
  }
  return Date.UTC(parts.year!, parts.month! - 1, parts.day!, parts.hour!, parts.minute!, parts.second!) / 1000 - Math.floor(epochSeconds)
}

/**
 * Offsets by quarter hour: a year of daily buckets asks for hundreds of them, most in the same few
 * slots. A slot is kept only when its offset is the same at both of its ends, so a slot that holds a
 * change of offset (however odd its instant, as in historical local mean times) is always asked exactly.
 */
const SLOT = 900
const offsets = new Map<string, number>()

/** Seconds to add to UTC to get wall-clock time in `tz` at that instant. */
export function utcOffset(tz: string, epochSeconds: number): number {
  const slot = Math.floor(epochSeconds / SLOT)
  const key = `${tz}@${slot}`
  const known = offsets.get(key)
  if (known !== undefined) return known
  const start = offsetFromIntl(tz, slot * SLOT)
  if (start !== offsetFromIntl(tz, slot * SLOT + SLOT - 1)) return offsetFromIntl(tz, epochSeconds)
  if (offsets.size >= 100_000) offsets.clear()
  offsets.set(key, start)
  return start
}

/** The instant at which clocks in `tz` show `wall` (a wall-clock time written as if it were UTC). */
export function wallClockToEpoch(tz: string, wall: number): number {
  const guess = wall - utcOffset(tz, wall)
  return wall - utcOffset(tz, guess)
}

/** The instant of local midnight starting the given calendar day (month is 1-based, day may overflow). */
function localMidnight(tz: string, year: number, month: number, day: number): number {
  return wallClockToEpoch(tz, Date.UTC(year, month - 1, day) / 1000)
}

/**
 * Boundaries b0 < b1 < … < bk with b0 = from and bk = to; bucket i is [b_i, b_{i+1}). The first
 * and last buckets are clipped to the range, so nothing outside [from, to) is ever counted.
 * Every grid is anchored, so the same bucket size always cuts time at the same edges whatever
 * the range: sub-day buckets at multiples of their length on the local wall clock, n-day
 * buckets every n local days counted from 1970-01-01, n-week buckets every n weeks counted from
 * Monday 1970-01-05, n-month buckets every n months counted from January 1970 (years are 12
 * months). A whole number of days or weeks is cut as such however it is spelled (24h is a day).
 */
export function bucketBoundaries(from: number, to: number, bucket: Bucket, tz: string): number[] {
  if (!(to > from)) throw new InvalidInput('The time range is empty: `to` must be after `from`.', { field: 'to' })
  if ((to - from) / bucket.seconds > MAX_BUCKETS) {
    throw new InvalidInput(`That range holds more than ${MAX_BUCKETS} buckets of ${bucket.spec}: choose a larger bucket or a shorter range.`, { field: 'bucket' })
  }
  const bounds: number[] = []
  const cell = cellOf(bucket.seconds)
  if (cell.kind === 'fixed') {
    const offset = utcOffset(tz, from)
    let b = Math.floor((from + offset) / bucket.seconds) * bucket.seconds - offset
    bounds.push(b)
    while (b < to) bounds.push((b += bucket.seconds))
    return clip(bounds, from, to)
  }
  const start = localTime(tz, from)
  if (cell.kind === 'months') {
    let month = Math.floor(monthNumber(start) / cell.count) * cell.count
    for (;;) {
      const b = localMidnight(tz, 1970, month + 1, 1)
      bounds.push(b)
      if (b >= to) return clip(bounds, from, to)
      month += cell.count
    }
  }
  let day = Math.floor((dayNumber(start) - cell.anchor) / cell.count) * cell.count + cell.anchor
  for (;;) {
    const b = localMidnight(tz, 1970, 1, day + 1)
    bounds.push(b)
    if (b >= to) return clip(bounds, from, to)
    day += cell.count
  }
}

function clip(bounds: number[], from: number, to: number): number[] {
  bounds[0] = from
  bounds[bounds.length - 1] = to
  if (bounds.length > 2 && bounds[1]! <= from) bounds.splice(1, 1)
  return bounds
}

/** Monday 1970-01-05 is day 4 of the epoch: weeks are counted from it. */
const FIRST_MONDAY = 4

/** How a grid of `seconds`-long cells is cut: fixed lengths, runs of local days (from an anchor day), or calendar months. */
type Cell = { kind: 'fixed' } | { kind: 'days'; count: number; anchor: number } | { kind: 'months'; count: number }

function cellOf(seconds: number): Cell {
  if (seconds % MONTH === 0) return { kind: 'months', count: seconds / MONTH }
  if (seconds % WEEK === 0) return { kind: 'days', count: seconds / DAY, anchor: FIRST_MONDAY }
  if (seconds % DAY === 0) return { kind: 'days', count: seconds / DAY, anchor: 0 }
  return { kind: 'fixed' }
}

/** Local calendar days since 1970-01-01. */
function dayNumber(local: LocalTime): number {
  return Date.UTC(local.year, local.month - 1, local.day) / 1000 / DAY
}

/** Local calendar months since January 1970. */
function monthNumber(local: LocalTime): number {
  return (local.year - 1970) * 12 + local.month - 1
}

/**
 * Whether `t` is an edge of the anchored grid of `seconds`-long cells in `tz` (see
 * bucketBoundaries): for days, weeks and months a local midnight that starts a cell.
 */
export function onGrid(t: number, seconds: number, tz: string): boolean {
  if (!Number.isInteger(t)) return false
  const cell = cellOf(seconds)
  if (cell.kind === 'fixed') return (t + utcOffset(tz, t)) % seconds === 0
  const local = localTime(tz, t)
  if (local.hour !== 0 || local.minute !== 0 || local.second !== 0) return false
  if (cell.kind === 'months') return local.day === 1 && monthNumber(local) % cell.count === 0
  return (dayNumber(local) - cell.anchor) % cell.count === 0
}
