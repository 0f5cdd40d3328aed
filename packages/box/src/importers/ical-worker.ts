/**
 * The part of the iCalendar importer that runs ical.js: it reads VTIMEZONE and VEVENT entries and
 * expands recurrences, in a worker thread of its own. ical.js can loop for ever inside one step of
 * a rule that never matches (FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30, kewisch/ical.js#1038), and so
 * can a time zone whose rules are such; here that stops only this thread, which ical.ts ends when
 * an entry overruns its time, then starts again from what the entries before it left.
 *
 * Entries come one at a time, answered in order. A time zone and the occurrences an override
 * moves are remembered for the entries after them; the answer says what a new worker must be told
 * to know as much (`remember`).
 */
import { parentPort, workerData } from 'node:worker_threads'
import ICAL from 'ical.js'
import { CofferError, InvalidInput } from '../errors/index.ts'
// Not the store's index: that would load SQLite and hypercore into this thread, a second and a half more to start it.
import { assertTimeZone, utcOffset, wallClockToEpoch } from '../store/buckets.ts'
import {
  MAX_OCCURRENCES, MAX_STEPS, READER, YEARS_AFTER, YEARS_BEFORE, type Answer, type Entry, type EventRead, type Note, type Remembered, type WorkerStart,
} from './ical-protocol.ts'

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

function component(text: string, line: number): ICAL.Component {
  try {
    return new ICAL.Component(ICAL.parse(`BEGIN:VCALENDAR\r\n${text}\r\nEND:VCALENDAR`))
  } catch (err) {
    throw new InvalidInput(`The calendar entry starting at line ${line} is malformed: ${(err as Error).message}. Nothing was imported.`, { index: line })
  }
}

/** Runs `read` on the entry starting at `line`; what ical.js throws becomes a refusal naming the line. */
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

/** One import's reading of a calendar: its time zones, the owner's, the window, what to tell. */
class Calendar {
  readonly zones = new Map<string, ICAL.Timezone>()
  /** The occurrences overrides move, as `uid|instant`. */
  readonly moved = new Set<string>()
  /** The UIDs of series in a calendar scale that is not expanded, with that scale. */
  readonly skippedSeries = new Map<string, string>()
  /** What the entry being read tells the owner of. */
  notes: Note[] = []
  readonly owner: Zone
  /** The window recurring events are expanded over, in epoch seconds. */
  readonly from: number
  readonly to: number

  constructor(ownerZone: string, readonly now: number) {
    this.owner = { kind: 'iana', name: ownerZone }
    const yearsFromNow = (years: number) => {
      const d = new Date(this.now * 1000)
      d.setUTCFullYear(d.getUTCFullYear() + years)
      return d.getTime() / 1000
    }
    this.from = yearsFromNow(-YEARS_BEFORE)
    this.to = yearsFromNow(YEARS_AFTER)
  }

  remember(what: Remembered): void {
    switch (what.kind) {
      case 'timezone': this.readTimezone(what.text, what.line); break
      case 'moved': this.moved.add(what.key); break
      case 'skipped-series': this.skippedSeries.set(what.uid, what.scale); break
    }
  }

  /** Reads a VTIMEZONE; answers whether later times can refer to it. */
  readTimezone(text: string, line: number): boolean {
    const vtimezone = component(text, line).getFirstSubcomponent('vtimezone')!
    const tzid = vtimezone.getFirstPropertyValue('tzid')
    if (typeof tzid !== 'string' || tzid === '') {
      this.notes.push({ kind: 'timezone-without-id', line })
      return false
    }
    this.zones.set(tzid, atLine(line, () => new ICAL.Timezone(vtimezone)))
    return true
  }

  /** The zone a time of a property is written in. */
  zoneOf(time: ICAL.Time, tzid: string | undefined, line: number): Zone {
    if (time.isDate) return this.owner
    if (tzid !== undefined) {
      const tz = this.zones.get(tzid)
      if (tz) return { kind: 'file', tz }
      if (isIanaZone(tzid)) return { kind: 'iana', name: tzid }
      this.notes.push({ kind: 'unknown-zone', tzid, line })
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
 * just before the window. Only for rules that repeat every period whatever their BY parts (DAILY
 * and shorter, WEEKLY — whose weeks stay aligned) and are not bounded by COUNT, so the
 * occurrences from there are those from DTSTART. The new start itself, which ical.js returns even
 * when the BY parts do not match it, falls before the window and is never kept.
 */
function fastForward(rule: ICAL.Recur, start: ICAL.Time, from: number): ICAL.Time {
  const unit = ({ SECONDLY: 1, MINUTELY: 60, HOURLY: 3600, DAILY: DAY, WEEKLY: 7 * DAY } as Record<string, number>)[rule.freq]
  if (unit === undefined) return start
  const period = unit * Math.max(1, rule.interval || 1)
  // A wall clock is less than a day from its instant: two days' margin keeps the start before the window.
  const periods = Math.floor((from - 2 * DAY - wallSeconds(start)) / period)
  return periods > 0 ? floating(wallSeconds(start) + periods * period, start.isDate) : start
}

/** A frequency whose rule may limit its own unit (FREQ=HOURLY;BYHOUR=…): that part, the unit's field, how many make the next coarser unit, and its frequency. */
const OWN_UNIT: Record<string, { part: 'BYSECOND' | 'BYMINUTE' | 'BYHOUR'; field: 'second' | 'minute' | 'hour'; per: number; coarser: ICAL.Recur['freq'] }> = {
  SECONDLY: { part: 'BYSECOND', field: 'second', per: 60, coarser: 'MINUTELY' },
  MINUTELY: { part: 'BYMINUTE', field: 'minute', per: 60, coarser: 'HOURLY' },
  HOURLY: { part: 'BYHOUR', field: 'hour', per: 24, coarser: 'DAILY' },
}

const daysInMonth = (year: number, month: number) => new Date(Date.UTC(year, month, 0)).getUTCDate()

/**
 * The rule to give ical.js for one of an event's rules, and which of what it returns belong to
 * the rule's set (RFC 5545 3.3.10); null when nothing but DTSTART does. It works around two faults
 * of ical.js 2.2:
 *
 * - A SECONDLY, MINUTELY or HOURLY rule that limits its own unit (FREQ=HOURLY;BYHOUR=9,12) is
 *   stepped through the listed values instead of every INTERVAL units from DTSTART: it misses the
 *   first matches after DTSTART and ignores INTERVAL. When INTERVAL divides the next coarser unit
 *   the steps fall on the same values in every such unit, so the rule becomes that coarser
 *   frequency listing the values the steps reach (FREQ=DAILY;BYHOUR=…), which ical.js expands
 *   rightly; otherwise, or with BYSETPOS (which picks within each period), the limit is left out
 *   and applied here.
 * - A date that does not exist (February 29 in a common year, April 31) becomes the next day,
 *   where RFC 5545 says such an occurrence is ignored and not counted. Whatever lies outside the
 *   rule's BYMONTH and BYMONTHDAY — or, for a monthly or yearly rule that names no day, off
 *   DTSTART's day (and for yearly, month) — is left out here, so COUNT is counted here too.
 */
function expansionOf(original: ICAL.Recur, start: ICAL.Time): { rule: ICAL.Recur; keep: (time: ICAL.Time) => boolean } | null {
  const rule = original.clone()
  rule.count = null
  const keeps: ((time: ICAL.Time) => boolean)[] = []
  for (let own = OWN_UNIT[rule.freq]; own && rule.parts[own.part]; own = OWN_UNIT[rule.freq]) {
    const { part, field, per, coarser } = own
    const values = rule.parts[part]!
    const interval = Math.max(1, rule.interval || 1)
    if (per % interval === 0 && !rule.parts.BYSETPOS) {
      const reached = values.filter((v) => (((v - start[field]) % interval) + interval) % interval === 0).sort((a, b) => a - b)
      if (reached.length === 0) return null
      rule.freq = coarser
      rule.interval = 1
      rule.parts[part] = reached
    } else {
      delete rule.parts[part]
      keeps.push((time) => values.includes(time[field]))
    }
  }
  const { BYMONTH: months, BYMONTHDAY: monthDays, BYDAY, BYYEARDAY, BYWEEKNO } = rule.parts
  if (months) keeps.push((time) => months.includes(time.month))
  if (monthDays) {
    keeps.push((time) => {
      const last = daysInMonth(time.year, time.month)
      return monthDays.some((d) => (d > 0 ? d : last + d + 1) === time.day)
    })
  }
  const namesNoDay = !monthDays && !BYDAY && !BYYEARDAY && !BYWEEKNO
  if (namesNoDay && (rule.freq === 'MONTHLY' || rule.freq === 'YEARLY')) keeps.push((time) => time.day === start.day)
  if (namesNoDay && !months && rule.freq === 'YEARLY') keeps.push((time) => time.month === start.month)
  return { rule, keep: (time) => keeps.every((keep) => keep(time)) }
}

/** The occurrences of one event: its own, or its series' within the window, sorted. */
function occurrences(calendar: Calendar, vevent: ICAL.Component, line: number): Occurrence[] {
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
    if (t < calendar.from || t > calendar.to || found.has(t) || excluded.has(t) || calendar.moved.has(`${uid}|${t}`)) return
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
    const original = prop.getFirstValue() as ICAL.Recur
    const expansion = expansionOf(original, wallStart)
    if (!expansion) continue
    const { rule, keep } = expansion
    // The rule runs on the wall clock of DTSTART's zone; a UNTIL in UTC is moved onto that clock.
    if (rule.until && !rule.until.isDate && rule.until.zone === ICAL.Timezone.utcTimezone) rule.until = calendar.wallAt(rule.until.toUnixTime(), zone)
    const iterator = rule.iterator(original.count ? wallStart : fastForward(rule, wallStart, calendar.from))
    // DTSTART is the first occurrence a COUNT counts, whether or not the rule matches it.
    let counted = 1
    for (let steps = 0; ; steps++) {
      if (steps === MAX_STEPS) {
        calendar.notes.push({ kind: 'exhausted', line })
        break
      }
      const next = iterator.next()
      if (!next) break
      const wall = wallSeconds(next)
      if (wall > calendar.to + DAY) break
      if (!keep(next)) continue
      if (original.count && wall > wallSeconds(wallStart)) {
        if (counted === original.count) break
        counted++
      }
      if (wall < calendar.from - DAY) continue
      addAt(next, zone)
    }
  }

  let kept = [...found].map(([t, duration]) => ({ t, duration }))
  if (kept.length > MAX_OCCURRENCES) {
    kept = kept.sort((a, b) => Math.abs(a.t - calendar.now) - Math.abs(b.t - calendar.now)).slice(0, MAX_OCCURRENCES)
    calendar.notes.push({ kind: 'trimmed', line })
  }
  return kept.sort((a, b) => a.t - b.t)
}

/** Pass 2: whether an event overrides an occurrence of a series, or is a series in a calendar scale not expanded; the calendar remembers it. */
function series(calendar: Calendar, text: string, line: number): Remembered | undefined {
  const unfolded = unfold(text)
  const scale = unsupportedScale(unfolded)
  // ical.js may refuse another calendar's rule (a 13th month): read the rest of the event without it.
  const vevent = component(scale ? unfolded.replace(/^RRULE[;:].*(\r\n|$)/gim, '') : text, line).getFirstSubcomponent('vevent')!
  const uid = String(vevent.getFirstPropertyValue('uid') ?? '')
  const rid = vevent.getFirstProperty('recurrence-id')
  let told: Remembered | undefined
  if (rid) {
    const time = rid.getFirstValue() as ICAL.Time
    told = { kind: 'moved', key: `${uid}|${atLine(line, () => calendar.instant(time, calendar.zoneOf(time, tzidOf(rid), line)))}` }
  } else if (scale) {
    told = { kind: 'skipped-series', uid, scale }
  }
  if (told) calendar.remember(told)
  return told
}

/** Pass 3: an event's records, or nothing when it is skipped (and noted). */
function event(calendar: Calendar, text: string, line: number): EventRead | undefined {
  const scale = unsupportedScale(unfold(text))
  if (scale) {
    calendar.notes.push({ kind: 'scale', scale, line, moved: false })
    return undefined
  }
  const vevent = component(text, line).getFirstSubcomponent('vevent')!
  const uid = vevent.getFirstPropertyValue('uid')
  const seriesScale = vevent.hasProperty('recurrence-id') ? calendar.skippedSeries.get(String(uid ?? '')) : undefined
  if (seriesScale) {
    calendar.notes.push({ kind: 'scale', scale: seriesScale, line, moved: true })
    return undefined
  }
  const location = vevent.getFirstPropertyValue('location')
  const found = atLine(line, () => occurrences(calendar, vevent, line))
  const times = new Float64Array(found.length * 2)
  found.forEach(({ t, duration }, i) => {
    times[2 * i] = t
    times[2 * i + 1] = duration
  })
  return {
    summary: String(vevent.getFirstPropertyValue('summary') ?? '').slice(0, 1024),
    location: location ? String(location).slice(0, 1024) : null,
    uid: uid ? String(uid).slice(0, 256) : null,
    occurrences: times,
  }
}

/** What an entry tells: for a time zone or an override, what the entries after it must know; for an event, its records. */
function read(calendar: Calendar, { kind, text, line }: Entry): Answer {
  calendar.notes = []
  try {
    const told = kind === 'timezone' ? { remember: calendar.readTimezone(text, line) ? { kind: 'timezone' as const, text, line } : undefined }
      : kind === 'series' ? { remember: series(calendar, text, line) }
      : { event: event(calendar, text, line) }
    return { kind: 'read', notes: calendar.notes, ...told }
  } catch (err) {
    if (err instanceof InvalidInput) return { kind: 'refused', message: err.message, where: err.extras as { index?: number; field?: string } }
    throw err
  }
}

/** Answers entries one at a time, in order, starting from what the entries before them left. */
function serve(start: WorkerStart): void {
  const calendar = new Calendar(start.ownerZone, start.now)
  for (const what of start.remembered) calendar.remember(what)
  calendar.notes = []
  start.port.on('message', (entry: Entry) => {
    const answer = read(calendar, entry)
    start.port.postMessage(answer, answer.kind === 'read' && answer.event ? [answer.event.occurrences.buffer as ArrayBuffer] : [])
  })
  start.port.postMessage({ kind: 'ready' })
}

if (parentPort && (workerData as Partial<WorkerStart> | null)?.reader === READER) serve(workerData as WorkerStart)
