/** SenML CBOR (RFC 8428 §6): integer labels and byte-string data values over the JSON model. */
import { Decoder, Encoder, type Options } from 'cbor-x'
import { InvalidInput } from '../errors/index.ts'
import { fail, RECORD_FIELDS, resolvePack, type SenmlRecord } from './resolve.ts'

/** RFC 8428 Table 4. The table is closed: extensions use string keys. */
const LABELS: Record<string, number> = {
  bver: -1, bn: -2, bt: -3, bu: -4, bv: -5, bs: -6,
  n: 0, u: 1, v: 2, vs: 3, vb: 4, s: 5, t: 6, ut: 7, vd: 8,
}
const NAMES = new Map(Object.entries(LABELS).map(([name, label]) => [label, name]))

// Both options exist at runtime but are missing from the package's typings.
type CborOptions = Options & { int64AsNumber?: boolean; useTag259ForMaps?: boolean }
// Maps stay Maps so integer and string keys remain distinct; 64-bit integers come back as
// numbers so a time sent as uint64 is still a number.
const decoderOptions: CborOptions = { mapsAsObjects: false, useRecords: false, int64AsNumber: true }
// Plain CBOR only: no record extension, no tag 259 around maps, no tag 64 around bytes,
// so any CBOR decoder can read the output.
const encoderOptions: CborOptions = { useRecords: false, useTag259ForMaps: false, tagUint8Array: false }
const decoder = new Decoder(decoderOptions)
const encoder = new Encoder(encoderOptions)

/** Rewrites one CBOR record into the JSON shape resolvePack checks. */
function toJsonShape(rec: unknown, index: number): Record<string, unknown> {
  if (!(rec instanceof Map)) fail(index, undefined, 'a record must be a CBOR map')
  // No prototype: an extension key such as "__proto__" must stay a plain field.
  const out: Record<string, unknown> = Object.create(null)
  for (const [key, value] of rec) {
    if (typeof key === 'number') {
      const name = NAMES.get(key)
      // An integer label outside Table 4 is just an unknown field, which §4.4 says to ignore.
      if (name === undefined) continue
      if (name === 'vd') {
        // §6: binary data travels as a byte string, not as the base64 text JSON needs.
        if (!(value instanceof Uint8Array)) fail(index, name, 'must be a byte string in SenML CBOR')
        out.vd = Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64url')
      } else {
        out[name] = value
      }
    } else if (typeof key === 'string') {
      // A text "v" next to an integer 2 would make the record ambiguous, so only extensions may use text keys.
      if (Object.hasOwn(LABELS, key)) fail(index, key, `must use the integer label ${LABELS[key]} in SenML CBOR`)
      out[key] = value
    }
  }
  return out
}

export function parseSenmlCbor(body: Uint8Array, now: number): SenmlRecord[] {
  let pack: unknown
  try {
    pack = decoder.decode(body)
  } catch (err) {
    throw new InvalidInput(`SenML CBOR body does not parse: ${(err as Error).message}`)
  }
  return resolvePack(Array.isArray(pack) ? pack.map(toJsonShape) : pack, now)
}

export function toSenmlCbor(records: SenmlRecord[]): Uint8Array {
  return encoder.encode(records.map((r) => {
    const m = new Map<number, unknown>()
    for (const f of RECORD_FIELDS) {
      const value = r[f]
      if (value === undefined) continue
      m.set(LABELS[f] as number, f === 'vd' ? Buffer.from(value as string, 'base64url') : value)
    }
    return m
  }))
}
