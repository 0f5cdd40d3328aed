import { InvalidPrivacyParameter } from './errors.ts'

/**
 * A non-negative rational number as two BigInts, always in lowest terms with a positive
 * denominator. Privacy parameters (ε, noise scales, σ²) are rationals so that the samplers
 * can run on exact integer arithmetic, and so that a budget of ε = 1 is spent by exactly ten
 * queries of ε = 0.1 (in binary floating point ten 0.1s add up to 0.9999999999999999).
 */
export interface Rational {
  readonly num: bigint
  readonly den: bigint
}

function gcd(a: bigint, b: bigint): bigint {
  while (b !== 0n) [a, b] = [b, a % b]
  return a < 0n ? -a : a
}

export function rational(num: bigint | number, den: bigint | number = 1n): Rational {
  const n = BigInt(num)
  const d = BigInt(den)
  if (d === 0n) throw new InvalidPrivacyParameter('a rational needs a non-zero denominator')
  if (n < 0n !== d < 0n && n !== 0n) throw new InvalidPrivacyParameter(`privacy parameters are never negative (got ${n}/${d})`)
  const g = gcd(n, d)
  const sign = d < 0n ? -1n : 1n
  return { num: (sign * n) / g, den: (sign * d) / g }
}

/** Reads a decimal ("0.1", "2", "1e-2") or a fraction ("1/3") exactly, without going through a float. */
export function parseRational(text: string): Rational {
  const fraction = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text)
  if (fraction) return rational(BigInt(fraction[1]!), BigInt(fraction[2]!))
  const decimal = /^\s*(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?\s*$/.exec(text)
  if (!decimal || (decimal[1] === '' && (decimal[2] ?? '') === '')) throw new InvalidPrivacyParameter(`"${text}" is not a non-negative number or fraction`)
  const whole = decimal[1] ?? ''
  const fractional = decimal[2] ?? ''
  const exponent = Number(decimal[3] ?? 0) - fractional.length
  const digits = BigInt(whole + fractional || '0')
  return exponent >= 0 ? rational(digits * 10n ** BigInt(exponent)) : rational(digits, 10n ** BigInt(-exponent))
}

export function add(a: Rational, b: Rational): Rational {
  return rational(a.num * b.den + b.num * a.den, a.den * b.den)
}

export function subtract(a: Rational, b: Rational): Rational {
  return rational(a.num * b.den - b.num * a.den, a.den * b.den)
}

export function multiply(a: Rational, b: Rational): Rational {
  return rational(a.num * b.num, a.den * b.den)
}

export function divide(a: Rational, b: Rational): Rational {
  if (b.num === 0n) throw new InvalidPrivacyParameter('division by zero')
  return rational(a.num * b.den, a.den * b.num)
}

/** -1, 0 or 1 as a is less than, equal to or greater than b. */
export function compare(a: Rational, b: Rational): -1 | 0 | 1 {
  const left = a.num * b.den
  const right = b.num * a.den
  return left < right ? -1 : left > right ? 1 : 0
}

export function isZero(a: Rational): boolean {
  return a.num === 0n
}

/** For display and error bars only: never feed the result back into a sampler. */
export function toNumber(a: Rational): number {
  return Number(a.num) / Number(a.den)
}

export function toText(a: Rational): string {
  return a.den === 1n ? `${a.num}` : `${a.num}/${a.den}`
}
