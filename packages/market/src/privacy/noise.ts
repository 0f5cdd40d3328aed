/**
 * How much noise an answer gets, and how wrong it will be.
 *
 * Values travel as integers: a number is scaled by 10^decimals, rounded, clipped to the
 * query's declared bounds [lo, hi] (scaled the same way) and shifted to [0, hi - lo], because
 * Prio3 adds non-negative integers and the noise is integer too. Bounds are the processor's
 * declaration, never taken from the data: bounds read off the data would themselves leak.
 *
 * Neighbouring inputs differ in one participant's data, which covers both how a processor could
 * attack: by changing one person's value, or by asking twice with one person more (the market
 * knows who answered, so that person's shifted value, or their 0/1 "matched" flag, is all that
 * differs). The sensitivities (largest change in L1 norm) are then
 *   count: 1; sum of shifted values: hi - lo; histogram: 2 (a person leaves one bucket and joins another).
 * A mean is a noisy sum over a noisy count (the count is hidden: boxes that do not match answer
 * with zeros so the market never learns who matched), and a sum with lo ≠ 0 needs the count to
 * undo the shift; these release two numbers, each with half the ε (sequential composition; an
 * even split minimises the worst-case error of the mean).
 *
 * The discrete Laplace mechanism with scale Δ/ε is ε-differentially private (Ghosh, Roughgarden
 * & Sundararajan 2009; CKS 2020 §2). Each aggregator adds that much to its own share, so the
 * answer is protected as long as one of them is honest; the processor gets the noise of all.
 */
import { InvalidPrivacyParameter } from './errors.ts'
import { errorBars, type ErrorBars, type NoiseTerm } from './error-bars.ts'
import { sharingParameters, type SharingLevel } from './levels.ts'
import { divide, rational, type Rational } from './rational.ts'
import type { NoiseSampler } from './samplers.ts'

export type StatisticKind = 'count' | 'sum' | 'mean' | 'histogram'

/** Declared bounds in fixed point: lo and hi are the real bounds × 10^decimals, lo rounded down, hi up. */
export interface FixedPointBounds {
  readonly lo: bigint
  readonly hi: bigint
  readonly decimals: number
}

export type ComponentName = 'count' | 'sum' | 'buckets'

export interface NoiseComponent {
  readonly name: ComponentName
  readonly sensitivity: bigint
  readonly epsilon: Rational
  /** The discrete Laplace scale each aggregator adds: sensitivity / epsilon, in fixed-point units. */
  readonly scale: Rational
}

export interface NoisePlan {
  readonly kind: StatisticKind
  readonly level: SharingLevel
  /** The whole answer's ε: what each participant's budget is charged. */
  readonly epsilon: Rational
  readonly aggregators: number
  readonly bounds?: FixedPointBounds
  readonly buckets?: number
  readonly components: readonly NoiseComponent[]
}

export interface NoisePlanInput {
  readonly kind: StatisticKind
  readonly level: SharingLevel
  /** How many aggregators add noise; each adds enough alone. Two for Prio3's leader and helper. */
  readonly aggregators?: number
  /** Declared bounds of the aggregated attribute (sum and mean). */
  readonly bounds?: { readonly lo: number; readonly hi: number }
  /** Digits kept after the decimal point; 0 (whole units) unless given. Resolution, not privacy: the noise scales with it. */
  readonly decimals?: number
  /** Number of histogram buckets. */
  readonly buckets?: number
}

/** x × 10^decimals, exactly, rounded as asked: decimal digits of a JavaScript number are read as written. */
function scaleDecimal(x: number, decimals: number, rounding: 'floor' | 'ceil'): bigint {
  if (!Number.isFinite(x)) throw new InvalidPrivacyParameter(`bound ${x} is not a finite number`)
  const [mantissa, exponentText] = Math.abs(x).toExponential().split('e') as [string, string]
  const [whole, fraction = ''] = mantissa.split('.') as [string, string?]
  const exponent = Number(exponentText) - fraction.length + decimals
  const digits = BigInt(whole + fraction) * (x < 0 ? -1n : 1n)
  if (exponent >= 0) return digits * 10n ** BigInt(exponent)
  const divisor = 10n ** BigInt(-exponent)
  const truncated = digits / divisor // rounds toward zero
  const exact = truncated * divisor === digits
  if (exact) return truncated
  if (rounding === 'floor') return digits < 0n ? truncated - 1n : truncated
  return digits < 0n ? truncated : truncated + 1n
}

export function fixedPointBounds(lo: number, hi: number, decimals = 0): FixedPointBounds {
  if (!Number.isInteger(decimals) || decimals < 0 || decimals > 12) throw new InvalidPrivacyParameter(`decimals must be an integer from 0 to 12 (got ${decimals})`)
  const scaledLo = scaleDecimal(lo, decimals, 'floor')
  const scaledHi = scaleDecimal(hi, decimals, 'ceil')
  if (scaledHi <= scaledLo) throw new InvalidPrivacyParameter(`declared bounds [${lo}, ${hi}] are empty at ${decimals} decimals`)
  return { lo: scaledLo, hi: scaledHi, decimals }
}

/** One person's value as it enters the aggregate: scaled, rounded, clipped to the bounds, shifted to start at 0. */
export function encodeValue(x: number, bounds: FixedPointBounds): bigint {
  if (!Number.isFinite(x)) throw new InvalidPrivacyParameter(`value ${x} is not a finite number`)
  const scaled = BigInt(Math.round(x * 10 ** bounds.decimals))
  const clipped = scaled < bounds.lo ? bounds.lo : scaled > bounds.hi ? bounds.hi : scaled
  return clipped - bounds.lo
}

/** Back to real units: a total of shifted values over `count` participants. */
export function decodeSum(shiftedSum: bigint, count: bigint, bounds: FixedPointBounds): number {
  return Number(shiftedSum + count * bounds.lo) / 10 ** bounds.decimals
}

function positiveInteger(value: number, what: string): number {
  if (!Number.isInteger(value) || value < 1) throw new InvalidPrivacyParameter(`${what} must be a positive integer (got ${value})`)
  return value
}

export function planNoise(input: NoisePlanInput): NoisePlan {
  const { epsilon } = sharingParameters(input.level)
  const aggregators = positiveInteger(input.aggregators ?? 2, 'the number of aggregators')
  const component = (name: ComponentName, sensitivity: bigint, share: Rational): NoiseComponent => ({ name, sensitivity, epsilon: share, scale: divide(rational(sensitivity), share) })
  const half = divide(epsilon, rational(2n))
  const base = { kind: input.kind, level: input.level, epsilon, aggregators }
  switch (input.kind) {
    case 'count':
      return { ...base, components: [component('count', 1n, epsilon)] }
    case 'histogram': {
      const buckets = positiveInteger(input.buckets ?? 0, 'a histogram\'s number of buckets')
      return { ...base, buckets, components: [component('buckets', 2n, epsilon)] }
    }
    case 'sum':
    case 'mean': {
      if (!input.bounds) throw new InvalidPrivacyParameter(`a ${input.kind} needs declared bounds`)
      const bounds = fixedPointBounds(input.bounds.lo, input.bounds.hi, input.decimals ?? 0)
      const range = bounds.hi - bounds.lo
      const components = input.kind === 'sum' && bounds.lo === 0n ? [component('sum', range, epsilon)] : [component('sum', range, half), component('count', 1n, half)]
      return { ...base, bounds, components }
    }
    default:
      throw new InvalidPrivacyParameter(`unknown statistic ${String((input as { kind: unknown }).kind)}`)
  }
}

/** What one aggregator adds to its share of the aggregate: a fresh draw per component (per bucket for a histogram). */
export interface Noise {
  count?: bigint
  sum?: bigint
  buckets?: bigint[]
}

export function drawNoise(plan: NoisePlan, sampler: NoiseSampler): Noise {
  const noise: Noise = {}
  for (const { name, scale } of plan.components) {
    if (name === 'buckets') noise.buckets = Array.from({ length: plan.buckets ?? 0 }, () => sampler.discreteLaplace(scale))
    else noise[name] = sampler.discreteLaplace(scale)
  }
  return noise
}

function componentOf(plan: NoisePlan, name: ComponentName): NoiseComponent | undefined {
  return plan.components.find((c) => c.name === name)
}

/**
 * The noise terms of a statistic merged over classes, in the statistic's real units. For a
 * mean, to first order (the delta method): (S + Z_S)/(N + Z_N) - S/N ≈ (Z_S - m·Z_N)/N, with m
 * the shifted mean and N the number who matched.
 */
export function noiseTerms(classes: readonly { plan: NoisePlan }[], options: { matched?: number; shiftedMean?: number } = {}): NoiseTerm[] {
  const terms: NoiseTerm[] = []
  for (const { plan } of classes) {
    const unit = plan.bounds ? 10 ** plan.bounds.decimals : 1
    const count = componentOf(plan, 'count')
    const sum = componentOf(plan, 'sum')
    const buckets = componentOf(plan, 'buckets')
    const copies = plan.aggregators
    switch (plan.kind) {
      case 'count':
        if (count) terms.push({ scale: count.scale, weight: 1, copies })
        break
      case 'histogram':
        if (buckets) terms.push({ scale: buckets.scale, weight: 1, copies })
        break
      case 'sum':
        if (sum) terms.push({ scale: sum.scale, weight: 1 / unit, copies })
        if (count) terms.push({ scale: count.scale, weight: Number(plan.bounds?.lo ?? 0n) / unit, copies })
        break
      case 'mean': {
        const matched = options.matched
        if (matched === undefined || !(matched > 0)) throw new InvalidPrivacyParameter('the error of a mean depends on how many match: give a positive number of participants')
        const shiftedMean = options.shiftedMean ?? Number((plan.bounds?.hi ?? 0n) - (plan.bounds?.lo ?? 0n))
        if (sum) terms.push({ scale: sum.scale, weight: 1 / (matched * unit), copies })
        if (count) terms.push({ scale: count.scale, weight: -shiftedMean / (matched * unit), copies })
        break
      }
    }
  }
  return terms
}

/**
 * The error a processor should expect from one answer (per bucket for a histogram), in the
 * statistic's units. A mean's depends on how many match (`participants`) and on the mean
 * itself (`value`); without a value the worst case within the bounds is assumed.
 */
export function expectedError(plan: NoisePlan, options: { participants?: number; value?: number } = {}): ErrorBars {
  return expectedMergedError([{ plan, participants: options.participants ?? 0 }], { value: options.value })
}

/** The error of an answer merged from privacy classes, each with its plan and expected number of participants. */
export function expectedMergedError(classes: readonly { plan: NoisePlan; participants: number }[], options: { value?: number } = {}): ErrorBars {
  const matched = classes.reduce((sum, c) => sum + c.participants, 0)
  const bounds = classes[0]?.plan.bounds
  const shiftedMean = options.value === undefined || !bounds ? undefined : Math.min(Math.max(options.value * 10 ** bounds.decimals - Number(bounds.lo), 0), Number(bounds.hi - bounds.lo))
  return errorBars(noiseTerms(classes, { matched, shiftedMean }))
}
