/**
 * The statement in plain language. Both renderers take their sentences and table cells from
 * here, so the HTML and the PDF say the same thing in the same words.
 */
import type { DestinationExports, SourceReads, SourceUse, Statement, SubjectActivity } from './build.ts'
import type { MarketsPart } from './markets.ts'
import type { ReplicaHolding, ReplicasPart } from './replicas.ts'
import { durationAdjective } from '../duration/index.ts'

export function count(n: number, singular: string, plural = `${singular}s`): string {
  return `${n.toLocaleString('en-US')} ${n === 1 ? singular : plural}`
}

/** Decimal units, as a person reads file sizes: 1.2 kB is 1,200 bytes. */
export function byteSize(n: number): string {
  if (n < 1000) return count(n, 'byte')
  const units = ['kB', 'MB', 'GB', 'TB']
  let value = n / 1000
  let i = 0
  while (value >= 1000 && i < units.length - 1) {
    value /= 1000
    i++
  }
  return `${value.toFixed(1)} ${units[i]}`
}

/**
 * The size of records written, saying which of them it covers: bytes are never added up with
 * records whose size the log does not say, as if those had taken none.
 */
export function writtenSize(records: number, bytes: number, unsized: number): string {
  if (unsized === 0) return byteSize(bytes)
  if (unsized >= records) return 'size not recorded'
  return `${byteSize(bytes)} for ${count(records - unsized, 'record')}; the size of the other ${n(unsized)} was not recorded`
}

function sizeCell(u: SourceUse): string {
  if (u.unsizedRecords === 0) return byteSize(u.bytes)
  if (u.unsizedRecords >= u.records) return 'not recorded'
  return `${byteSize(u.bytes)} (${n(u.records - u.unsizedRecords)} of ${n(u.records)} records)`
}

/** 0 → "raw"; 86400 → "daily"; 300 → "5-minute". */
export function detail(seconds: number): string {
  if (seconds <= 0) return 'raw'
  return durationAdjective(seconds)
}

export function detailPhrase(seconds: number | null): string {
  if (seconds === null) return ''
  return seconds === 0 ? ', at raw detail (every single point)' : `, at ${detail(seconds)} detail`
}

export function monthName(statement: Pick<Statement, 'month'>): string {
  const [year, month] = statement.month.split('-').map(Number)
  return new Intl.DateTimeFormat('en-GB', { timeZone: 'UTC', month: 'long', year: 'numeric' }).format(new Date(Date.UTC(year!, month! - 1, 1)))
}

export function dateIn(at: number, timeZone: string): string {
  return new Intl.DateTimeFormat('en-GB', { timeZone, day: 'numeric', month: 'long', year: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(new Date(at * 1000))
}

export function title(statement: Statement): string {
  return `Your data use in ${monthName(statement)}`
}

export function period(statement: Statement): string {
  return `From ${dateIn(statement.from, statement.timeZone)} up to ${dateIn(statement.to, statement.timeZone)}, ${statement.timeZone} time.`
}

export function generated(statement: Statement): string | null {
  return statement.generatedAt === null ? null : `Made from the audit log on ${dateIn(statement.generatedAt, statement.timeZone)}.`
}

export function auditBanner(statement: Statement): { ok: boolean; headline: string; details: string[] } {
  const { ok, length, problems } = statement.audit
  if (ok) {
    return {
      ok,
      headline: `The audit log verified: all ${count(length, 'entry', 'entries')} match the box's signed record, so nothing recorded has been altered or removed.`,
      details: [],
    }
  }
  return {
    ok,
    headline: 'Warning: the audit log did NOT verify. Entries may have been altered or removed, so this statement may be incomplete or wrong.',
    details: problems,
  }
}

export function summary(statement: Statement): string[] {
  const t = statement.totals
  const users = statement.subjects.filter((s) => s.kind === 'app' || s.kind === 'driver' || s.kind === 'device').length
  const markets = statement.subjects.filter((s) => s.kind === 'market').length
  const lines: string[] = []
  if (t.requests === 0) return [`Nothing was recorded in ${monthName(statement)}.`]
  const who = [users > 0 ? count(users, 'app, driver or device', 'apps, drivers and devices') : '', markets > 0 ? count(markets, 'data market') : ''].filter(Boolean)
  lines.push(who.length === 0 ? 'No app, driver or device used your data this month; only you did.' : `${who.join(', and ')}${who.length > 1 ? ',' : ''} used your data this month.`)
  lines.push(`In all, ${count(t.recordsRead, 'record')} ${t.recordsRead === 1 ? 'was' : 'were'} read and ${count(t.recordsWritten, 'record')} (${writtenSize(t.recordsWritten, t.bytesWritten, t.recordsWrittenUnsized)}) written${t.recordsDeleted > 0 ? `; ${count(t.recordsDeleted, 'record')} ${t.recordsDeleted === 1 ? 'was' : 'were'} deleted` : ''}.`)
  const exports = t.exportsSent + t.exportsQueued + t.exportsRefused + t.exportsFailed
  lines.push(exports === 0
    ? 'No data left the box.'
    : `${count(t.exportsSent, 'export')} (${byteSize(t.bytesExported)}) left the box; ${t.exportsQueued} waiting for your approval, ${t.exportsRefused} refused, ${t.exportsFailed} failed.`)
  if (statement.markets) lines.push(marketsInShort(statement.markets))
  if (statement.replicas) lines.push(replicasInShort(statement.replicas))
  lines.push(t.denials === 0 ? 'Nothing was refused.' : `${count(t.denials, 'request')} ${t.denials === 1 ? 'was' : 'were'} refused.`)
  return lines
}

/** "You" and "Requests without a valid token" take a plural verb. */
function speaksPlural(s: SubjectActivity): boolean {
  return s.subject === 'owner' || s.subject === 'anonymous'
}

/** The name as it reads inside a sentence: "What you read", not "What You read". */
function inSentence(s: SubjectActivity): string {
  return s.name === 'You' || s.name === 'Requests without a valid token' ? s.name[0]!.toLowerCase() + s.name.slice(1) : s.name
}

function sourceName(source: string | null): string {
  return source ?? 'the box itself'
}

function refusals(s: SubjectActivity, n: number, what: string): string {
  return `${s.name} ${speaksPlural(s) ? 'were' : 'was'} refused ${count(n, 'time')} ${what}.`
}

/** What one subject did, one sentence per source, destination or kind of action. */
export function sentences(s: SubjectActivity): string[] {
  const lines: string[] = []
  if (s.runs.completed > 0) lines.push(`${s.name} ran ${count(s.runs.completed, 'time')} in the box.`)
  if (s.runs.stopped > 0) lines.push(`The box stopped ${count(s.runs.stopped, 'run')} of ${s.name} at a limit (${s.runs.reasons.join('; ')}).`)
  for (const r of s.reads) {
    if (r.requests > 0) lines.push(readSentence(s, r))
    if (r.denials > 0) lines.push(refusals(s, r.denials, `reading ${sourceName(r.source)}`))
  }
  for (const w of s.writes) {
    if (w.requests > 0) lines.push(`${s.name} wrote ${count(w.records, 'record')} (${writtenSize(w.records, w.bytes, w.unsizedRecords)}) to ${sourceName(w.source)}, in ${count(w.requests, 'request')}.`)
    if (w.denials > 0) lines.push(refusals(s, w.denials, `writing to ${sourceName(w.source)}`))
  }
  for (const d of s.deletes) {
    if (d.requests > 0) lines.push(`${s.name} deleted ${count(d.records, 'record')} from ${sourceName(d.source)}.`)
    if (d.denials > 0) lines.push(refusals(s, d.denials, `deleting from ${sourceName(d.source)}`))
  }
  for (const x of s.exports) lines.push(...exportSentences(s, x))
  const answersSent = s.kind === 'market' ? s.exports.filter((x) => !isPayoutAddress(x.destination)).reduce((sum, x) => sum + x.sent, 0) : 0
  if (answersSent > 0) lines.push(`${answersSent === 1 ? 'The answer' : 'Each answer'} was ${ONE_ANSWER}.`)
  if (s.admin.requests > 0) lines.push(`${s.name} made ${count(s.admin.requests, 'administrative request')} (tokens, grants, drivers, imports, the audit log).`)
  if (s.admin.denials > 0) lines.push(refusals(s, s.admin.denials, 'an administrative request'))
  if (s.logins.succeeded > 0) lines.push(`${s.name} logged in ${count(s.logins.succeeded, 'time')}.`)
  if (s.logins.failed > 0) lines.push(`${count(s.logins.failed, 'login attempt')} with a wrong passphrase ${s.logins.failed === 1 ? 'was' : 'were'} refused.`)
  return lines
}

function readSentence(s: SubjectActivity, r: SourceReads): string {
  if (r.source === null) return `${s.name} looked at the box's status, catalogue or list of sources ${count(r.requests, 'time')}.`
  const live = r.liveStreams > 0 ? `, including ${count(r.liveStreams, 'live stream')}` : ''
  return `${s.name} read ${count(r.records, 'record')} from ${r.source}${detailPhrase(r.finestGranularity)}, in ${count(r.requests, 'request')}${live}.`
}

function exportSentences(s: SubjectActivity, x: DestinationExports): string[] {
  const lines: string[] = []
  // What a market sends is an answer to one of its queries, or the address it pays the owner at.
  const what = s.kind !== 'market' ? 'export' : isPayoutAddress(x.destination) ? 'payout address' : 'answer'
  if (x.sent > 0) lines.push(`${s.name} sent ${count(x.sent, what)} (${byteSize(x.bytes)}) to ${x.destination}.`)
  if (x.queued > 0) lines.push(`${count(x.queued, what)} to ${x.destination} ${x.queued === 1 ? 'is' : 'are'} waiting for your approval.`)
  if (x.refused > 0) lines.push(`${count(x.refused, what)} to ${x.destination} ${x.refused === 1 ? 'was' : 'were'} refused.`)
  if (x.failed > 0) lines.push(`${count(x.failed, what)} to ${x.destination} failed: the destination did not take ${x.failed === 1 ? 'it' : 'them'}.`)
  return lines
}

/** Where a box sends the address a market pays its owner at. */
function isPayoutAddress(destination: string): boolean {
  return destination.endsWith('/api/v1/owners/payout-address')
}

/** What leaves the box when it answers a market's query, in the words the owner consented to. */
const ONE_ANSWER = 'two encrypted shares of one value worked out in the box, one for each of the market\'s two aggregators, so that neither can read it alone, and noise is added before anyone sees a total'

/** 'when': a short date and time, kept on one line. */
export type ColumnKind = 'text' | 'number' | 'when' | 'preview'

export interface TableView {
  caption: string
  headers: string[]
  columns: ColumnKind[]
  rows: string[][]
}

/** The numbers behind the sentences, as tables with headers. */
export function tables(s: SubjectActivity): TableView[] {
  const out: TableView[] = []
  if (s.reads.length > 0) {
    out.push({
      caption: `What ${inSentence(s)} read`,
      headers: ['Source', 'Requests', 'Records', 'Finest detail', 'Refused'],
      columns: ['text', 'number', 'number', 'text', 'number'],
      rows: s.reads.map((r) => [sourceName(r.source), n(r.requests), n(r.records), r.finestGranularity === null ? '-' : detail(r.finestGranularity), n(r.denials)]),
    })
  }
  const changes = [...s.writes.map((w) => ['written', w] as const), ...s.deletes.map((d) => ['deleted', d] as const)]
  if (changes.length > 0) {
    out.push({
      caption: `What ${inSentence(s)} wrote or deleted`,
      headers: ['Source', 'Change', 'Requests', 'Records', 'Size', 'Refused'],
      columns: ['text', 'text', 'number', 'number', 'number', 'number'],
      rows: changes.map(([change, u]: readonly [string, SourceUse]) => [sourceName(u.source), change, n(u.requests), n(u.records), sizeCell(u), n(u.denials)]),
    })
  }
  if (s.exports.length > 0) {
    out.push({
      caption: `What ${inSentence(s)} sent out of the box`,
      headers: ['Destination', 'Sent', 'Size', 'Waiting', 'Refused', 'Failed', 'Last content began'],
      columns: ['text', 'number', 'number', 'number', 'number', 'number', 'preview'],
      rows: s.exports.map((x) => [x.destination, n(x.sent), byteSize(x.bytes), n(x.queued), n(x.refused), n(x.failed), x.lastPreview ?? '-']),
    })
  }
  const reasons = [...s.reads, ...s.writes, ...s.deletes].flatMap((u) => u.denialReasons.map((reason) => [sourceName(u.source), reason]))
  if (reasons.length > 0) out.push({ caption: `Why ${inSentence(s)} ${speaksPlural(s) ? 'were' : 'was'} refused`, headers: ['Source', 'Reason'], columns: ['text', 'text'], rows: reasons })
  return out
}

function n(value: number): string {
  return value.toLocaleString('en-US')
}

export function heading(s: SubjectActivity): string {
  if (s.subject === 'owner') return `${s.name} (the owner)`
  return s.name === s.subject ? s.name : `${s.name} (${s.subject})`
}

/** Satoshis, as a market prices its queries. */
export function sat(amount: number): string {
  return `${n(amount)} sat`
}

function marketsInShort(m: MarketsPart): string {
  const markets = new Set(m.answers.map((a) => a.market)).size
  const where = markets === 1 ? 'a data market' : `${n(markets)} data markets`
  const answered = m.answers.length === 0
    ? 'No answer went to a data market.'
    : `${count(m.answers.length, 'answer')} went to ${where}, promising ${sat(m.promisedSat)}, of which ${sat(m.earnedSat)} ${m.earnedSat === 0 ? 'is' : 'was'} paid into your balance so far.`
  const payouts = m.accounts.flatMap((a) => a.payouts)
  const paid = payouts.filter((p) => p.state === 'confirmed')
  return payouts.length === 0 ? answered : `${answered} ${count(payouts.length, 'payout')} to your Bitcoin address${paid.length > 0 ? `, ${sat(paid.reduce((sum, p) => sum + p.sentSat, 0))} received` : ''}.`
}

/** The longest purpose a table cell shows; the statement's data carries all of it. */
const PURPOSE_CHARS = 200

/** The data-market part: what was answered, for whom, why, what it pays and paid, and the payouts; null when there is nothing. */
export function marketsPart(statement: Statement): { heading: string; lines: string[]; tables: TableView[] } | null {
  const m = statement.markets
  if (!m) return null
  const markets = new Set(m.answers.map((a) => a.market)).size
  const unpriced = m.answers.filter((a) => a.priceSat === null).length
  const day = new Intl.DateTimeFormat('en-GB', { timeZone: statement.timeZone, day: 'numeric', month: 'short', year: 'numeric' })
  const lines = m.answers.length === 0 ? [`The box sent no answer to a data market in ${monthName(statement)}.`] : [
    `The box sent ${count(m.answers.length, 'answer')} to ${count(markets, 'data market')} in ${monthName(statement)}, through the export gateway, each to a query you or your rules accepted.`,
    `Each answer was ${ONE_ANSWER}. None of your records left the box.`,
    `Together they promise ${sat(m.promisedSat)}${unpriced > 0 ? `, besides ${count(unpriced, 'answer')} whose price is not known` : ''}; ${sat(m.earnedSat)} of it ${m.earnedSat === 0 ? 'is' : 'was'} paid into your balance so far. A query pays once its market releases the result, and only for answers the market counted; one that ends with too few answers pays no one.`,
  ]
  for (const a of m.accounts) {
    const whereTo = a.payoutAddress
      ? `it is paid out to ${a.payoutAddress} once it reaches ${sat(a.thresholdSat)}`
      : `it is paid out once it reaches ${sat(a.thresholdSat)} and you have set a payout address (\`coffer market payout-address ${a.market} ADDRESS\`)`
    lines.push(`Your balance at market ${a.market} was ${sat(a.balanceSat)} when the box last read it, on ${day.format(new Date(a.readAt * 1000))}${a.inFlightSat > 0 ? `, and ${sat(a.inFlightSat)} was on its way to you` : ''}; ${whereTo}.`)
  }
  if (m.notLogged > 0) {
    lines.push(`Warning: the audit log does not show ${m.notLogged === 1 ? 'one of these answers' : `${n(m.notLogged)} of these answers`} being sent (marked "NOT in the log"), though the box recorded ${m.notLogged === 1 ? 'it' : 'them'} as answered.`)
  }
  if (m.notRecorded > 0) {
    lines.push(`${count(m.notRecorded, 'answer')} in the audit log ${m.notRecorded === 1 ? 'is' : 'are'} not in the box's records, as when you leave a market and its queries are forgotten: who asked, why and for what price is not known.`)
  }
  const when = new Intl.DateTimeFormat('en-GB', { timeZone: statement.timeZone, day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' })
  const unknown = 'not known'
  // One table per market, so each row stays narrow enough to read on a page.
  const byMarket = new Map<string, MarketsPart['answers']>()
  for (const a of m.answers) byMarket.set(a.market, [...byMarket.get(a.market) ?? [], a])
  const tables = [...byMarket].sort(([a], [b]) => (a < b ? -1 : 1)).map(([market, answers]): TableView => ({
    caption: `Answers sent to market ${market}, and what they pay`,
    headers: ['Query', 'Processor', 'Purpose', 'Privacy level', 'Privacy budget spent (epsilon)', 'Pays (promised)', 'Paid to you', 'Sent', 'In the audit log'],
    columns: ['text', 'text', 'text', 'text', 'number', 'number', 'number', 'when', 'text'],
    rows: [
      ...answers.map((a) => [
        a.query, a.processor?.name ?? unknown, a.purpose === null ? unknown : shorten(a.purpose, PURPOSE_CHARS), a.privacyLevel ?? '-', a.epsilon ?? '-',
        a.priceSat === null ? unknown : sat(a.priceSat), a.earnedSat === null ? 'not yet' : sat(a.earnedSat), when.format(new Date(a.sentAt * 1000)), a.logged ? 'yes' : 'NOT in the log',
      ]),
      ['Total', '', '', '', '', sat(answers.reduce((sum, a) => sum + (a.priceSat ?? 0), 0)), sat(answers.reduce((sum, a) => sum + (a.earnedSat ?? 0), 0)), '', ''],
    ],
  }))
  const STATES: Record<string, string> = { signed: 'made, not sent yet', broadcast: 'sent, not confirmed yet', confirmed: 'confirmed', failed: 'refused by the network; back in your balance' }
  for (const a of m.accounts) {
    if (a.payouts.length === 0) continue
    tables.push({
      caption: `Payouts from market ${a.market} to your Bitcoin address`,
      headers: ['Transaction', 'State', 'To', 'Sent to you', 'Your share of the fee', 'Made', 'Final'],
      columns: ['text', 'text', 'text', 'number', 'number', 'when', 'when'],
      rows: a.payouts.map((p) => [
        p.txid, STATES[p.state] ?? p.state, p.address, sat(p.sentSat), sat(p.feeSat), when.format(new Date(p.madeAt * 1000)),
        p.settledAt === null ? '-' : when.format(new Date(p.settledAt * 1000)),
      ]),
    })
  }
  return { heading: 'Data markets', lines, tables }
}

function shorten(text: string, max: number): string {
  const chars = [...text]
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join('').trimEnd()}…`
}

/** "a", "a and b", "a, b and c". */
function listed(items: string[]): string {
  return items.length <= 1 ? items.join('') : `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`
}

/** "the log of steps", "the logs of location and steps". */
function logsOf(sources: string[]): string {
  return `the ${sources.length === 1 ? 'log' : 'logs'} of ${listed(sources)}`
}

function holds(r: ReplicaHolding): boolean {
  return r.sources.length > 0 || r.audit
}

function replicasInShort(p: ReplicasPart): string {
  const blind = p.replicas.filter((r) => holds(r) && r.kind === 'blind').length
  const devices = p.replicas.filter((r) => holds(r) && r.kind === 'device').length
  const flagged = p.replicas.filter((r) => r.problems.length > 0).length
  const copies = blind + devices === 0
    ? 'no replica held a copy of your data'
    : [
      ...(blind > 0 ? [`${count(blind, 'blind replica')} held encrypted copies of your data, which ${blind === 1 ? 'it' : 'they'} cannot read`] : []),
      ...(devices > 0 ? [`${count(devices, 'device', 'devices')} of yours held ${devices === 1 ? 'a copy' : 'copies'} with your keys`] : []),
    ].join(', and ')
  return `When this statement was made, ${copies}${flagged > 0 ? `; the box flags ${count(flagged, 'replica')}` : ''}.`
}

/** What a replica's last report showed it holding: "the logs of location and steps, and the audit log". */
function heldLogs(r: ReplicaHolding): string {
  const logs = r.sources.length > 0 ? [logsOf(r.sources)] : []
  if (r.audit) logs.push('the audit log')
  return logs.length === 0 ? 'no block of your logs' : logs.join(', and ')
}

/** What each kind of replica can read of what it holds. */
function kindLines(replicas: ReplicaHolding[]): string[] {
  const blind = replicas.filter((r) => r.kind === 'blind')
  const devices = replicas.filter((r) => r.kind === 'device')
  const names = (rs: ReplicaHolding[]) => listed(rs.map((r) => `"${r.name}"`))
  const cannot = 'it holds the blocks of your logs encrypted, and never a key that decrypts them, so it cannot read your records, the list of your sources or the audit log.'
  const lines: string[] = []
  if (blind.length > 0 && devices.length === 0) lines.push(`${blind.length === 1 ? 'The replica is' : 'Each replica is'} blind: ${cannot}`)
  else if (blind.length > 0) lines.push(`${blind.length === 1 ? `${names(blind)} is blind` : `Each of ${names(blind)} is blind`}: ${cannot}`)
  if (devices.length > 0) {
    const one = devices.length === 1
    lines.push(`${one ? `${names(devices)} is a device` : `${names(devices)} are devices`} of your own: ${one ? 'it holds' : 'each holds'} your keys as well as the blocks of your logs, so ${one ? 'it' : 'each'} can read them, and can be promoted to serve as your box.`)
  }
  return lines
}

function replicaName(r: ReplicaHolding): string {
  return `Replica "${r.name}"`
}

function replicaSentence(r: ReplicaHolding, when: (at: number) => string): string {
  const seen = r.lastSeen === null ? 'It has never been seen.' : `It was last seen on ${when(r.lastSeen)}.`
  if (r.state === 'invited') return `${replicaName(r)} is invited but has not paired yet: it holds nothing.`
  if (r.reportedAt === null) return `${replicaName(r)} is paired but has sent no health report yet, so what it holds is not known. ${seen}`
  const sync = r.inSync ? 'in sync: it held every block the box holds' : `not in sync: it lacked ${count(r.behindBlocks, 'block')} (${byteSize(r.behindBytes)}) that the box holds`
  return `${replicaName(r)} held ${heldLogs(r)}. At its last report, on ${when(r.reportedAt)}, it was ${sync}. ${seen}`
}

/**
 * The backup part: which replicas held which logs, whether each was in sync, and that a blind one
 * cannot read them; as the box knew when the statement was made. Null when the box has no replica.
 */
export function backupPart(statement: Statement): { heading: string; lines: string[]; tables: TableView[] } | null {
  const p = statement.replicas
  if (!p) return null
  const when = (at: number) => dateIn(at, statement.timeZone)
  const made = statement.generatedAt === null ? '' : `, on ${when(statement.generatedAt)}`
  const holding = p.replicas.filter(holds)
  const reported = p.replicas.some((r) => r.reportedAt !== null)
  const lines = [
    holding.length === 0
      ? `When this statement was made${made}, no replica had reported holding a copy of your data yet.`
      : `When this statement was made${made}, ${count(holding.length, 'replica')} held encrypted copies of your data, as the box knew from each replica's last signed health report. Unlike the rest of the statement, this part is as of that moment, not of ${monthName(statement)}.`,
    ...kindLines(p.replicas),
    ...p.replicas.map((r) => replicaSentence(r, when)),
    ...p.replicas.filter((r) => r.problems.length > 0).map((r) => `The box flags replica "${r.name}": ${r.problems.join(' ')}`),
  ]
  const unheld = p.unheld.length > 0 ? [logsOf(p.unheld)] : []
  if (reported && !p.replicas.some((r) => r.audit)) unheld.push('the audit log')
  if (unheld.length > 0) lines.push(`Held by no replica yet: ${unheld.join(', and ')}.`)
  lines.push('A replica you removed is not listed, as the box no longer knows what it holds; nor is a source you deleted, whose blocks the box tells every replica to clear.')

  const short = new Intl.DateTimeFormat('en-GB', { timeZone: statement.timeZone, day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' })
  const at = (time: number | null, none: string) => (time === null ? none : short.format(new Date(time * 1000)))
  const tables: TableView[] = [{
    caption: 'Your replicas',
    headers: ['Replica', 'Kind', 'State', 'Last seen', 'Last report', 'In sync', 'Flagged'],
    columns: ['text', 'text', 'text', 'when', 'when', 'text', 'text'],
    rows: p.replicas.map((r) => [
      r.name, r.kind === 'device' ? 'your device: holds your keys' : 'blind: cannot read what it holds', r.state === 'paired' ? 'paired' : 'invited, not paired yet', at(r.lastSeen, 'never'), at(r.reportedAt, 'none yet'),
      r.inSync === null ? 'not known' : r.inSync ? 'yes' : `no: ${count(r.behindBlocks, 'block')} (${byteSize(r.behindBytes)}) missing`,
      r.problems.length > 0 ? 'yes' : 'no',
    ]),
  }]
  if (reported) {
    const heldBy = (has: (r: ReplicaHolding) => boolean) => listed(p.replicas.filter(has).map((r) => r.name)) || 'no replica'
    const sources = [...new Set([...p.replicas.flatMap((r) => r.sources), ...p.unheld])].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    tables.push({
      caption: 'Which replicas held which logs',
      headers: ['Log', 'Held by'],
      columns: ['text', 'text'],
      rows: [...sources.map((source) => [source, heldBy((r) => r.sources.includes(source))]), ['the audit log', heldBy((r) => r.audit)]],
    })
  }
  return { heading: 'Backup copies', lines, tables }
}
