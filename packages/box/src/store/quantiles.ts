/**
 * Quantiles of time ranges: merged from the rollups' sketches for the cells a range covers whole,
 * with raw values at the edges and in cells too sparse to be rolled up, or exact, from every raw
 * value, for small ranges and when asked.
 */
import type { DDSketch } from '@datadog/sketches-js'
import { ROLLUP_RESOLUTIONS } from './rollups.ts'
import { cutCellAt, holdsFew, partHolding, planGrid, rawSpans, sparseBelow, unrolledParts, wholeHoles, type CellReader, type Part, type Span } from './cells.ts'
import { addRow, newSketch } from './sketch.ts'

/**
 * One range's values on their way to a quantile: kept exactly while only raw values and rows of
 * one or two points come in, and as a sketch from the first row that carries one.
 */
export class QuantileAccumulator {
  #values: number[] = []
  #sorted: Float64Array | undefined
  #sketch: DDSketch | undefined

  add(v: number): void {
    if (this.#sketch) this.#sketch.accept(v)
    else this.#values.push(v)
  }

  addRow(n: number, min: number, max: number, blob: Uint8Array | null): void {
    if (!blob) {
      if (n >= 1) this.add(min)
      if (n === 2) this.add(max)
      return
    }
    if (!this.#sketch) {
      this.#sketch = newSketch()
      for (const v of this.#values) this.#sketch.accept(v)
      this.#values = []
    }
    addRow(this.#sketch, n, min, max, blob)
  }

  /** Whether answers come from a sketch, within its relative error, rather than exactly. */
  get approximate(): boolean {
    return this.#sketch !== undefined
  }

  /** The q-quantile, or null with no values. */
  quantile(q: number): number | null {
    if (this.#sketch) return this.#sketch.count > 0 ? this.#sketch.getValueAtQuantile(q) : null
    if (this.#sorted?.length !== this.#values.length) this.#sorted = Float64Array.from(this.#values).sort()
    return exactQuantile(this.#sorted, q)
  }
}

/** The q-quantile of sorted values, interpolated between the two nearest ranks (the median of an even count is the mean of the middle two). */
export function exactQuantile(sorted: Float64Array, q: number): number | null {
  if (sorted.length === 0) return null
  const h = q * (sorted.length - 1)
  const lo = Math.floor(h)
  const below = sorted[lo]!
  return lo + 1 < sorted.length ? below + (h - lo) * (sorted[lo + 1]! - below) : below
}

/** Every raw value of each range, exactly. */
export function exactAccumulators(reader: CellReader, reqs: readonly Span[]): QuantileAccumulator[] {
  const accs = reqs.map(() => new QuantileAccumulator())
  reader.eachRawValue(reqs, reqs.map((_, i) => i), (i, v) => accs[i]!.add(v))
  return accs
}

/**
 * Values of spans from somewhere cheaper than their raw points, where there is one: calls
 * `each(i, value)` for the spans at `indices` it answers and returns the indices it leaves.
 */
export type PackedValues = (spans: readonly Span[], indices: number[], each: (i: number, value: number) => void) => number[]

/**
 * Each of the sorted, disjoint ranges' values: the sketches of the rollup cells it covers whole
 * on the coarsest grid, then the finer grid's in the cells its edges cut, then the values left:
 * from `packed` where it answers, else raw.
 */
export function sketchAccumulators(reader: CellReader, reqs: readonly Span[], packed?: PackedValues): QuantileAccumulator[] {
  const accs = reqs.map(() => new QuantileAccumulator())
  gather(reader, reqs, reqs.map((_, i) => i), accs, 0, packed)
  return accs
}

/** Adds each range's values to accs[targets[i]], reading the grid of ROLLUP_RESOLUTIONS[level] and finer. */
function gather(reader: CellReader, reqs: readonly Span[], targets: number[], accs: QuantileAccumulator[], level: number, packed: PackedValues | undefined): void {
  const few: number[] = []
  const rest: number[] = []
  reqs.forEach((span, i) => (holdsFew(span) ? few : rest).push(i))
  const res = ROLLUP_RESOLUTIONS[level]
  const add = (i: number, v: number) => accs[targets[i]!]!.add(v)
  if (res === undefined) {
    const all = reqs.map((_, i) => i)
    reader.eachRawValue(reqs, packed ? packed(reqs, all, add) : all, add)
    return
  }
  reader.eachRawValue(reqs, few, add)
  // No cell rolled anywhere in the ranges: each cell holds few points, and one scan reads them all.
  if (level === 0 && rest.length > 0 && !reader.anyRolled(reqs[rest[0]!]!.lo, reqs[rest.at(-1)!]!.hi)) {
    reader.eachRawPoint(rest.map((i) => reqs[i]!), (k, v) => accs[targets[rest[k]!]!]!.add(v))
    return
  }

  // Parts refer to the ranges read on this grid, rest[part.req].
  const plan = planGrid(rest.map((i) => reqs[i]!), res)
  const cutCounts = plan.cut.map(() => 0)
  const rows = reader.sketchRows(res, plan.runs)
  const wholeRows = new Array<number>(plan.whole.length).fill(0)
  for (const [bucket, n, min, max, sketch] of rows) {
    const k = cutCellAt(plan.cut, bucket)
    if (k !== undefined) cutCounts[k]! += n
    else {
      const w = partHolding(plan.whole, bucket)
      if (w === undefined) continue
      accs[targets[rest[plan.whole[w]!.req]!]!]!.addRow(n, min, max, sketch)
      wholeRows[w]!++
    }
  }
  // Cells without a row of the series are empty of them if rolled, and read raw if not.
  const holes: Part[] = wholeHoles(reader, res, plan.whole, wholeRows, rows, [])
  plan.cut.forEach((cell, k) => {
    if (cutCounts[k] === 0) for (const part of cell.parts) if (part.req >= 0) holes.push(part)
  })
  if (holes.length > 0) {
    const raw = rawSpans(unrolledParts(reader, res, holes.sort((a, b) => a.lo - b.lo)), res)
    if (raw.spans.length > 0) gather(reader, raw.spans, raw.reqs.map((req) => targets[rest[req]!]!), accs, ROLLUP_RESOLUTIONS.length, packed)
  }
  // Parts of cut cells: on the finer grid, or raw where that grid is likely not rolled.
  const finer: Span[][] = [[], []]
  const finerTargets: number[][] = [[], []]
  const below = sparseBelow(level)
  plan.cut.forEach((cell, k) => {
    const n = cutCounts[k]!
    if (n === 0) return
    const to = n < below ? 1 : 0
    for (const part of cell.parts) {
      if (part.req < 0) continue
      finer[to]!.push({ lo: part.lo, hi: part.hi, est: (n * (part.hi - part.lo)) / res })
      finerTargets[to]!.push(targets[rest[part.req]!]!)
    }
  })
  if (finer[0]!.length > 0) gather(reader, finer[0]!, finerTargets[0]!, accs, level + 1, packed)
  if (finer[1]!.length > 0) gather(reader, finer[1]!, finerTargets[1]!, accs, ROLLUP_RESOLUTIONS.length, packed)
}
