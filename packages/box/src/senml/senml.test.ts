import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Decoder, encode } from 'cbor-x'
import { InvalidInput } from '../errors/index.ts'
import {
  parseSenmlCbor, parseSenmlJson, resolvePack, SENML_CBOR, SENML_JSON, toSenmlCbor, toSenmlJson,
  type SenmlRecord,
} from './index.ts'

// A fixed "now" keeps relative-time results exact.
const NOW = 1_700_000_000

/** Asserts an InvalidInput pointing at record `index`, field `field`. */
function rejects(fn: () => unknown, index: number | undefined, field: string | undefined, message?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof InvalidInput, `expected InvalidInput, got ${String(err)}`)
    assert.equal(err.status, 400)
    assert.equal(err.extras.index, index)
    assert.equal(err.extras.field, field)
    if (message) assert.match(err.message, message)
    return true
  })
}

// ---- RFC 8428 §5.1 examples, verbatim ----

const RFC_SINGLE = `[
  {"n":"urn:dev:ow:10e2073a01080063","u":"Cel","v":23.1}
]`

const RFC_MULTIPLE_POINTS_NOW = `[
  {"bn":"urn:dev:ow:10e2073a01080063:","n":"voltage","u":"V","v":120.1},
  {"n":"current","u":"A","v":1.2}
]`

const RFC_MULTIPLE_POINTS_TIMED = `[
  {"bn":"urn:dev:ow:10e2073a0108006:","bt":1.276020076001e+09,
   "bu":"A","bver":5,
   "n":"voltage","u":"V","v":120.1},
  {"n":"current","t":-5,"v":1.2},
  {"n":"current","t":-4,"v":1.3},
  {"n":"current","t":-3,"v":1.4},
  {"n":"current","t":-2,"v":1.5},
  {"n":"current","t":-1,"v":1.6},
  {"n":"current","v":1.7}
]`

// The §6 hex dump: the timed example above in SenML CBOR.
const RFC_CBOR_DUMP = `
  87 a7 21 78 1b 75 72 6e 3a 64 65 76 3a 6f 77 3a 31 30 65 32 30 37 33 61 30 31 30 38 30 30 36 3a
  22 fb 41 d3 03 a1 5b 00 10 62 23 61 41 20 05 00 67 76 6f 6c 74 61 67 65 01 61 56 02 fb 40 5e 06
  66 66 66 66 66 a3 00 67 63 75 72 72 65 6e 74 06 24 02 fb 3f f3 33 33 33 33 33 33 a3 00 67 63 75
  72 72 65 6e 74 06 23 02 fb 3f f4 cc cc cc cc cc cd a3 00 67 63 75 72 72 65 6e 74 06 22 02 fb 3f
  f6 66 66 66 66 66 66 a3 00 67 63 75 72 72 65 6e 74 06 21 02 f9 3e 00 a3 00 67 63 75 72 72 65 6e
  74 06 20 02 fb 3f f9 99 99 99 99 99 9a a3 00 67 63 75 72 72 65 6e 74 06 00 02 fb 3f fb 33 33 33
  33 33 33`

const RFC_MULTIPLE_MEASUREMENTS = `[
  {"bn":"urn:dev:ow:10e2073a01080063","bt":1.320067464e+09,
   "bu":"%RH","v":20},
  {"u":"lon","v":24.30621},
  {"u":"lat","v":60.07965},
  {"t":60,"v":20.3},
  {"u":"lon","t":60,"v":24.30622},
  {"u":"lat","t":60,"v":60.07965},
  {"t":120,"v":20.7},
  {"u":"lon","t":120,"v":24.30623},
  {"u":"lat","t":120,"v":60.07966},
  {"u":"%EL","t":150,"v":98},
  {"t":180,"v":21.2},
  {"u":"lon","t":180,"v":24.30628},
  {"u":"lat","t":180,"v":60.07967}
]`

// §5.1.4: the RFC's own resolved form of the example above.
const RFC_RESOLVED = `[
  {"n":"urn:dev:ow:10e2073a01080063","u":"%RH","t":1.320067464e+09,
   "v":20},
  {"n":"urn:dev:ow:10e2073a01080063","u":"lon","t":1.320067464e+09,
   "v":24.30621},
  {"n":"urn:dev:ow:10e2073a01080063","u":"lat","t":1.320067464e+09,
   "v":60.07965},
  {"n":"urn:dev:ow:10e2073a01080063","u":"%RH","t":1.320067524e+09,
   "v":20.3},
  {"n":"urn:dev:ow:10e2073a01080063","u":"lon","t":1.320067524e+09,
   "v":24.30622},
  {"n":"urn:dev:ow:10e2073a01080063","u":"lat","t":1.320067524e+09,
   "v":60.07965},
  {"n":"urn:dev:ow:10e2073a01080063","u":"%RH","t":1.320067584e+09,
   "v":20.7},
  {"n":"urn:dev:ow:10e2073a01080063","u":"lon","t":1.320067584e+09,
   "v":24.30623},
  {"n":"urn:dev:ow:10e2073a01080063","u":"lat","t":1.320067584e+09,
   "v":60.07966},
  {"n":"urn:dev:ow:10e2073a01080063","u":"%EL","t":1.320067614e+09,
   "v":98},
  {"n":"urn:dev:ow:10e2073a01080063","u":"%RH","t":1.320067644e+09,
   "v":21.2},
  {"n":"urn:dev:ow:10e2073a01080063","u":"lon","t":1.320067644e+09,
   "v":24.30628},
  {"n":"urn:dev:ow:10e2073a01080063","u":"lat","t":1.320067644e+09,
   "v":60.07967}
]`

const RFC_DATA_TYPES = `[
  {"bn":"urn:dev:ow:10e2073a01080063:","n":"temp","u":"Cel","v":23.1},
  {"n":"label","vs":"Machine Room"},
  {"n":"open","vb":false},
  {"n":"nfv-reader","vd":"aGkgCg"}
]`

const RFC_COLLECTION = `[
  {"bn":"2001:db8::2/","bt":1.320078429e+09,
   "n":"temperature","u":"Cel","v":25.2},
  {"n":"humidity","u":"%RH","v":30},
  {"bn":"2001:db8::1/","n":"temperature","u":"Cel","v":12.3},
  {"n":"humidity","u":"%RH","v":67}
]`

// §5.1.7 setting a thermostat: the first record carries only the base name.
const RFC_THERMOSTAT = `[
  {"bn":"urn:dev:ow:10e2073a01080063:"},
  {"n":"temp","u":"Cel","v":23.1},
  {"n":"heat","u":"/","v":1},
  {"n":"fan","u":"/","v":0}
]`

const RFC_LIGHTS_OFF = `[
  {"bt":1.320078429e+09,"bu":"/","n":"2001:db8::3","v":0.5},
  {"n":"2001:db8::4","v":0.5},
  {"n":"2001:db8::3","t":0.1,"v":0},
  {"n":"2001:db8::4","t":0.1,"v":0}
]`

test('media types', () => {
  assert.equal(SENML_JSON, 'application/senml+json')
  assert.equal(SENML_CBOR, 'application/senml+cbor')
})

test('RFC 8428 §5.1.1 single data point: no time means "now"', () => {
  assert.deepEqual(parseSenmlJson(RFC_SINGLE, NOW), [
    { n: 'urn:dev:ow:10e2073a01080063', u: 'Cel', t: NOW, v: 23.1 },
  ])
})

test('RFC 8428 §5.1.2 multiple data points at "now": bn is prepended', () => {
  assert.deepEqual(parseSenmlJson(RFC_MULTIPLE_POINTS_NOW, NOW), [
    { n: 'urn:dev:ow:10e2073a01080063:voltage', u: 'V', t: NOW, v: 120.1 },
    { n: 'urn:dev:ow:10e2073a01080063:current', u: 'A', t: NOW, v: 1.2 },
  ])
})

test('RFC 8428 §5.1.2 timed data points: bt + t, bu fills in u, result in time order', () => {
  const bt = 1.276020076001e+09
  const name = 'urn:dev:ow:10e2073a0108006:current'
  // The voltage record is at bt; the currents run from bt-5 to bt, so resolution reorders them.
  assert.deepEqual(parseSenmlJson(RFC_MULTIPLE_POINTS_TIMED, NOW), [
    { n: name, u: 'A', t: bt - 5, v: 1.2 },
    { n: name, u: 'A', t: bt - 4, v: 1.3 },
    { n: name, u: 'A', t: bt - 3, v: 1.4 },
    { n: name, u: 'A', t: bt - 2, v: 1.5 },
    { n: name, u: 'A', t: bt - 1, v: 1.6 },
    { n: 'urn:dev:ow:10e2073a0108006:voltage', u: 'V', t: bt, v: 120.1 },
    { n: name, u: 'A', t: bt, v: 1.7 },
  ])
})

test('RFC 8428 §5.1.3 multiple measurements resolve to exactly the §5.1.4 resolved data', () => {
  const expected = JSON.parse(RFC_RESOLVED) as SenmlRecord[]
  assert.deepEqual(parseSenmlJson(RFC_MULTIPLE_MEASUREMENTS, NOW), expected)
})

test('RFC 8428 §5.1.4 resolved data is a fixed point', () => {
  const expected = JSON.parse(RFC_RESOLVED) as SenmlRecord[]
  assert.deepEqual(parseSenmlJson(RFC_RESOLVED, NOW), expected)
})

test('RFC 8428 §5.1.5 multiple data types', () => {
  assert.deepEqual(parseSenmlJson(RFC_DATA_TYPES, NOW), [
    { n: 'urn:dev:ow:10e2073a01080063:temp', u: 'Cel', t: NOW, v: 23.1 },
    { n: 'urn:dev:ow:10e2073a01080063:label', t: NOW, vs: 'Machine Room' },
    { n: 'urn:dev:ow:10e2073a01080063:open', t: NOW, vb: false },
    { n: 'urn:dev:ow:10e2073a01080063:nfv-reader', t: NOW, vd: 'aGkgCg' },
  ])
})

test('RFC 8428 §5.1.6 collection of resources: a new bn keeps the earlier bt', () => {
  const t = 1.320078429e+09
  assert.deepEqual(parseSenmlJson(RFC_COLLECTION, NOW), [
    { n: '2001:db8::2/temperature', u: 'Cel', t, v: 25.2 },
    { n: '2001:db8::2/humidity', u: '%RH', t, v: 30 },
    { n: '2001:db8::1/temperature', u: 'Cel', t, v: 12.3 },
    { n: '2001:db8::1/humidity', u: '%RH', t, v: 67 },
  ])
})

test('RFC 8428 §5.1.7 thermostat: a record with only a base name sets it for the records after it, and is not a record itself', () => {
  // The RFC's own resolved form of this pack, with "now" for its time.
  assert.deepEqual(parseSenmlJson(RFC_THERMOSTAT, NOW), [
    { n: 'urn:dev:ow:10e2073a01080063:temp', u: 'Cel', t: NOW, v: 23.1 },
    { n: 'urn:dev:ow:10e2073a01080063:heat', u: '/', t: NOW, v: 1 },
    { n: 'urn:dev:ow:10e2073a01080063:fan', u: '/', t: NOW, v: 0 },
  ])
  assert.deepEqual(parseSenmlCbor(encode([new Map([[-2, 'urn:dev:ow:10e2073a01080063:']]), new Map<number, unknown>([[0, 'temp'], [1, 'Cel'], [2, 23.1]])]), NOW), [
    { n: 'urn:dev:ow:10e2073a01080063:temp', u: 'Cel', t: NOW, v: 23.1 },
  ])
  assert.deepEqual(parseSenmlJson('[{"bn":"urn:dev:ow:10e2073a01080063:","n":"temp","v":23.1}]', NOW), [
    { n: 'urn:dev:ow:10e2073a01080063:temp', t: NOW, v: 23.1 },
  ])
})

test('records of base fields only may stand anywhere in a pack and change the bases after them', () => {
  assert.deepEqual(resolvePack([
    { bn: 'a/', bt: 1.6e9, n: 'x', v: 1 },
    { bn: 'b/', bu: 'Cel', bt: 1.6e9 + 60, bv: 10, bver: 10 },
    { n: 'y', v: 2 },
    { bs: 100, future: 'ignored' },
    { n: 'z', s: 1 },
  ], NOW), [
    { n: 'a/x', t: 1.6e9, v: 1 },
    { n: 'b/y', u: 'Cel', t: 1.6e9 + 60, v: 12 },
    { n: 'b/z', u: 'Cel', t: 1.6e9 + 60, s: 101 },
  ])
  // Any regular field makes it a record, which then needs a value or a sum.
  rejects(() => resolvePack([{ bn: 'a/', t: 5 }, { n: 'x', v: 1 }], NOW), 0, 'v', /value .* or a sum/)
  rejects(() => resolvePack([{ bn: 'a/', ut: 60 }, { n: 'x', v: 1 }], NOW), 0, 'v', /value .* or a sum/)
  rejects(() => resolvePack([{ bn: 'a/', u: 'Cel' }, { n: 'x', v: 1 }], NOW), 0, 'v', /value .* or a sum/)
  // A pack of nothing but base fields holds no measurement.
  assert.throws(() => parseSenmlJson('[{"bn":"urn:dev:ow:10e2073a01080063:"}]', NOW), (err: unknown) => err instanceof InvalidInput && /no record with a value/.test(err.message))
})

test('RFC 8428 §5.1.7 actuation with a fractional time offset', () => {
  const t = 1.320078429e+09
  assert.deepEqual(parseSenmlJson(RFC_LIGHTS_OFF, NOW), [
    { n: '2001:db8::3', u: '/', t, v: 0.5 },
    { n: '2001:db8::4', u: '/', t, v: 0.5 },
    { n: '2001:db8::3', u: '/', t: t + 0.1, v: 0 },
    { n: '2001:db8::4', u: '/', t: t + 0.1, v: 0 },
  ])
})

test('a JSON body may arrive as UTF-8 bytes', () => {
  const bytes = new TextEncoder().encode(RFC_SINGLE)
  assert.deepEqual(parseSenmlJson(bytes, NOW), parseSenmlJson(RFC_SINGLE, NOW))
})

test('time: relative below 2**28, absolute from 2**28, bt + t decides', () => {
  const limit = 2 ** 28
  assert.deepEqual(resolvePack([
    { n: 'a', t: -5, v: 1 }, // five seconds ago
    { n: 'a', t: 30, v: 2 }, // thirty seconds ahead
    { n: 'a', t: limit - 1, v: 3 }, // still relative
    { n: 'a', t: limit, v: 4 }, // the first absolute time
    { bt: limit - 10, n: 'a', t: 20, v: 5 }, // bt + t crosses into absolute time
    { bt: 0, n: 'a', t: -1.5, v: 6 }, // fractional offset
  ], NOW), [
    { n: 'a', t: limit, v: 4 },
    { n: 'a', t: limit + 10, v: 5 },
    { n: 'a', t: NOW - 5, v: 1 },
    { n: 'a', t: NOW - 1.5, v: 6 },
    { n: 'a', t: NOW + 30, v: 2 },
    { n: 'a', t: NOW + limit - 1, v: 3 },
  ])
})

test('records in time order keep their order; equal times keep pack order', () => {
  const out = resolvePack([
    { bt: 1.5e9, n: 'b', v: 1 },
    { n: 'a', v: 2 },
    { n: 'c', t: 1, v: 3 },
  ], NOW)
  assert.deepEqual(out.map((r) => r.n), ['b', 'a', 'c'])
})

test('bv applies only to v; bs applies only to s; both carry forward', () => {
  assert.deepEqual(resolvePack([
    { bn: 'dev/', bt: 1.6e9, bv: 10, bs: 100, n: 'a', v: 1, s: 5 },
    { n: 'b', v: 2 },
    { n: 'c', vs: 'text' },
    { n: 'd', s: 1 },
    { bv: 0, n: 'e', v: 3, ut: 60 },
  ], NOW), [
    { n: 'dev/a', t: 1.6e9, v: 11, s: 105 },
    { n: 'dev/b', t: 1.6e9, v: 12 },
    { n: 'dev/c', t: 1.6e9, vs: 'text' },
    { n: 'dev/d', t: 1.6e9, s: 101 },
    { n: 'dev/e', t: 1.6e9, v: 3, ut: 60 },
  ])
})

test('a sum alone is a complete record; u overrides bu; bn alone names the record', () => {
  assert.deepEqual(resolvePack([
    { bn: 'urn:dev:ow:10e2073a01080063', bu: 'W', s: 12 },
    { u: 'J', s: 13, v: 4 },
  ], NOW), [
    { n: 'urn:dev:ow:10e2073a01080063', u: 'W', t: NOW, s: 12 },
    { n: 'urn:dev:ow:10e2073a01080063', u: 'J', t: NOW, v: 4, s: 13 },
  ])
})

test('bver up to 10 is accepted and may repeat with the same value', () => {
  assert.equal(resolvePack([{ bver: 10, n: 'a', v: 1 }, { bver: 10, n: 'b', v: 2 }], NOW).length, 2)
  assert.equal(resolvePack([{ bver: 1, n: 'a', v: 1 }, { n: 'b', v: 2 }], NOW).length, 2)
})

test('unknown fields are ignored unless they end with "_"', () => {
  assert.deepEqual(resolvePack([{ n: 'a', v: 1, foo: 'x', bfoo: 2, _x: 3, 'a_b': {} }], NOW), [
    { n: 'a', t: NOW, v: 1 },
  ])
})

test('toSenmlJson writes the RFC resolved form and reads back unchanged', () => {
  const records = parseSenmlJson(RFC_MULTIPLE_MEASUREMENTS, NOW)
  const json = toSenmlJson(records)
  assert.deepEqual(JSON.parse(json), JSON.parse(RFC_RESOLVED))
  assert.ok(json.startsWith('[{"n":"urn:dev:ow:10e2073a01080063","u":"%RH","t":1320067464,"v":20}'))
  assert.deepEqual(parseSenmlJson(json, NOW), records)
  const typed = parseSenmlJson(RFC_DATA_TYPES, NOW)
  assert.deepEqual(parseSenmlJson(toSenmlJson(typed), NOW + 1000), typed)
})

// ---- CBOR ----

test('RFC 8428 §6 CBOR dump decodes to the same records as its JSON form', () => {
  const bytes = Buffer.from(RFC_CBOR_DUMP.replace(/\s+/g, ''), 'hex')
  assert.equal(bytes.length, 0xc3)
  assert.deepEqual(parseSenmlCbor(bytes, NOW), parseSenmlJson(RFC_MULTIPLE_POINTS_TIMED, NOW))
})

test('CBOR round trip: toSenmlCbor then parseSenmlCbor gives the same records', () => {
  for (const body of [RFC_MULTIPLE_MEASUREMENTS, RFC_DATA_TYPES, RFC_COLLECTION, RFC_MULTIPLE_POINTS_TIMED]) {
    const records = parseSenmlJson(body, NOW)
    assert.deepEqual(parseSenmlCbor(toSenmlCbor(records), NOW), records)
  }
  const withSum: SenmlRecord[] = [{ n: 'm', u: 'W', t: 1.7e9 + 0.25, v: -1.5, s: 1e12, ut: 30 }]
  assert.deepEqual(parseSenmlCbor(toSenmlCbor(withSum), NOW), withSum)
})

test('toSenmlCbor uses the integer labels and a byte string for vd', () => {
  const bytes = toSenmlCbor(parseSenmlJson(RFC_DATA_TYPES, NOW))
  const raw = new Decoder({ mapsAsObjects: false }).decode(bytes) as Map<unknown, unknown>[]
  assert.deepEqual([...(raw[0] as Map<unknown, unknown>).keys()], [0, 1, 6, 2])
  assert.deepEqual([...(raw[1] as Map<unknown, unknown>).keys()], [0, 6, 3])
  assert.deepEqual([...(raw[2] as Map<unknown, unknown>).keys()], [0, 6, 4])
  const vd = (raw[3] as Map<unknown, unknown>).get(8)
  assert.ok(vd instanceof Uint8Array)
  assert.equal(Buffer.from(vd).toString(), 'hi \n')
})

test('a hand-built CBOR pack with integer labels (every label)', () => {
  const bytes = encode([
    new Map<number | string, unknown>([
      [-1, 10], [-2, 'urn:dev:ow:10e2073a01080063:'], [-3, 1.6e9], [-4, 'Cel'], [-5, 20], [-6, 1000],
      [0, 'temp'], [6, -10], [2, 1.5], [5, 2], [7, 60],
      ['ext', 'ignored'], ['toString', 'ignored'], [42, 'an unknown integer label, ignored'],
    ]),
    new Map<number, unknown>([[0, 'label'], [1, '/'], [3, 'Machine Room']]),
    new Map<number, unknown>([[0, 'open'], [4, true], [6, 5]]),
    new Map<number, unknown>([[0, 'raw'], [8, new Uint8Array([0xfb, 0xff, 0x00])]]),
    new Map<number, unknown>([[0, 'blob'], [8, Buffer.from('hi \n')]]),
  ])
  const prefix = 'urn:dev:ow:10e2073a01080063:'
  assert.deepEqual(parseSenmlCbor(bytes, NOW), [
    { n: prefix + 'temp', u: 'Cel', t: 1.6e9 - 10, v: 21.5, s: 1002, ut: 60 },
    { n: prefix + 'label', u: '/', t: 1.6e9, vs: 'Machine Room' },
    { n: prefix + 'raw', u: 'Cel', t: 1.6e9, vd: '-_8A' },
    { n: prefix + 'blob', u: 'Cel', t: 1.6e9, vd: 'aGkgCg' },
    { n: prefix + 'open', u: 'Cel', t: 1.6e9 + 5, vb: true },
  ])
})

test('CBOR: decimal fractions and 64-bit integers are numbers', () => {
  // [{0: "a", 2: 4([-2, 12345]), 6: 1320067464 as a uint64}]
  const bytes = Buffer.from('81a3006161' + '02c482211930 39'.replace(/ /g, '') + '061b000000004eaea188', 'hex')
  assert.deepEqual(parseSenmlCbor(bytes, NOW), [{ n: 'a', t: 1320067464, v: 123.45 }])
})

// ---- errors ----

test('error: the pack must be a non-empty array', () => {
  rejects(() => resolvePack({}, NOW), undefined, undefined, /non-empty array/)
  rejects(() => resolvePack([], NOW), undefined, undefined, /non-empty array/)
  rejects(() => resolvePack(null, NOW), undefined, undefined, /non-empty array/)
  rejects(() => parseSenmlJson('{"n":"a","v":1}', NOW), undefined, undefined, /non-empty array/)
  rejects(() => parseSenmlCbor(encode(new Map<number, unknown>([[0, 'a'], [2, 1]])), NOW), undefined, undefined, /non-empty array/)
})

test('error: every record must be an object', () => {
  rejects(() => resolvePack([{ n: 'a', v: 1 }, 5], NOW), 1, undefined, /must be an object/)
  rejects(() => resolvePack([null], NOW), 0, undefined, /must be an object/)
  rejects(() => resolvePack([[{ n: 'a', v: 1 }]], NOW), 0, undefined, /must be an object/)
  rejects(() => parseSenmlCbor(encode([new Map<number, unknown>([[0, 'a'], [2, 1]]), 'x']), NOW), 1, undefined, /CBOR map/)
})

test('error: bodies that do not parse', () => {
  rejects(() => parseSenmlJson('[{"n":"a",', NOW), undefined, undefined, /JSON/)
  rejects(() => parseSenmlJson(new Uint8Array([0x5b, 0xff, 0x5d]), NOW), undefined, undefined, /JSON/)
  rejects(() => parseSenmlCbor(new Uint8Array([0x81, 0xa1]), NOW), undefined, undefined, /CBOR/)
  rejects(() => parseSenmlCbor(new Uint8Array([0x81, 0xa0, 0x00]), NOW), undefined, undefined, /CBOR/)
})

test('error: bver must be a positive integer, at most 10, the same across the pack', () => {
  rejects(() => resolvePack([{ bver: 0, n: 'a', v: 1 }], NOW), 0, 'bver', /positive integer/)
  rejects(() => resolvePack([{ bver: 2.5, n: 'a', v: 1 }], NOW), 0, 'bver', /positive integer/)
  rejects(() => resolvePack([{ bver: '10', n: 'a', v: 1 }], NOW), 0, 'bver', /positive integer/)
  rejects(() => resolvePack([{ bver: 11, n: 'a', v: 1 }], NOW), 0, 'bver', /not supported/)
  rejects(() => resolvePack([{ bver: 10, n: 'a', v: 1 }, { bver: 9, n: 'b', v: 1 }], NOW), 1, 'bver', /differs/)
  // Without a bver the first record is version 10, so a later 5 is a mismatch too.
  rejects(() => resolvePack([{ n: 'a', v: 1 }, { n: 'b', v: 1 }, { bver: 5, n: 'c', v: 1 }], NOW), 2, 'bver', /differs/)
})

test('error: the resolved name must be non-empty and use the RFC charset', () => {
  rejects(() => resolvePack([{ v: 1 }], NOW), 0, 'n', /empty/)
  rejects(() => resolvePack([{ bn: '', n: '', v: 1 }], NOW), 0, 'n', /empty/)
  rejects(() => resolvePack([{ n: 'ok', v: 1 }, { n: '-temp', v: 1 }], NOW), 1, 'n', /"-temp".*start with/)
  rejects(() => resolvePack([{ n: 'room temp', v: 1 }], NOW), 0, 'n', /"room temp".*" " at position 4/)
  rejects(() => resolvePack([{ n: 'caf\u00e9', v: 1 }], NOW), 0, 'n', /invalid name/)
  rejects(() => resolvePack([{ bn: 'dev/', n: 'a?b', v: 1 }], NOW), 0, 'n', /"dev\/a\?b"/)
  // The bad character is in bn, so bn is blamed, at the first record that uses it.
  rejects(() => resolvePack([{ bn: 'dev#1/', n: 'a', v: 1 }], NOW), 0, 'bn', /"dev#1\/a"/)
  rejects(() => resolvePack([{ bn: ':dev', n: 'a', v: 1 }], NOW), 0, 'bn', /start with/)
})

test('error: field types', () => {
  const cases: [Record<string, unknown>, string, RegExp][] = [
    [{ n: 5, v: 1 }, 'n', /string/],
    [{ bn: null, n: 'a', v: 1 }, 'bn', /string/],
    [{ n: 'a', u: 1, v: 1 }, 'u', /string/],
    [{ bu: ['V'], n: 'a', v: 1 }, 'bu', /string/],
    [{ n: 'a', v: '1' }, 'v', /finite number/],
    [{ n: 'a', v: Infinity }, 'v', /finite number/],
    [{ n: 'a', v: NaN }, 'v', /finite number/],
    [{ n: 'a', vs: 1 }, 'vs', /string/],
    [{ n: 'a', vb: 'true' }, 'vb', /boolean/],
    [{ n: 'a', vd: 'aGk=' }, 'vd', /base64url/],
    [{ n: 'a', vd: 'a+b/' }, 'vd', /base64url/],
    [{ n: 'a', vd: 'abcde' }, 'vd', /base64url/],
    [{ n: 'a', vd: new Uint8Array(2) }, 'vd', /base64url/],
    [{ n: 'a', v: 1, t: '0' }, 't', /finite number/],
    [{ bt: true, n: 'a', v: 1 }, 'bt', /finite number/],
    [{ n: 'a', s: '1' }, 's', /finite number/],
    [{ bs: {}, n: 'a', s: 1 }, 'bs', /finite number/],
    [{ bv: -Infinity, n: 'a', v: 1 }, 'bv', /finite number/],
    [{ n: 'a', v: 1, ut: '60' }, 'ut', /finite number/],
  ]
  for (const [rec, field, message] of cases) {
    rejects(() => resolvePack([{ n: 'first', v: 0 }, rec], NOW), 1, field, message)
  }
  // JSON itself can only produce a non-finite number by overflow.
  rejects(() => parseSenmlJson('[{"n":"a","v":1e400}]', NOW), 0, 'v', /finite number/)
})

test('error: sums of finite numbers that overflow', () => {
  rejects(() => resolvePack([{ bt: 1e308, n: 'a', t: 1e308, v: 1 }], NOW), 0, 't', /non-finite/)
  rejects(() => resolvePack([{ bv: -1e308, n: 'a', v: -1e308 }], NOW), 0, 'v', /non-finite/)
  rejects(() => resolvePack([{ bs: 1.7e308, n: 'a', s: 1.7e308 }], NOW), 0, 's', /non-finite/)
})

test('error: at most one value field', () => {
  rejects(() => resolvePack([{ n: 'a', v: 1, vs: 'x' }], NOW), 0, 'vs', /both v and vs/)
  rejects(() => resolvePack([{ n: 'a', vb: true, vd: 'aGk' }], NOW), 0, 'vd', /both vb and vd/)
  rejects(() => parseSenmlJson('[{"n":"a","v":1},{"n":"b","vs":"x","v":2}]', NOW), 1, 'v', /both vs and v/)
})

test('error: a record needs a value or a sum', () => {
  rejects(() => resolvePack([{ n: 'a' }], NOW), 0, 'v', /value .* or a sum/)
  // bv alone supplies no value: it only offsets a v that is present.
  rejects(() => resolvePack([{ n: 'a', v: 1 }, { bv: 5, n: 'b' }], NOW), 1, 'v', /value .* or a sum/)
  // A record with a name is a record, even when a base field comes with it.
  rejects(() => resolvePack([{ bn: 'urn:dev:ow:10e2073a01080063:', n: 'temp' }], NOW), 0, 'v', /value .* or a sum/)
})

test('error: an unknown field ending in "_" must be understood', () => {
  rejects(() => resolvePack([{ n: 'a', v: 1 }, { n: 'b', v: 1, foo_: 1 }], NOW), 1, 'foo_', /must-understand/)
  rejects(() => resolvePack([{ bn: 'a', v: 1, b_: 1 }], NOW), 0, 'b_', /must-understand/)
  rejects(() => parseSenmlCbor(encode([new Map<number | string, unknown>([[0, 'a'], [2, 1], ['x_', 1]])]), NOW), 0, 'x_')
})

test('error: CBOR specifics', () => {
  // vd travels as a byte string in CBOR, never as base64 text.
  rejects(() => parseSenmlCbor(encode([new Map<number, unknown>([[0, 'a'], [8, 'aGk']])]), NOW), 0, 'vd', /byte string/)
  // A SenML label spelled as text would compete with its integer label.
  rejects(() => parseSenmlCbor(encode([new Map<number | string, unknown>([[0, 'a'], ['v', 1]])]), NOW), 0, 'v', /integer label 2/)
  rejects(() => parseSenmlCbor(encode([new Map<number, unknown>([[0, 'a'], [2, 'one']])]), NOW), 0, 'v', /finite number/)
  rejects(() => parseSenmlCbor(encode([new Map<number, unknown>([[-1, 11], [0, 'a'], [2, 1]])]), NOW), 0, 'bver', /not supported/)
})
