import { test } from 'node:test'
import assert from 'node:assert/strict'
import { describeDuration, durationAdjective, durationPattern, formatDuration, parseDuration } from './index.ts'
import { InvalidInput } from '../errors/index.ts'

test('durations parse in seconds, minutes, hours, days, weeks, months and years', () => {
  assert.deepEqual(['90s', '5m', '12h', '30d', '52w', '999999s'].map((d) => parseDuration(d)), [90, 300, 43200, 2592000, 31449600, 999999])
  // Calendar units measure as the average Gregorian month and year; "mo" is never minutes.
  assert.deepEqual(['1mo', '3mo', '1y'].map((d) => parseDuration(d)), [2_629_746, 3 * 2_629_746, 12 * 2_629_746])
})

test('anything else is refused, naming the field at fault', () => {
  for (const bad of ['', '0h', '1x', 'h', '1.5h', '-1d', '01d', '1000000s', ' 1d', '1D', '1M', '1mon', 'mo']) {
    assert.throws(() => parseDuration(bad, 'expiresIn'), (err: unknown) => err instanceof InvalidInput && err.extras.field === 'expiresIn' && /not a duration/.test(err.message))
  }
})

test('the compact form uses the largest unit that fits evenly, and parses back', () => {
  assert.deepEqual([1, 60, 5400, 86400, 1209600, 0, 2_629_746, 31_556_952, 31_449_600].map(formatDuration), ['1s', '1m', '90m', '1d', '2w', '0s', '1mo', '1y', '52w'])
  for (const seconds of [7, 300, 7200, 172800, 604800, 3 * 2_629_746]) assert.equal(parseDuration(formatDuration(seconds)), seconds)
  assert.throws(() => formatDuration(1.5), RangeError)
})

test('words as the box says them to the owner', () => {
  assert.deepEqual([604800, 172800, 3600, 300, 90, 1, 2_629_746, 31_556_952].map(describeDuration), ['1 week', '2 days', '1 hour', '5 minutes', '90 seconds', '1 second', '1 month', '1 year'])
  assert.deepEqual([86400, 3600, 300, 60, 1, 2_629_746].map(durationAdjective), ['daily', 'hourly', '5-minute', 'minute-by-minute', 'second-by-second', 'monthly'])
})

test('a narrower pattern keeps only the units asked for', () => {
  const minutesUp = new RegExp(durationPattern(['m', 'h', 'd', 'w'], 5))
  assert.ok(minutesUp.test('30d') && minutesUp.test('99999m'))
  assert.ok(!minutesUp.test('30s') && !minutesUp.test('100000m'))
})
