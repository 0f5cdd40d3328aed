/**
 * Quantile sketches kept in the rollups: DDSketch (Datadog's @datadog/sketches-js), whose
 * answers are within a stated relative error of a true value at the quantile's rank, and
 * whose merges are exact, because a sketch is only counts of values per logarithmic bin.
 *
 * A rollup row stores its bins compactly (varints; a few bytes per occupied bin) and no sketch
 * at all while it holds one or two points: min and max are then those points, exactly, so
 * sparse series pay nothing for sketches. Sketches are merged here by adding bins one at a
 * time, not with the library's merge(), which drops negative values (sketches-js issue #22).
 */
import type Database from 'better-sqlite3'
import { DDSketch } from '@datadog/sketches-js'

/** A quantile read from a sketch is within this fraction of |x| of a true value x at its rank. */
export const SKETCH_RELATIVE_ERROR = 0.01

export function newSketch(): DDSketch {
  return new DDSketch({ relativeAccuracy: SKETCH_RELATIVE_ERROR })
}

/** One store of bins (the positive or the negative values'), as the library keeps it. */
interface Bins { bins: number[]; offset: number }

/** A sketch's bins: the count of zeros, then each store's occupied bins as (key step, count) pairs. */
export function encodeSketch(sketch: DDSketch): Buffer {
  const out: number[] = []
  writeVarint(out, sketch.zeroCount)
  writeBins(out, sketch.store)
  writeBins(out, sketch.negativeStore)
  return Buffer.from(out)
}

function writeBins(out: number[], store: Bins): void {
  let occupied = 0
  for (const c of store.bins) if (c > 0) occupied++
  writeVarint(out, occupied)
  let last = 0
  store.bins.forEach((count, i) => {
    if (!(count > 0)) return
    const key = i + store.offset
    writeVarint(out, zigzag(key - last))
    writeVarint(out, count)
    last = key
  })
}

/** Adds an encoded sketch's bins to `sketch`. */
export function addEncoded(sketch: DDSketch, blob: Uint8Array): void {
  const at = { i: 0 }
  const zeros = readVarint(blob, at)
  if (zeros > 0) sketch.accept(0, zeros)
  for (const sign of [1, -1]) {
    let key = 0
    for (let n = readVarint(blob, at); n > 0; n--) {
      key += unzigzag(readVarint(blob, at))
      // A bin's representative value maps back to that very bin, so this re-adds the bin's count.
      sketch.accept(sign * sketch.mapping.value(key), readVarint(blob, at))
    }
  }
}

/** The encoded sketch of these values, or null for one or two (a rollup row's min and max hold them). */
export function sketchOfValues(values: ArrayLike<number>): Buffer | null {
  if (values.length <= 2) return null
  const sketch = newSketch()
  for (let i = 0; i < values.length; i++) sketch.accept(values[i]!)
  return encodeSketch(sketch)
}

/** A rollup row's values as a sketch: its stored bins, or its min and max when it holds one or two points. */
export function addRow(sketch: DDSketch, n: number, min: number, max: number, blob: Uint8Array | null): void {
  if (blob) addEncoded(sketch, blob)
  else if (n === 1) sketch.accept(min)
  else if (n === 2) {
    sketch.accept(min)
    sketch.accept(max)
  }
}

/**
 * SQL functions the rollups are kept with: `coffer_sketch_merge(n, min, max, sketch, n2, min2, max2, sketch2)`,
 * the sketch of two rollup rows together, and the aggregate `coffer_sketch(val)`.
 */
export function registerSketchFunctions(db: Database.Database): void {
  db.function('coffer_sketch_merge', { deterministic: true }, (n1, min1, max1, blob1, n2, min2, max2, blob2) => {
    if ((n1 as number) + (n2 as number) <= 2) return null
    const sketch = newSketch()
    addRow(sketch, n1 as number, min1 as number, max1 as number, blob1 as Uint8Array | null)
    addRow(sketch, n2 as number, min2 as number, max2 as number, blob2 as Uint8Array | null)
    return encodeSketch(sketch)
  })
  db.aggregate('coffer_sketch', {
    start: () => [] as number[],
    step: (values: number[], v: unknown) => {
      if (typeof v === 'number') values.push(v)
      return values
    },
    result: (values: number[]) => sketchOfValues(values),
  })
}

function zigzag(n: number): number {
  return n < 0 ? -2 * n - 1 : 2 * n
}

function unzigzag(n: number): number {
  return n % 2 === 1 ? -(n + 1) / 2 : n / 2
}

/** Unsigned LEB128; counts and keys stay far below 2^53. */
function writeVarint(out: number[], n: number): void {
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80)
    n = Math.floor(n / 0x80)
  }
  out.push(n)
}

function readVarint(buf: Uint8Array, at: { i: number }): number {
  let n = 0
  let scale = 1
  for (;;) {
    const byte = buf[at.i++]
    if (byte === undefined) throw new Error('A rollup sketch ends early.')
    n += (byte & 0x7f) * scale
    if (byte < 0x80) return n
    scale *= 0x80
  }
}
