/**
 * Privacy classes, after myneData: the participants of a query are partitioned by their
 * privacy level, each class is aggregated and noised with its own plan, and the classes'
 * noisy totals are added up. An owner at "high" is thus never noised at "low"'s ε, and the
 * "low" class does not pay for "high"'s noise in its own class result; the merged answer's
 * error is that of all classes' noise together, which is what mergeClasses states.
 */
import { InvalidPrivacyParameter } from './errors.ts'
import { errorBars, type ErrorBars } from './error-bars.ts'
import type { SharingLevel } from './levels.ts'
import { noiseTerms, type NoisePlan, type StatisticKind } from './noise.ts'
import { toText } from './rational.ts'

/** One class's aggregate after every aggregator has added its noise, in fixed-point units (shifted values for a sum). */
export interface ClassResult {
  readonly plan: NoisePlan
  readonly count?: bigint
  readonly sum?: bigint
  readonly buckets?: readonly bigint[]
}

export interface ClassSummary {
  readonly level: SharingLevel
  readonly epsilon: string
  readonly value: number | number[]
  readonly error: ErrorBars
}

export interface MergedResult {
  readonly kind: StatisticKind
  /** The merged answer in real units: a number, or one count per bucket for a histogram. */
  readonly value: number | number[]
  /** How many matched, as the noisy counts say (absent when no count was released). */
  readonly matched?: number
  /** The merged answer's error (per bucket for a histogram). */
  readonly error: ErrorBars
  readonly classes: readonly ClassSummary[]
}

function required<T>(value: T | undefined, what: string, level: string): T {
  if (value === undefined) throw new InvalidPrivacyParameter(`the ${level} class has no noisy ${what}`)
  return value
}

/**
 * Adds up classes of one query. A noisy count may be below zero or a noisy mean outside the
 * bounds; a mean is reported clipped to the declared bounds, and its count at least 1 (changing
 * a noisy answer afterwards costs no privacy). Counts and sums are reported as drawn, so they
 * stay unbiased.
 */
export function mergeClasses(results: readonly ClassResult[]): MergedResult {
  const first = results[0]
  if (!first) throw new InvalidPrivacyParameter('no class to merge')
  const { kind, bounds, buckets } = first.plan
  for (const { plan } of results) {
    const sameBounds = plan.bounds?.lo === bounds?.lo && plan.bounds?.hi === bounds?.hi && plan.bounds?.decimals === bounds?.decimals
    if (plan.kind !== kind || !sameBounds || plan.buckets !== buckets) throw new InvalidPrivacyParameter('classes of one answer share its statistic, bounds and buckets')
  }
  const unit = bounds ? 10 ** bounds.decimals : 1
  const lo = bounds?.lo ?? 0n
  const range = bounds ? Number(bounds.hi - bounds.lo) : 0
  const hasCount = first.plan.components.some((c) => c.name === 'count')

  const valueOf = (group: readonly ClassResult[]): { value: number | number[]; matched?: number; shiftedMean?: number } => {
    const total = (pick: (r: ClassResult) => bigint | undefined, what: string) => group.reduce((sum, r) => sum + required(pick(r), what, r.plan.level), 0n)
    const count = hasCount ? total((r) => r.count, 'count') : undefined
    switch (kind) {
      case 'count':
        return { value: Number(count), matched: Number(count) }
      case 'histogram': {
        const width = buckets ?? 0
        const sums = Array.from({ length: width }, (_, i) => group.reduce((sum, r) => sum + required(r.buckets?.[i], `bucket ${i}`, r.plan.level), 0n))
        return { value: sums.map(Number) }
      }
      case 'sum': {
        const sum = total((r) => r.sum, 'sum')
        return { value: Number(sum + (count ?? 0n) * lo) / unit, ...(count === undefined ? {} : { matched: Number(count) }) }
      }
      case 'mean': {
        const sum = total((r) => r.sum, 'sum')
        const matched = Math.max(Number(count), 1)
        const shiftedMean = Math.min(Math.max(Number(sum) / matched, 0), range)
        return { value: (shiftedMean + Number(lo)) / unit, matched, shiftedMean }
      }
    }
  }

  const errorOf = (group: readonly ClassResult[], merged: { matched?: number; shiftedMean?: number }) => errorBars(noiseTerms(group, { matched: merged.matched, shiftedMean: merged.shiftedMean }))
  const merged = valueOf(results)
  const classes = results.map((result): ClassSummary => {
    const own = valueOf([result])
    return { level: result.plan.level, epsilon: toText(result.plan.epsilon), value: own.value, error: errorOf([result], own) }
  })
  return { kind, value: merged.value, ...(merged.matched === undefined ? {} : { matched: merged.matched }), error: errorOf(results, merged), classes }
}
