import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  createNoiseSampler,
  decodeSum,
  discreteLaplaceTail,
  discreteLaplaceVariance,
  drawNoise,
  encodeValue,
  errorBars,
  expectedError,
  fixedPointBounds,
  InvalidPrivacyParameter,
  NotShared,
  planNoise,
  rational,
  seededRandom,
  toText,
  type NoisePlan,
} from './index.ts'

const scales = (plan: NoisePlan) => Object.fromEntries(plan.components.map((c) => [c.name, toText(c.scale)]))

/** The least h with P[|X| > h] = P[|X| ≥ h + 1] ≤ 5 % for one discrete Laplace draw, from its closed-form tail. */
function exactQuantile(scale: ReturnType<typeof rational>): number {
  let h = 0
  while (discreteLaplaceTail(scale, h + 1) > 0.05) h++
  return h
}

/** The total noise the processor sees: every aggregator's draw added up. */
function totalNoise(plan: NoisePlan, sampler: ReturnType<typeof createNoiseSampler>) {
  let count = 0n
  let sum = 0n
  for (let a = 0; a < plan.aggregators; a++) {
    const noise = drawNoise(plan, sampler)
    count += noise.count ?? 0n
    sum += noise.sum ?? 0n
  }
  return { count, sum }
}

describe('fixed point', () => {
  it('scales declared bounds by 10^decimals exactly, widening rather than narrowing them', () => {
    assert.deepEqual(fixedPointBounds(0, 30000), { lo: 0n, hi: 30000n, decimals: 0 })
    assert.deepEqual(fixedPointBounds(0.5, 2.25, 1), { lo: 5n, hi: 23n, decimals: 1 })
    assert.deepEqual(fixedPointBounds(-1.25, 3, 1), { lo: -13n, hi: 30n, decimals: 1 })
    assert.deepEqual(fixedPointBounds(0.1, 0.3, 2), { lo: 10n, hi: 30n, decimals: 2 }) // not 0.30000000000000004
    assert.throws(() => fixedPointBounds(5, 5), InvalidPrivacyParameter)
    assert.throws(() => fixedPointBounds(0, Infinity), InvalidPrivacyParameter)
    assert.throws(() => fixedPointBounds(0, 1, 1.5), InvalidPrivacyParameter)
  })

  it('clips a value to the bounds and shifts it to start at 0; a sum decodes back', () => {
    const bounds = fixedPointBounds(-10, 40, 1)
    assert.equal(encodeValue(36.55, bounds), 466n) // 365.5 → 366, minus -100
    assert.equal(encodeValue(1000, bounds), 500n)
    assert.equal(encodeValue(-1000, bounds), 0n)
    assert.equal(decodeSum(466n + 500n + 0n, 3n, bounds), 36.6 + 40 - 10)
    assert.throws(() => encodeValue(Number.NaN, bounds), InvalidPrivacyParameter)
  })
})

describe('noise plans', () => {
  it('scale = sensitivity / ε, with ε split between a sum and a count when both are released', () => {
    assert.deepEqual(scales(planNoise({ kind: 'count', level: 'low' })), { count: '1' })
    assert.deepEqual(scales(planNoise({ kind: 'count', level: 'high' })), { count: '10' })
    assert.deepEqual(scales(planNoise({ kind: 'histogram', level: 'medium', buckets: 4 })), { buckets: '4' })
    assert.deepEqual(scales(planNoise({ kind: 'sum', level: 'low', bounds: { lo: 0, hi: 30000 } })), { sum: '30000' })
    assert.deepEqual(scales(planNoise({ kind: 'sum', level: 'low', bounds: { lo: -5, hi: 5 } })), { sum: '20', count: '2' })
    assert.deepEqual(scales(planNoise({ kind: 'mean', level: 'medium', bounds: { lo: 30, hi: 220 }, decimals: 1 })), { sum: '7600', count: '4' })
    assert.equal(planNoise({ kind: 'count', level: 'low' }).aggregators, 2)
  })

  it('refuses what cannot be noised', () => {
    assert.throws(() => planNoise({ kind: 'count', level: 'dont_share' as 'low' }), NotShared)
    assert.throws(() => planNoise({ kind: 'mean', level: 'low' }), InvalidPrivacyParameter)
    assert.throws(() => planNoise({ kind: 'histogram', level: 'low' }), InvalidPrivacyParameter)
    assert.throws(() => planNoise({ kind: 'count', level: 'low', aggregators: 0 }), InvalidPrivacyParameter)
  })

  it('each aggregator draws one value per component, one per bucket for a histogram', () => {
    const sampler = createNoiseSampler({ random: seededRandom('draw') })
    const histogram = drawNoise(planNoise({ kind: 'histogram', level: 'low', buckets: 5 }), sampler)
    assert.equal(histogram.buckets?.length, 5)
    assert.deepEqual(Object.keys(drawNoise(planNoise({ kind: 'mean', level: 'low', bounds: { lo: 0, hi: 1 } }), sampler)).sort(), ['count', 'sum'])
  })
})

describe('expected error', () => {
  it('of one discrete Laplace draw: the exact standard deviation and 95 % quantile', () => {
    const scale = rational(10n)
    const bars = errorBars([{ scale, weight: 1, copies: 1 }])
    assert.equal(bars.standardDeviation, Math.sqrt(discreteLaplaceVariance(scale)))
    assert.equal(bars.halfWidth95, exactQuantile(scale))
  })

  it('of a draw too wide for the exact grid: an upper bound within 1 % of the exact quantile', () => {
    const scale = rational(2_000_000n, 3n)
    const bars = errorBars([{ scale, weight: 1 / 1000, copies: 1 }])
    const exact = exactQuantile(scale) / 1000
    assert.ok(bars.halfWidth95 >= exact && bars.halfWidth95 <= exact * 1.01, `${bars.halfWidth95} vs exact ${exact}`)
  })

  for (const level of ['low', 'high'] as const) {
    it(`of a count at ${level} with two aggregators: covers 95 % of simulated answers, and one less would not`, () => {
      const plan = planNoise({ kind: 'count', level })
      const { standardDeviation, halfWidth95 } = expectedError(plan)
      assert.equal(standardDeviation, Math.sqrt(2 * discreteLaplaceVariance(plan.components[0]!.scale)))
      const sampler = createNoiseSampler({ random: seededRandom(`count coverage ${level}`) })
      const trials = 20_000
      let inside = 0
      let insideOneLess = 0
      let squares = 0
      for (let i = 0; i < trials; i++) {
        const noise = Number(totalNoise(plan, sampler).count)
        if (Math.abs(noise) <= halfWidth95) inside++
        if (Math.abs(noise) <= halfWidth95 - 1) insideOneLess++
        squares += noise * noise
      }
      const sd = Math.sqrt((0.95 * 0.05) / trials)
      assert.ok(inside / trials >= 0.95 - 4 * sd, `coverage ${inside / trials}`)
      assert.ok(insideOneLess / trials < 0.95 + 4 * sd, `coverage one less ${insideOneLess / trials}`)
      assert.ok(Math.abs(Math.sqrt(squares / trials) / standardDeviation - 1) < 0.03)
    })
  }

  it('of a mean over synthetic data: the stated error matches the noisy means found', () => {
    // 400 people's daily steps, uniform in [2,000, 18,000], declared bounds [0, 30,000], medium.
    const values = new Uint32Array(400)
    seededRandom('synthetic steps').fill(new Uint8Array(values.buffer))
    const steps = Array.from(values, (v) => 2000 + (v % 16001))
    const plan = planNoise({ kind: 'mean', level: 'medium', bounds: { lo: 0, hi: 30000 } })
    const bounds = plan.bounds!
    const shiftedSum = steps.reduce((sum, x) => sum + encodeValue(x, bounds), 0n)
    const exactMean = steps.reduce((a, b) => a + b, 0) / steps.length
    const stated = expectedError(plan, { participants: steps.length, value: exactMean })
    const worstCase = expectedError(plan, { participants: steps.length })
    assert.ok(worstCase.standardDeviation > stated.standardDeviation)
    assert.throws(() => expectedError(plan), InvalidPrivacyParameter)

    const sampler = createNoiseSampler({ random: seededRandom('mean accuracy') })
    const trials = 4000
    let inside = 0
    let squares = 0
    for (let i = 0; i < trials; i++) {
      const noise = totalNoise(plan, sampler)
      const noisyMean = decodeSum(shiftedSum + noise.sum, 0n, bounds) / Number(BigInt(steps.length) + noise.count)
      const error = noisyMean - exactMean
      if (Math.abs(error) <= stated.halfWidth95) inside++
      squares += error * error
    }
    const ratio = Math.sqrt(squares / trials) / stated.standardDeviation
    assert.ok(ratio > 0.93 && ratio < 1.07, `observed / stated standard deviation ${ratio}`)
    assert.ok(inside / trials >= 0.94, `coverage ${inside / trials}`)
  })
})

describe('the differencing attack', () => {
  it('two sums differing by one person do not tell the attacker whether that person took part beyond what ε allows, with one aggregator honest', () => {
    // The attacker knows everyone else's values exactly (from the other query) and colludes
    // with one aggregator, so only the honest aggregator's noise is left. Whether the target
    // (at the top of the bounds, the most telling value) took part is a fair coin; the best
    // any test can do against ε-DP is e^ε / (1 + e^ε) (Kairouz, Oh & Viswanath 2015).
    // Bounds reaching below zero would be undersold by a sensitivity of max(|lo|, |hi|) = 50.
    const plan = planNoise({ kind: 'sum', level: 'low', bounds: { lo: -50, hi: 50 } })
    const sum = plan.components.find((c) => c.name === 'sum')!
    const bounds = plan.bounds!
    const target = encodeValue(50, bounds)
    const bound = Math.exp(Number(sum.epsilon.num) / Number(sum.epsilon.den)) / (1 + Math.exp(Number(sum.epsilon.num) / Number(sum.epsilon.den)))
    const sampler = createNoiseSampler({ random: seededRandom('differencing') })
    const trials = 20_000
    const coins = new Uint8Array(trials)
    seededRandom('differencing coins').fill(coins)
    let right = 0
    for (let i = 0; i < trials; i++) {
      const present = (coins[i]! & 1) === 1
      const honestNoise = sampler.discreteLaplace(sum.scale)
      const observed = (present ? target : 0n) + honestNoise
      const guess = observed * 2n > target // the optimal threshold test for a symmetric, unimodal noise
      if (guess === present) right++
    }
    const sd = Math.sqrt((bound * (1 - bound)) / trials)
    assert.ok(right / trials <= bound + 4 * sd, `the attacker is right ${right / trials} of the time; ε allows ${bound}`)
  })
})
