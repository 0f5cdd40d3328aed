import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { AuditEntry, VerifyReport } from '../audit/index.ts'
import { buildStatement, renderHtml } from './index.ts'
import { sentences, summary, tables } from './words.ts'

const VERIFIED: VerifyReport = { ok: true, length: 3, checkpointLength: 3, problems: [] }
const at = (day: number) => Date.UTC(2026, 10, day, 12) / 1000

function write(time: number, fields: Partial<AuditEntry> & Pick<AuditEntry, 'subject' | 'records' | 'bytes'>): AuditEntry {
  return { time, grant: 'owner', source: null, operation: 'write', action: 'POST /api/v1/sources/:source/records', outcome: 'allow', status: 201, ...fields }
}

function statementOf(entries: AuditEntry[]) {
  return buildStatement({ entries, month: '2026-11', timeZone: 'UTC', verify: VERIFIED })
}

test('records written without their size are not counted as written in the bytes beside them', () => {
  // The demo's load was logged with its records but no size; a device's writes with both.
  const s = statementOf([
    write(at(2), { subject: 'owner', action: 'demo data', records: 29_800, bytes: 0 }),
    write(at(3), { subject: 'device:sensor', source: 'living-room', records: 10, bytes: 240 }),
    write(at(4), { subject: 'device:sensor', source: 'living-room', records: 2, bytes: 42 }),
  ])
  assert.equal(s.totals.recordsWritten, 29_812)
  assert.equal(s.totals.bytesWritten, 282)
  assert.equal(s.totals.recordsWrittenUnsized, 29_800)
  const line = summary(s).find((l) => l.startsWith('In all'))!
  assert.doesNotMatch(line, /29,812 records \(282 bytes\)/)
  assert.equal(line, 'In all, 0 records were read and 29,812 records (282 bytes for 12 records; the size of the other 29,800 was not recorded) written.')

  const owner = s.subjects.find((x) => x.subject === 'owner')!
  assert.deepEqual(sentences(owner), ['You wrote 29,800 records (size not recorded) to the box itself, in 1 request.'])
  assert.deepEqual(tables(owner)[0]!.rows, [['the box itself', 'written', '1', '29,800', 'not recorded', '0']])
  const device = s.subjects.find((x) => x.subject === 'device:sensor')!
  assert.deepEqual(sentences(device), ['Device sensor wrote 12 records (282 bytes) to living-room, in 2 requests.'])
  assert.match(renderHtml(s), /29,812 records \(282 bytes for 12 records; the size of the other 29,800 was not recorded\) written/)
})

test('when every write says its size, the summary gives the bytes alone; when none does, it says so', () => {
  const sized = statementOf([write(at(3), { subject: 'device:sensor', source: 'living-room', records: 12, bytes: 282 })])
  assert.match(summary(sized).join('\n'), /12 records \(282 bytes\) written/)
  const unsized = statementOf([write(at(2), { subject: 'owner', action: 'demo data', records: 5, bytes: 0 })])
  assert.match(summary(unsized).join('\n'), /5 records \(size not recorded\) written/)
  // A write that stored nothing took no room, and says so.
  const empty = statementOf([write(at(2), { subject: 'device:sensor', source: 'living-room', records: 0, bytes: 0 })])
  assert.match(summary(empty).join('\n'), /0 records \(0 bytes\) written/)
})
