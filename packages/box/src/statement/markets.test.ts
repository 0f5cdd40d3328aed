import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { AuditLog, type AuditEntry, type VerifyReport } from '../audit/index.ts'
import { openMetaDb } from '../db/index.ts'
import { initHome } from '../home/index.ts'
import { buildStatement, renderHtml, renderPdf, statementFromLog, type AccountRecord, type AnswerRecord, type Statement } from './index.ts'

const BERLIN = 'Europe/Berlin'
// November 2026 in Berlin is CET (UTC+1): it runs from 2026-10-31T23:00Z to 2026-11-30T23:00Z.
const NOV_END = Date.UTC(2026, 10, 30, 23) / 1000
const VERIFIED: VerifyReport = { ok: true, length: 12, checkpointLength: 12, problems: [] }
const t = (day: number, hour = 12) => Date.UTC(2026, 10, day, hour) / 1000

const MARKET = '127.0.0.1-4100'
const SUBJECT = `market:${MARKET}`
const answersAt = (query: string) => `http://127.0.0.1:4100/api/v1/queries/${query}/answers`

function entry(time: number, fields: Partial<AuditEntry> & Pick<AuditEntry, 'subject' | 'operation'>): AuditEntry {
  return { time, grant: 'g1', source: null, action: 'GET /api/v1/sources/:source/records', records: 0, bytes: 0, outcome: 'allow', status: 200, ...fields }
}

/** What the market's token reads for one answer, and the answer leaving through the gateway. */
function answered(time: number, query: string, bytes = 1941): AuditEntry[] {
  return [
    entry(time, { subject: SUBJECT, operation: 'read', source: 'steps', records: 14, granularity: 86400, action: `MARKET ${MARKET} ${query}` }),
    entry(time + 1, {
      subject: SUBJECT, operation: 'export', action: `EXPORT ${answersAt(query)}`, destination: answersAt(query), bytes,
      preview: `{"queryId":"${query}","boxId":"86ac01d3","privacyLevel":"medium","leader":"IcTgAnpqwwMM`,
    }),
  ]
}

/** The box's record of a query it answered, as the market module keeps it. */
function record(query: string, answeredAt: number, more: { level?: string; spent?: string; price?: number; processor?: string; purpose?: string } = {}): AnswerRecord {
  return {
    market: MARKET, id: query, reason: `answered at level ${more.level ?? 'medium'}`, spent: more.spent ?? '1/2', answeredAt,
    published: {
      processor: { id: 'p-walk', name: more.processor ?? 'Walking study' },
      spec: { purpose: more.purpose ?? 'How much people walk, for a public health study.', price: { amount: more.price ?? 250, currency: 'sat' } },
    },
  }
}

const APP_READ = entry(t(2), { subject: 'app:fitness', operation: 'read', source: 'steps', records: 30, granularity: 86400 })
const DRIVER_WRITE = entry(t(3), { subject: 'driver:phone', operation: 'write', source: 'location', records: 10, bytes: 500, status: 201 })

const ENTRIES = [APP_READ, DRIVER_WRITE, ...answered(t(14), 'q-walk'), ...answered(t(20), 'q-sleep', 2010)]
const RECORDS = [
  record('q-walk', t(14) + 2),
  record('q-sleep', t(20) + 2, { level: 'high', spent: '1/10', price: 100, processor: 'Sleep lab', purpose: 'How long people sleep on weekdays.' }),
  // Answered in October: not this month's.
  record('q-old', Date.UTC(2026, 9, 10) / 1000, { price: 5000 }),
]

function build(entries: AuditEntry[], answers: AnswerRecord[], month = '2026-11'): Statement {
  return buildStatement({ entries, month, timeZone: BERLIN, verify: VERIFIED, generatedAt: Date.UTC(2026, 11, 1, 8) / 1000, answers })
}

/** The text a PDF with uncompressed content streams shows, line by line (standard-font hex strings). */
function pdfText(pdf: Buffer): string {
  const lines: string[] = []
  for (const op of pdf.toString('latin1').matchAll(/\[([^\]]*)\] TJ/g)) {
    lines.push([...op[1]!.matchAll(/<([0-9a-f]*)>/g)].map((m) => Buffer.from(m[1]!, 'hex').toString('latin1')).join(''))
  }
  return lines.join(' ').replace(/\s+/g, ' ')
}

test('a market that read and answered is a subject of its own, and its answers are listed with what they pay', () => {
  const s = build(ENTRIES, RECORDS)
  assert.deepEqual(s.subjects.map((x) => [x.subject, x.kind, x.name]), [
    ['app:fitness', 'app', 'App fitness'],
    [SUBJECT, 'market', `Market ${MARKET}`],
    ['driver:phone', 'driver', 'Driver phone'],
  ])
  const market = s.subjects.find((x) => x.kind === 'market')!
  assert.deepEqual(market.reads.map((r) => [r.source, r.requests, r.records, r.finestGranularity]), [['steps', 2, 28, 86400]])
  assert.deepEqual(market.exports.map((x) => [x.destination, x.sent, x.bytes]), [[answersAt('q-sleep'), 1, 2010], [answersAt('q-walk'), 1, 1941]])

  assert.deepEqual(s.markets, {
    answers: [
      {
        market: MARKET, query: 'q-walk', sentAt: t(14) + 1, processor: { id: 'p-walk', name: 'Walking study' }, purpose: 'How much people walk, for a public health study.',
        privacyLevel: 'medium', epsilon: '1/2', priceSat: 250, earnedSat: null, bytes: 1941, recorded: true, logged: true,
      },
      {
        market: MARKET, query: 'q-sleep', sentAt: t(20) + 1, processor: { id: 'p-walk', name: 'Sleep lab' }, purpose: 'How long people sleep on weekdays.',
        privacyLevel: 'high', epsilon: '1/10', priceSat: 100, earnedSat: null, bytes: 2010, recorded: true, logged: true,
      },
    ],
    accounts: [],
    promisedSat: 350,
    earnedSat: 0,
    notLogged: 0,
    notRecorded: 0,
  })
  // Plain data, the same whatever order the log and the records come in.
  assert.deepEqual(JSON.parse(JSON.stringify(s)), s)
  assert.deepEqual(build([...ENTRIES].reverse(), [...RECORDS].reverse()), s)
})

test('HTML: a "Data markets" part with each answer, its price, the total promised and paid so far, and what left the box', () => {
  const html = renderHtml(build(ENTRIES, RECORDS))
  assert.match(html, /<h2 id="markets-heading">Data markets<\/h2>/)
  assert.match(html, /2 apps, drivers and devices, and 1 data market, used your data this month\./)
  assert.match(html, /2 answers went to a data market, promising 350 sat, of which 0 sat is paid into your balance so far\./)
  assert.match(html, /The box sent 2 answers to 1 data market in November 2026, through the export gateway/)
  assert.match(html, /Each answer was two encrypted shares of one value worked out in the box, one for each of the market&#39;s two aggregators, so that neither can read it alone, and noise is added before anyone sees a total\. None of your records left the box\./)
  assert.match(html, /Together they promise 350 sat; 0 sat of it is paid into your balance so far\. A query pays once its market releases the result, and only for answers the market counted; one that ends with too few answers pays no one\./)
  assert.match(html, /<caption>Answers sent to market 127\.0\.0\.1-4100, and what they pay<\/caption>.*<tr><th scope="row">q-walk<\/th><td>Walking study<\/td><td>How much people walk, for a public health study\.<\/td><td>medium<\/td><td class="number">1\/2<\/td><td class="number">250 sat<\/td><td class="number">not yet<\/td><td class="when">14 Nov, 13:00<\/td><td>yes<\/td><\/tr>/)
  assert.match(html, /<th scope="row">q-sleep<\/th>.*<td class="number">100 sat<\/td>/)
  assert.match(html, /<tr><th scope="row">Total<\/th>(<td( class="number")?><\/td>){4}<td class="number">350 sat<\/td><td class="number">0 sat<\/td>/)
  assert.doesNotMatch(html, /5,000 sat/, 'an answer of another month is not counted')

  // The market's own part: what it read, and its answers in the same words.
  assert.match(html, /<h2 id="subject-2">Market 127\.0\.0\.1-4100 \(market:127\.0\.0\.1-4100\)<\/h2>/)
  assert.match(html, /Market 127\.0\.0\.1-4100 read 28 records from steps, at daily detail, in 2 requests\./)
  assert.match(html, /Market 127\.0\.0\.1-4100 sent 1 answer \(1\.9 kB\) to http:\/\/127\.0\.0\.1:4100\/api\/v1\/queries\/q-walk\/answers\.<\/li><li>Each answer was two encrypted shares of one value/)
  assert.match(html, /<caption>What Market 127\.0\.0\.1-4100 sent out of the box<\/caption><thead><tr><th scope="col">Destination<\/th><th scope="col">Sent<\/th>/)
})

test('PDF: the same market part, price and total', async () => {
  const text = pdfText(await renderPdf(build(ENTRIES, RECORDS), { compress: false }))
  for (const sentence of [
    'Data markets',
    'The box sent 2 answers to 1 data market in November 2026, through the export gateway',
    'Together they promise 350 sat; 0 sat of it is paid into your balance so far.',
    'A query pays once its market releases the result, and only for answers the market counted',
    'Market 127.0.0.1-4100 read 28 records from steps, at daily detail, in 2 requests.',
  ]) assert.ok(text.includes(sentence), `PDF lacks: ${sentence}\n${text}`)
  // Table cells wrap anywhere, so cells are looked for without the spaces wrapping put in.
  const cells = text.replace(/ /g, '')
  for (const cell of ['Walkingstudy', '250sat', '100sat', 'Total', '350sat', 'Privacybudgetspent(epsilon)', 'Pays(promised)', 'Paidtoyou', 'notyet']) assert.ok(cells.includes(cell), `PDF lacks the cell ${cell}\n${text}`)
})

test('a month without markets has no market part, in any form', async () => {
  // The box answered in October; November has no market in its log and no answer.
  const s = build([APP_READ, DRIVER_WRITE], RECORDS.filter((r) => r.id === 'q-old'))
  assert.equal(s.markets, null)
  assert.deepEqual(s.subjects.map((x) => x.kind), ['app', 'driver'])
  const html = renderHtml(s)
  assert.doesNotMatch(html, /Data markets|data market|sat\b/)
  assert.match(html, /2 apps, drivers and devices used your data this month\./)
  const text = pdfText(await renderPdf(s, { compress: false }))
  assert.ok(!text.includes('Data markets') && !text.includes('sat'), text)
  assert.equal(build([APP_READ], []).markets, null)
})

test('an answer the box recorded that the log does not show is flagged; one only the log shows is listed without a price', () => {
  const s = build([...answered(t(14), 'q-walk'), ...answered(t(16), 'q-forgotten')], [
    record('q-walk', t(14) + 2),
    record('q-unlogged', t(15), { price: 40, processor: '<script>alert(1)</script>', purpose: 'A "purpose" & <b>more</b>' }),
  ])
  assert.deepEqual(s.markets!.answers.map((a) => [a.query, a.recorded, a.logged, a.priceSat, a.processor?.name ?? null]), [
    ['q-walk', true, true, 250, 'Walking study'],
    ['q-unlogged', true, false, 40, '<script>alert(1)</script>'],
    ['q-forgotten', false, true, null, null],
  ])
  assert.deepEqual([s.markets!.promisedSat, s.markets!.notLogged, s.markets!.notRecorded], [290, 1, 1])
  const html = renderHtml(s)
  assert.match(html, /Warning: the audit log does not show one of these answers being sent \(marked &quot;NOT in the log&quot;\), though the box recorded it as answered\./)
  assert.match(html, /<th scope="row">q-unlogged<\/th>.*<td>NOT in the log<\/td><\/tr>/)
  assert.match(html, /1 answer in the audit log is not in the box&#39;s records, as when you leave a market and its queries are forgotten/)
  assert.match(html, /Together they promise 290 sat, besides 1 answer whose price is not known;/)
  assert.match(html, /<th scope="row">q-forgotten<\/th><td>not known<\/td><td>not known<\/td><td>-<\/td><td class="number">-<\/td><td class="number">not known<\/td><td class="number">not yet<\/td>/)
  // A processor writes its own name and purpose: they are shown, never run.
  assert.doesNotMatch(html, /<script|<b>/)
  assert.match(html, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/)
  assert.match(html, /A &quot;purpose&quot; &amp; &lt;b&gt;more&lt;\/b&gt;/)
})

test('answers to two markets get a table each with that market\'s total; the words give the sum', () => {
  const other = 'market.example.org'
  const otherUrl = `https://${other}/api/v1/queries/q-bus/answers`
  const s = build([
    ...answered(t(14), 'q-walk'),
    entry(t(18), { subject: `market:${other}`, operation: 'export', action: `EXPORT ${otherUrl}`, destination: otherUrl, bytes: 1800 }),
  ], [record('q-walk', t(14) + 2), { ...record('q-bus', t(18) + 1, { price: 75, processor: 'Transit agency' }), market: other }])
  assert.deepEqual(s.subjects.map((x) => [x.subject, x.kind]), [[SUBJECT, 'market'], [`market:${other}`, 'market']])
  assert.equal(s.markets!.promisedSat, 325)
  const html = renderHtml(s)
  assert.match(html, /2 data markets used your data this month\./)
  assert.match(html, /2 answers went to 2 data markets, promising 325 sat, of which 0 sat is paid into your balance so far\./)
  assert.match(html, /The box sent 2 answers to 2 data markets in November 2026/)
  assert.match(html, /Together they promise 325 sat;/)
  const tables = [...html.matchAll(/<caption>Answers sent to market ([^,]+), and what they pay<\/caption>.*?<th scope="row">Total<\/th>.*?(\d+) sat/g)].map((m) => [m[1], m[2]])
  assert.deepEqual(tables, [['127.0.0.1-4100', '250'], ['market.example.org', '75']])
})

test('a refused or failed answer is in the market\'s own part, not among the answers sent', () => {
  const failed = entry(t(14, 13), { subject: SUBJECT, operation: 'export', action: `EXPORT ${answersAt('q-walk')}`, destination: answersAt('q-walk'), bytes: 1941, status: 502 })
  const refused = entry(t(14, 14), { subject: SUBJECT, operation: 'export', action: `EXPORT ${answersAt('q-other')}`, destination: answersAt('q-other'), bytes: 1941, outcome: 'deny', status: 403 })
  const s = build([failed, refused], [])
  assert.equal(s.markets, null)
  assert.deepEqual(s.subjects[0]!.exports.map((x) => [x.destination, x.sent, x.refused, x.failed]), [[answersAt('q-other'), 0, 1, 0], [answersAt('q-walk'), 0, 0, 1]])
  assert.match(renderHtml(s), /1 answer to http:\/\/127\.0\.0\.1:4100\/api\/v1\/queries\/q-walk\/answers failed: the destination did not take it\./)
})

test('an answer sent just before midnight and recorded just after belongs to the month the log shows it leaving in', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-statement-'))
  const { home } = initHome(path.join(dir, 'home'), { passphrase: 'correct horse battery staple' })
  const db = openMetaDb(home.paths.meta)
  let log = new AuditLog(home.paths.audit, home.keys, db)
  await log.open()
  try {
    // Sent two seconds before midnight in Berlin; the box recorded the answer three seconds after it.
    for (const e of answered(NOV_END - 3, 'q-midnight')) await log.record(e)
    await log.close()
    log = new AuditLog(home.paths.audit, home.keys, db)
    await log.open()
    const answers = [record('q-midnight', NOV_END + 3)]
    const november = await statementFromLog(log, { month: '2026-11', timeZone: BERLIN, now: NOV_END + 60, answers })
    assert.deepEqual(november.markets!.answers.map((a) => [a.query, a.sentAt, a.logged, a.priceSat]), [['q-midnight', NOV_END - 2, true, 250]])
    assert.equal(november.subjects[0]!.exports[0]!.sent, 1)
    const december = await statementFromLog(log, { month: '2026-12', timeZone: BERLIN, now: NOV_END + 60, answers })
    assert.equal(december.markets, null, 'counted once, in November, and not flagged in December')
    assert.deepEqual(december.subjects, [], 'the entries read across midnight count for nothing else')
  } finally {
    await log.close()
    db.close()
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

/** The owner's account at the market as the box last read it, with one payout made in November and one in October. */
const ACCOUNT: AccountRecord = {
  market: MARKET, readAt: t(28),
  account: {
    balance: 100, inFlight: 0, threshold: 100_000, payoutAddress: 'bcrt1qexampleaddress',
    payouts: [
      { txid: 'aa'.repeat(32), state: 'confirmed', address: 'bcrt1qexampleaddress', sent: 249_811, fee: 189, createdAt: new Date(t(21) * 1000).toISOString(), settledAt: new Date(t(21, 14) * 1000).toISOString() },
      { txid: 'bb'.repeat(32), state: 'confirmed', address: 'bcrt1qexampleaddress', sent: 99_900, fee: 100, createdAt: new Date(Date.UTC(2026, 9, 3) * 1000).toISOString(), settledAt: new Date(Date.UTC(2026, 9, 3) * 1000).toISOString() },
    ],
  },
}

test('what each answer was paid, the balance and the month\'s payouts are in the market part; the payout address sent is not an answer', async () => {
  const setAddress = `http://127.0.0.1:4100/api/v1/owners/payout-address`
  const entries = [...ENTRIES, entry(t(10), { subject: SUBJECT, operation: 'export', action: `EXPORT ${setAddress}`, destination: setAddress, bytes: 260 })]
  const records = [{ ...RECORDS[0]!, earned: { sat: 250, at: new Date(t(16) * 1000).toISOString() } }, RECORDS[1]!, RECORDS[2]!]
  const s = buildStatement({ entries, month: '2026-11', timeZone: BERLIN, verify: VERIFIED, answers: records, accounts: [ACCOUNT] })
  assert.deepEqual(s.markets!.answers.map((a) => [a.query, a.priceSat, a.earnedSat]), [['q-walk', 250, 250], ['q-sleep', 100, null]])
  assert.deepEqual([s.markets!.promisedSat, s.markets!.earnedSat], [350, 250])
  assert.deepEqual(s.markets!.accounts, [{
    market: MARKET, readAt: t(28), balanceSat: 100, inFlightSat: 0, thresholdSat: 100_000, payoutAddress: 'bcrt1qexampleaddress',
    payouts: [{ txid: 'aa'.repeat(32), state: 'confirmed', address: 'bcrt1qexampleaddress', sentSat: 249_811, feeSat: 189, madeAt: t(21), settledAt: t(21, 14) }],
  }], 'October\'s payout is not November\'s')

  const html = renderHtml(s)
  assert.match(html, /2 answers went to a data market, promising 350 sat, of which 250 sat was paid into your balance so far\. 1 payout to your Bitcoin address, 249,811 sat received\./)
  assert.match(html, /Together they promise 350 sat; 250 sat of it was paid into your balance so far\./)
  assert.match(html, /Your balance at market 127\.0\.0\.1-4100 was 100 sat when the box last read it, on 28 Nov 2026; it is paid out to bcrt1qexampleaddress once it reaches 100,000 sat\./)
  assert.match(html, /<th scope="row">q-walk<\/th>.*?<td class="number">250 sat<\/td><td class="number">250 sat<\/td>/)
  assert.match(html, /<tr><th scope="row">Total<\/th>(<td( class="number")?><\/td>){4}<td class="number">350 sat<\/td><td class="number">250 sat<\/td>/)
  assert.match(html, /<caption>Payouts from market 127\.0\.0\.1-4100 to your Bitcoin address<\/caption>.*<th scope="row">a{64}<\/th><td>confirmed<\/td><td>bcrt1qexampleaddress<\/td><td class="number">249,811 sat<\/td><td class="number">189 sat<\/td>/)
  assert.doesNotMatch(html, /b{64}/)
  assert.match(html, /Market 127\.0\.0\.1-4100 sent 1 payout address \(260 bytes\) to http:\/\/127\.0\.0\.1:4100\/api\/v1\/owners\/payout-address\./)
  assert.match(html, /sent 1 answer \(1\.9 kB\) to http:\/\/127\.0\.0\.1:4100\/api\/v1\/queries\/q-walk\/answers/)
  const cells = pdfText(await renderPdf(s, { compress: false })).replace(/ /g, '')
  for (const cell of ['Paidtoyou', 'Yourshareofthefee', '249,811sat', 'Payoutsfrommarket']) assert.ok(cells.includes(cell), `PDF lacks ${cell}`)

  // A month with a payout and no answer still has the part: the payout is what it is about.
  const december = buildStatement({ entries: [], month: '2026-12', timeZone: BERLIN, verify: VERIFIED, answers: records, accounts: [{ ...ACCOUNT, account: { ...ACCOUNT.account!, payouts: [{ ...ACCOUNT.account!.payouts[0]!, createdAt: '2026-12-02T10:00:00.000Z', settledAt: null, state: 'broadcast' }] } }] })
  assert.deepEqual(december.markets!.answers, [])
  assert.match(renderHtml(december), /The box sent no answer to a data market in December 2026\..*sent, not confirmed yet/s)
  // A market with nothing to show (no balance, no payout, no answer) leaves no part.
  assert.equal(buildStatement({ entries: [], month: '2026-12', timeZone: BERLIN, verify: VERIFIED, accounts: [{ market: MARKET, readAt: t(28), account: { ...ACCOUNT.account!, balance: 0, payouts: [] } }] }).markets, null)
})
