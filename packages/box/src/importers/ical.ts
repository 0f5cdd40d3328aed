/**
 * iCalendar (.ics, RFC 5545): each occurrence of an event becomes `summary`, `duration` (s), and
 * where given `location` and `uid`, timed by its start. A time with a TZID is read in that zone:
 * the file's VTIMEZONE of that name, else the IANA zone of that name. A time in UTC is read as
 * such. An all-day date, a floating time, or a TZID that is neither is read in the owner's time
 * zone; the import's warnings name such TZIDs.
 *
 * A recurring event's occurrences are its DTSTART and the union of all its RRULEs' and RDATEs'
 * (a PERIOD's start, its end or duration giving the length), minus its EXDATEs and the
 * occurrences that RECURRENCE-ID overrides move (those appear once, at their new time), each
 * once — all matched by instant, whatever zone each is written in. They are kept from ten years
 * before the import to two years after it, at most 10,000 per event (those nearest the import).
 * Rules in another calendar scale (RFC 7529 RSCALE) are not expanded: those events and their
 * overrides are skipped and named in the import's warnings; the rest of the file is imported.
 *
 * Files are read event by event in two passes (time zones and overrides first), so memory stays
 * small whatever the calendar's size. Each import keeps its own time zones: one file's VTIMEZONEs
 * never change how another is read.
 */
import fs from 'node:fs'
import readline from 'node:readline'
import ICAL from 'ical.js'
import { CofferError, InvalidInput } from '../errors/index.ts'
import { assertTimeZone, utcOffset, wallClockToEpoch } from '../store/index.ts'
import type { SenmlRecord } from '../senml/index.ts'
import { BATCH } from './common.ts'
import type { FileToRead, ImportFormat } from './format.ts'

export const ical: ImportFormat = {
  name: 'ical',
  defaultSource: 'calendar',
  logicalType: () => 'communication',
  sniff: (_head, text) => /^\s*BEGIN:VCALENDAR\r?\n/i.test(text),
  // The calendar is read from the file, in two passes, so that overrides are known before
  // expansion; the upload stream only flows through, for progress.
  parse: (input, file) => {
    input.resume()
    return events(file)
  },
}

/** Recurring events are expanded from this many years before the import… */
const YEARS_BEFORE = 10
/** …to this many years after it. */
const YEARS_AFTER = 2
/** The most occurrences of one event: a daily series fills the window with about 4,400. */
const MAX_OCCURRENCES = 10_000
/** The most steps one rule takes, so that a rule firing every second cannot hold the box up. */
const MAX_STEPS = 100_000
const DAY = 86400

/** Where a wall-clock time is read: as UTC, in one of the file's VTIMEZONEs, or in an IANA zone. */
type Zone = { kind: 'utc' } | { kind: 'file'; tz: ICAL.Timezone } | { kind: 'iana'; name: string }

/** One occurrence: its start (epoch seconds) and its length (seconds). */
interface Occurrence {
  t: number
  duration: number
}

/** When an occurrence that starts at a wall-clock time in a zone, at instant t, ends. */
type Ending = (wall: ICAL.Time, zone: Zone, t: number) => number

/** Each VTIMEZONE and VEVENT block, as text, in file order. */
async function* blocks(file: string): AsyncGenerator<{ kind: 'vtimezone' | 'vevent'; text: string; line: number }> {
  const lines = readline.createInterface({ input: fs.createReadStream(file, 'utf8'), crlfDelay: Infinity })
  let current: string[] | null = null
  let kind: 'vtimezone' | 'vevent' = 'vevent'
  let depth = 0
  let start = 0
  let n = 0
  for await (const raw of lines) {
    n++
    const line = n === 1 ? raw.replace(/^\uFEFF/, '') : raw
    const upper = line.toUpperCase()
    if (current === null && (upper === 'BEGIN:VEVENT' || upper === 'BEGIN:VTIMEZONE')) {
      current = []
      kind = upper === 'BEGIN:VEVENT' ? 'vevent' : 'vtimezone'
      depth = 0
      start = n
    }
    if (current === null) continue
    current.push(line)
    if (upper.startsWith('BEGIN:')) depth++
    if (upper.startsWith('END:')) depth--
    if (depth === 0) {
      yield { kind, text: current.join('\r\n'), line: start }
      current = null
    }
  }
  if (current !== null) throw new InvalidInput(`The calendar ends inside the ${kind.toUpperCase()} that starts at line ${start}: the file is truncated. Nothing was imported.`)
}

function component(text: string, line: number): ICAL.Component {
  try {
    return new ICAL.Component(ICAL.parse(`BEGIN:VCALENDAR\r\n${text}\r\nEND:VCALENDAR`))
  } catch (err) {
    throw new InvalidInput(`The calendar entry starting at line ${line} is malformed: ${(err as Error).message}. Nothing was imported.`, { index: line })
  }
}

/** Runs `read` on the block starting at `line`; what ical.js throws becomes a refusal naming the line. */
function atLine<T>(line: number, read: () => T): T {
  try {
    return read()
  } catch (err) {
    if (err instanceof CofferError) throw err
    throw new InvalidInput(`The calendar entry starting at line ${line} could not be read: ${(err as Error).message}. Nothing was imported.`, { index: line })
  }
}

const unfold = (text: string) => text.replace(/\r\n[ \t]/g, '')

/**
 * The calendar scale of an event's rules when it is not plain Gregorian (RFC 7529), as written
 * (`RSCALE=HEBREW`), or null. RSCALE=GREGORIAN with the default SKIP=OMIT is an RFC 5545 rule.
 */
function unsupportedScale(unfolded: string): string | null {
  for (const line of unfolded.split('\r\n')) {
    if (!/^RRULE[;:]/i.test(line)) continue
    const parts = new Map(line.slice(line.indexOf(':') + 1).split(';').map((part) => {
      const [name = '', value = ''] = part.split('=')
      return [name.toUpperCase(), value.toUpperCase()] as const
    }))
    const scale = parts.get('RSCALE')
    const skip = parts.get('SKIP') ?? 'OMIT'
    if (scale !== undefined && scale !== 'GREGORIAN') return `RSCALE=${scale}`
    if (scale !== undefined && skip !== 'OMIT') return `RSCALE=GREGORIAN;SKIP=${skip}`
  }
  return null
}

function isIanaZone(name: string): boolean {
  try {
    assertTimeZone(name)
    return true
  } catch {
    return false
  }
}

/** A wall-clock time written as if it were UTC, in seconds. */
function wallSeconds(time: ICAL.Time): number {
  return Date.UTC(time.year, time.month - 1, time.day, time.isDate ? 0 : time.hour, time.isDate ? 0 : time.minute, time.isDate ? 0 : time.second) / 1000
}

/** The floating time (a wall clock in no zone) for wall-clock seconds. */
function floating(wall: number, isDate: boolean): ICAL.Time {
  const d = new Date(wall * 1000)
  return ICAL.Time.fromData({ year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), hour: d.getUTCHours(), minute: d.getUTCMinutes(), second: d.getUTCSeconds(), isDate })
}

const tzidOf = (prop: ICAL.Property) => {
  const tzid = prop.getParameter('tzid')
  return typeof tzid === 'string' && tzid !== '' ? tzid : undefined
}

function count(n: number, noun: string): string {
  return `${n.toLocaleString('en-US')} ${noun}${n === 1 ? '' : 's'}`
}

function lines(at: number[]): string {
  if (at.length === 1) return `line ${at[0]}`
  const shown = at.slice(0, 5)
  return at.length > shown.length ? `lines ${shown.join(', ')} and ${at.length - shown.length} more` : `lines ${shown.slice(0, -1).join(', ')} and ${shown.at(-1)}`
}

/** What the import skipped or read in a particular way, told once per kind, naming the lines. */
class Notes {
  readonly #timezonesWithoutId: number[] = []
  readonly #scales = new Map<string, { events: number[]; moved: number[] }>()
  readonly #unknownZones = new Map<string, number[]>()
  readonly #trimmed: number[] = []
  readonly #exhausted: number[] = []

  timezoneWithoutId(line: number): void {
    this.#timezonesWithoutId.push(line)
  }

  skippedScale(scale: string, line: number, moved: boolean): void {
    let skipped = this.#scales.get(scale)
    if (!skipped) this.#scales.set(scale, (skipped = { events: [], moved: [] }))
    ;(moved ? skipped.moved : skipped.events).push(line)
  }

  unknownZone(tzid: string, line: number): void {
    const at = this.#unknownZones.get(tzid) ?? []
    if (at.at(-1) !== line) at.push(line)
    this.#unknownZones.set(tzid, at)
  }

  trimmed(line: number): void {
    this.#trimmed.push(line)
  }

  exhausted(line: number): void {
    if (this.#exhausted.at(-1) !== line) this.#exhausted.push(line)
  }

  messages(ownerZone: string): string[] {
    const said: string[] = []
    const them = (n: number) => (n === 1 ? 'it' : 'them')
    if (this.#timezonesWithoutId.length > 0) {
      const at = this.#timezonesWithoutId
      said.push(`skipped ${count(at.length, 'VTIMEZONE')} without a TZID (${lines(at)}): no time can refer to ${them(at.length)}`)
    }
    for (const [scale, { events, moved }] of this.#scales) {
      const movedToo = moved.length > 0 ? ` and ${count(moved.length, 'moved occurrence')} of ${them(events.length)} (${lines(moved)})` : ''
      const what = events.length > 0 ? `${count(events.length, 'event')} with ${scale} (${lines(events)})${movedToo}` : `${count(moved.length, 'moved occurrence')} of events with ${scale} (${lines(moved)})`
      said.push(`skipped ${what}: not supported; only Gregorian recurrence rules are expanded`)
    }
    for (const [tzid, at] of this.#unknownZones) {
      said.push(`read ${count(at.length, 'event')} in the box's time zone (${ownerZone}): ${at.length === 1 ? 'its' : 'their'} TZID "${tzid}" is neither defined in the file nor an IANA zone (${lines(at)})`)
    }
    if (this.#trimmed.length > 0) {
      const at = this.#trimmed
      said.push(`kept the ${MAX_OCCURRENCES.toLocaleString('en-US')} occurrences nearest the import of ${count(at.length, 'event')} (${lines(at)}) that recur${at.length === 1 ? 's' : ''} more often than that over the ${YEARS_BEFORE + YEARS_AFTER} years expanded`)
    }
    if (this.#exhausted.length > 0) {
      const at = this.#exhausted
      said.push(`stopped expanding ${count(at.length, 'event')} (${lines(at)}) after ${MAX_STEPS.toLocaleString('en-US')} steps of a rule: later occurrences were not imported`)
    }
    return said
  }
}

/** One import's reading of a calendar: its time zones, the owner's, the window, what to tell. */
class Calendar {
  readonly zones = new Map<string, ICAL.Timezone>()
  readonly notes = new Notes()
  readonly owner: Zone
  readonly now = Date.now() / 1000
  /** The window recurring events are expanded over, in epoch seconds. */
  readonly from: number
  readonly to: number

  constructor(readonly ownerZone: string) {
    this.owner = { kind: 'iana', name: ownerZone }
    const yearsFromNow = (years: number) => {
      const d = new Date(this.now * 1000)
      d.setUTCFullYear(d.getUTCFullYear() + years)
      return d.getTime() / 1000
    }
    this.from = yearsFromNow(-YEARS_BEFORE)
    this.to = yearsFromNow(YEARS_AFTER)
  }

  /** The zone a time of a property is written in. */
  zoneOf(time: ICAL.Time, tzid: string | undefined, line: number): Zone {
    if (time.isDate) return this.owner
    if (tzid !== undefined) {
      const tz = this.zones.get(tzid)
      if (tz) return { kind: 'file', tz }
      if (isIanaZone(tzid)) return { kind: 'iana', name: tzid }
      this.notes.unknownZone(tzid, line)
      return this.owner
    }
    return time.zone === ICAL.Timezone.utcTimezone ? { kind: 'utc' } : this.owner
  }

  /** The instant (epoch seconds) a wall-clock time shows in a zone. */
  instant(wall: ICAL.Time, zone: Zone): number {
    switch (zone.kind) {
      case 'utc': return wallSeconds(wall)
      case 'iana': return wallClockToEpoch(zone.name, wallSeconds(wall))
      case 'file': return ICAL.Time.fromData({ year: wall.year, month: wall.month, day: wall.day, hour: wall.hour, minute: wall.minute, second: wall.second, isDate: false }, zone.tz).toUnixTime()
    }
  }

  /** The wall-clock time an instant shows in a zone. */
  wallAt(t: number, zone: Zone): ICAL.Time {
    switch (zone.kind) {
      case 'utc': return floating(t, false)
      case 'iana': return floating(t + utcOffset(zone.name, t), false)
      case 'file': {
        const utc = ICAL.Time.fromData({ year: 1970, month: 1, day: 1, hour: 0, minute: 0, second: 0, isDate: false }, ICAL.Timezone.utcTimezone)
        utc.fromUnixTime(t)
        return floating(wallSeconds(utc.convertToZone(zone.tz)), false)
      }
    }
  }

  /** When an event's occurrences end, from its DTEND or DURATION (RFC 5545 3.8.5.3: DTEND gives an exact length, DURATION a nominal one). */
  ending(vevent: ICAL.Component, start: ICAL.Time, zone: Zone, line: number): Ending {
    const dtend = vevent.getFirstProperty('dtend')
    const duration = vevent.getFirstPropertyValue('duration')
    if (dtend) {
      const end = dtend.getFirstValue() as ICAL.Time
      if (start.isDate) return this.nominal(Math.round((wallSeconds(end) - wallSeconds(start)) / DAY), 0)
      const length = this.instant(end, this.zoneOf(end, tzidOf(dtend), line)) - this.instant(start, zone)
      return (_wall, _zone, t) => t + length
    }
    if (duration instanceof ICAL.Duration) return this.byDuration(duration)
    return start.isDate ? this.nominal(1, 0) : (_wall, _zone, t) => t
  }

  byDuration(duration: ICAL.Duration): Ending {
    const sign = duration.isNegative ? -1 : 1
    return this.nominal(sign * (duration.weeks * 7 + duration.days), sign * (duration.hours * 3600 + duration.minutes * 60 + duration.seconds))
  }

  /** Days on the wall clock, then exact seconds. */
  nominal(days: number, seconds: number): Ending {
    return (wall, zone, t) => (days === 0 ? t : this.instant(floating(wallSeconds(wall) + days * DAY, wall.isDate), zone)) + seconds
  }
}

/**
 * Where a rule may start iterating instead of its DTSTART: a whole number of its periods later,
 * just before the window. Only for rules without COUNT that repeat every period whatever their
 * BY parts (DAILY and shorter, WEEKLY — whose weeks stay aligned), so the occurrences from there
 * are those from DTSTART. The new start itself, which ical.js returns even when the BY parts
 * do not match it, falls before the window and is never kept.
 */
function fastForward(rule: ICAL.Recur, start: ICAL.Time, from: number): ICAL.Time {
  const unit = ({ SECONDLY: 1, MINUTELY: 60, HOURLY: 3600, DAILY: DAY, WEEKLY: 7 * DAY } as Record<string, number>)[rule.freq]
  if (rule.count || unit === undefined) return start
  const period = unit * Math.max(1, rule.interval || 1)
  // A wall clock is less than a day from its instant: two days' margin keeps the start before the window.
  const periods = Math.floor((from - 2 * DAY - wallSeconds(start)) / period)
  return periods > 0 ? floating(wallSeconds(start) + periods * period, start.isDate) : start
}

/** The occurrences of one event: its own, or its series' within the window, sorted. */
function occurrences(calendar: Calendar, vevent: ICAL.Component, moved: Set<string>, line: number): Occurrence[] {
  const dtstart = vevent.getFirstProperty('dtstart')
  const start = dtstart?.getFirstValue()
  if (!dtstart || !(start instanceof ICAL.Time)) throw new InvalidInput(`The event starting at line ${line} has no DTSTART. Nothing was imported.`, { index: line, field: 'DTSTART' })
  const zone = calendar.zoneOf(start, tzidOf(dtstart), line)
  const ending = calendar.ending(vevent, start, zone, line)
  const occurrence = (wall: ICAL.Time, z: Zone, t = calendar.instant(wall, z), end = ending(wall, z, t)) => ({ t, duration: end - t })

  const recurring = vevent.hasProperty('rrule') || vevent.hasProperty('rdate')
  if (!recurring || vevent.hasProperty('recurrence-id')) return [occurrence(start, zone)]

  const uid = String(vevent.getFirstPropertyValue('uid') ?? '')
  const excluded = new Set<number>()
  // An all-day EXDATE of a timed series takes out that day's occurrences.
  const excludedDays = new Set<number>()
  for (const prop of vevent.getAllProperties('exdate')) {
    for (const value of prop.getValues() as ICAL.Time[]) {
      if (value.isDate && !start.isDate) excludedDays.add(wallSeconds(value))
      else excluded.add(calendar.instant(value, calendar.zoneOf(value, tzidOf(prop), line)))
    }
  }
  const found = new Map<number, number>()
  const add = (wall: ICAL.Time, t: number, make: () => Occurrence) => {
    if (t < calendar.from || t > calendar.to || found.has(t) || excluded.has(t) || moved.has(`${uid}|${t}`)) return
    if (excludedDays.has(Math.floor(wallSeconds(wall) / DAY) * DAY)) return
    found.set(t, make().duration)
  }
  const addAt = (wall: ICAL.Time, z: Zone) => {
    const t = calendar.instant(wall, z)
    add(wall, t, () => occurrence(wall, z, t))
  }

  addAt(start, zone)
  for (const prop of vevent.getAllProperties('rdate')) {
    const tzid = tzidOf(prop)
    for (const value of prop.getValues() as (ICAL.Time | ICAL.Period)[]) {
      if (value instanceof ICAL.Period) {
        const z = calendar.zoneOf(value.start, tzid, line)
        const t = calendar.instant(value.start, z)
        const end = value.end ? () => calendar.instant(value.end, calendar.zoneOf(value.end, tzid, line)) : () => calendar.byDuration(value.duration)(value.start, z, t)
        add(value.start, t, () => ({ t, duration: end() - t }))
      } else {
        addAt(value, calendar.zoneOf(value, tzid, line))
      }
    }
  }
  const wallStart = floating(wallSeconds(start), start.isDate)
  for (const prop of vevent.getAllProperties('rrule')) {
    const rule = (prop.getFirstValue() as ICAL.Recur).clone()
    // The rule runs on the wall clock of DTSTART's zone; a UNTIL in UTC is moved onto that clock.
    if (rule.until && !rule.until.isDate && rule.until.zone === ICAL.Timezone.utcTimezone) rule.until = calendar.wallAt(rule.until.toUnixTime(), zone)
    const iterator = rule.iterator(fastForward(rule, wallStart, calendar.from))
    for (let steps = 0; ; steps++) {
      if (steps === MAX_STEPS) {
        calendar.notes.exhausted(line)
        break
      }
      const next = iterator.next()
      if (!next) break
      const wall = wallSeconds(next)
      if (wall > calendar.to + DAY) break
      if (wall < calendar.from - DAY) continue
      addAt(next, zone)
    }
  }

  let kept = [...found].map(([t, duration]) => ({ t, duration }))
  if (kept.length > MAX_OCCURRENCES) {
    kept = kept.sort((a, b) => Math.abs(a.t - calendar.now) - Math.abs(b.t - calendar.now)).slice(0, MAX_OCCURRENCES)
    calendar.notes.trimmed(line)
  }
  return kept.sort((a, b) => a.t - b.t)
}

async function* events(file: FileToRead): AsyncGenerator<SenmlRecord[]> {
  const calendar = new Calendar(file.timeZone)
  // Pass 1: time zones; which occurrences of which events were moved; which series are skipped.
  const overrides: { uid: string; time: ICAL.Time; tzid: string | undefined; line: number }[] = []
  const skippedSeries = new Map<string, string>()
  for await (const { kind, text, line } of blocks(file.file)) {
    if (kind === 'vtimezone') {
      const vtimezone = component(text, line).getFirstSubcomponent('vtimezone')!
      const tzid = vtimezone.getFirstPropertyValue('tzid')
      if (typeof tzid === 'string' && tzid !== '') calendar.zones.set(tzid, atLine(line, () => new ICAL.Timezone(vtimezone)))
      else calendar.notes.timezoneWithoutId(line)
      continue
    }
    const unfolded = unfold(text)
    const scale = unsupportedScale(unfolded)
    // ical.js may refuse another calendar's rule (a 13th month): read the rest of the event without it.
    const vevent = component(scale ? unfolded.replace(/^RRULE[;:].*(\r\n|$)/gim, '') : text, line).getFirstSubcomponent('vevent')!
    const uid = String(vevent.getFirstPropertyValue('uid') ?? '')
    const rid = vevent.getFirstProperty('recurrence-id')
    if (scale && !rid) skippedSeries.set(uid, scale)
    else if (rid) overrides.push({ uid, time: rid.getFirstValue() as ICAL.Time, tzid: tzidOf(rid), line })
  }
  const moved = new Set(overrides.map(({ uid, time, tzid, line }) => `${uid}|${atLine(line, () => calendar.instant(time, calendar.zoneOf(time, tzid, line)))}`))

  // Pass 2: events and their occurrences.
  let batch: SenmlRecord[] = []
  for await (const { kind, text, line } of blocks(file.file)) {
    if (kind !== 'vevent') continue
    const scale = unsupportedScale(unfold(text))
    if (scale) {
      calendar.notes.skippedScale(scale, line, false)
      continue
    }
    const vevent = component(text, line).getFirstSubcomponent('vevent')!
    const uid = vevent.getFirstPropertyValue('uid')
    const seriesScale = vevent.hasProperty('recurrence-id') ? skippedSeries.get(String(uid ?? '')) : undefined
    if (seriesScale) {
      calendar.notes.skippedScale(seriesScale, line, true)
      continue
    }
    const summary = String(vevent.getFirstPropertyValue('summary') ?? '').slice(0, 1024)
    const location = vevent.getFirstPropertyValue('location')
    for (const { t, duration } of atLine(line, () => occurrences(calendar, vevent, moved, line))) {
      batch.push({ n: 'summary', t, vs: summary })
      batch.push({ n: 'duration', u: 's', t, v: duration })
      if (location) batch.push({ n: 'location', t, vs: String(location).slice(0, 1024) })
      if (uid) batch.push({ n: 'uid', t, vs: String(uid).slice(0, 256) })
      if (batch.length >= BATCH) {
        yield batch
        batch = []
      }
    }
  }
  if (batch.length > 0) yield batch
  for (const message of calendar.notes.messages(calendar.ownerZone)) file.warn(message)
}
