import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import Fastify from 'fastify'
import { AuditLog, type AuditEntry, type VerifyReport } from '../audit/index.ts'
import { DEFAULT_SETTINGS, type ReplicaView } from '../backup/index.ts'
import { openMetaDb } from '../db/index.ts'
import { initHome } from '../home/index.ts'
import { buildStatement, renderHtml, renderPdf, statementFromLog, type ReplicaRecord, type Statement } from './index.ts'
import { StatementSchema } from './operations.ts'

const BERLIN = 'Europe/Berlin'
const VERIFIED: VerifyReport = { ok: true, length: 2, checkpointLength: 2, problems: [] }
/** 1 December 2026, 09:00 in Berlin: when the November statement is made. */
const MADE = Date.UTC(2026, 11, 1, 8) / 1000
const utc = (day: number, hour: number, minute = 0) => Date.UTC(2026, 10, day, hour, minute) / 1000
const iso = (at: number) => new Date(at * 1000).toISOString()

const READ: AuditEntry = { time: utc(10, 12), grant: 'g1', subject: 'app:fitness', source: 'steps', operation: 'read', action: 'GET /api/v1/sources/:source/records', records: 30, bytes: 0, outcome: 'allow', status: 200, granularity: 86400 }

/**
 * A replica as the backup module shows it (its `list()`): the statement is handed these as
 * they are, so the fixtures are typed as the backup's own view.
 */
function replica(name: string, fields: Partial<ReplicaView>): ReplicaView {
  return {
    id: `id-${name.length}`, name, kind: 'blind', publicKey: 'ab'.repeat(32), state: 'paired',
    createdAt: iso(utc(1, 9)), pairedAt: iso(utc(1, 9, 5)), inviteExpiresAt: null, settings: DEFAULT_SETTINGS,
    connected: false, inWindow: true, lastSeen: null, stale: false, problems: [], health: null, traffic: { sentBytes: 0, receivedBytes: 0 },
    ...fields,
  }
}

/** A verified health report, as the box compares it with its own logs: blocks held per log. */
function health(reportedAt: number, held: Record<string, number>, behind = { blocks: 0, bytes: 0 }): ReplicaView['health'] {
  return {
    reportedAt: iso(reportedAt), quotaBytes: 1e9, usedBytes: 5e6, overQuota: false, behindBlocks: behind.blocks, behindBytes: behind.bytes,
    cores: Object.entries(held).map(([log, heldBlocks], i) => ({ log, key: String(i).repeat(64), behindBlocks: 0, behindBytes: 0, heldBlocks })),
    check: { at: iso(reportedAt), blocks: 8, failed: 0 },
  }
}

const ALL = { registry: 3, audit: 412, 'source:location': 120, 'source:steps': 40 }

const REPLICAS: ReplicaView[] = [
  replica('Spare disk', { lastSeen: iso(utc(29, 12)) }),
  replica('Old laptop', {
    lastSeen: iso(utc(20, 10, 5)), stale: true, problems: ['Not fully in sync for over 24 h.'],
    health: health(utc(20, 10), { registry: 0, audit: 0, 'source:location': 80, 'source:steps': 0 }, { blocks: 495, bytes: 1_234_567 }),
  }),
  replica('Anna\'s NAS', { lastSeen: iso(Date.UTC(2026, 11, 1, 7, 45) / 1000), connected: true, health: health(Date.UTC(2026, 11, 1, 7, 30) / 1000, ALL) }),
  replica('Bob\'s Pi', {
    state: 'invited', pairedAt: null, inviteExpiresAt: iso(utc(28, 9)), stale: true, problems: ['Its invite expired before it paired: invite it again.'],
  }),
  replica('Co-op Leipzig', { lastSeen: iso(utc(30, 21, 2)), health: health(utc(30, 21), ALL) }),
]

function build(replicas: Iterable<ReplicaRecord>): Statement {
  return buildStatement({ entries: [READ], month: '2026-11', timeZone: BERLIN, verify: VERIFIED, generatedAt: MADE, replicas })
}

/** The text a PDF with uncompressed content streams shows, line by line (standard-font hex strings). */
function pdfText(pdf: Buffer): string {
  const lines: string[] = []
  for (const op of pdf.toString('latin1').matchAll(/\[([^\]]*)\] TJ/g)) {
    lines.push([...op[1]!.matchAll(/<([0-9a-f]*)>/g)].map((m) => Buffer.from(m[1]!, 'hex').toString('latin1')).join(''))
  }
  return lines.join(' ').replace(/\s+/g, ' ')
}

test('the replicas part says which replica held which source\'s log and the audit log, whether it was in sync, and why the box flags it', () => {
  const s = build(REPLICAS)
  assert.deepEqual(s.replicas, {
    replicas: [
      {
        name: 'Anna\'s NAS', kind: 'blind', state: 'paired', lastSeen: Date.UTC(2026, 11, 1, 7, 45) / 1000, reportedAt: Date.UTC(2026, 11, 1, 7, 30) / 1000,
        inSync: true, behindBlocks: 0, behindBytes: 0, sources: ['location', 'steps'], audit: true, problems: [],
      },
      {
        name: 'Bob\'s Pi', kind: 'blind', state: 'invited', lastSeen: null, reportedAt: null,
        inSync: null, behindBlocks: 0, behindBytes: 0, sources: [], audit: false, problems: ['Its invite expired before it paired: invite it again.'],
      },
      {
        name: 'Co-op Leipzig', kind: 'blind', state: 'paired', lastSeen: utc(30, 21, 2), reportedAt: utc(30, 21),
        inSync: true, behindBlocks: 0, behindBytes: 0, sources: ['location', 'steps'], audit: true, problems: [],
      },
      {
        name: 'Old laptop', kind: 'blind', state: 'paired', lastSeen: utc(20, 10, 5), reportedAt: utc(20, 10),
        inSync: false, behindBlocks: 495, behindBytes: 1_234_567, sources: ['location'], audit: false, problems: ['Not fully in sync for over 24 h.'],
      },
      {
        name: 'Spare disk', kind: 'blind', state: 'paired', lastSeen: utc(29, 12), reportedAt: null,
        inSync: null, behindBlocks: 0, behindBytes: 0, sources: [], audit: false, problems: [],
      },
    ],
    unheld: [],
  })
  // Plain data, the same whatever order the box lists its replicas in.
  assert.deepEqual(JSON.parse(JSON.stringify(s)), s)
  assert.deepEqual(build([...REPLICAS].reverse()), s)
  // Handed over as a one-pass iterable, it is read once.
  assert.deepEqual(build(REPLICAS.values()), s)
})

test('HTML: a "Backup copies" part in plain words, as the box knew when the statement was made, with a table of replicas and one of logs', () => {
  const html = renderHtml(build(REPLICAS))
  assert.match(html, /<li>When this statement was made, 3 blind replicas held encrypted copies of your data, which they cannot read; the box flags 2 replicas\.<\/li>/)
  assert.match(html, /<h2 id="backup-heading">Backup copies<\/h2>/)
  for (const line of [
    'When this statement was made, on 1 December 2026 at 09:00, 3 replicas held encrypted copies of your data, as the box knew from each replica&#39;s last signed health report. Unlike the rest of the statement, this part is as of that moment, not of November 2026.',
    'Each replica is blind: it holds the blocks of your logs encrypted, and never a key that decrypts them, so it cannot read your records, the list of your sources or the audit log.',
    'Replica &quot;Anna&#39;s NAS&quot; held the logs of location and steps, and the audit log. At its last report, on 1 December 2026 at 08:30, it was in sync: it held every block the box holds. It was last seen on 1 December 2026 at 08:45.',
    'Replica &quot;Bob&#39;s Pi&quot; is invited but has not paired yet: it holds nothing.',
    'Replica &quot;Co-op Leipzig&quot; held the logs of location and steps, and the audit log. At its last report, on 30 November 2026 at 22:00, it was in sync: it held every block the box holds. It was last seen on 30 November 2026 at 22:02.',
    'Replica &quot;Old laptop&quot; held the log of location. At its last report, on 20 November 2026 at 11:00, it was not in sync: it lacked 495 blocks (1.2 MB) that the box holds. It was last seen on 20 November 2026 at 11:05.',
    'Replica &quot;Spare disk&quot; is paired but has sent no health report yet, so what it holds is not known. It was last seen on 29 November 2026 at 13:00.',
    'The box flags replica &quot;Bob&#39;s Pi&quot;: Its invite expired before it paired: invite it again.',
    'The box flags replica &quot;Old laptop&quot;: Not fully in sync for over 24 h.',
    'A replica you removed is not listed, as the box no longer knows what it holds; nor is a source you deleted, whose blocks the box tells every replica to clear.',
  ]) assert.ok(html.includes(`<li>${line}</li>`), `HTML lacks: ${line}`)
  assert.doesNotMatch(html, /Held by no replica yet/, 'every log is held by some replica')

  assert.match(html, /<caption>Your replicas<\/caption><thead><tr><th scope="col">Replica<\/th><th scope="col">Kind<\/th><th scope="col">State<\/th><th scope="col">Last seen<\/th><th scope="col">Last report<\/th><th scope="col">In sync<\/th><th scope="col">Flagged<\/th><\/tr><\/thead>/)
  const row = (cells: string) => assert.ok(html.includes(cells), `HTML lacks the row ${cells}`)
  row('<tr><th scope="row">Anna&#39;s NAS</th><td>blind: cannot read what it holds</td><td>paired</td><td class="when">1 Dec 2026, 08:45</td><td class="when">1 Dec 2026, 08:30</td><td>yes</td><td>no</td></tr>')
  row('<tr><th scope="row">Bob&#39;s Pi</th><td>blind: cannot read what it holds</td><td>invited, not paired yet</td><td class="when">never</td><td class="when">none yet</td><td>not known</td><td>yes</td></tr>')
  row('<tr><th scope="row">Old laptop</th><td>blind: cannot read what it holds</td><td>paired</td><td class="when">20 Nov 2026, 11:05</td><td class="when">20 Nov 2026, 11:00</td><td>no: 495 blocks (1.2 MB) missing</td><td>yes</td></tr>')
  row('<caption>Which replicas held which logs</caption><thead><tr><th scope="col">Log</th><th scope="col">Held by</th></tr></thead><tbody>'
    + '<tr><th scope="row">location</th><td>Anna&#39;s NAS, Co-op Leipzig and Old laptop</td></tr>'
    + '<tr><th scope="row">steps</th><td>Anna&#39;s NAS and Co-op Leipzig</td></tr>'
    + '<tr><th scope="row">the audit log</th><td>Anna&#39;s NAS and Co-op Leipzig</td></tr></tbody>')
  // The month's own parts are still there, after it.
  assert.ok(html.indexOf('backup-heading') < html.indexOf('App fitness read 30 records from steps'))
})

test('PDF: the same backup part, sentences and cells', async () => {
  const text = pdfText(await renderPdf(build(REPLICAS), { compress: false }))
  for (const sentence of [
    'When this statement was made, 3 blind replicas held encrypted copies of your data, which they cannot read; the box flags 2 replicas.',
    'Backup copies',
    'When this statement was made, on 1 December 2026 at 09:00, 3 replicas held encrypted copies of your data',
    'so it cannot read your records, the list of your sources or the audit log.',
    'Replica "Anna\'s NAS" held the logs of location and steps, and the audit log.',
    'it was not in sync: it lacked 495 blocks (1.2 MB) that the box holds.',
    'The box flags replica "Old laptop": Not fully in sync for over 24 h.',
  ]) assert.ok(text.includes(sentence), `PDF lacks: ${sentence}\n${text}`)
  // Table cells wrap anywhere, so cells are looked for without the spaces wrapping put in.
  const cells = text.replace(/ /g, '')
  for (const cell of ['Yourreplicas', 'blind:cannotreadwhatitholds', 'invited,notpairedyet', 'no:495blocks(1.2MB)missing', 'Whichreplicasheldwhichlogs', 'Anna\'sNAS,Co-opLeipzigandOldlaptop', 'theauditlog']) {
    assert.ok(cells.includes(cell), `PDF lacks the cell ${cell}\n${text}`)
  }
})

test('a box without replicas has no backup part, in any form', async () => {
  const s = build([])
  assert.equal(s.replicas, null)
  assert.equal(buildStatement({ entries: [READ], month: '2026-11', timeZone: BERLIN, verify: VERIFIED }).replicas, null)
  const html = renderHtml(s)
  assert.doesNotMatch(html, /Backup copies|replica/i)
  const text = pdfText(await renderPdf(s, { compress: false }))
  assert.ok(!/Backup copies|replica/i.test(text), text)
})

test('a log no replica holds yet is named, and a replica\'s name is shown, never run', () => {
  const hostile = '<img src=x onerror=alert(1)>'
  const s = build([
    replica(hostile, {
      lastSeen: iso(utc(30, 9)),
      health: health(utc(30, 9), { registry: 3, audit: 0, 'source:location': 120, 'source:sleep': 0, 'source:heart-rate': 0 }, { blocks: 430, bytes: 90_000 }),
    }),
  ])
  assert.deepEqual(s.replicas!.unheld, ['heart-rate', 'sleep'])
  const html = renderHtml(s)
  assert.match(html, /<li>When this statement was made, 1 blind replica held encrypted copies of your data, which it cannot read\.<\/li>/)
  assert.match(html, /<li>The replica is blind: it holds the blocks of your logs encrypted, and never a key that decrypts them, so it cannot read your records, the list of your sources or the audit log\.<\/li>/)
  assert.match(html, /<li>Held by no replica yet: the logs of heart-rate and sleep, and the audit log\.<\/li>/)
  assert.match(html, /<tr><th scope="row">heart-rate<\/th><td>no replica<\/td><\/tr><tr><th scope="row">location<\/th><td>&lt;img src=x onerror=alert\(1\)&gt;<\/td><\/tr><tr><th scope="row">sleep<\/th><td>no replica<\/td><\/tr><tr><th scope="row">the audit log<\/th><td>no replica<\/td><\/tr>/)
  assert.doesNotMatch(html, /<img/)

  // Before any replica has reported, the box does not know which logs are held, and says only that.
  const unreported = renderHtml(build([replica('Spare disk', { lastSeen: null })]))
  assert.match(unreported, /<li>When this statement was made, on 1 December 2026 at 09:00, no replica had reported holding a copy of your data yet\.<\/li>/)
  assert.match(unreported, /<li>When this statement was made, no replica held a copy of your data\.<\/li>/)
  assert.match(unreported, /Replica &quot;Spare disk&quot; is paired but has sent no health report yet, so what it holds is not known\. It has never been seen\./)
  assert.doesNotMatch(unreported, /Held by no replica yet|Which replicas held which logs/)

  // A replica that reported holding nothing has no copy, and every log is named as held by none.
  const empty = renderHtml(build([replica('Fresh', { lastSeen: iso(utc(30, 9)), health: health(utc(30, 9), { registry: 0, audit: 0, 'source:steps': 0 }, { blocks: 415, bytes: 80_000 }) })]))
  assert.match(empty, /<li>When this statement was made, on 1 December 2026 at 09:00, no replica had reported holding a copy of your data yet\.<\/li>/)
  assert.match(empty, /<li>Replica &quot;Fresh&quot; held no block of your logs\. At its last report, on 30 November 2026 at 10:00, it was not in sync: it lacked 415 blocks \(80\.0 kB\) that the box holds\. It was last seen on 30 November 2026 at 10:00\.<\/li>/)
  assert.match(empty, /<li>Held by no replica yet: the log of steps, and the audit log\.<\/li>/)
})

test('the statement\'s data as the API sends it carries the replicas part whole', async () => {
  // The API serializes by the statement's schema, which drops any field the schema does not name.
  const statement = build(REPLICAS)
  const api = Fastify()
  api.get('/statement', { schema: { response: { 200: StatementSchema } } }, async () => statement)
  try {
    const res = await api.inject({ method: 'GET', url: '/statement' })
    assert.equal(res.statusCode, 200)
    assert.deepEqual(res.json(), JSON.parse(JSON.stringify(statement)))
  } finally {
    await api.close()
  }
})

test('statementFromLog says where the copies are as the box knows them when it is made, for a past month too', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-statement-'))
  const { home } = initHome(path.join(dir, 'home'), { passphrase: 'correct horse battery staple' })
  const db = openMetaDb(home.paths.meta)
  const log = new AuditLog(home.paths.audit, home.keys, db)
  await log.open()
  try {
    await log.record(READ)
    const now = Date.UTC(2027, 0, 15, 11) / 1000
    const s = await statementFromLog(log, { month: '2026-11', timeZone: BERLIN, now, replicas: REPLICAS })
    assert.equal(s.subjects[0]!.reads[0]!.records, 30)
    assert.deepEqual(s.replicas!.replicas.map((r) => [r.name, r.sources, r.audit]), [
      ['Anna\'s NAS', ['location', 'steps'], true], ['Bob\'s Pi', [], false], ['Co-op Leipzig', ['location', 'steps'], true], ['Old laptop', ['location'], false], ['Spare disk', [], false],
    ])
    assert.match(renderHtml(s), /<li>When this statement was made, on 15 January 2027 at 12:00, 3 replicas held encrypted copies of your data, .* this part is as of that moment, not of November 2026\.<\/li>/)
    assert.equal((await statementFromLog(log, { month: '2026-11', timeZone: BERLIN, now })).replicas, null)
  } finally {
    await log.close()
    db.close()
    fs.rmSync(dir, { recursive: true, force: true })
  }
})
