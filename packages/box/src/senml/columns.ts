/**
 * Resolved records as packed columns: what a parsing thread hands back. A thousand record
 * objects cost the receiving thread about as much to rebuild from a structured clone as to
 * parse from JSON; typed arrays move between threads without a copy, and names and units,
 * which repeat, travel once each.
 */
import type { SenmlRecord } from './resolve.ts'
import { flagsOf, namesAndUnits, HAS_SUM, HAS_UT, V, VALUE_KIND, VB_FALSE, VB_TRUE, VD, VS } from './fields.ts'

export interface PackedRecords {
  count: number
  /** Each distinct name once; `name[i]` indexes it. */
  names: string[]
  /** Each distinct unit once; `unit[i]` is its index + 1, 0 for none. */
  units: string[]
  name: Uint32Array
  unit: Uint32Array
  flags: Uint8Array
  t: Float64Array
  /** v, s and ut, each 0 where the record has none (the flags say which it has). */
  v: Float64Array
  s: Float64Array
  ut: Float64Array
  /** The vs and vd values, in record order. */
  texts: string[]
}

export function packRecords(records: SenmlRecord[]): PackedRecords {
  const count = records.length
  const packed: PackedRecords = {
    count, ...namesAndUnits(records), texts: [], flags: new Uint8Array(count),
    t: new Float64Array(count), v: new Float64Array(count), s: new Float64Array(count), ut: new Float64Array(count),
  }
  for (let i = 0; i < count; i++) {
    const r = records[i]!
    const flags = flagsOf(r)
    packed.flags[i] = flags
    packed.t[i] = r.t
    const kind = flags & VALUE_KIND
    if (kind === V) packed.v[i] = r.v!
    else if (kind === VS) packed.texts.push(r.vs!)
    else if (kind === VD) packed.texts.push(r.vd!)
    if (flags & HAS_SUM) packed.s[i] = r.s!
    if (flags & HAS_UT) packed.ut[i] = r.ut!
  }
  return packed
}

/** The buffers postMessage can move rather than copy. */
export function transferablesOf(packed: PackedRecords): ArrayBuffer[] {
  return [packed.name, packed.unit, packed.flags, packed.t, packed.v, packed.s, packed.ut].map((a) => a.buffer as ArrayBuffer)
}

/** The records again, each with its fields in the order resolvePack gives them. */
export function unpackRecords(packed: PackedRecords): SenmlRecord[] {
  const { count, names, units, name, unit, flags, t, v, s, ut, texts } = packed
  const records: SenmlRecord[] = new Array(count)
  let text = 0
  for (let i = 0; i < count; i++) {
    const r: SenmlRecord = { n: names[name[i]!]!, t: t[i]! }
    const u = unit[i]!
    if (u > 0) r.u = units[u - 1]
    const f = flags[i]!
    const kind = f & VALUE_KIND
    if (kind === V) r.v = v[i]
    else if (kind === VS) r.vs = texts[text++]
    else if (kind === VB_TRUE) r.vb = true
    else if (kind === VB_FALSE) r.vb = false
    else if (kind === VD) r.vd = texts[text++]
    if (f & HAS_SUM) r.s = s[i]
    if (f & HAS_UT) r.ut = ut[i]
    records[i] = r
  }
  return records
}
