/**
 * Pearson's chi-square goodness-of-fit test of integer samples against an exact pmf. The tests
 * hold the samplers to it; it is exported so that whoever adds noise elsewhere can check theirs.
 */

export interface ChiSquareResult {
  readonly statistic: number
  readonly degreesOfFreedom: number
  /** The probability of a statistic at least this large if the samples follow the pmf. */
  readonly pValue: number
  readonly bins: number
}

/**
 * Bins every integer whose expected count is at least `minExpected` (5, the usual rule for the
 * chi-square approximation to hold) and pools the rest of each tail into one bin, so no
 * probability is left out. `pmf` must sum to 1 over the integers.
 */
export function chiSquareTest(samples: Iterable<bigint | number>, pmf: (x: number) => number, options: { minExpected?: number } = {}): ChiSquareResult {
  const minExpected = options.minExpected ?? 5
  const observed = new Map<number, number>()
  let n = 0
  for (const sample of samples) {
    const x = Number(sample)
    observed.set(x, (observed.get(x) ?? 0) + 1)
    n++
  }
  if (n === 0) throw new RangeError('no samples')
  // The pmfs tested here are unimodal around 0: walk outwards while a value's expected count is big enough.
  let lo = 0
  let hi = 0
  while (pmf(lo - 1) * n >= minExpected) lo--
  while (pmf(hi + 1) * n >= minExpected) hi++
  const bins: { expected: number; observed: number }[] = []
  for (let x = lo; x <= hi; x++) bins.push({ expected: pmf(x) * n, observed: observed.get(x) ?? 0 })
  // Each tail beyond [lo, hi] is one pooled bin, or joins the bin next to it when too small to stand alone.
  const tailMass = (from: number, step: 1 | -1) => {
    let mass = 0
    for (let x = from, p = pmf(x); p > 1e-20 && Math.abs(x) < 1e7; x += step, p = pmf(x)) mass += p
    return mass
  }
  let leftObserved = 0
  let rightObserved = 0
  for (const [x, count] of observed) {
    if (x < lo) leftObserved += count
    else if (x > hi) rightObserved += count
  }
  const tails = [
    { expected: tailMass(lo - 1, -1) * n, observed: leftObserved, edge: 0 },
    { expected: tailMass(hi + 1, 1) * n, observed: rightObserved, edge: bins.length - 1 },
  ]
  for (const tail of tails) {
    const next = bins[tail.edge]!
    if (tail.expected >= minExpected) bins.push({ expected: tail.expected, observed: tail.observed })
    else bins[tail.edge] = { expected: next.expected + tail.expected, observed: next.observed + tail.observed }
  }
  const statistic = bins.reduce((sum, { expected, observed: seen }) => sum + (seen - expected) ** 2 / expected, 0)
  const degreesOfFreedom = bins.length - 1
  return { statistic, degreesOfFreedom, pValue: upperRegularisedGamma(degreesOfFreedom / 2, statistic / 2), bins: bins.length }
}

/** ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9; about 15 significant digits). */
function logGamma(x: number): number {
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7]
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x)
  const z = x - 1
  let a = c[0]!
  const t = z + 7.5
  for (let i = 1; i < 9; i++) a += c[i]! / (z + i)
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a)
}

/** Q(a, x) = Γ(a, x)/Γ(a): the chi-square survival function is Q(df/2, χ²/2). Series below a + 1, continued fraction above. */
export function upperRegularisedGamma(a: number, x: number): number {
  if (x <= 0) return 1
  if (!Number.isFinite(x)) return 0
  const prefactor = Math.exp(-x + a * Math.log(x) - logGamma(a))
  if (x < a + 1) {
    let term = 1 / a
    let sum = term
    for (let k = 1; k < 10_000 && Math.abs(term) > Math.abs(sum) * 1e-16; k++) {
      term *= x / (a + k)
      sum += term
    }
    return Math.max(0, 1 - prefactor * sum)
  }
  // Modified Lentz for the continued fraction of Γ(a, x).
  const tiny = 1e-300
  let b = x + 1 - a
  let c = 1 / tiny
  let d = 1 / b
  let h = d
  for (let i = 1; i < 10_000; i++) {
    const an = -i * (i - a)
    b += 2
    d = an * d + b
    if (Math.abs(d) < tiny) d = tiny
    c = b + an / c
    if (Math.abs(c) < tiny) c = tiny
    d = 1 / d
    const delta = d * c
    h *= delta
    if (Math.abs(delta - 1) < 1e-16) break
  }
  return prefactor * h
}
