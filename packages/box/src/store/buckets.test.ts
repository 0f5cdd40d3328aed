import { test } from 'node:test'
import assert from 'node:assert/strict'
import { bucketBoundaries, parseBucket, utcOffset, wallClockToEpoch } from './buckets.ts'
import { InvalidInput } from '../errors/index.ts'

const iso = (t: number) => new Date(t * 1000).toISOString()

test('bucket sizes parse; nonsense is refused with a hint', () => {
  assert.equal(parseBucket('5m').seconds, 300)
  assert.equal(parseBucket('1w').seconds, 604800)
  for (const bad of ['', '0h', '1y', 'h', '1.5h', '-1d']) assert.throws(() => parseBucket(bad), InvalidInput)
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
