import assert from 'node:assert/strict'
import { test } from 'node:test'
import { decoyRecord, openClass, PLAINTEXT_BYTES, recordProblem, sealRecord, type DatasetValue, type Measurement, type RecordPayload, type SealedRecord } from './index.ts'

const QUERY = 'q-1'
const measurementOf = (classValues: DatasetValue[]): Measurement => ({ queryId: QUERY, level: 'low', classValues })
/** A record as the market keeps it: the box's sealed record, with the query and level it came with. */
const kept = (sealed: SealedRecord, level = 'low') => ({ sealed, level })
/** The class a record's values put it in: its first value is the quasi-identifier, the second sensitive. */
const classOf = (record: { level: string }, payload: RecordPayload): Measurement => ({ queryId: QUERY, level: record.level, classValues: payload.values.slice(0, 1) })

const seal = (band: number, sensitive: DatasetValue, k = 5) => sealRecord(measurementOf([band]), { values: [band, sensitive] }, k)

test('a class opens with k records of it, and not with k − 1', () => {
  const records = [true, false, true, true, false].map((s) => kept(seal(30, s)))
  assert.equal(openClass(records.slice(0, 4), 5, classOf), undefined)
  const opened = openClass(records, 5, classOf)!
  assert.equal(opened.opened.length, 5)
  assert.deepEqual(opened.opened.map((o) => o.payload.values), [[30, true], [30, false], [30, true], [30, true], [30, false]])
  assert.deepEqual(opened.rejected, [])
})

test('records of different classes carry different tags, and every record has the same size', () => {
  const a = seal(30, true)
  const b = seal(40, true)
  const c = sealRecord(measurementOf([30]), { values: [30, 'a much longer sensitive value than the others'] }, 5)
  assert.notEqual(a.tag, b.tag)
  assert.equal(a.tag, c.tag)
  const sizes = (r: SealedRecord) => Object.values(r).map((v) => v.length)
  assert.deepEqual(sizes(a), sizes(b))
  assert.deepEqual(sizes(a), sizes(c))
  assert.deepEqual(sizes(a), sizes(decoyRecord()))
  assert.equal(recordProblem(a), undefined)
  assert.equal(recordProblem(decoyRecord()), undefined)
  assert.match(recordProblem({ ...a, x: 'AAAA' })!, /x must be 32 bytes/)
  assert.throws(() => sealRecord(measurementOf([30]), { values: ['x'.repeat(PLAINTEXT_BYTES)] }, 5), /at most 1024 bytes/)
})

test('a forged point, a forged ciphertext and a value smuggled into the class are rejected alone', () => {
  const honest = [1, 2, 3, 4, 5, 6].map((i) => kept(seal(30, i)))
  const genuine = honest[0]!.sealed
  const forgedPoint = kept({ ...seal(30, 99), y: genuine.y })
  const forgedCiphertext = kept({ ...honest[1]!.sealed, ciphertext: decoyRecord().ciphertext })
  // A box that knows the class seals a record claiming another quasi-identifier under its key: its values do not hash to the class.
  const smuggled = kept(sealRecord(measurementOf([30]), { values: [40, 7] }, 5))
  const wrongLevel = kept(seal(30, 8), 'high')
  // The forgeries come first, so the first subsets tried include them.
  const opened = openClass([forgedPoint, forgedCiphertext, smuggled, wrongLevel, ...honest], 5, classOf)!
  assert.deepEqual(opened.opened.map((o) => o.payload.values[1]).sort(), [1, 2, 3, 4, 5, 6])
  assert.deepEqual(new Set(opened.rejected), new Set([forgedPoint, forgedCiphertext, smuggled, wrongLevel]))
})

test('decoys and repeated points never make a class: the market learns nothing of fewer than k', () => {
  const one = seal(30, true)
  const repeated = Array.from({ length: 5 }, () => kept(one))
  assert.equal(openClass(repeated, 5, classOf), undefined)
  const decoys = Array.from({ length: 5 }, () => kept({ ...decoyRecord(), tag: one.tag }))
  assert.equal(openClass([kept(one), ...decoys], 5, classOf), undefined)
})

test('the threshold is the k the record was sealed with: a k = 10 class does not open with 5', () => {
  const records = Array.from({ length: 9 }, (_, i) => kept(seal(50, i, 10)))
  assert.equal(openClass(records.slice(0, 5), 5, classOf), undefined)
  assert.equal(openClass(records, 10, classOf), undefined)
  assert.equal(openClass([...records, kept(seal(50, 9, 10))], 10, classOf)!.opened.length, 10)
})
