/**
 * How a resolved record is laid out where it is stored or handed between threads: the log's
 * blocks (store/codec.ts) and the parsing threads' columns (columns.ts) write the same flag byte
 * and list names and units once each, with every record pointing into the lists.
 */
import type { SenmlRecord } from './resolve.ts'

/** Which value a record carries (the flag byte's low three bits, VALUE_KIND), and whether a sum and an update time follow. */
export const V = 1
export const VS = 2
export const VB_TRUE = 3
export const VB_FALSE = 4
export const VD = 5
export const VALUE_KIND = 7
export const HAS_SUM = 8
export const HAS_UT = 16

export function flagsOf(r: SenmlRecord): number {
  let flags = r.v !== undefined ? V : r.vs !== undefined ? VS : r.vb !== undefined ? (r.vb ? VB_TRUE : VB_FALSE) : r.vd !== undefined ? VD : 0
  if (r.s !== undefined) flags |= HAS_SUM
  if (r.ut !== undefined) flags |= HAS_UT
  return flags
}

/** Each distinct name and unit once, in order of first use; `name[i]` indexes names, `unit[i]` is an index into units + 1, 0 for none. */
export function namesAndUnits(records: readonly SenmlRecord[]): { names: string[]; units: string[]; name: Uint32Array; unit: Uint32Array } {
  const names: string[] = []
  const units: string[] = []
  const nameIndex = new Map<string, number>()
  const unitIndex = new Map<string, number>()
  const name = new Uint32Array(records.length)
  const unit = new Uint32Array(records.length)
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!
    let n = nameIndex.get(r.n)
    if (n === undefined) nameIndex.set(r.n, (n = names.push(r.n) - 1))
    name[i] = n
    if (r.u !== undefined) {
      let u = unitIndex.get(r.u)
      if (u === undefined) unitIndex.set(r.u, (u = units.push(r.u)))
      unit[i] = u
    }
  }
  return { names, units, name, unit }
}
