import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { AuditEntry, VerifyReport } from '../audit/index.ts'
import { InvalidInput } from '../errors/index.ts'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { AuditLog } from '../audit/index.ts'
import { openMetaDb } from '../db/index.ts'
import { initHome } from '../home/index.ts'
import { buildStatement, monthBounds, monthOf, renderHtml, renderPdf, statementFromLog, type Statement } from './index.ts'

const BERLIN = 'Europe/Berlin'
// November 2026 in Berlin is CET (UTC+1): it runs from 2026-10-31T23:00Z to 2026-11-30T23:00Z.
const NOV_START = Date.UTC(2026, 9, 31, 23) / 1000
const NOV_END = Date.UTC(2026, 10, 30, 23) / 1000
const VERIFIED: VerifyReport = { ok: true, length: 42, checkpointLength: 42, problems: [] }
const NAMES = { 'app:fitness': 'Daily activity' }

function entry(time: number, fields: Partial<AuditEntry> & Pick<AuditEntry, 'subject' | 'operation'>): AuditEntry {
  return { time, grant: 'g1', source: null, action: 'GET /api/v1/sources/:source/records', records: 0, bytes: 0, outcome: 'allow', status: 200, ...fields }
}

const t = (day: number, hour = 12) => Date.UTC(2026, 10, day, hour) / 1000

const HOSTILE_SOURCE = '<img src=x onerror=alert(1)>'
const HOSTILE_PREVIEW = '<script>alert("owned")</script>'

const ENTRIES: AuditEntry[] = [
  // Just outside the month on either side, in Berlin time (inside it in UTC terms for the first).
  entry(NOV_START - 1, { subject: 'app:fitness', operation: 'read', source: 'steps', records: 1000, granularity: 0 }),
  entry(NOV_END, { subject: 'app:fitness', operation: 'read', source: 'steps', records: 1000, granularity: 0 }),
  // Just inside.
  entry(NOV_START, { subject: 'app:fitness', operation: 'read', source: 'steps', records: 20, granularity: 86400, action: 'GET /api/v1/sources/:source/aggregate' }),
  entry(NOV_END - 1, { subject: 'app:fitness', operation: 'read', source: 'steps', records: 10, granularity: 604800, action: 'GET /api/v1/sources/:source/aggregate' }),
  entry(t(3), { subject: 'app:fitness', operation: 'read', source: 'heart-rate', outcome: 'deny', status: 403, granularity: 0, reason: 'This token only allows daily detail.' }),
  entry(t(4), { subject: 'app:fitness', operation: 'export', action: 'EXPORT https://example.org/upload', destination: 'https://example.org/upload', bytes: 700, status: 200, preview: '{"steps":[' }),
  entry(t(5), { subject: 'app:fitness', operation: 'export', action: 'EXPORT https://example.org/upload', destination: 'https://example.org/upload', bytes: 500, status: 200, preview: '{"steps":[8000' }),
  entry(t(6), { subject: 'app:fitness', operation: 'export', action: 'EXPORT https://example.org/upload', destination: 'https://example.org/upload', bytes: 300, status: 202, preview: '{"steps":[9000' }),
  entry(t(7), { subject: 'app:fitness', operation: 'export', action: 'EXPORT https://tracker.example/collect', destination: 'https://tracker.example/collect', bytes: 300, outcome: 'deny', status: 403 }),
  entry(t(8), { subject: 'app:fitness', operation: 'export', action: 'EXPORT https://example.org/upload', destination: 'https://example.org/upload', bytes: 300, status: 502 }),
  entry(t(9), { subject: 'driver:phone', operation: 'write', source: 'location', records: 100, bytes: 5000, status: 201, action: 'POST /api/v1/owntracks/:driver' }),
  entry(t(10), { subject: 'driver:phone', operation: 'write', source: 'location', records: 50, bytes: 2500, status: 201, action: 'POST /api/v1/owntracks/:driver' }),
  entry(t(11), { subject: 'device:sensor', operation: 'write', source: 'living-room', records: 1, bytes: 80, status: 201, action: 'POST /api/v1/sources/:source/records' }),
  entry(t(11, 13), { subject: 'device:sensor', operation: 'write', source: 'steps', outcome: 'deny', status: 403, reason: 'This token may not write to steps.' }),
  entry(t(12), { subject: 'owner', operation: 'login', action: 'POST /api/v1/login' }),
  entry(t(12, 13), { subject: 'owner', operation: 'login', outcome: 'deny', status: 401, action: 'POST /api/v1/login' }),
  entry(t(12, 14), { subject: 'owner', operation: 'admin', action: 'POST /api/v1/tokens', status: 201 }),
  entry(t(12, 15), { subject: 'owner', operation: 'read', action: 'GET /api/v1/status' }),
  entry(t(12, 16), { subject: 'owner', operation: 'delete', source: 'steps', records: 5, action: 'DELETE /api/v1/sources/:source/records' }),
  entry(t(13), { subject: 'anonymous', operation: 'read', source: 'location', outcome: 'deny', status: 401, grant: null }),
  entry(t(14), { subject: 'app:evil<script>', operation: 'read', source: HOSTILE_SOURCE, records: 3, granularity: 3600 }),
  entry(t(15), { subject: 'app:evil<script>', operation: 'export', destination: 'https://evil.example/?a=<b>&c="d"', action: 'EXPORT x', bytes: 10, status: 200, preview: HOSTILE_PREVIEW }),
]

function build(overrides: Partial<Parameters<typeof buildStatement>[0]> = {}): Statement {
  return buildStatement({ entries: ENTRIES, month: '2026-11', timeZone: BERLIN, verify: VERIFIED, names: NAMES, generatedAt: Date.UTC(2026, 11, 1, 8) / 1000, ...overrides })
}

test('month bounds follow the time zone, DST included', () => {
  assert.deepEqual(monthBounds('2026-11', BERLIN), { from: NOV_START, to: NOV_END })
  assert.deepEqual(monthBounds('2026-11', 'UTC'), { from: Date.UTC(2026, 10, 1) / 1000, to: Date.UTC(2026, 11, 1) / 1000 })
  // March 2026 starts in CET and ends in CEST.
  assert.deepEqual(monthBounds('2026-03', BERLIN), { from: Date.UTC(2026, 1, 28, 23) / 1000, to: Date.UTC(2026, 2, 31, 22) / 1000 })
  assert.deepEqual(monthBounds('2026-12', 'UTC'), { from: Date.UTC(2026, 11, 1) / 1000, to: Date.UTC(2027, 0, 1) / 1000 })
  assert.equal(monthOf(NOV_START, BERLIN), '2026-11')
  assert.equal(monthOf(NOV_START, 'UTC'), '2026-10')
})

test('a malformed month or an unknown zone is refused, saying the form expected', () => {
  for (const month of ['2026-13', '2026-1', 'November', '2026-11-01', '']) {
    assert.throws(() => build({ month }), (err: unknown) => err instanceof InvalidInput && /YYYY-MM/.test(err.message) && err.extras.field === 'month', month)
  }
  assert.throws(() => build({ timeZone: 'Mars/Olympus' }), (err: unknown) => err instanceof InvalidInput && /IANA/.test(err.message))
})

test('the statement adds up each subject by source and destination, within the local month only', () => {
  const s = build()
  assert.deepEqual(s.subjects.map((x) => x.subject), ['app:evil<script>', 'app:fitness', 'driver:phone', 'device:sensor', 'owner', 'anonymous'])
  const fitness = s.subjects.find((x) => x.subject === 'app:fitness')!
  assert.equal(fitness.name, 'Daily activity')
  assert.deepEqual(fitness.reads.map((r) => [r.source, r.requests, r.records, r.finestGranularity, r.denials]), [
    ['heart-rate', 0, 0, null, 1],
    ['steps', 2, 30, 86400, 0],
  ])
  assert.deepEqual(fitness.reads[0]!.denialReasons, ['This token only allows daily detail.'])
  assert.deepEqual(fitness.exports, [
    { destination: 'https://example.org/upload', sent: 2, bytes: 1200, queued: 1, refused: 0, failed: 1, lastPreview: '{"steps":[9000' },
    { destination: 'https://tracker.example/collect', sent: 0, bytes: 0, queued: 0, refused: 1, failed: 0, lastPreview: null },
  ])
  assert.equal(fitness.totals.denials, 2)
  assert.equal(fitness.totals.requests, 8)

  const phone = s.subjects.find((x) => x.subject === 'driver:phone')!
  assert.deepEqual(phone.writes.map((w) => [w.source, w.requests, w.records, w.bytes]), [['location', 2, 150, 7500]])
  assert.equal(phone.name, 'Driver phone')
  const owner = s.subjects.find((x) => x.subject === 'owner')!
  assert.deepEqual([owner.logins, owner.admin, owner.deletes[0]!.records, owner.reads[0]!.source], [{ succeeded: 1, failed: 1 }, { requests: 1, denials: 0 }, 5, null])

  assert.equal(s.totals.subjects, 6)
  assert.equal(s.totals.requests, ENTRIES.length - 2)
  assert.equal(s.totals.recordsRead, 33)
  assert.equal(s.totals.recordsWritten, 151)
  assert.equal(s.totals.exportsSent, 3)
  assert.equal(s.totals.bytesExported, 1210)
  assert.equal(s.totals.denials, 5)
  assert.deepEqual(s.audit, { ok: true, length: 42, problems: [] })
  assert.deepEqual([s.from, s.to], [NOV_START, NOV_END])
  // Plain data: what the API sends as JSON renders the same as what was built.
  assert.deepEqual(JSON.parse(JSON.stringify(s)), s)
  // The order entries arrive in does not matter.
  assert.deepEqual(build({ entries: [...ENTRIES].reverse() }), s)
})

test('app runs are counted, and runs the box stopped at a limit are named with the limit', () => {
  const runs = [
    entry(t(2), { subject: 'app:fitness', operation: 'run', action: 'RUN owner' }),
    entry(t(3), { subject: 'app:fitness', operation: 'run', action: 'RUN schedule' }),
    entry(t(4), { subject: 'app:fitness', operation: 'run', action: 'RUN owner', outcome: 'deny', status: 504, reason: 'used more than 2000 ms of CPU time' }),
  ]
  const statement = buildStatement({ entries: runs, month: '2026-11', timeZone: BERLIN, verify: VERIFIED, names: NAMES })
  assert.deepEqual(statement.subjects[0]!.runs, { completed: 2, stopped: 1, reasons: ['used more than 2000 ms of CPU time'] })
  const html = renderHtml(statement)
  assert.match(html, /Daily activity ran 2 times in the box\./)
  assert.match(html, /The box stopped 1 run of Daily activity at a limit \(used more than 2000 ms of CPU time\)\./)
})

test('HTML: plain sentences, table headers, a verified banner, and every logged string escaped', () => {
  const html = renderHtml(build())
  assert.match(html, /^<!DOCTYPE html>\n<html lang="en">/)
  assert.match(html, /<title>Your data use in November 2026<\/title>/)
  assert.match(html, /<h1>Your data use in November 2026<\/h1>/)
  assert.match(html, /Daily activity read 30 records from steps, at daily detail, in 2 requests\./)
  assert.match(html, /Daily activity sent 2 exports \(1\.2 kB\) to https:\/\/example\.org\/upload\./)
  assert.match(html, /1 export to https:\/\/example\.org\/upload is waiting for your approval\./)
  assert.match(html, /Daily activity was refused 1 time reading heart-rate\./)
  assert.match(html, /Driver phone wrote 150 records \(7\.5 kB\) to location, in 2 requests\./)
  assert.match(html, /You were refused|You logged in 1 time\./)
  assert.match(html, /The audit log verified: all 42 entries/)
  assert.match(html, /role="status"/)
  assert.match(html, /<th scope="col">Records<\/th>/)
  assert.match(html, /<th scope="row">steps<\/th>/)

  // Nothing from the log becomes markup, and the page loads nothing.
  assert.doesNotMatch(html, /<script|<img|<link|onerror=alert\(1\)>/i)
  assert.match(html, /&lt;img src=x onerror=alert\(1\)&gt;/)
  assert.match(html, /&lt;script&gt;alert\(&quot;owned&quot;\)&lt;\/script&gt;/)
  assert.match(html, /App evil&lt;script&gt; \(app:evil&lt;script&gt;\)/)
  assert.match(html, /https:\/\/evil\.example\/\?a=&lt;b&gt;&amp;c=&quot;d&quot;/)
  assert.doesNotMatch(html, /<[a-z][^>]*\s(src|href)=/i)
})

test('HTML: a log that did not verify is announced as an alert with its problems', () => {
  const html = renderHtml(build({ verify: { ok: false, length: 40, checkpointLength: 42, problems: ['The log holds 40 entries but was signed at 42: entries are missing.'] } }))
  assert.match(html, /role="alert"/)
  assert.match(html, /did NOT verify/)
  assert.match(html, /<li>The log holds 40 entries but was signed at 42: entries are missing\.<\/li>/)
})

test('an empty month says so', () => {
  const html = renderHtml(build({ month: '2025-01' }))
  assert.match(html, /Nothing was recorded in January 2025\./)
})

/** The text a PDF with uncompressed content streams shows, line by line (standard-font hex strings). */
function pdfText(pdf: Buffer): string {
  const lines: string[] = []
  for (const op of pdf.toString('latin1').matchAll(/\[([^\]]*)\] TJ/g)) {
    lines.push([...op[1]!.matchAll(/<([0-9a-f]*)>/g)].map((m) => Buffer.from(m[1]!, 'hex').toString('latin1')).join(''))
  }
  return lines.join(' ').replace(/\s+/g, ' ')
}

test('PDF: the same sentences, tagged, escaped of nothing it cannot print, and the same bytes each time', async () => {
  const statement = build()
  const pdf = await renderPdf(statement, { compress: false })
  assert.equal(pdf.subarray(0, 5).toString('latin1'), '%PDF-')
  const text = pdfText(pdf)
  for (const sentence of [
    'Your data use in November 2026',
    'Audit log verified',
    'The audit log verified: all 42 entries',
    'Daily activity read 30 records from steps, at daily detail, in 2 requests.',
    'Daily activity sent 2 exports (1.2 kB) to https://example.org/upload.',
    'Driver phone wrote 150 records (7.5 kB) to location, in 2 requests.',
  ]) assert.ok(text.includes(sentence), `PDF lacks: ${sentence}\n${text}`)
  // Table cells wrap anywhere, so the preview is looked for without the spaces wrapping put in.
  assert.ok(text.replace(/ /g, '').includes(HOSTILE_PREVIEW.replace(/ /g, '')), text)
  const raw = pdf.toString('latin1')
  assert.match(raw, /\/Lang \(en\)/)
  assert.match(raw, /\/StructTreeRoot/)
  assert.match(raw, /\/S \/TH/)
  assert.deepEqual(await renderPdf(statement, { compress: false }), pdf)

  const compressed = await renderPdf(statement)
  assert.equal(compressed.subarray(0, 5).toString('latin1'), '%PDF-')
  assert.ok(compressed.length < pdf.length)
})

test('PDF: a log that did not verify says so', async () => {
  const pdf = await renderPdf(build({ verify: { ok: false, length: 1, checkpointLength: 2, problems: ['The signed checkpoint is missing.'] } }), { compress: false })
  const text = pdfText(pdf)
  assert.ok(text.includes('Audit log NOT verified'), text)
  assert.ok(text.includes('The signed checkpoint is missing.'), text)
})

test('statementFromLog takes exactly the month from a real audit log, and verifies it', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-statement-'))
  const { home } = initHome(path.join(dir, 'home'), { passphrase: 'correct horse battery staple' })
  const db = openMetaDb(home.paths.meta)
  let log = new AuditLog(home.paths.audit, home.keys, db)
  await log.open()
  try {
    // Three months of hourly reads, so the month's first entry is found well inside the log.
    const start = Date.UTC(2026, 9, 1) / 1000
    const end = Date.UTC(2027, 0, 1) / 1000
    const writes: Promise<void>[] = []
    for (let time = start; time < end; time += 3600) writes.push(log.record(entry(time, { subject: 'app:fitness', operation: 'read', source: 'steps', records: 1, granularity: 3600 })))
    await Promise.all(writes)
    // Reopened, as a box restarts: closing signs the checkpoint that verify() checks against.
    await log.close()
    log = new AuditLog(home.paths.audit, home.keys, db)
    await log.open()
    const s = await statementFromLog(log, { month: '2026-11', timeZone: BERLIN, now: end })
    assert.equal(s.subjects[0]!.reads[0]!.records, (NOV_END - NOV_START) / 3600)
    assert.equal(s.audit.ok, true, s.audit.problems.join(' '))
    assert.equal(s.audit.length, (end - start) / 3600)
    assert.equal((await statementFromLog(log, { timeZone: 'UTC', now: Date.UTC(2026, 9, 15) / 1000 })).totals.recordsRead, 31 * 24)
  } finally {
    await log.close()
    db.close()
    fs.rmSync(dir, { recursive: true, force: true })
  }
})
