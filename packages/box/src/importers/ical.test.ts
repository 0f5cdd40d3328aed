/**
 * iCalendar imports through the HTTP upload of a real box whose owner lives in Europe/Berlin.
 * Every fixture is written here from RFC 5545 (iCalendar) and RFC 7529 (non-Gregorian rules);
 * dates fall in the current year so that they stay inside the window recurring events are
 * expanded over. Expectations are instants written in UTC, so the machine's TZ changes nothing.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createBox, initHome, type Box } from '../index.ts'
import { limits } from './ical.ts'

const OWNER_ZONE = 'Europe/Berlin'
const Y = new Date().getUTCFullYear()
const DAY = 86400

let box: Box
let url: string
let token: string
let dir: string
before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-ical-'))
  initHome(path.join(dir, 'home'), { passphrase: 'correct horse battery staple', timeZone: OWNER_ZONE })
  box = createBox({ home: path.join(dir, 'home'), port: 0, logLevel: 'silent' })
  await box.open()
  url = await box.listen()
  token = box.arbiter.ownerToken(3600).token
})
after(async () => {
  await box.close()
  fs.rmSync(dir, { recursive: true, force: true })
})

function calendar(...lines: string[]): string {
  return ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//Coffer test//EN', ...lines, 'END:VCALENDAR', ''].join('\r\n')
}

async function upload(body: string, source: string) {
  const res = await fetch(`${url}/api/v1/imports?name=test.ics&source=${source}`, { method: 'POST', body, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' } })
  return { status: res.status, body: await res.json() }
}

async function records(source: string, name: string): Promise<{ t: number; v?: number; vs?: string }[]> {
  const res = await fetch(`${url}/api/v1/sources/${source}/records?name=${name}&limit=100000`, { headers: { authorization: `Bearer ${token}` } })
  assert.equal(res.status, 200)
  return await res.json() as { t: number; v?: number; vs?: string }[]
}

/** The start of each occurrence, as ISO UTC, with its summary. */
async function starts(source: string): Promise<[string, string][]> {
  return (await records(source, 'summary')).map((r) => [iso(r.t), r.vs!])
}

async function durations(source: string): Promise<number[]> {
  return (await records(source, 'duration')).map((r) => r.v!)
}

const iso = (t: number) => new Date(t * 1000).toISOString().replace('.000', '')
const utc = (month: number, day: number, hour = 0, minute = 0, year = Y) => Date.UTC(year, month - 1, day, hour, minute) / 1000
const pad = (n: number) => String(n).padStart(2, '0')
/** An iCalendar DATE-TIME (UTC when `z`) or DATE for an instant, from its UTC fields. */
const ical = (t: number, form: 'z' | 'local' | 'date' = 'z') => {
  const d = new Date(t * 1000)
  const date = `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}`
  return form === 'date' ? date : `${date}T${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}${form === 'z' ? 'Z' : ''}`
}
/** The first given weekday (0 = Sunday) on or after a day. */
const onOrAfter = (t: number, weekday: number) => t + ((weekday - new Date(t * 1000).getUTCDay() + 7) % 7) * DAY

const BERLIN = [
  'BEGIN:VTIMEZONE', 'TZID:Europe/Berlin',
  'BEGIN:DAYLIGHT', 'TZOFFSETFROM:+0100', 'TZOFFSETTO:+0200', 'TZNAME:CEST', 'DTSTART:19700329T020000', 'RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU', 'END:DAYLIGHT',
  'BEGIN:STANDARD', 'TZOFFSETFROM:+0200', 'TZOFFSETTO:+0100', 'TZNAME:CET', 'DTSTART:19701025T030000', 'RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU', 'END:STANDARD',
  'END:VTIMEZONE',
]

test('a VTIMEZONE without a TZID is skipped, named by its line, and the rest is imported', async () => {
  const file = calendar(
    'BEGIN:VTIMEZONE',
    'BEGIN:STANDARD', 'DTSTART:19701025T030000', 'TZOFFSETFROM:+0200', 'TZOFFSETTO:+0100', 'END:STANDARD',
    'END:VTIMEZONE',
    'BEGIN:VEVENT', 'UID:review@coffer', 'DTSTAMP:20260101T000000Z', `DTSTART:${Y}0210T100000Z`, `DTEND:${Y}0210T110000Z`, 'SUMMARY:Review', 'END:VEVENT',
  )
  const res = await upload(file, 'tz-without-id')
  assert.equal(res.status, 200, JSON.stringify(res.body))
  assert.equal(res.body.state, 'done')
  assert.deepEqual(await starts('tz-without-id'), [[iso(utc(2, 10, 10)), 'Review']])
  assert.equal(res.body.warnings.length, 1)
  assert.match(res.body.warnings[0], /VTIMEZONE without a TZID \(line 4\)/)
  const job = await (await fetch(`${url}/api/v1/imports/${res.body.id}`, { headers: { authorization: `Bearer ${token}` } })).json()
  assert.deepEqual(job.warnings, res.body.warnings)
})

test('RDATE;VALUE=PERIOD: each period starts an occurrence, its end or duration gives the length', async () => {
  // RFC 5545 3.8.5.2: "RDATE;VALUE=PERIOD:19960403T020000Z/19960403T040000Z,19960404T010000Z/PT3H".
  const file = calendar(
    'BEGIN:VEVENT', 'UID:periods@coffer', 'DTSTAMP:20260101T000000Z', `DTSTART:${Y}0402T020000Z`, `DTEND:${Y}0402T023000Z`,
    `RDATE;VALUE=PERIOD:${Y}0403T020000Z/${Y}0403T040000Z,${Y}0404T010000Z/PT3H`,
    `RDATE;TZID=Europe/Berlin:${Y}0405T090000`,
    'SUMMARY:Shift', 'END:VEVENT',
  )
  const res = await upload(file, 'periods')
  assert.equal(res.status, 200, JSON.stringify(res.body))
  assert.deepEqual(await starts('periods'), [
    [iso(utc(4, 2, 2)), 'Shift'], [iso(utc(4, 3, 2)), 'Shift'], [iso(utc(4, 4, 1)), 'Shift'], [iso(utc(4, 5, 7)), 'Shift'],
  ])
  assert.deepEqual(await durations('periods'), [1800, 7200, 3 * 3600, 1800])
})

test('a RECURRENCE-ID written in UTC replaces the occurrence it moves in a zoned series, as do UTC EXDATEs', async () => {
  const monday = onOrAfter(utc(1, 5), 1)
  const file = calendar(
    ...BERLIN,
    // Winter: 09:00 in Berlin is 08:00 UTC.
    'BEGIN:VEVENT', 'UID:weekly@coffer', 'DTSTAMP:20260101T000000Z', `DTSTART;TZID=Europe/Berlin:${ical(monday + 9 * 3600, 'local')}`, 'DURATION:PT30M',
    'RRULE:FREQ=WEEKLY;COUNT=4', `EXDATE:${ical(monday + 21 * DAY + 8 * 3600)}`, 'SUMMARY:Weekly', 'END:VEVENT',
    'BEGIN:VEVENT', 'UID:weekly@coffer', 'DTSTAMP:20260101T000000Z', `RECURRENCE-ID:${ical(monday + 7 * DAY + 8 * 3600)}`,
    `DTSTART;TZID=Europe/Berlin:${ical(monday + 7 * DAY + 11 * 3600, 'local')}`, 'DURATION:PT30M', 'SUMMARY:Weekly (moved)', 'END:VEVENT',
    // A zone the file does not define: 09:00 in New York in winter is 14:00 UTC.
    'BEGIN:VEVENT', 'UID:call@coffer', 'DTSTAMP:20260101T000000Z', `DTSTART;TZID=America/New_York:${ical(monday + DAY + 9 * 3600, 'local')}`, 'DURATION:PT1H',
    'RRULE:FREQ=WEEKLY;COUNT=3', `EXDATE:${ical(monday + 15 * DAY + 14 * 3600)}`, 'SUMMARY:Call', 'END:VEVENT',
    'BEGIN:VEVENT', 'UID:call@coffer', 'DTSTAMP:20260101T000000Z', `RECURRENCE-ID:${ical(monday + 8 * DAY + 14 * 3600)}`,
    `DTSTART;TZID=America/New_York:${ical(monday + 8 * DAY + 15 * 3600, 'local')}`, 'DURATION:PT1H', 'SUMMARY:Call (moved)', 'END:VEVENT',
  )
  const res = await upload(file, 'moved')
  assert.equal(res.status, 200, JSON.stringify(res.body))
  assert.deepEqual(await starts('moved'), [
    [iso(monday + 8 * 3600), 'Weekly'],
    [iso(monday + DAY + 14 * 3600), 'Call'],
    [iso(monday + 7 * DAY + 10 * 3600), 'Weekly (moved)'],
    [iso(monday + 8 * DAY + 20 * 3600), 'Call (moved)'],
    [iso(monday + 14 * DAY + 8 * 3600), 'Weekly'],
  ])
})

test('a UNTIL in UTC ends a zoned series at that instant, whether the zone is in the file or not', async () => {
  // RFC 5545 3.3.10: with a TZID on DTSTART, UNTIL is given in UTC; it is inclusive.
  const day = utc(1, 12)
  const file = calendar(
    ...BERLIN,
    'BEGIN:VEVENT', 'UID:berlin@coffer', 'DTSTAMP:20260101T000000Z', `DTSTART;TZID=Europe/Berlin:${ical(day + 10 * 3600, 'local')}`,
    `RRULE:FREQ=DAILY;UNTIL=${ical(day + 2 * DAY + 9 * 3600)}`, 'SUMMARY:Berlin', 'END:VEVENT',
    'BEGIN:VEVENT', 'UID:new-york@coffer', 'DTSTAMP:20260101T000000Z', `DTSTART;TZID=America/New_York:${ical(day + 10 * 3600, 'local')}`,
    `RRULE:FREQ=DAILY;UNTIL=${ical(day + 2 * DAY + 15 * 3600 - 1)}`, 'SUMMARY:New York', 'END:VEVENT',
  )
  const res = await upload(file, 'until')
  assert.equal(res.status, 200, JSON.stringify(res.body))
  assert.deepEqual(await starts('until'), [
    [iso(day + 9 * 3600), 'Berlin'], [iso(day + 15 * 3600), 'New York'],
    [iso(day + DAY + 9 * 3600), 'Berlin'], [iso(day + DAY + 15 * 3600), 'New York'],
    [iso(day + 2 * DAY + 9 * 3600), 'Berlin'],
  ])
})

test('several RRULEs, RDATEs and EXDATEs: the union of the rules and dates, minus the exceptions, each once', async () => {
  const monday = onOrAfter(utc(1, 5, 9), 1)
  const file = calendar(
    'BEGIN:VEVENT', 'UID:rules@coffer', 'DTSTAMP:20260101T000000Z', `DTSTART:${ical(monday)}`, 'DURATION:PT1H',
    'RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=3',
    `RRULE:FREQ=WEEKLY;BYDAY=WE;UNTIL=${ical(monday + 16 * DAY)}`,
    `RDATE:${ical(monday + 7 * DAY)},${ical(monday + 4 * DAY)}`,
    `EXDATE:${ical(monday + 9 * DAY)}`,
    'SUMMARY:Gym', 'END:VEVENT',
    // Two rules that share occurrences: each shared one is imported once.
    'BEGIN:VEVENT', 'UID:overlap@coffer', 'DTSTAMP:20260101T000000Z', `DTSTART:${ical(monday + 12 * 3600)}`, 'DURATION:PT1H',
    'RRULE:FREQ=DAILY;COUNT=3', 'RRULE:FREQ=WEEKLY;BYDAY=MO,WE;COUNT=4', 'SUMMARY:Lunch', 'END:VEVENT',
  )
  const res = await upload(file, 'rules')
  assert.equal(res.status, 200, JSON.stringify(res.body))
  const gym = (await starts('rules')).filter(([, s]) => s === 'Gym').map(([t]) => t)
  assert.deepEqual(gym, [0, 2, 4, 7, 14, 16].map((d) => iso(monday + d * DAY)))
  const lunch = (await starts('rules')).filter(([, s]) => s === 'Lunch').map(([t]) => t)
  assert.deepEqual(lunch, [0, 1, 2, 7, 9].map((d) => iso(monday + d * DAY + 12 * 3600)))
})

test('RSCALE (RFC 7529): Gregorian rules are imported, other calendars are skipped and named, never the whole file', async () => {
  const file = calendar(
    'BEGIN:VEVENT', 'UID:plain@coffer', 'DTSTAMP:20260101T000000Z', `DTSTART:${Y}0301T100000Z`, 'DURATION:PT1H', 'SUMMARY:Plain', 'END:VEVENT',
    // RFC 7529 4.3: Chinese New Year, yearly in the Chinese calendar; the fold splits the scale's name.
    'BEGIN:VEVENT', 'UID:chinese-new-year@coffer', 'DTSTAMP:20260101T000000Z', `DTSTART;VALUE=DATE:${Y}0210`,
    'RRULE:RSCALE=CHI', ' NESE;FREQ=YEARLY', 'SUMMARY:Chinese New Year', 'END:VEVENT',
    'BEGIN:VEVENT', 'UID:chinese-new-year@coffer', 'DTSTAMP:20260101T000000Z', `RECURRENCE-ID;VALUE=DATE:${Y}0210`, `DTSTART;VALUE=DATE:${Y}0211`, 'SUMMARY:Chinese New Year (moved)', 'END:VEVENT',
    // RFC 7529: the thirteenth month exists only in the Ethiopic calendar.
    'BEGIN:VEVENT', 'UID:ethiopic@coffer', 'DTSTAMP:20260101T000000Z', `DTSTART;VALUE=DATE:${Y}0906`, 'RRULE:RSCALE=ETHIOPIC;FREQ=MONTHLY;BYMONTH=13', 'SUMMARY:Pagume', 'END:VEVENT',
    // Gregorian with the default SKIP=OMIT is an RFC 5545 rule.
    'BEGIN:VEVENT', 'UID:gregorian@coffer', 'DTSTAMP:20260101T000000Z', `DTSTART:${Y}0315T100000Z`, 'DURATION:PT1H', 'RRULE:RSCALE=GREGORIAN;FREQ=MONTHLY;COUNT=2', 'SUMMARY:Gregorian', 'END:VEVENT',
    'BEGIN:VEVENT', 'UID:leap@coffer', 'DTSTAMP:20260101T000000Z', `DTSTART:${Y}0131T100000Z`, 'DURATION:PT1H', 'RRULE:RSCALE=GREGORIAN;FREQ=MONTHLY;SKIP=FORWARD;COUNT=3', 'SUMMARY:Month end', 'END:VEVENT',
  )
  const res = await upload(file, 'rscale')
  assert.equal(res.status, 200, JSON.stringify(res.body))
  assert.deepEqual(await starts('rscale'), [
    [iso(utc(3, 1, 10)), 'Plain'], [iso(utc(3, 15, 10)), 'Gregorian'], [iso(utc(4, 15, 10)), 'Gregorian'],
  ])
  assert.deepEqual(res.body.warnings, [
    'skipped 1 event with RSCALE=CHINESE (line 11) and 1 moved occurrence of it (line 19): not supported; only Gregorian recurrence rules are expanded',
    'skipped 1 event with RSCALE=ETHIOPIC (line 26): not supported; only Gregorian recurrence rules are expanded',
    'skipped 1 event with RSCALE=GREGORIAN;SKIP=FORWARD (line 41): not supported; only Gregorian recurrence rules are expanded',
  ])
})

test('a long-running daily series is expanded over a window around the import, not from its start', async () => {
  const now = Date.now() / 1000
  const file = calendar(
    'BEGIN:VEVENT', 'UID:daily@coffer', 'DTSTAMP:20260101T000000Z', 'DTSTART:19900101T120000Z', 'DURATION:PT15M', 'RRULE:FREQ=DAILY', 'SUMMARY:Daily', 'END:VEVENT',
    'BEGIN:VEVENT', 'UID:every-third-day@coffer', 'DTSTAMP:20260101T000000Z', 'DTSTART:19800101T060000Z', 'DURATION:PT15M', 'RRULE:FREQ=DAILY;INTERVAL=3', 'SUMMARY:Every third day', 'END:VEVENT',
  )
  const res = await upload(file, 'daily')
  assert.equal(res.status, 200, JSON.stringify(res.body))
  const all = await records('daily', 'summary')
  const daily = all.filter((r) => r.vs === 'Daily').map((r) => r.t)
  const yearsFromNow = (years: number) => { const d = new Date(now * 1000); d.setUTCFullYear(d.getUTCFullYear() + years); return d.getTime() / 1000 }
  const today = Math.floor(now / DAY) * DAY + 12 * 3600
  assert.ok(daily.includes(today), 'the occurrence on the day of the import')
  assert.ok(daily[0]! >= yearsFromNow(-10) && daily[0]! < yearsFromNow(-10) + DAY, `first ${iso(daily[0]!)}`)
  assert.ok(daily.at(-1)! <= yearsFromNow(2) && daily.at(-1)! > yearsFromNow(2) - DAY, `last ${iso(daily.at(-1)!)}`)
  assert.equal(daily.length, Math.round((daily.at(-1)! - daily[0]!) / DAY) + 1, 'one a day, none missing')
  const third = all.filter((r) => r.vs === 'Every third day').map((r) => r.t)
  assert.ok(third.length > 1400)
  assert.ok(third.every((t) => (t - utc(1, 1, 6, 0, 1980)) % (3 * DAY) === 0), 'every third day counted from 1980')
  assert.deepEqual(res.body.warnings, [])
})

test('an event recurring more often than the window holds keeps the occurrences nearest the import', async () => {
  const now = Date.now() / 1000
  const start = Math.floor(now / 3600) * 3600 - 60 * DAY
  const file = calendar('BEGIN:VEVENT', 'UID:hourly@coffer', 'DTSTAMP:20260101T000000Z', `DTSTART:${ical(start)}`, 'RRULE:FREQ=HOURLY', 'SUMMARY:Hourly', 'END:VEVENT')
  const res = await upload(file, 'hourly')
  assert.equal(res.status, 200, JSON.stringify(res.body))
  const hourly = (await records('hourly', 'summary')).map((r) => r.t)
  assert.equal(hourly.length, 10_000)
  assert.equal(hourly[0], start)
  assert.equal(hourly.at(-1), start + 9_999 * 3600)
  assert.match(res.body.warnings[0], /kept the 10,000 occurrences nearest the import of 1 event \(line 4\)/)
})

test('all-day dates and floating times are read in the owner\'s time zone', async () => {
  const lastSundayOfMarch = onOrAfter(utc(3, 25), 0)
  const file = calendar(
    'BEGIN:VEVENT', 'UID:holiday@coffer', 'DTSTAMP:20260101T000000Z', `DTSTART;VALUE=DATE:${Y}0706`, `DTEND;VALUE=DATE:${Y}0707`, 'SUMMARY:Holiday', 'END:VEVENT',
    'BEGIN:VEVENT', 'UID:floating@coffer', 'DTSTAMP:20260101T000000Z', `DTSTART:${Y}0706T090000`, `DTEND:${Y}0706T100000`, 'SUMMARY:Floating', 'END:VEVENT',
    // The day clocks go forward lasts 23 hours; a daily all-day series starts at each local midnight.
    'BEGIN:VEVENT', 'UID:spring@coffer', 'DTSTAMP:20260101T000000Z', `DTSTART;VALUE=DATE:${ical(lastSundayOfMarch - DAY, 'date')}`, 'RRULE:FREQ=DAILY;COUNT=2', 'SUMMARY:Spring', 'END:VEVENT',
    // A TZID that is neither in the file nor an IANA name: read as the owner's zone, and said so.
    'BEGIN:VEVENT', 'UID:outlook@coffer', 'DTSTAMP:20260101T000000Z', `DTSTART;TZID=Customized Time Zone:${Y}0707T090000`, 'DURATION:PT1H', 'SUMMARY:Outlook', 'END:VEVENT',
  )
  const res = await upload(file, 'owner-zone')
  assert.equal(res.status, 200, JSON.stringify(res.body))
  assert.deepEqual(await starts('owner-zone'), [
    [iso(lastSundayOfMarch - DAY - 3600), 'Spring'],
    [iso(lastSundayOfMarch - 3600), 'Spring'],
    [iso(utc(7, 5, 22)), 'Holiday'],
    [iso(utc(7, 6, 7)), 'Floating'],
    [iso(utc(7, 7, 7)), 'Outlook'],
  ])
  assert.deepEqual(await durations('owner-zone'), [DAY, DAY - 3600, DAY, 3600, 3600])
  assert.deepEqual(res.body.warnings, ['read 1 event in the box\'s time zone (Europe/Berlin): its TZID "Customized Time Zone" is neither defined in the file nor an IANA zone (line 25)'])
})

test('an event ical.js cannot read is refused with its line, never a server error', async () => {
  // ical.js reads an EXDATE's value only when the series is expanded.
  const file = calendar('BEGIN:VEVENT', 'UID:broken@coffer', 'DTSTAMP:20260101T000000Z', `DTSTART:${Y}0301T100000Z`, 'RRULE:FREQ=DAILY;COUNT=3', 'EXDATE:tomorrow', 'SUMMARY:Broken', 'END:VEVENT')
  const res = await upload(file, 'broken')
  assert.equal(res.status, 400, JSON.stringify(res.body))
  assert.match(res.body.detail, /line 4 could not be read: invalid date-time value/)
  assert.match(res.body.detail, /Nothing was imported/)
  const source = await fetch(`${url}/api/v1/sources/broken`, { headers: { authorization: `Bearer ${token}` } })
  assert.equal(source.status, 404, 'nothing of the import is left')
})

test('a date a rule reaches that does not exist is ignored and not counted, never moved to the next day (RFC 5545 3.3.10)', async () => {
  // The latest 29 February at least three years back: it and the one four years on are in the window.
  let leap = Y - 3
  while (new Date(Date.UTC(leap, 1, 29)).getUTCDate() !== 29) leap--
  const file = calendar(
    // A birthday on a leap day, all-day: every four years, not on 1 March in between.
    'BEGIN:VEVENT', 'UID:leap-birthday@coffer', 'DTSTAMP:20260101T000000Z', `DTSTART;VALUE=DATE:${leap}0229`, `RRULE:FREQ=YEARLY;UNTIL=${leap + 4}1231`, 'SUMMARY:Birthday', 'END:VEVENT',
    // COUNT counts only occurrences that exist: the second is four years on.
    'BEGIN:VEVENT', 'UID:leap-count@coffer', 'DTSTAMP:20260101T000000Z', `DTSTART:${leap}0229T120000Z`, 'RRULE:FREQ=YEARLY;COUNT=2', 'SUMMARY:Leap day', 'END:VEVENT',
    // April has no 31st: the rule gives nothing but DTSTART, not 1 May.
    'BEGIN:VEVENT', 'UID:april-31@coffer', 'DTSTAMP:20260101T000000Z', `DTSTART:${Y}0115T090000Z`, 'RRULE:FREQ=YEARLY;BYMONTH=4;BYMONTHDAY=31;COUNT=3', 'SUMMARY:April 31', 'END:VEVENT',
  )
  const res = await upload(file, 'invalid-dates')
  assert.equal(res.status, 200, JSON.stringify(res.body))
  const all = await starts('invalid-dates')
  assert.deepEqual(all.filter(([, s]) => s === 'Birthday').map(([t]) => t), [iso(utc(2, 28, 23, 0, leap)), iso(utc(2, 28, 23, 0, leap + 4))], 'midnight in Berlin, 29 February only')
  assert.deepEqual(all.filter(([, s]) => s === 'Leap day').map(([t]) => t), [iso(utc(2, 29, 12, 0, leap)), iso(utc(2, 29, 12, 0, leap + 4))])
  assert.deepEqual(all.filter(([, s]) => s === 'April 31').map(([t]) => t), [iso(utc(1, 15, 9))])
})

test('a SECONDLY, MINUTELY or HOURLY rule limiting its own unit steps by INTERVAL from DTSTART and keeps what the limit lists (RFC 5545 3.3.10)', async () => {
  const file = calendar(
    // Every hour from 08:00, only at 09 and 12: 09:00 the same day is the first match.
    'BEGIN:VEVENT', 'UID:hourly-byhour@coffer', 'DTSTAMP:20260101T000000Z', `DTSTART:${Y}0302T080000Z`, 'RRULE:FREQ=HOURLY;BYHOUR=9,12;COUNT=5', 'SUMMARY:A', 'END:VEVENT',
    // Every five hours from 09:00 reaches 09, 14 and 19 again only five days later.
    'BEGIN:VEVENT', 'UID:every-five-hours@coffer', 'DTSTAMP:20260101T000000Z', `DTSTART:${Y}0310T090000Z`, `RRULE:FREQ=HOURLY;INTERVAL=5;BYHOUR=9,14,19;UNTIL=${Y}0316T000000Z`, 'SUMMARY:B', 'END:VEVENT',
    // Every two hours from 08:00 falls on even hours only: never 09.
    'BEGIN:VEVENT', 'UID:every-two-hours@coffer', 'DTSTAMP:20260101T000000Z', `DTSTART:${Y}0320T080000Z`, 'RRULE:FREQ=HOURLY;INTERVAL=2;BYHOUR=9,12,14;COUNT=4', 'SUMMARY:C', 'END:VEVENT',
    // Every twenty minutes from 08:00 is on the half hour only at :00.
    'BEGIN:VEVENT', 'UID:every-twenty-minutes@coffer', 'DTSTAMP:20260101T000000Z', `DTSTART:${Y}0325T080000Z`, 'RRULE:FREQ=MINUTELY;INTERVAL=20;BYMINUTE=0,30;COUNT=3', 'SUMMARY:D', 'END:VEVENT',
  )
  const res = await upload(file, 'own-unit')
  assert.equal(res.status, 200, JSON.stringify(res.body))
  const of = (summary: string) => starts('own-unit').then((all) => all.filter(([, s]) => s === summary).map(([t]) => t.slice(5, 16)))
  assert.deepEqual(await of('A'), ['03-02T08:00', '03-02T09:00', '03-02T12:00', '03-03T09:00', '03-03T12:00'])
  assert.deepEqual(await of('B'), ['03-10T09:00', '03-10T14:00', '03-10T19:00', '03-15T09:00', '03-15T14:00', '03-15T19:00'])
  assert.deepEqual(await of('C'), ['03-20T08:00', '03-20T12:00', '03-20T14:00', '03-21T12:00'])
  assert.deepEqual(await of('D'), ['03-25T08:00', '03-25T09:00', '03-25T10:00'])
})

/** The upload of `body` under a new import id, and each state of that import the box reported while it ran. */
async function uploadWatched(body: string, source: string) {
  const id = crypto.randomUUID()
  const states: string[] = []
  const done = fetch(`${url}/api/v1/imports?name=test.ics&source=${source}&id=${id}`, { method: 'POST', body, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' } })
    .then(async (res) => ({ status: res.status, body: await res.json() }))
  let finished = false
  void done.finally(() => (finished = true))
  while (!finished) {
    const job = await fetch(`${url}/api/v1/imports/${id}`, { headers: { authorization: `Bearer ${token}` } })
    if (job.status === 200) states.push((await job.json()).state)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return { ...(await done), states }
}

const HOSTILE_ZONE = [
  'BEGIN:VTIMEZONE', 'TZID:Never/Changes',
  'BEGIN:STANDARD', 'TZOFFSETFROM:+0100', 'TZOFFSETTO:+0100', 'DTSTART:19700101T000000', 'RRULE:FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30', 'END:STANDARD',
  'END:VTIMEZONE',
]

test('an event whose rule never matches, or whose time zone\'s never does, is skipped with its line while the box goes on answering', async () => {
  const entryMs = limits.entryMs
  limits.entryMs = 1000
  try {
    const file = calendar(
      ...HOSTILE_ZONE,
      'BEGIN:VEVENT', 'UID:before@coffer', 'DTSTAMP:20260101T000000Z', `DTSTART:${Y}0105T100000Z`, 'DURATION:PT1H', 'SUMMARY:Before', 'END:VEVENT',
      // February never has a 30th; week 30 is never in February; ical.js looks for them for ever.
      'BEGIN:VEVENT', 'UID:february-30@coffer', 'DTSTAMP:20260101T000000Z', `DTSTART:${Y}0110T100000Z`, 'RRULE:FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30', 'SUMMARY:Never', 'END:VEVENT',
      'BEGIN:VEVENT', 'UID:week-30@coffer', 'DTSTAMP:20260101T000000Z', `DTSTART:${Y}0110T100000Z`, 'RRULE:FREQ=WEEKLY;BYMONTH=2;BYWEEKNO=30', 'SUMMARY:Never', 'END:VEVENT',
      // A time in a zone whose rule never matches, and an override in it, as read in pass 2.
      'BEGIN:VEVENT', 'UID:zoned@coffer', 'DTSTAMP:20260101T000000Z', `DTSTART;TZID=Never/Changes:${Y}0112T100000`, 'SUMMARY:Never', 'END:VEVENT',
      'BEGIN:VEVENT', 'UID:weekly@coffer', 'DTSTAMP:20260101T000000Z', `DTSTART:${Y}0113T100000Z`, 'RRULE:FREQ=WEEKLY;COUNT=2', 'SUMMARY:Weekly', 'END:VEVENT',
      'BEGIN:VEVENT', 'UID:weekly@coffer', 'DTSTAMP:20260101T000000Z', `RECURRENCE-ID;TZID=Never/Changes:${Y}0120T110000`, `DTSTART:${Y}0121T100000Z`, 'SUMMARY:Never', 'END:VEVENT',
      'BEGIN:VEVENT', 'UID:after@coffer', 'DTSTAMP:20260101T000000Z', `DTSTART:${Y}0131T100000Z`, 'DURATION:PT1H', 'SUMMARY:After', 'END:VEVENT',
    )
    const res = await uploadWatched(file, 'never')
    assert.equal(res.status, 200, JSON.stringify(res.body))
    assert.ok(res.states.includes('importing'), `the box answered while the import ran: ${res.states.join(', ')}`)
    assert.deepEqual(await starts('never'), [
      [iso(utc(1, 5, 10)), 'Before'], [iso(utc(1, 13, 10)), 'Weekly'], [iso(utc(1, 20, 10)), 'Weekly'], [iso(utc(1, 31, 10)), 'After'],
    ])
    assert.deepEqual(res.body.warnings, ['skipped 4 events (lines 20, 27, 34 and 47) whose recurrence rule never matches or takes too long to expand (more than 1 s)'])
  } finally {
    limits.entryMs = entryMs
  }
})

test('a calendar with more such events than the limit is refused whole', async () => {
  const { entryMs, overruns } = limits
  Object.assign(limits, { entryMs: 500, overruns: 1 })
  try {
    const file = calendar(
      'BEGIN:VEVENT', 'UID:fine@coffer', 'DTSTAMP:20260101T000000Z', `DTSTART:${Y}0105T100000Z`, 'SUMMARY:Fine', 'END:VEVENT',
      'BEGIN:VEVENT', 'UID:never-1@coffer', 'DTSTAMP:20260101T000000Z', `DTSTART:${Y}0110T100000Z`, 'RRULE:FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30', 'SUMMARY:Never', 'END:VEVENT',
      'BEGIN:VEVENT', 'UID:never-2@coffer', 'DTSTAMP:20260101T000000Z', `DTSTART:${Y}0110T100000Z`, 'RRULE:FREQ=HOURLY;BYMONTH=2;BYMONTHDAY=30', 'SUMMARY:Never', 'END:VEVENT',
    )
    const res = await upload(file, 'hostile')
    assert.equal(res.status, 400, JSON.stringify(res.body))
    assert.match(res.body.detail, /The calendar has 2 events \(lines 10 and 17\) whose recurrence rule never matches or takes too long to expand; an import skips at most 1\. Nothing was imported\./)
    const source = await fetch(`${url}/api/v1/sources/hostile`, { headers: { authorization: `Bearer ${token}` } })
    assert.equal(source.status, 404, 'nothing of the import is left')
  } finally {
    Object.assign(limits, { entryMs, overruns })
  }
})
