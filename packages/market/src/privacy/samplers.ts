/**
 * Exact samplers for the discrete Laplace and discrete Gaussian distributions, after Canonne,
 * Kamath & Steinke, "The Discrete Gaussian for Differential Privacy" (NeurIPS 2020),
 * Algorithms 1–3. Every step is a uniform integer draw and a comparison of integers, so the
 * output follows the stated distribution exactly: there is no floating point anywhere to leak
 * through its rounding, as floating-point Laplace noise does (Mironov, "On Significance of the
 * Least Significant Bits for Differential Privacy", CCS 2012).
 */
import { InvalidPrivacyParameter } from './errors.ts'
import { cryptoRandom, UniformIntegers, type RandomSource } from './random.ts'
import { rational, type Rational } from './rational.ts'

export interface NoiseSampler {
  /** true with probability exp(-γ), for a rational γ ≥ 0 (CKS Algorithm 1). */
  bernoulliExp(gamma: Rational): boolean
  /** An integer with P[x] ∝ exp(-|x|/scale), for a rational scale > 0 (CKS Algorithm 2). */
  discreteLaplace(scale: Rational): bigint
  /** An integer with P[x] ∝ exp(-x²/(2σ²)), for a rational σ² > 0 (CKS Algorithm 3). */
  discreteGaussian(sigma2: Rational): bigint
}

/** The integer square root: the largest r with r² ≤ n. */
function isqrt(n: bigint): bigint {
  if (n < 2n) return n
  let x = 1n << BigInt(Math.ceil(n.toString(2).length / 2)) // ≥ √n, so Newton's steps descend to it
  for (;;) {
    const next = (x + n / x) >> 1n
    if (next >= x) return x
    x = next
  }
}

export function createNoiseSampler(options: { random?: RandomSource } = {}): NoiseSampler {
  const uniform = new UniformIntegers(options.random ?? cryptoRandom)

  /** true with probability num/den, for 0 ≤ num ≤ den. */
  const bernoulli = (num: bigint, den: bigint): boolean => uniform.below(den) < num

  function bernoulliExpAtMostOne(num: bigint, den: bigint): boolean {
    // P[K > k] = γ^k / k!, so P[K odd] = Σ_k (-γ)^k / k! = exp(-γ).
    let k = 1n
    while (bernoulli(num, den * k)) k += 1n
    return k % 2n === 1n
  }

  function bernoulliExp(gamma: Rational): boolean {
    const { num, den } = gamma
    if (num < 0n || den <= 0n) throw new InvalidPrivacyParameter('Bernoulli(exp(-γ)) needs γ ≥ 0')
    if (num <= den) return bernoulliExpAtMostOne(num, den)
    // exp(-γ) = exp(-1)^⌊γ⌋ · exp(-(γ - ⌊γ⌋)): ⌊γ⌋ independent exp(-1) coins, then the remainder.
    const whole = num / den
    for (let i = 0n; i < whole; i++) if (!bernoulliExpAtMostOne(1n, 1n)) return false
    return bernoulliExpAtMostOne(num - whole * den, den)
  }

  function discreteLaplace(scale: Rational): bigint {
    const t = scale.num
    const s = scale.den
    if (t <= 0n || s <= 0n) throw new InvalidPrivacyParameter('a discrete Laplace scale must be positive')
    for (;;) {
      // X = U + t·V is geometric with P[X = x] ∝ exp(-x/t): U is its remainder modulo t, V its quotient.
      const u = uniform.below(t)
      if (!bernoulliExp(rational(u, t))) continue
      let v = 0n
      while (bernoulliExpAtMostOne(1n, 1n)) v += 1n
      const y = (u + t * v) / s // ⌊X/s⌋ is geometric with ratio exp(-s/t): the scale t/s
      const negative = bernoulli(1n, 2n)
      if (negative && y === 0n) continue // zero would otherwise be drawn twice as often as it should
      return negative ? -y : y
    }
  }

  function discreteGaussian(sigma2: Rational): bigint {
    const { num: n, den: d } = sigma2
    if (n <= 0n || d <= 0n) throw new InvalidPrivacyParameter('a discrete Gaussian needs σ² > 0')
    const t = isqrt(n / d) + 1n // ⌊σ⌋ + 1: the Laplace envelope that makes acceptance likeliest
    const envelope = rational(t)
    for (;;) {
      const y = discreteLaplace(envelope)
      const magnitude = y < 0n ? -y : y
      // Accept with probability exp(-(|y| - σ²/t)² / (2σ²)) = exp(-(|y|·t·d - n)² / (2·n·d·t²)).
      const gap = magnitude * t * d - n
      if (bernoulliExp(rational(gap * gap, 2n * n * d * t * t))) return y
    }
  }

  return { bernoulliExp, discreteLaplace, discreteGaussian }
}
