/**
 * Error bars for noise that is a weighted sum of independent discrete Laplace draws: the
 * noise of one answer added by each aggregator, or of several privacy classes merged.
 */
import { discreteLaplaceVariance } from './distributions.ts'
import type { Rational } from './rational.ts'
import { toNumber } from './rational.ts'

/** `copies` independent draws of weight · DiscreteLaplace(scale), the scale in fixed-point units. */
export interface NoiseTerm {
  readonly scale: Rational
  readonly weight: number
  readonly copies: number
}

export interface ErrorBars {
  /** The noise's exact standard deviation. */
  readonly standardDeviation: number
  /** The answer lies within ± this of the noiseless value with probability at least 95 %. */
  readonly halfWidth95: number
}

const GRID_HALF = 1 << 15
const REACH_IN_SCALES = 20 // P[|noise| > 20·Σ scales] < 2e^-20 per term: what falls off the grid is negligible

/**
 * The standard deviation is exact: variances of independent draws add.
 *
 * The 95 % half-width is exact when every draw has the same weight and the draws are small
 * enough for the integers they can take to fit a grid of 2^16 + 1 points (a count, a histogram
 * bucket): the pmf of their sum is computed there by convolution. Otherwise it is computed on
 * a grid of 2^16 + 1 points of a coarser step h: each term is a continuous
 * Laplace of scale s = |weight|·scale, represented on the grid by a discrete Laplace of step h
 * (convolving with one is two passes of a first-order recursive filter, so every term costs
 * O(grid)). A discrete Laplace draw w·(⌊bE⌋ - ⌊bE'⌋) (E, E' exponential) differs from the
 * continuous w·b(E - E') by less than |w|, and the grid's draw from it by less than h; adding
 * both allowances for every term makes the half-width an upper bound: the coverage is at least
 * 95 %, and exceeds it by the allowances only (about 1 % of the half-width for a dozen terms, less for fewer).
 */
export function errorBars(terms: readonly NoiseTerm[]): ErrorBars {
  const live = terms.filter((term) => term.copies > 0 && term.weight !== 0)
  if (live.length === 0) return { standardDeviation: 0, halfWidth95: 0 }
  const variance = live.reduce((sum, term) => sum + term.copies * term.weight * term.weight * discreteLaplaceVariance(term.scale), 0)
  const standardDeviation = Math.sqrt(variance)
  const unit = Math.abs(live[0]!.weight)
  const integerReach = live.reduce((sum, term) => sum + term.copies * toNumber(term.scale), 0) * REACH_IN_SCALES
  if (live.every((term) => Math.abs(term.weight) === unit) && integerReach <= GRID_HALF) {
    // Every draw is a whole multiple of one unit: the grid of units carries the exact distribution.
    const pmf = convolveAll(live.map((term) => ({ p: Math.exp(-1 / toNumber(term.scale)), copies: term.copies })))
    return { standardDeviation, halfWidth95: quantileIndex(pmf) * unit }
  }
  const scales = live.map((term) => ({ s: Math.abs(term.weight) * toNumber(term.scale), copies: term.copies }))
  const totalScale = scales.reduce((sum, { s, copies }) => sum + s * copies, 0)
  const step = (REACH_IN_SCALES * totalScale) / GRID_HALF
  const pmf = convolveAll(scales.map(({ s, copies }) => ({ p: Math.exp(-step / s), copies })))
  const allowance = live.reduce((sum, term) => sum + term.copies * (Math.abs(term.weight) + step), 0)
  return { standardDeviation, halfWidth95: quantileIndex(pmf) * step + allowance }
}

/** The pmf on the grid of the sum of independent discrete Laplace draws with these ratios p = exp(-step/scale). */
function convolveAll(kernels: readonly { p: number; copies: number }[]): Float64Array {
  let pmf: Float64Array = new Float64Array(2 * GRID_HALF + 1)
  pmf[GRID_HALF] = 1
  for (const { p, copies } of kernels) for (let i = 0; i < copies; i++) pmf = convolveWithLaplace(pmf, p)
  return pmf
}

/** The least i with P[|X| ≤ i] ≥ 95 %, for a pmf centred on the grid. */
function quantileIndex(pmf: Float64Array): number {
  let inside = pmf[GRID_HALF]!
  let index = 0
  while (inside < 0.95 && index < GRID_HALF) {
    index++
    inside += pmf[GRID_HALF + index]! + pmf[GRID_HALF - index]!
  }
  return index
}

/** f * ((1-p)/(1+p))·p^|j|, in O(n): the kernel's left and right halves are geometric, so two running sums. */
function convolveWithLaplace(f: Float64Array, p: number): Float64Array {
  const n = f.length
  const forward = new Float64Array(n)
  const out = new Float64Array(n)
  let running = 0
  for (let i = 0; i < n; i++) forward[i] = running = f[i]! + p * running
  const c = (1 - p) / (1 + p)
  running = 0
  for (let i = n - 1; i >= 0; i--) {
    running = f[i]! + p * running
    out[i] = c * (forward[i]! + running - f[i]!)
  }
  return out
}
