/**
 * Durations, as the box writes them everywhere: a count and a unit (90s, 5m, 12h, 30d, 52w,
 * 3mo, 1y). Bucket sizes, token lifetimes, token window edges, manifest detail levels and
 * schedules all take their units and words from here. The cockpit imports this file as well,
 * so it stays free of Node: it imports nothing but the (equally plain) error classes.
 */
import { InvalidInput } from '../errors/index.ts'

export type DurationUnit = 's' | 'm' | 'h' | 'd' | 'w' | 'mo' | 'y'

interface UnitInfo {
  unit: DurationUnit
  seconds: number
  word: string
  /** How a single one reads before a noun: "daily totals". */
  adjective?: string
}

export const MINUTE = 60
export const HOUR = 60 * MINUTE
export const DAY = 24 * HOUR
export const WEEK = 7 * DAY
/**
 * Months and years are calendar units: buckets and grant grids follow the owner's calendar
 * (a month bucket runs from one local first-of-the-month to the next). Measured as a length
 * they are the average Gregorian month and year, so no whole number of days or weeks below
 * 133 years is mistaken for one.
 */
export const MONTH = 2_629_746
export const YEAR = 12 * MONTH

/** Largest first, so formatting picks the largest unit that divides a duration evenly. */
export const DURATION_UNITS: readonly UnitInfo[] = [
  { unit: 'y', seconds: YEAR, word: 'year', adjective: 'yearly' },
  { unit: 'mo', seconds: MONTH, word: 'month', adjective: 'monthly' },
  { unit: 'w', seconds: WEEK, word: 'week', adjective: 'weekly' },
  { unit: 'd', seconds: DAY, word: 'day', adjective: 'daily' },
  { unit: 'h', seconds: HOUR, word: 'hour', adjective: 'hourly' },
  { unit: 'm', seconds: MINUTE, word: 'minute' },
  { unit: 's', seconds: 1, word: 'second' },
]

export const UNIT_SECONDS = Object.fromEntries(DURATION_UNITS.map((u) => [u.unit, u.seconds])) as Record<DurationUnit, number>

const UNITS = DURATION_UNITS.map((u) => u.unit)
/** For a grammar that embeds durations: "y|mo|w|d|h|m|s" (longer units first, so "mo" is not read as minutes). */
export const UNIT_ALTERNATIVES = unitAlternatives(UNITS)

function unitAlternatives(units: readonly DurationUnit[]): string {
  return [...units].sort((a, b) => b.length - a.length).join('|')
}

/**
 * A regular expression source for durations written with one of `units`: a count of at most
 * `maxDigits` digits without a leading zero, then the unit.
 */
export function durationPattern(units: readonly DurationUnit[] = UNITS, maxDigits = 6): string {
  return `^([1-9][0-9]{0,${maxDigits - 1}})(${unitAlternatives(units)})$`
}

const DURATION = new RegExp(durationPattern())

export interface Duration {
  count: number
  unit: DurationUnit
  seconds: number
}

/** The parts of a duration, or undefined when `text` is not one; for callers that word their own refusal. */
export function readDuration(text: string): Duration | undefined {
  const match = DURATION.exec(text)
  if (!match) return undefined
  const count = Number(match[1])
  const unit = match[2] as DurationUnit
  return { count, unit, seconds: count * UNIT_SECONDS[unit] }
}

/** Seconds in a duration such as 30m, 12h or 90d. `field` names the input at fault when it is not one. */
export function parseDuration(text: string, field = 'duration'): number {
  const duration = readDuration(text)
  if (!duration) throw new InvalidInput(`"${text}" is not a duration: use a number and a unit (s, m, h, d, w, mo or y), like 30m, 12h, 90d or 1y.`, { field })
  return duration.seconds
}

/** The compact form in the largest unit that fits evenly: 86400 → "1d", 5400 → "90m". */
export function formatDuration(seconds: number): string {
  if (!Number.isInteger(seconds) || seconds < 0) throw new RangeError(`${seconds} is not a whole, non-negative number of seconds.`)
  const { unit, seconds: size } = largestUnit(seconds)
  return `${seconds / size}${unit}`
}

/** In words: 604800 → "1 week", 7200 → "2 hours", 90 → "90 seconds". */
export function describeDuration(seconds: number): string {
  const { word, seconds: size } = largestUnit(seconds)
  return `${seconds / size} ${word}${seconds === size ? '' : 's'}`
}

/** Before a noun: 86400 → "daily", 300 → "5-minute", 60 → "minute-by-minute". */
export function durationAdjective(seconds: number): string {
  const { word, adjective, seconds: size } = largestUnit(seconds)
  const count = seconds / size
  return count === 1 ? (adjective ?? `${word}-by-${word}`) : `${count}-${word}`
}

/** One cell of a grid of that size: 86400 → "1-day", 7200 → "2-hour". */
export function durationCell(seconds: number): string {
  const { word, seconds: size } = largestUnit(seconds)
  return `${seconds / size}-${word}`
}

/** Fractions of a second fall back to seconds, so words never fail on an odd value. */
function largestUnit(seconds: number): UnitInfo {
  const smallest = DURATION_UNITS[DURATION_UNITS.length - 1]!
  return seconds === 0 ? smallest : DURATION_UNITS.find((u) => seconds % u.seconds === 0) ?? smallest
}
