/**
 * The statement in plain language. Both renderers take their sentences and table cells from
 * here, so the HTML and the PDF say the same thing in the same words.
 */
import type { DestinationExports, SourceReads, SourceUse, Statement, SubjectActivity } from './build.ts'
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
  const users = statement.subjects.filter((s) => s.kind !== 'owner' && s.kind !== 'other')
  const lines: string[] = []
  if (t.requests === 0) return [`Nothing was recorded in ${monthName(statement)}.`]
  lines.push(users.length === 0
    ? 'No app, driver or device used your data this month; only you did.'
    : `${count(users.length, 'app, driver or device', 'apps, drivers and devices')} used your data this month.`)
  lines.push(`In all, ${count(t.recordsRead, 'record')} ${t.recordsRead === 1 ? 'was' : 'were'} read and ${count(t.recordsWritten, 'record')} (${writtenSize(t.recordsWritten, t.bytesWritten, t.recordsWrittenUnsized)}) written${t.recordsDeleted > 0 ? `; ${count(t.recordsDeleted, 'record')} ${t.recordsDeleted === 1 ? 'was' : 'were'} deleted` : ''}.`)
  const exports = t.exportsSent + t.exportsQueued + t.exportsRefused + t.exportsFailed
  lines.push(exports === 0
    ? 'No data left the box.'
    : `${count(t.exportsSent, 'export')} (${byteSize(t.bytesExported)}) left the box; ${t.exportsQueued} waiting for your approval, ${t.exportsRefused} refused, ${t.exportsFailed} failed.`)
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
  if (x.sent > 0) lines.push(`${s.name} sent ${count(x.sent, 'export')} (${byteSize(x.bytes)}) to ${x.destination}.`)
  if (x.queued > 0) lines.push(`${count(x.queued, 'export')} to ${x.destination} ${x.queued === 1 ? 'is' : 'are'} waiting for your approval.`)
  if (x.refused > 0) lines.push(`${count(x.refused, 'export')} to ${x.destination} ${x.refused === 1 ? 'was' : 'were'} refused.`)
  if (x.failed > 0) lines.push(`${count(x.failed, 'export')} to ${x.destination} failed: the destination did not take ${x.failed === 1 ? 'it' : 'them'}.`)
  return lines
}

export type ColumnKind = 'text' | 'number' | 'preview'

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
