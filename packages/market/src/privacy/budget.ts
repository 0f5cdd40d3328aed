/**
 * The privacy budget: how much ε a box may spend per logical type over a period. Answers about
 * the same data compose sequentially: k answers with ε_1 … ε_k are together (Σ ε_i)-differentially
 * private (Dwork & Roth 2014, Thm 3.16), so the box adds up what it spent and refuses an answer
 * that would take the sum past the limit. That is what defeats differencing: a processor who asks
 * again and again spends the owner's budget, and the box stops answering.
 *
 * Pure functions over a small record the box persists per owner and logical type. Amounts are
 * rationals, so the limit is reached exactly (ten answers of ε = 1/10 spend exactly 1).
 * Periods are calendar periods in UTC; a new period starts with nothing spent.
 */
import { BudgetExceeded, InvalidPrivacyParameter } from './errors.ts'
import { sharingParameters, type PrivacyLevel } from './levels.ts'
import { add, compare, rational, subtract, toText, type Rational } from './rational.ts'

export const BUDGET_PERIODS = ['day', 'week', 'month', 'quarter', 'year'] as const
export type BudgetPeriod = (typeof BUDGET_PERIODS)[number]

export interface Budget {
  /** The most ε that may be spent in one period. */
  readonly limit: Rational
  readonly period: BudgetPeriod
}

/** What the box keeps per owner and logical type. */
export interface BudgetUsage {
  /** Start of the period the amount was spent in, as an ISO 8601 instant (UTC). */
  readonly periodStart: string
  readonly spent: Rational
}

const ZERO = rational(0n)

/** The level's monthly budget from PRIVACY_PARAMETERS (NotShared for "don't share"). */
export function budgetForLevel(level: PrivacyLevel): Budget {
  return { limit: sharingParameters(level).monthlyBudget, period: 'month' }
}

/** The calendar period (UTC) containing `at`; weeks start on Monday (ISO 8601). */
export function periodOf(period: BudgetPeriod, at: Date): { start: Date; end: Date } {
  if (Number.isNaN(at.getTime())) throw new InvalidPrivacyParameter('an invalid date')
  const y = at.getUTCFullYear()
  const m = at.getUTCMonth()
  const d = at.getUTCDate()
  switch (period) {
    case 'day':
      return { start: new Date(Date.UTC(y, m, d)), end: new Date(Date.UTC(y, m, d + 1)) }
    case 'week': {
      const sinceMonday = (at.getUTCDay() + 6) % 7
      return { start: new Date(Date.UTC(y, m, d - sinceMonday)), end: new Date(Date.UTC(y, m, d - sinceMonday + 7)) }
    }
    case 'month':
      return { start: new Date(Date.UTC(y, m, 1)), end: new Date(Date.UTC(y, m + 1, 1)) }
    case 'quarter': {
      const first = m - (m % 3)
      return { start: new Date(Date.UTC(y, first, 1)), end: new Date(Date.UTC(y, first + 3, 1)) }
    }
    case 'year':
      return { start: new Date(Date.UTC(y, 0, 1)), end: new Date(Date.UTC(y + 1, 0, 1)) }
  }
}

/** The usage as it stands at `now`: what was recorded, or nothing spent if that was in an earlier period (or never). */
export function usageAt(usage: BudgetUsage | undefined, budget: Budget, now: Date): BudgetUsage {
  const { start } = periodOf(budget.period, now)
  const periodStart = start.toISOString()
  if (!usage || usage.periodStart !== periodStart) return { periodStart, spent: ZERO }
  return usage
}

export function remaining(usage: BudgetUsage | undefined, budget: Budget, now: Date): Rational {
  const left = subtract(budget.limit, usageAt(usage, budget, now).spent)
  return compare(left, ZERO) < 0 ? ZERO : left
}

/** Whether an answer costing ε fits in what is left of this period's budget. */
export function canSpend(usage: BudgetUsage | undefined, budget: Budget, epsilon: Rational, now: Date): boolean {
  return compare(add(usageAt(usage, budget, now).spent, epsilon), budget.limit) <= 0
}

/** The usage after spending ε; BudgetExceeded (and nothing spent) when it does not fit. */
export function spend(usage: BudgetUsage | undefined, budget: Budget, epsilon: Rational, now: Date, logicalType?: string): BudgetUsage {
  const current = usageAt(usage, budget, now)
  if (!canSpend(current, budget, epsilon, now)) {
    const left = remaining(current, budget, now)
    const periodEnd = periodOf(budget.period, now).end.toISOString()
    const what = logicalType === undefined ? 'the budget' : `the budget for ${logicalType}`
    throw new BudgetExceeded(`an answer costing ε = ${toText(epsilon)} would overrun ${what}: ${toText(left)} of ${toText(budget.limit)} is left until ${periodEnd}`, {
      ...(logicalType === undefined ? {} : { logicalType }),
      remaining: toText(left),
      requested: toText(epsilon),
      periodEnd,
    })
  }
  return { periodStart: current.periodStart, spent: add(current.spent, epsilon) }
}

/**
 * Spends ε on every logical type an answer touches, all or nothing: the new usage of each, or
 * BudgetExceeded naming the first type without room (and nothing spent on any).
 */
export function spendForAnswer(
  usages: Readonly<Record<string, BudgetUsage | undefined>>,
  budgets: Readonly<Record<string, Budget>>,
  logicalTypes: readonly string[],
  epsilon: Rational,
  now: Date,
): Record<string, BudgetUsage> {
  const updated: Record<string, BudgetUsage> = {}
  for (const type of new Set(logicalTypes)) {
    const budget = budgets[type]
    if (!budget) throw new InvalidPrivacyParameter(`no budget for ${type}`)
    updated[type] = spend(usages[type], budget, epsilon, now, type)
  }
  return updated
}
