import { test } from 'node:test'
import assert from 'node:assert/strict'
import { decodeEntry, encodeEntry, type LogEntry } from './codec.ts'

test('record batches round-trip through the binary block layout', () => {
  const entry: LogEntry = {
    op: 'records',
    records: [
      { n: 'urn:dev:ow:10e2073a01080063:temp', t: 1276020076.001, u: 'Cel', v: 23.5 },
      { n: 'switch', t: 1, vb: false }, { n: 'switch', t: 2, vb: true },
      { n: 'label', t: 3, vs: 'kitchen ☕' }, { n: 'blob', t: 4, vd: 'aGk' },
      { n: 'energy', t: 5, u: 'J', s: 1234.5 }, { n: 'x', t: 6, v: -0, s: 2, ut: 60 },
    ],
  }
  assert.deepEqual(decodeEntry(encodeEntry(entry)), entry)
})

test('a batch marked with the job that wrote it keeps the mark', () => {
  const entry: LogEntry = { op: 'records', records: [{ n: 'lat', t: 1, u: 'lat', v: 52.5 }], origin: '6f1c0e7e-3f3a-4c55-9a51-2f1f6c1b7a10' }
  assert.deepEqual(decodeEntry(encodeEntry(entry)), entry)
})

test('the points a deletion keeps are marked with the block they were in, and an unmarked batch reads as before', () => {
  const kept: LogEntry = { op: 'records', records: [{ n: 'power', t: 7, u: 'W', v: 3 }], kept: 12 }
  assert.deepEqual(decodeEntry(encodeEntry(kept)), kept)
  assert.equal(encodeEntry(kept)[0], 4)
  const plain: LogEntry = { op: 'records', records: [{ n: 'power', t: 7, u: 'W', v: 3 }] }
  assert.equal(encodeEntry(plain)[0], 1)
  assert.deepEqual(decodeEntry(encodeEntry(plain)), plain)
})

test('other entries round-trip as JSON', () => {
  for (const entry of [{ op: 'delete', from: 1, to: 2, drop: [3, 4] }, { op: 'put', key: 'k', value: { a: [1] }, t: 9 }, { op: 'del', key: 'k', t: 10 }] as LogEntry[]) {
    assert.deepEqual(decodeEntry(encodeEntry(entry)), entry)
  }
})

test('a block from an unknown future format is refused', () => {
  assert.throws(() => decodeEntry(Buffer.from([99, 1, 2])), /newer Coffer/)
})
