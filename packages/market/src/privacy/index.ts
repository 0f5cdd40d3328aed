/**
 * Differential privacy for the market and the boxes: exact discrete noise, what each privacy
 * level means, how much noise an answer gets and how wrong it will be, privacy classes, and
 * the per-owner budget. The maths, with references, is in README.md beside this file.
 */
export { type Rational, rational, parseRational, add, subtract, multiply, divide, compare, isZero, toNumber, toText } from './rational.ts'
export { type RandomSource, cryptoRandom, seededRandom } from './random.ts'
export { type NoiseSampler, createNoiseSampler } from './samplers.ts'
export { discreteLaplacePmf, discreteLaplaceVariance, discreteLaplaceTail, discreteGaussianPmf, discreteGaussianVariance } from './distributions.ts'
export {
  PRIVACY_LEVELS,
  PRIVACY_PARAMETERS,
  MIN_K,
  type PrivacyLevel,
  type SharingLevel,
  type SharingParameters,
  type NotSharingParameters,
  type LevelParameters,
  type PrivacySettings,
  levelFor,
  strictestLevel,
  parametersForQuery,
  sharingParameters,
  publishedLevels,
  WHAT_THE_MARKET_SEES,
} from './levels.ts'
export {
  type StatisticKind,
  type FixedPointBounds,
  type ComponentName,
  type NoiseComponent,
  type NoisePlan,
  type NoisePlanInput,
  type Noise,
  fixedPointBounds,
  encodeValue,
  decodeSum,
  planNoise,
  drawNoise,
  noiseTerms,
  expectedError,
  expectedMergedError,
} from './noise.ts'
export { type NoiseTerm, type ErrorBars, errorBars } from './error-bars.ts'
export { type ClassResult, type ClassSummary, type MergedResult, mergeClasses } from './classes.ts'
export { BUDGET_PERIODS, type BudgetPeriod, type Budget, type BudgetUsage, budgetForLevel, periodOf, usageAt, remaining, canSpend, spend, spendForAnswer } from './budget.ts'
export { type ChiSquareResult, chiSquareTest, upperRegularisedGamma } from './goodness-of-fit.ts'
export { InvalidPrivacyParameter, NotShared, BudgetExceeded } from './errors.ts'
