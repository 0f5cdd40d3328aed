/**
 * SenML pack resolution (RFC 8428 §4): turns a pack of JSON-shaped records, with their
 * base fields and relative times, into self-contained records. Both the JSON and the CBOR
 * readers end here, so every rule lives in one place.
 */
import { InvalidInput } from '../errors/index.ts'

/** A resolved record (RFC 8428 §4.6): no base fields, absolute time. */
export interface SenmlRecord {
  /** Full name, bn + n. */
  n: string
  /** Seconds since the epoch. */
  t: number
  u?: string
  v?: number
  vs?: string
  vb?: boolean
  /** Binary value, base64url without padding (as in SenML JSON). */
  vd?: string
  s?: number
  ut?: number
}

/** The SenML version this code implements; RFC 8428 §4.4 forbids using anything newer. */
const VERSION = 10

/** Times below 2**28 (1978-07-04) are offsets from "now" (RFC 8428 §4.5.3). */
const RELATIVE_LIMIT = 2 ** 28

const BASE64URL = /^[A-Za-z0-9_-]*$/

/** Every rejection names the record and field at fault, in the detail text and in the problem body. */
export function fail(index: number, field: string | undefined, message: string): never {
  const at = field === undefined ? `pack[${index}]` : `pack[${index}].${field}`
  throw new InvalidInput(`${at}: ${message}`, field === undefined ? { index } : { index, field })
}

function str(x: unknown, index: number, field: string): string {
  if (typeof x !== 'string') fail(index, field, 'must be a string')
  return x
}

function num(x: unknown, index: number, field: string): number {
  if (typeof x !== 'number' || !Number.isFinite(x)) fail(index, field, 'must be a finite number')
  return x
}

/** Adding two finite doubles can still overflow, and an infinite time or value is useless downstream. */
function add(a: number, b: number, index: number, field: string): number {
  const r = a + b
  if (!Number.isFinite(r)) fail(index, field, 'resolves to a non-finite number')
  return r
}

/**
 * Position of the first character in `part` that RFC 8428 §4.5.1 forbids, or -1.
 * `leading` says whether `part` starts the name, where the rule is stricter.
 */
function badNameAt(part: string, leading: boolean): number {
  for (let k = 0; k < part.length; k++) {
    const c = part.charCodeAt(k)
    if ((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)) continue
    // '-' ':' '.' '/' '_' are allowed, but not first, so that a name is always a usable URI segment.
    if ((k > 0 || !leading) && (c === 0x2d || c === 0x3a || c === 0x2e || c === 0x2f || c === 0x5f)) continue
    return k
  }
  return -1
}

/** `bnBad` is badNameAt(bn) computed once per bn: scanning only n keeps long base names cheap. */
function checkName(bn: string, bnBad: number, n: string | undefined, index: number): string {
  const name = n === undefined ? bn : bn + n
  if (name === '') fail(index, 'n', 'the name (bn + n) is empty')
  let at = bnBad
  if (at < 0 && n !== undefined) {
    const k = badNameAt(n, bn === '')
    if (k >= 0) at = bn.length + k
  }
  if (at < 0) return name
  const shown = JSON.stringify(name.length > 80 ? name.slice(0, 80) + '…' : name)
  const why = at === 0
    ? 'must start with A-Z, a-z or 0-9'
    : `character ${JSON.stringify(name[at])} at position ${at} is not allowed (only A-Z a-z 0-9 - : . / _)`
  // Blame the field the bad character came from, so the sender knows which one to fix.
  fail(index, at < bn.length ? 'bn' : 'n', `invalid name ${shown}: ${why}`)
}

/**
 * Resolves a decoded pack. `now` (seconds since the epoch) anchors relative times.
 * The result is in chronological order, as §4.6 requires of resolved records; the sort is
 * stable, so records with equal times keep their pack order.
 */
export function resolvePack(pack: unknown, now: number): SenmlRecord[] {
  if (!Array.isArray(pack) || pack.length === 0) {
    throw new InvalidInput('a SenML pack must be a non-empty array of records')
  }
  const out: SenmlRecord[] = []
  // Base fields carry forward until a later record overrides them (§4).
  let bn = ''
  let bnBad = -1
  let bt = 0
  let bu: string | undefined
  let bv = 0
  let bs = 0
  let version = VERSION
  let ordered = true
  let lastT = -Infinity

  for (let i = 0; i < pack.length; i++) {
    const rec: unknown = pack[i]
    if (typeof rec !== 'object' || rec === null || Array.isArray(rec)) fail(i, undefined, 'a record must be an object')
    const fields = rec as Record<string, unknown>
    let n: string | undefined
    let u: string | undefined
    let t: number | undefined
    let s: number | undefined
    let ut: number | undefined
    let v: number | undefined
    let vs: string | undefined
    let vb: boolean | undefined
    let vd: string | undefined
    let valueField: string | undefined
    let regular = false

    // One pass over the keys both validates the known fields and finds must-understand ones.
    for (const key in fields) {
      const x = fields[key]
      switch (key) {
        case 'bn': bn = str(x, i, key); bnBad = badNameAt(bn, true); break
        case 'bt': bt = num(x, i, key); break
        case 'bu': bu = str(x, i, key); break
        case 'bv': bv = num(x, i, key); break
        case 'bs': bs = num(x, i, key); break
        case 'bver': {
          if (typeof x !== 'number' || !Number.isInteger(x) || x < 1) fail(i, key, 'must be a positive integer')
          if (x > VERSION) fail(i, key, `version ${x} is not supported (newest supported is ${VERSION})`)
          // §4.4: one version per pack; records without bver inherit the previous one (or the default).
          if (i > 0 && x !== version) fail(i, key, `version ${x} differs from the pack's version ${version}`)
          version = x
          break
        }
        case 'n': n = str(x, i, key); regular = true; break
        case 'u': u = str(x, i, key); regular = true; break
        case 't': t = num(x, i, key); regular = true; break
        case 's': s = num(x, i, key); regular = true; break
        case 'ut': ut = num(x, i, key); regular = true; break
        case 'v': case 'vs': case 'vb': case 'vd': {
          if (valueField !== undefined) fail(i, key, `a record carries at most one value, got both ${valueField} and ${key}`)
          valueField = key
          regular = true
          if (key === 'v') v = num(x, i, key)
          else if (key === 'vs') vs = str(x, i, key)
          else if (key === 'vb') {
            if (typeof x !== 'boolean') fail(i, key, 'must be a boolean')
            vb = x
          } else {
            if (typeof x !== 'string' || !BASE64URL.test(x) || x.length % 4 === 1) {
              fail(i, key, 'must be base64url without padding')
            }
            vd = x
          }
          break
        }
        default:
          // §4.4: a label ending in '_' changes the meaning of the record, so it cannot be skipped.
          if (key.endsWith('_')) fail(i, key, `unsupported must-understand field ${JSON.stringify(key)}`)
      }
    }

    if (valueField === undefined && s === undefined) {
      // A record of base fields alone only sets bases for the records after it, and resolves to
      // nothing. §4.2 asks every record for a value or a sum, but §4 lets any record carry base
      // fields, which apply to the records after it, and the RFC's own §5.1.7 thermostat pack
      // opens with a record holding only "bn". Read that way, such a record is accepted and
      // applied, never stored: a resolved record holds no base fields (§4.6), and this one has
      // nothing else. A record with any regular field (n, u, t, ut) still needs a value or a sum.
      if (!regular) continue
      fail(i, 'v', 'a record needs a value (v, vs, vb or vd) or a sum (s)')
    }

    const name = checkName(bn, bnBad, n, i)
    let time = add(bt, t ?? 0, i, 't')
    if (time < RELATIVE_LIMIT) time = add(time, now, i, 't')
    const r: SenmlRecord = { n: name, t: time }
    const unit = u ?? bu
    if (unit !== undefined) r.u = unit
    // bv only shifts numeric values; applying it to a record without v would invent a second value.
    if (v !== undefined) r.v = add(bv, v, i, 'v')
    else if (vs !== undefined) r.vs = vs
    else if (vb !== undefined) r.vb = vb
    else if (vd !== undefined) r.vd = vd
    if (s !== undefined) r.s = add(bs, s, i, 's')
    if (ut !== undefined) r.ut = ut

    if (time < lastT) ordered = false
    lastT = time
    out.push(r)
  }

  if (out.length === 0) throw new InvalidInput('a SenML pack needs at least one record with a value (v, vs, vb or vd) or a sum (s); this one holds no record with a value, only base fields')
  // Skip the sort in the common case: devices almost always send in time order.
  if (!ordered) out.sort((a, b) => a.t - b.t)
  return out
}

/** Writers emit fields in this order, the order of the RFC's resolved example (§5.1.4). */
export const RECORD_FIELDS = ['n', 'u', 't', 'v', 'vs', 'vb', 'vd', 's', 'ut'] as const
