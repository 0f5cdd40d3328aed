import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  createNoiseSampler,
  drawNoise,
  encodeValue,
  expectedError,
  expectedMergedError,
  InvalidPrivacyParameter,
  mergeClasses,
  planNoise,
  seededRandom,
  type ClassResult,
  type NoisePlan,
  type SharingLevel,
} from './index.ts'

const sampler = createNoiseSampler({ random: seededRandom('classes') })

/** One class aggregated and noised as the two aggregators would: exact totals plus each aggregator's draw. */
function noisedClass(plan: NoisePlan, values: number[], buckets?: number[]): ClassResult {
  let count = BigInt(values.length)
  let sum = plan.bounds ? values.reduce((total, v) => total + encodeValue(v, plan.bounds!), 0n) : 0n
  const histogram = (buckets ?? []).map(BigInt)
  for (let a = 0; a < plan.aggregators; a++) {
    const noise = drawNoise(plan, sampler)
    count += noise.count ?? 0n
    sum += noise.sum ?? 0n
    noise.buckets?.forEach((n, i) => (histogram[i] = histogram[i]! + n))
  }
  return { plan, count, sum, ...(buckets ? { buckets: histogram } : {}) }
}

describe('privacy classes', () => {
  it('counts add up over classes, each noised at its own level; variances add', () => {
    const sizes: Record<SharingLevel, number> = { low: 120, medium: 80, high: 40 }
    const results = (Object.keys(sizes) as SharingLevel[]).map((level) => noisedClass(planNoise({ kind: 'count', level }), new Array(sizes[level]).fill(1)))
    const merged = mergeClasses(results)
    assert.equal(merged.kind, 'count')
    assert.equal(merged.value, results.reduce((sum, r) => sum + Number(r.count), 0))
    assert.deepEqual(merged.classes.map((c) => [c.level, c.epsilon]), [['low', '1'], ['medium', '1/2'], ['high', '1/10']])
    const variances = merged.classes.map((c) => c.error.standardDeviation ** 2)
    assert.ok(Math.abs(merged.error.standardDeviation ** 2 - variances.reduce((a, b) => a + b, 0)) < 1e-9)
    // The high class's noise dominates: its own error is the largest, and the merged error is above it.
    assert.ok(merged.classes[2]!.error.halfWidth95 > merged.classes[0]!.error.halfWidth95)
    assert.ok(merged.error.halfWidth95 >= merged.classes[2]!.error.halfWidth95)
  })

  it('a merged mean lies within its stated error of the exact mean about 95 % of the time', () => {
    // Heart rates at one decimal, bounds [30, 220]; 600 people at low, 300 at medium, 100 at high.
    const bytes = new Uint8Array(1000)
    seededRandom('heart rates').fill(bytes)
    const rates = Array.from(bytes, (b) => 50 + (b % 100) + 0.5)
    const groups: [SharingLevel, number[]][] = [['low', rates.slice(0, 600)], ['medium', rates.slice(600, 900)], ['high', rates.slice(900)]]
    const plans = groups.map(([level]) => planNoise({ kind: 'mean', level, bounds: { lo: 30, hi: 220 }, decimals: 1 }))
    const exactMean = rates.reduce((a, b) => a + b, 0) / rates.length
    const stated = expectedMergedError(plans.map((plan, i) => ({ plan, participants: groups[i]![1].length })), { value: exactMean })
    // Merging helps: the answer is sharper than the high class's alone would be.
    assert.ok(stated.halfWidth95 < expectedError(plans[2]!, { participants: 100, value: exactMean }).halfWidth95)

    const trials = 200
    let inside = 0
    for (let t = 0; t < trials; t++) {
      const merged = mergeClasses(groups.map(([, values], i) => noisedClass(plans[i]!, values)))
      assert.ok(Math.abs(merged.error.standardDeviation / stated.standardDeviation - 1) < 0.2, 'the error stated after the fact is close to the one expected before')
      if (Math.abs((merged.value as number) - exactMean) <= merged.error.halfWidth95) inside++
    }
    assert.ok(inside / trials >= 0.9, `coverage ${inside / trials}`) // 95 % expected; 200 trials: 4 standard deviations below is 0.888
  })

  it('histograms merge bucket by bucket', () => {
    const low = noisedClass(planNoise({ kind: 'histogram', level: 'low', buckets: 3 }), [], [10, 20, 30])
    const high = noisedClass(planNoise({ kind: 'histogram', level: 'high', buckets: 3 }), [], [1, 2, 3])
    const merged = mergeClasses([low, high])
    assert.deepEqual(merged.value, [0, 1, 2].map((i) => Number(low.buckets![i]! + high.buckets![i]!)))
    assert.equal(merged.matched, undefined)
  })

  it('refuses classes of different statistics or bounds, and a class missing its count', () => {
    const mean = planNoise({ kind: 'mean', level: 'low', bounds: { lo: 0, hi: 10 } })
    const wider = planNoise({ kind: 'mean', level: 'high', bounds: { lo: 0, hi: 20 } })
    assert.throws(() => mergeClasses([noisedClass(mean, [1]), noisedClass(wider, [1])]), InvalidPrivacyParameter)
    assert.throws(() => mergeClasses([noisedClass(mean, [1]), noisedClass(planNoise({ kind: 'count', level: 'low' }), [1])]), InvalidPrivacyParameter)
    assert.throws(() => mergeClasses([{ plan: mean, sum: 5n }]), InvalidPrivacyParameter)
    assert.throws(() => mergeClasses([]), InvalidPrivacyParameter)
  })
})
