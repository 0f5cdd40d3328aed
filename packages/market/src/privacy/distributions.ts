/**
 * The exact distributions the samplers draw from, evaluated in floating point. They are for
 * error bars, tests and benchmarks: what a sampler outputs never depends on them.
 */
import { toNumber, type Rational } from './rational.ts'

/** P[X = x] for X ~ discrete Laplace with this scale b: ((1-p)/(1+p))·p^|x|, p = exp(-1/b). */
export function discreteLaplacePmf(scale: Rational, x: number): number {
  const inverse = 1 / toNumber(scale)
  return Math.tanh(inverse / 2) * Math.exp(-Math.abs(x) * inverse)
}

/** Var[X] = 2p/(1-p)², p = exp(-1/b); about 2b² for a large scale b, as for the continuous Laplace. */
export function discreteLaplaceVariance(scale: Rational): number {
  const inverse = 1 / toNumber(scale)
  const oneMinusP = -Math.expm1(-inverse) // 1 - p without the cancellation when b is large
  return (2 * Math.exp(-inverse)) / (oneMinusP * oneMinusP)
}

/** P[|X| ≥ k] for an integer k ≥ 1: 2p^k/(1+p). */
export function discreteLaplaceTail(scale: Rational, k: number): number {
  const inverse = 1 / toNumber(scale)
  return (2 * Math.exp(-k * inverse)) / (1 + Math.exp(-inverse))
}

// Past σ = 50 the direct sums below would take thousands of terms; by Poisson summation the
// normaliser is then σ√(2π) and the variance σ² to within a relative exp(-2π²σ²) < 1e-20000.
const DIRECT_SUM_UP_TO_SIGMA = 50

function gaussianWeights(sigma2: number): { x: number; w: number }[] {
  const reach = Math.ceil(40 * Math.sqrt(sigma2)) + 10
  const weights: { x: number; w: number }[] = []
  for (let x = -reach; x <= reach; x++) weights.push({ x, w: Math.exp(-(x * x) / (2 * sigma2)) })
  return weights
}

/** P[X = x] for X ~ discrete Gaussian with parameter σ²: exp(-x²/2σ²) / Σ_y exp(-y²/2σ²). */
export function discreteGaussianPmf(sigma2: Rational, x: number): number {
  const s2 = toNumber(sigma2)
  const normaliser = s2 > DIRECT_SUM_UP_TO_SIGMA ** 2 ? Math.sqrt(2 * Math.PI * s2) : gaussianWeights(s2).reduce((sum, { w }) => sum + w, 0)
  return Math.exp(-(x * x) / (2 * s2)) / normaliser
}

/** Var[X] of the discrete Gaussian: a little below σ² for small σ, σ² for all practical purposes past σ ≈ 2 (CKS §2.1). */
export function discreteGaussianVariance(sigma2: Rational): number {
  const s2 = toNumber(sigma2)
  if (s2 > DIRECT_SUM_UP_TO_SIGMA ** 2) return s2
  const weights = gaussianWeights(s2)
  const total = weights.reduce((sum, { w }) => sum + w, 0)
  return weights.reduce((sum, { x, w }) => sum + x * x * w, 0) / total
}
