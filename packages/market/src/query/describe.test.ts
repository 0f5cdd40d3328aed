import assert from 'node:assert/strict'
import { test } from 'node:test'
import { DEFAULT_VOCABULARY } from '../vocabulary/index.ts'
import { describeQuery, parseQuery } from './index.ts'

const describe = (text: string) => describeQuery(parseQuery(text), DEFAULT_VOCABULARY)

test("the owner reads what of theirs a query asks for, and whom it asks", () => {
  assert.equal(
    describe('SELECT AVG(MEAN(SUM(Activity.steps) PER 1d) DURING 2026-10-01 .. 2026-11-01) WHERE (Identity.city = aachen) OR (Identity.age > 30 AND Health.smoker = false)'),
    'the average of your daily step totals from 1 to 31 October 2026, averaged over everyone who answers, if you live in Aachen, or are over 30 and do not smoke',
  )
})

test('conditions without a phrase of their own read "your … is …", and "you" returns after one', () => {
  assert.equal(
    describe('SELECT COUNT(*) WHERE MAX(MEAN(Health.heart_rate) PER 1d) DURING 2026-10-05 .. 2026-10-06 >= 100 AND Identity.city != bad-homburg AND Health.smoker != false'),
    'whether you answer, counted over everyone who does, if the highest of your daily heart rate averages on 5 October 2026 is at least 100 beats per minute and you do not live in Bad-Homburg and smoke',
  )
})

test('histograms name their ranges and unit; datasets list the values', () => {
  assert.equal(
    describe('SELECT HISTOGRAM(LAST(LAST(Health.weight) PER 1d) DURING 2026-09-15 .. 2026-10-15, [40, 60, 80, 200]) WHERE Health.weight < 0'),
    'the last of your daily weights from 15 September to 14 October 2026, counted over everyone who answers in the ranges 40 to 60, 60 to 80 and 80 to 200 kg, if you weigh under 0 kg',
  )
  assert.equal(describe("SELECT Identity.age, Identity.postcode WHERE Identity.gender = 'non-binary'"), 'your age; your postcode, if you are non-binary')
  assert.equal(
    describe('SELECT SUM(SUM(SUM(Energy.electricity) PER 1mo) DURING 2025-12-01 .. 2026-03-01), COUNT(Identity.city)'),
    'the sum of your monthly electricity use totals from 1 December 2025 to 28 February 2026, summed over everyone who answers; whether you have your city, counted over everyone who answers',
  )
  assert.equal(
    describe('SELECT AVG(COUNT(COUNT(Location.visits) PER 6h) DURING 2026-10-01 .. 2026-10-08)'),
    'the number of your 6-hour place visit counts from 1 to 7 October 2026, averaged over everyone who answers',
  )
})
