/**
 * Privacy levels, as myneData named them, and the parameters each stands for. An owner sets
 * one level per logical type; the table below is what the level means, and is published so
 * owners and processors read the same numbers.
 */
import { PRIVACY_LEVELS, type PrivacyLevel, type SharingLevel } from '../protocol/index.ts'
import { NotShared } from './errors.ts'
import { parseRational, toText, type Rational } from './rational.ts'

export { PRIVACY_LEVELS, type PrivacyLevel, type SharingLevel }

export interface SharingParameters {
  readonly level: SharingLevel
  readonly shares: true
  /** ε of one statistics answer (count, sum, mean, histogram), ε-differential privacy, pure. */
  readonly epsilon: Rational
  /** ε an owner's box may spend on one logical type in one calendar month (sequential composition). */
  readonly monthlyBudget: Rational
  /** A released dataset's equivalence classes have at least k members… */
  readonly k: number
  /** …and at least l distinct values of each sensitive attribute (distinct l-diversity). */
  readonly l: number
  readonly description: string
}

export interface NotSharingParameters {
  readonly level: 'dont_share'
  readonly shares: false
  readonly description: string
}

export type LevelParameters = SharingParameters | NotSharingParameters

/*
 * Why these numbers.
 *
 * ε bounds how much any answer can change the odds of any conclusion about one person: by a
 * factor of at most e^ε, whatever the processor knew before (Dwork & Roth, "The Algorithmic
 * Foundations of Differential Privacy", 2014, §2.3).
 * - low, ε = 1: odds move by at most e ≈ 2.7. Dwork and Roth's "small constant"; the level
 *   most deployed statistics use per release, and the one that gives processors the
 *   sharpest answers.
 * - medium, ε = 1/2: at most ×1.65. Twice the noise of low.
 * - high, ε = 1/10: at most ×1.105, hard to tell from not taking part at all; ten times the
 *   noise of low, useful only in large classes (see expectedError).
 * The monthly budgets cap what all answers in a month reveal together, since ε adds up over
 * answers about the same data (sequential composition, Dwork & Roth Thm 3.16): five answers a
 * month at low (e^5 ≈ 148, a deliberate trade of privacy for participation), four at medium
 * (e^2 ≈ 7.4), five at high (e^0.5 ≈ 1.65, still close to not taking part).
 *
 * k and l apply to datasets, where no noise is added. k-anonymity (Sweeney 2002) puts each
 * released record among at least k that look the same, so a record is linked to a person with
 * probability at most 1/k: 20 % at low (k = 5, the least the market ever allows), 10 % at
 * medium, 5 % at high. l-diversity (Machanavajjhala et al. 2007) stops a class whose members
 * all share one sensitive value from disclosing it anyway: 2, 3 and 4 distinct values.
 */
export const PRIVACY_PARAMETERS: Readonly<Record<PrivacyLevel, LevelParameters>> = Object.freeze({
  low: { level: 'low', shares: true, epsilon: parseRational('1'), monthlyBudget: parseRational('5'), k: 5, l: 2, description: 'sharper answers; any one answer changes what can be concluded about you by at most a factor of 2.7' },
  medium: { level: 'medium', shares: true, epsilon: parseRational('0.5'), monthlyBudget: parseRational('2'), k: 10, l: 3, description: 'twice the noise of low; at most a factor of 1.65 per answer' },
  high: { level: 'high', shares: true, epsilon: parseRational('0.1'), monthlyBudget: parseRational('0.5'), k: 20, l: 4, description: 'ten times the noise of low; at most a factor of 1.1 per answer' },
  dont_share: { level: 'dont_share', shares: false, description: 'never answers' },
})

/** The table as the market publishes it (GET /privacy): ε and budgets as decimals or fractions. */
export function publishedLevels(): { level: PrivacyLevel; shares: boolean; epsilon?: string; monthlyBudget?: string; k?: number; l?: number; description: string }[] {
  return PRIVACY_LEVELS.map((level) => {
    const p = PRIVACY_PARAMETERS[level]
    return p.shares
      ? { level, shares: true, epsilon: toText(p.epsilon), monthlyBudget: toText(p.monthlyBudget), k: p.k, l: p.l, description: p.description }
      : { level, shares: false, description: p.description }
  })
}

/** What the market sees of the answers, per kind: the processors' terms and the README say the same. */
export const WHAT_THE_MARKET_SEES = {
  statistics: 'Which boxes answered and at which privacy level. Each answer is two encrypted shares, one per aggregator; neither aggregator can read a value, and each adds its own noise before anything is released.',
  datasets: 'Which boxes answered and at which privacy level, and which records share a class and how many do; never the values of a class smaller than k, which stay sealed. Generalised values are few, so a market that tried every combination could recompute a small class\'s key: STAR\'s separate randomness server, which would close that, is not run yet.',
} as const

/** The least k the market releases at any level. */
export const MIN_K = 5

/** What an owner chose: a level per logical type, and one for types not listed. */
export interface PrivacySettings {
  readonly byType: Readonly<Record<string, PrivacyLevel>>
  /** For logical types not in byType; "don't share" when absent, so a new type stays closed until the owner opens it. */
  readonly otherwise?: PrivacyLevel
}

export function levelFor(settings: PrivacySettings, logicalType: string): PrivacyLevel {
  return settings.byType[logicalType] ?? settings.otherwise ?? 'dont_share'
}

const STRICTNESS: Record<PrivacyLevel, number> = { low: 0, medium: 1, high: 2, dont_share: 3 }

/** The strictest of several levels: a query touching several types gets the strictest of theirs. */
export function strictestLevel(levels: Iterable<PrivacyLevel>): PrivacyLevel {
  let strictest: PrivacyLevel = 'low'
  for (const level of levels) if (STRICTNESS[level] > STRICTNESS[strictest]) strictest = level
  return strictest
}

/**
 * The parameters an answer touching these logical types gets: those of the strictest level
 * among them. Throws NotShared, naming the type, when any of them is "don't share": the box
 * then does not answer at all (not even with noise).
 */
export function parametersForQuery(settings: PrivacySettings, logicalTypes: readonly string[]): SharingParameters {
  if (logicalTypes.length === 0) throw new NotShared('a query that names no logical type')
  for (const type of logicalTypes) if (levelFor(settings, type) === 'dont_share') throw new NotShared(type)
  const parameters = PRIVACY_PARAMETERS[strictestLevel(logicalTypes.map((type) => levelFor(settings, type)))]
  if (!parameters.shares) throw new NotShared(logicalTypes.join(', '))
  return parameters
}

/** The parameters of one sharing level; NotShared for "don't share". */
export function sharingParameters(level: PrivacyLevel): SharingParameters {
  const parameters = PRIVACY_PARAMETERS[level]
  if (!parameters.shares) throw new NotShared(`data at level ${level}`)
  return parameters
}
