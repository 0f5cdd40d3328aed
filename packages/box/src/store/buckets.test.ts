import { test } from 'node:test'
import assert from 'node:assert/strict'
import { bucketBoundaries, onGrid, parseBucket, utcOffset, wallClockToEpoch } from './buckets.ts'
import { InvalidInput } from '../errors/index.ts'

const iso = (t: number) => new Date(t * 1000).toISOString()

test('bucket sizes parse; nonsense is refused with a hint', () => {
  assert.equal(parseBucket('5m').seconds, 300)
  assert.equal(parseBucket('1w').seconds, 604800)
  assert.equal(parseBucket('1mo').unit, 'mo')
  assert.equal(parseBucket('1y').unit, 'y')
  for (const bad of ['', '0h', '1x', 'h', '1.5h', '-1d']) assert.throws(() => parseBucket(bad), InvalidInput)
})

test('day buckets follow local midnights, including 23- and 25-hour days', () => {
  const from = wallClockToEpoch('Europe/Berlin', Date.UTC(2026, 9, 24) / 1000)
  const to = wallClockToEpoch('Europe/Berlin', Date.UTC(2026, 9, 27) / 1000)
  const b = bucketBoundaries(from, to, parseBucket('1d'), 'Europe/Berlin')
  assert.deepEqual(b.map(iso), ['2026-10-23T22:00:00.000Z', '2026-10-24T22:00:00.000Z', '2026-10-25T23:00:00.000Z', '2026-10-26T23:00:00.000Z'])
  assert.equal(b[2]! - b[1]!, 25 * 3600)
})

test('hour buckets follow the wall clock of half-hour zones; ranges are clipped', () => {
  const from = Date.UTC(2026, 0, 1, 0, 0) / 1000
  const b = bucketBoundaries(from, from + 7200, parseBucket('1h'), 'Asia/Kolkata')
  assert.deepEqual(b.map(iso), ['2026-01-01T00:00:00.000Z', '2026-01-01T00:30:00.000Z', '2026-01-01T01:30:00.000Z', '2026-01-01T02:00:00.000Z'])
})

test('weeks start on Monday', () => {
  const from = Date.UTC(2026, 10, 19) / 1000 // a Thursday
  const b = bucketBoundaries(from, from + 14 * 86400, parseBucket('1w'), 'UTC')
  assert.deepEqual(b.slice(1, 3).map(iso), ['2026-11-23T00:00:00.000Z', '2026-11-30T00:00:00.000Z'])
})

test('offsets and bad zones', () => {
  assert.equal(utcOffset('America/New_York', Date.UTC(2026, 6, 1) / 1000), -4 * 3600)
  assert.throws(() => bucketBoundaries(0, 86400, parseBucket('1d'), 'Mars/Olympus'), /time zone/)
  assert.throws(() => bucketBoundaries(0, 1e9, parseBucket('1s'), 'UTC'), /more than/)
  assert.throws(() => bucketBoundaries(10, 10, parseBucket('1h'), 'UTC'), /empty/)
})

test('grids are anchored: 2-day buckets start on even epoch days, 2-week ones on alternate Mondays, whatever the range', () => {
  const twoDays = parseBucket('2d')
  // 2026-11-20 is epoch day 20,777 (odd): its 2-day cell began on the 19th.
  const from = Date.UTC(2026, 10, 20) / 1000
  assert.deepEqual(bucketBoundaries(from, from + 4 * 86400, twoDays, 'UTC').map(iso),
    ['2026-11-20T00:00:00.000Z', '2026-11-21T00:00:00.000Z', '2026-11-23T00:00:00.000Z', '2026-11-24T00:00:00.000Z'])
  assert.equal(onGrid(Date.UTC(2026, 10, 19) / 1000, 2 * 86400, 'UTC'), true)
  assert.equal(onGrid(Date.UTC(2026, 10, 20) / 1000, 2 * 86400, 'UTC'), false)
  const mondays = [Date.UTC(2026, 10, 16), Date.UTC(2026, 10, 23)].map((ms) => onGrid(ms / 1000, 14 * 86400, 'UTC'))
  assert.notEqual(mondays[0], mondays[1])
})

test('a whole number of days spelled in hours is cut at local midnights, across a clock change too', () => {
  const tz = 'Europe/Berlin'
  const from = wallClockToEpoch(tz, Date.UTC(2026, 9, 24) / 1000)
  const to = wallClockToEpoch(tz, Date.UTC(2026, 9, 27) / 1000)
  assert.deepEqual(bucketBoundaries(from, to, parseBucket('24h'), tz), bucketBoundaries(from, to, parseBucket('1d'), tz))
  // Three fixed days from a local midnight end an hour off the grid once the clocks go back.
  assert.equal(onGrid(from + 3 * 86400, 86400, tz), false)
})

test('month and year buckets follow the local calendar', () => {
  const tz = 'Europe/Berlin'
  const from = wallClockToEpoch(tz, Date.UTC(2026, 0, 15) / 1000)
  const to = wallClockToEpoch(tz, Date.UTC(2026, 4, 1) / 1000)
  const months = bucketBoundaries(from, to, parseBucket('1mo'), tz)
  assert.deepEqual(months.map(iso), ['2026-01-14T23:00:00.000Z', '2026-01-31T23:00:00.000Z', '2026-02-28T23:00:00.000Z', '2026-03-31T22:00:00.000Z', '2026-04-30T22:00:00.000Z'])
  const quarters = bucketBoundaries(from, to, parseBucket('3mo'), tz)
  assert.deepEqual(quarters.map(iso), ['2026-01-14T23:00:00.000Z', '2026-03-31T22:00:00.000Z', '2026-04-30T22:00:00.000Z'])
  const years = bucketBoundaries(Date.UTC(2024, 5, 1) / 1000, Date.UTC(2026, 5, 1) / 1000, parseBucket('1y'), 'UTC')
  assert.deepEqual(years.map(iso), ['2024-06-01T00:00:00.000Z', '2025-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z', '2026-06-01T00:00:00.000Z'])
  assert.equal(onGrid(wallClockToEpoch(tz, Date.UTC(2026, 3, 1) / 1000), 2_629_746, tz), true)
  assert.equal(onGrid(wallClockToEpoch(tz, Date.UTC(2026, 3, 2) / 1000), 2_629_746, tz), false)
})

test('offsets answered from the quarter-hour cache equal what Intl says, at odd historical changes too', () => {
  const zones = ['Europe/Berlin', 'America/St_Johns', 'Asia/Kathmandu', 'Australia/Lord_Howe', 'Africa/Monrovia', 'Europe/Amsterdam']
  let seed = 7
  const next = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31
  for (const tz of zones) {
    const f = new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' })
    for (let i = 0; i < 400; i++) {
      const t = Math.floor(-2.2e9 + next() * 4.4e9)
      const p = Object.fromEntries(f.formatToParts(new Date(t * 1000)).filter((x) => x.type !== 'literal').map((x) => [x.type, Number(x.value)]))
      const expected = Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!, p.second!) / 1000 - t
      assert.equal(utcOffset(tz, t), expected, `${tz} at ${t}`)
      assert.equal(utcOffset(tz, t), expected, `${tz} at ${t}, cached`)
    }
  }
})
