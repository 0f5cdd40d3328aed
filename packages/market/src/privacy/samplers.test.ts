/**
 * The samplers against their exact distributions.
 *
 * Goodness of fit is Pearson's chi-square at significance α = 0.001: a correct sampler fails a
 * given test for one seed in a thousand. The seeded sources make every run draw the same
 * samples, so a test passes or fails reproducibly; the seeds below are fixed, not tuned (a
 * failure after a change to a sampler means the change, not chance, at 999 to 1). One test per
 * distribution draws from the real cryptographic source at α = 10⁻⁶, so that it essentially
 * never fails by chance.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  chiSquareTest,
  createNoiseSampler,
  cryptoRandom,
  discreteGaussianPmf,
  discreteGaussianVariance,
  discreteLaplacePmf,
  discreteLaplaceVariance,
  InvalidPrivacyParameter,
  rational,
  seededRandom,
  upperRegularisedGamma,
  type Rational,
} from './index.ts'

const ALPHA = 0.001
const ALPHA_CRYPTO = 1e-6
const N = 60_000

function draw(n: number, sample: () => bigint): number[] {
  return Array.from({ length: n }, () => Number(sample()))
}

/** Exact moments of a pmf symmetric about 0, by summation until the terms vanish. */
function moments(pmf: (x: number) => number): { variance: number; fourth: number } {
  let variance = 0
  let fourth = 0
  for (let x = 1; x < 1e6; x++) {
    const p = pmf(x)
    if (x > 10 && p < 1e-30) break
    variance += 2 * x * x * p
    fourth += 2 * x ** 4 * p
  }
  return { variance, fourth }
}

/** Mean 0 and the exact variance, each within 5 standard errors of the sample estimate. */
function assertMoments(samples: number[], pmf: (x: number) => number, exactVariance: number) {
  const n = samples.length
  const { variance, fourth } = moments(pmf)
  assert.ok(Math.abs(variance - exactVariance) <= 1e-9 * exactVariance, `closed-form variance ${exactVariance} vs summed ${variance}`)
  const mean = samples.reduce((a, b) => a + b, 0) / n
  assert.ok(Math.abs(mean) <= 5 * Math.sqrt(variance / n), `mean ${mean} is not about 0`)
  const sampleVariance = samples.reduce((a, b) => a + b * b, 0) / n
  const tolerance = 5 * Math.sqrt((fourth - variance * variance) / n)
  assert.ok(Math.abs(sampleVariance - variance) <= tolerance, `variance ${sampleVariance} vs exact ${variance} (± ${tolerance})`)
}

/** Symmetry: for each k ≥ 1 with enough samples, the counts at k and -k are a fair split, jointly tested by chi-square. */
function assertSymmetric(samples: number[]) {
  const counts = new Map<number, number>()
  for (const x of samples) counts.set(x, (counts.get(x) ?? 0) + 1)
  let statistic = 0
  let pairs = 0
  for (let k = 1; (counts.get(k) ?? 0) + (counts.get(-k) ?? 0) >= 10; k++) {
    const plus = counts.get(k) ?? 0
    const minus = counts.get(-k) ?? 0
    statistic += (plus - minus) ** 2 / (plus + minus)
    pairs++
  }
  assert.ok(pairs > 0)
  const pValue = upperRegularisedGamma(pairs / 2, statistic / 2)
  assert.ok(pValue >= ALPHA, `asymmetric: χ² = ${statistic} over ${pairs} pairs, p = ${pValue}`)
}

function assertFits(samples: number[], pmf: (x: number) => number, alpha = ALPHA, minDegreesOfFreedom = 3) {
  const fit = chiSquareTest(samples, pmf)
  assert.ok(fit.degreesOfFreedom >= minDegreesOfFreedom, `too few bins (${fit.bins}) for a meaningful test`)
  assert.ok(fit.pValue >= alpha, `χ² = ${fit.statistic.toFixed(1)} on ${fit.degreesOfFreedom} df, p = ${fit.pValue}`)
}

describe('Bernoulli(exp(-γ))', () => {
  it('is always true at γ = 0', () => {
    const sampler = createNoiseSampler({ random: seededRandom('bernoulli zero') })
    for (let i = 0; i < 1000; i++) assert.equal(sampler.bernoulliExp(rational(0n)), true)
  })

  for (const gamma of [rational(1n, 3n), rational(1n), rational(5n, 2n), rational(6n)]) {
    it(`is true with probability exp(-${gamma.num}/${gamma.den})`, () => {
      const sampler = createNoiseSampler({ random: seededRandom(`bernoulli ${gamma.num}/${gamma.den}`) })
      const p = Math.exp(-Number(gamma.num) / Number(gamma.den))
      const samples = draw(N, () => (sampler.bernoulliExp(gamma) ? 1n : 0n))
      assertFits(samples, (x) => (x === 1 ? p : x === 0 ? 1 - p : 0), ALPHA, 1)
    })
  }

  it('refuses a negative γ', () => {
    const sampler = createNoiseSampler({ random: seededRandom('negative') })
    assert.throws(() => sampler.bernoulliExp({ num: -1n, den: 2n }), InvalidPrivacyParameter)
  })
})

describe('discrete Laplace', () => {
  for (const scale of [rational(1n, 2n), rational(3n, 2n), rational(5n), rational(20n, 3n)]) {
    const name = `${scale.num}/${scale.den}`
    it(`follows the exact pmf at scale ${name}: fit, symmetry, mean 0, variance 2p/(1-p)²`, () => {
      const sampler = createNoiseSampler({ random: seededRandom(`laplace ${name}`) })
      const samples = draw(N, () => sampler.discreteLaplace(scale))
      const pmf = (x: number) => discreteLaplacePmf(scale, x)
      assertFits(samples, pmf)
      assertSymmetric(samples)
      assertMoments(samples, pmf, discreteLaplaceVariance(scale))
    })
  }

  it('draws uniform integers beyond 2^32 exactly: scale 3·2^40 / 2^40 is scale 3', () => {
    const big: Rational = { num: 3n << 40n, den: 1n << 40n } // not reduced on purpose: the sampler draws below 3·2^40
    const sampler = createNoiseSampler({ random: seededRandom('laplace big integers') })
    const samples = draw(N / 2, () => sampler.discreteLaplace(big))
    assertFits(samples, (x) => discreteLaplacePmf(rational(3n), x))
  })

  it('follows the exact pmf with the cryptographic source', () => {
    const scale = rational(2n)
    const sampler = createNoiseSampler({ random: cryptoRandom })
    assertFits(
      draw(N / 2, () => sampler.discreteLaplace(scale)),
      (x) => discreteLaplacePmf(scale, x),
      ALPHA_CRYPTO,
    )
  })

  it('is told apart from a Laplace of a slightly different scale (the test has power)', () => {
    const sampler = createNoiseSampler({ random: seededRandom('laplace power') })
    const samples = draw(N, () => sampler.discreteLaplace(rational(11n, 10n)))
    assert.ok(chiSquareTest(samples, (x) => discreteLaplacePmf(rational(1n), x)).pValue < ALPHA)
  })

  it('refuses a scale of zero', () => {
    const sampler = createNoiseSampler({ random: seededRandom('zero scale') })
    assert.throws(() => sampler.discreteLaplace({ num: 0n, den: 1n }), InvalidPrivacyParameter)
  })
})

describe('discrete Gaussian', () => {
  for (const sigma2 of [rational(1n, 2n), rational(7n, 2n), rational(25n)]) {
    const name = `${sigma2.num}/${sigma2.den}`
    it(`follows the exact pmf at σ² = ${name}: fit, symmetry, mean 0, exact variance`, () => {
      const sampler = createNoiseSampler({ random: seededRandom(`gaussian ${name}`) })
      const samples = draw(N, () => sampler.discreteGaussian(sigma2))
      const pmf = (x: number) => discreteGaussianPmf(sigma2, x)
      assertFits(samples, pmf)
      assertSymmetric(samples)
      assertMoments(samples, pmf, discreteGaussianVariance(sigma2))
    })
  }

  it('has a variance just below σ² for small σ, and σ² for large', () => {
    assert.ok(discreteGaussianVariance(rational(1n, 4n)) < 0.25)
    assert.ok(Math.abs(discreteGaussianVariance(rational(9n)) - 9) < 1e-9)
    assert.equal(discreteGaussianVariance(rational(10_000n)), 10_000)
  })

  it('follows the exact pmf with the cryptographic source', () => {
    const sigma2 = rational(4n)
    const sampler = createNoiseSampler({ random: cryptoRandom })
    assertFits(
      draw(N / 2, () => sampler.discreteGaussian(sigma2)),
      (x) => discreteGaussianPmf(sigma2, x),
      ALPHA_CRYPTO,
    )
  })
})

describe('random sources', () => {
  it('a seed gives the same noise every time, another seed other noise', () => {
    const run = (seed: string) => {
      const sampler = createNoiseSampler({ random: seededRandom(seed) })
      return draw(50, () => sampler.discreteLaplace(rational(10n)))
    }
    assert.deepEqual(run('one'), run('one'))
    assert.notDeepEqual(run('one'), run('two'))
  })

  it('an injected source is the only source of randomness', () => {
    // A source that replays one byte pattern: two samplers over copies of it agree draw for draw.
    const replay = () => {
      let counter = 0
      return { fill: (bytes: Uint8Array) => bytes.forEach((_, i) => (bytes[i] = (counter++ * 167) & 0xff)) }
    }
    const a = createNoiseSampler({ random: replay() })
    const b = createNoiseSampler({ random: replay() })
    assert.deepEqual(draw(20, () => a.discreteGaussian(rational(5n))), draw(20, () => b.discreteGaussian(rational(5n))))
  })
})

describe('the chi-square p-value', () => {
  it('matches tabulated critical values', () => {
    // χ² critical values (e.g. NIST/SEMATECH e-Handbook, table 1.3.6.7.4).
    for (const [df, critical, upper] of [[1, 3.841, 0.05], [10, 18.307, 0.05], [30, 59.703, 0.001], [4, 13.277, 0.01]] as const) {
      assert.ok(Math.abs(upperRegularisedGamma(df / 2, critical / 2) - upper) < upper * 0.002, `df ${df}`)
    }
  })
})
