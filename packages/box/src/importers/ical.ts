/**
 * iCalendar (.ics): each event becomes `summary`, `duration` (s), and where given `location` and
 * `uid`, timed by its start in its own time zone (the file's VTIMEZONEs, or an IANA TZID the file
 * does not define). Recurring events are expanded from their first occurrence to two years after
 * the import, at most 5,000 occurrences each; EXDATEs are honoured, and an occurrence moved by a
 * RECURRENCE-ID override appears once, at its new time. Files are read event by event in two
 * passes (overrides first), so memory stays small whatever the calendar's size.
 */
import fs from 'node:fs'
import readline from 'node:readline'
import ICAL from 'ical.js'
import { InvalidInput } from '../errors/index.ts'
import { wallClockToEpoch } from '../store/index.ts'
import type { SenmlRecord } from '../senml/index.ts'
import { BATCH } from './common.ts'
import type { ImportFormat } from './format.ts'

export const ical: ImportFormat = {
  name: 'ical',
  defaultSource: 'calendar',
  logicalType: () => 'communication',
  sniff: (_head, text) => /^\s*BEGIN:VCALENDAR\r?\n/i.test(text),
  // The calendar is read from the file, in two passes, so that overrides are known before
  // expansion; the upload stream only flows through, for progress.
  parse: (input, { file }) => {
    input.resume()
    return events(file)
  },
}

const WINDOW_YEARS = 2
const MAX_OCCURRENCES = 5000

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
    throw new InvalidInput(`The calendar entry starting at line ${line} is malformed: ${(err as Error).message}. Nothing was imported.`)
  }
}

/** Epoch seconds of a start, reading an IANA TZID that the file itself does not define. */
function epoch(time: ICAL.Time, tzid: string | undefined): number {
  if (tzid && !ICAL.TimezoneService.has(tzid) && time.zone?.tzid !== tzid) {
    try {
      return wallClockToEpoch(tzid, Date.UTC(time.year, time.month - 1, time.day, time.hour, time.minute, time.second) / 1000)
    } catch {
      // An unknown zone name: fall through to ical.js, which reads it as floating (UTC).
    }
  }
  return time.toUnixTime()
}

async function* events(file: string): AsyncGenerator<SenmlRecord[]> {
  // Pass 1: time zones, and which occurrences of which events were moved.
  const overridden = new Set<string>()
  for await (const { kind, text, line } of blocks(file)) {
    const c = component(text, line)
    if (kind === 'vtimezone') {
      for (const tz of c.getAllSubcomponents('vtimezone')) ICAL.TimezoneService.register(new ICAL.Timezone(tz))
      continue
    }
    const event = c.getFirstSubcomponent('vevent')!
    const rid = event.getFirstPropertyValue('recurrence-id') as ICAL.Time | null
    if (rid) overridden.add(`${event.getFirstPropertyValue('uid')}|${rid.toString()}`)
  }
  // Pass 2: events and their occurrences.
  const until = ICAL.Time.fromJSDate(new Date(Date.now() + WINDOW_YEARS * 365.25 * 86400_000), true)
  let batch: SenmlRecord[] = []
  for await (const { kind, text, line } of blocks(file)) {
    if (kind !== 'vevent') continue
    const vevent = component(text, line).getFirstSubcomponent('vevent')!
    const event = new ICAL.Event(vevent)
    if (!event.startDate) throw new InvalidInput(`The event starting at line ${line} has no DTSTART. Nothing was imported.`, { index: line, field: 'DTSTART' })
    const tzid = vevent.getFirstProperty('dtstart')?.getParameter('tzid') as string | undefined
    const emit = (start: ICAL.Time, end: ICAL.Time | null) => {
      const t = epoch(start, tzid)
      batch.push({ n: 'summary', t, vs: (event.summary ?? '').slice(0, 1024) })
      if (end) batch.push({ n: 'duration', u: 's', t, v: epoch(end, tzid) - t })
      if (event.location) batch.push({ n: 'location', t, vs: event.location.slice(0, 1024) })
      if (event.uid) batch.push({ n: 'uid', t, vs: event.uid.slice(0, 256) })
    }
    if (!event.isRecurring() || event.isRecurrenceException()) {
      emit(event.startDate, event.endDate)
    } else {
      const iterator = event.iterator()
      let count = 0
      for (let next = iterator.next(); next && next.compare(until) <= 0 && count < MAX_OCCURRENCES; next = iterator.next(), count++) {
        if (overridden.has(`${event.uid}|${next.toString()}`)) continue
        const details = event.getOccurrenceDetails(next)
        emit(details.startDate, details.endDate)
      }
    }
    if (batch.length >= BATCH) {
      yield batch
      batch = []
    }
  }
  if (batch.length > 0) yield batch
}
