/**
 * The monthly data-use statement, as plain data: who used which source how, in one month of
 * the audit log, and whether that log verified. Renderers turn it into words; nothing here
 * formats text, so the JSON form carries every number a renderer shows.
 */
import type { AuditEntry, VerifyReport } from '../audit/index.ts'
import { InvalidInput } from '../errors/index.ts'
import { assertTimeZone, wallClockToEpoch } from '../store/index.ts'
import { MarketAnswersTally, MATCH_SLACK, type AccountRecord, type AnswerRecord, type MarketsPart } from './markets.ts'
import { replicasPart, type ReplicaRecord, type ReplicasPart } from './replicas.ts'

/** A market reads the owner's data, and sends its answers, as `market:<id>`. */
export type SubjectKind = 'app' | 'market' | 'driver' | 'device' | 'owner' | 'other'

/** Use of one source by one subject. `requests` counts allowed requests; `denials` the refused ones. */
export interface SourceUse {
  /** null: requests about the box as a whole (status, catalogue, the list of sources). */
  source: string | null
  requests: number
  records: number
  bytes: number
  /**
   * Of `records`, those whose audit entries did not say their size (a write of records logged
   * with 0 bytes: the demo's load, say). `bytes` is the size of the others only.
   */
  unsizedRecords: number
  denials: number
  /** The distinct reasons given for the refusals, sorted, at most MAX_REASONS. */
  denialReasons: string[]
}

export interface SourceReads extends SourceUse {
  /** Live subscriptions (server-sent events); each one hands over raw points as they arrive. */
  liveStreams: number
  /** Seconds of the finest detail handed over (0 = raw points); null when no read said. */
  finestGranularity: number | null
}

export interface DestinationExports {
  destination: string
  sent: number
  bytes: number
  /** Waiting for the owner's approval. */
  queued: number
  refused: number
  /** The destination (or the request) failed, so nothing arrived. */
  failed: number
  /** The start of the newest export's content, whatever became of it. */
  lastPreview: string | null
}

export interface SubjectTotals {
  requests: number
  denials: number
  recordsRead: number
  recordsWritten: number
  /** The size of the records written, those in recordsWrittenUnsized aside. */
  bytesWritten: number
  /** Records written whose size the log does not say. */
  recordsWrittenUnsized: number
  recordsDeleted: number
  exportsSent: number
  bytesExported: number
  exportsQueued: number
  exportsRefused: number
  exportsFailed: number
}

export interface SubjectActivity {
  subject: string
  kind: SubjectKind
  name: string
  reads: SourceReads[]
  writes: SourceUse[]
  deletes: SourceUse[]
  exports: DestinationExports[]
  admin: { requests: number; denials: number }
  logins: { succeeded: number; failed: number }
  /** App runs in the sandbox: finished, or stopped by the box at a limit (with the distinct reasons). */
  runs: { completed: number; stopped: number; reasons: string[] }
  totals: SubjectTotals
}

export interface Statement {
  /** YYYY-MM */
  month: string
  timeZone: string
  /** The month as [from, to) in epoch seconds: local midnight on its first day to that of the next month's. */
  from: number
  to: number
  /** Epoch seconds; null when the caller did not say. */
  generatedAt: number | null
  audit: { ok: boolean; length: number; problems: string[] }
  subjects: SubjectActivity[]
  totals: SubjectTotals & { subjects: number }
  /** The answers sent to data markets in the month and what they pay; null when there were none. */
  markets: MarketsPart | null
  /**
   * Which replicas held encrypted copies of which logs, as the box knew at generatedAt, whatever
   * the month; null when the box has no replica.
   */
  replicas: ReplicasPart | null
}

export interface StatementInput {
  entries: Iterable<AuditEntry & { seq?: number }>
  month: string
  timeZone: string
  verify: VerifyReport
  /** Display names by subject (an app's manifest name, say); others get a name made from the subject. */
  names?: Record<string, string>
  generatedAt?: number
  /** The box's records of the market queries it answered (any months: the month's are picked out). */
  answers?: Iterable<AnswerRecord>
  /** The owner's accounts at the markets, as the box last read them. */
  accounts?: Iterable<AccountRecord>
  /** The box's replicas, as it knows them now. */
  replicas?: Iterable<ReplicaRecord>
}

const MONTH = /^(\d{4})-(0[1-9]|1[0-2])$/
const MAX_REASONS = 5
const KIND_ORDER: SubjectKind[] = ['app', 'market', 'driver', 'device', 'owner', 'other']

/** 'YYYY-MM' → year and month (1–12); anything else is refused with the form expected. */
export function parseMonth(month: string): { year: number; month: number } {
  const m = MONTH.exec(month)
  if (!m) throw new InvalidInput(`month=${JSON.stringify(month)} is not a month: write it as YYYY-MM, e.g. 2026-11.`, { field: 'month' })
  return { year: Number(m[1]), month: Number(m[2]) }
}

/** The month as [from, to) epoch seconds, from local midnight on the 1st in `timeZone` (DST included). */
export function monthBounds(month: string, timeZone: string): { from: number; to: number } {
  const { year, month: m } = parseMonth(month)
  assertTimeZone(timeZone)
  return {
    from: wallClockToEpoch(timeZone, Date.UTC(year, m - 1, 1) / 1000),
    to: wallClockToEpoch(timeZone, Date.UTC(year, m, 1) / 1000),
  }
}

/** The month that `at` (epoch seconds) falls in, in `timeZone`, as YYYY-MM. */
export function monthOf(at: number, timeZone: string): string {
  assertTimeZone(timeZone)
  const parts = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit' }).formatToParts(new Date(at * 1000))
  const year = parts.find((p) => p.type === 'year')!.value
  const month = parts.find((p) => p.type === 'month')!.value
  return `${year}-${month}`
}

export function subjectKind(subject: string): SubjectKind {
  if (subject === 'owner') return 'owner'
  const kind = subject.split(':', 1)[0]
  return kind === 'app' || kind === 'market' || kind === 'driver' || kind === 'device' ? kind : 'other'
}

function defaultName(subject: string): string {
  if (subject === 'owner') return 'You'
  if (subject === 'anonymous') return 'Requests without a valid token'
  const kind = subjectKind(subject)
  if (kind === 'other') return subject
  return `${kind[0]!.toUpperCase()}${kind.slice(1)} ${subject.slice(kind.length + 1)}`
}

export function buildStatement(input: StatementInput): Statement {
  const month = new MonthTally(input.month, input.timeZone)
  for (const entry of input.entries) month.add(entry)
  return month.finish(input)
}

/**
 * A month of the log added up one entry at a time, in any order, so a caller can stream a large
 * log through it without holding the month in memory. Entries outside the month count for
 * nothing, beyond matching a market answer sent across midnight (see readFrom).
 */
export class MonthTally {
  readonly month: string
  readonly timeZone: string
  readonly from: number
  readonly to: number
  readonly #subjects = new Map<string, Tally>()
  readonly #markets: MarketAnswersTally

  constructor(month: string, timeZone: string) {
    this.month = month
    this.timeZone = timeZone
    const { from, to } = monthBounds(month, timeZone)
    this.from = from
    this.to = to
    this.#markets = new MarketAnswersTally(from, to)
  }

  /**
   * Where the log around the month is read from: a minute either side of it, so that an answer
   * sent to a market just before midnight is matched with the box's record of it made just after.
   */
  get readFrom(): number {
    return this.from - MATCH_SLACK
  }

  get readTo(): number {
    return this.to + MATCH_SLACK
  }

  add(entry: AuditEntry & { seq?: number }): void {
    this.#markets.add(entry)
    if (entry.time < this.from || entry.time >= this.to) return
    let tally = this.#subjects.get(entry.subject)
    if (!tally) this.#subjects.set(entry.subject, (tally = new Tally(entry.subject)))
    tally.add(entry)
  }

  finish(opts: { verify: VerifyReport; names?: Record<string, string>; generatedAt?: number; answers?: Iterable<AnswerRecord>; accounts?: Iterable<AccountRecord>; replicas?: Iterable<ReplicaRecord> }): Statement {
    const activities = [...this.#subjects.values()]
      .map((t) => t.finish(opts.names?.[t.subject] ?? defaultName(t.subject)))
      .sort((a, b) => KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind) || compare(a.subject, b.subject))
    const totals = { subjects: activities.length, ...emptyTotals() }
    for (const a of activities) for (const key of Object.keys(a.totals) as (keyof SubjectTotals)[]) totals[key] += a.totals[key]
    return {
      month: this.month,
      timeZone: this.timeZone,
      from: this.from,
      to: this.to,
      generatedAt: opts.generatedAt ?? null,
      audit: { ok: opts.verify.ok, length: opts.verify.length, problems: [...opts.verify.problems] },
      subjects: activities,
      totals,
      markets: this.#markets.finish(opts.answers ?? [], opts.accounts ?? []),
      replicas: replicasPart(opts.replicas ?? []),
    }
  }
}

function emptyTotals(): SubjectTotals {
  return { requests: 0, denials: 0, recordsRead: 0, recordsWritten: 0, bytesWritten: 0, recordsWrittenUnsized: 0, recordsDeleted: 0, exportsSent: 0, bytesExported: 0, exportsQueued: 0, exportsRefused: 0, exportsFailed: 0 }
}

/** Code-point order, so the statement sorts the same whatever the locale of the machine. */
function compare(a: string | null, b: string | null): number {
  if (a === b) return 0
  if (a === null) return 1
  if (b === null) return -1
  return a < b ? -1 : 1
}

function emptyUse(source: string | null): SourceUse {
  return { source, requests: 0, records: 0, bytes: 0, unsizedRecords: 0, denials: 0, denialReasons: [] }
}

function noteDenial(use: SourceUse, reason: string | undefined): void {
  use.denials++
  if (reason && !use.denialReasons.includes(reason)) use.denialReasons.push(reason)
}

function finishUses<T extends SourceUse>(uses: Map<string | null, T>): T[] {
  return [...uses.values()]
    .map((u) => ({ ...u, denialReasons: [...u.denialReasons].sort(compare).slice(0, MAX_REASONS) }))
    .sort((a, b) => compare(a.source, b.source))
}

/** One subject's month, added up entry by entry. */
class Tally {
  readonly subject: string
  readonly reads = new Map<string | null, SourceReads>()
  readonly writes = new Map<string | null, SourceUse>()
  readonly deletes = new Map<string | null, SourceUse>()
  readonly exports = new Map<string, DestinationExports>()
  /** When each destination's lastPreview was logged: entries may arrive in any order. */
  readonly #previewAt = new Map<string, [time: number, seq: number]>()
  readonly admin = { requests: 0, denials: 0 }
  readonly logins = { succeeded: 0, failed: 0 }
  readonly runs = { completed: 0, stopped: 0, reasons: [] as string[] }
  readonly totals = emptyTotals()

  constructor(subject: string) {
    this.subject = subject
  }

  add(e: AuditEntry & { seq?: number }): void {
    const denied = e.outcome === 'deny'
    this.totals.requests++
    if (denied) this.totals.denials++
    switch (e.operation) {
      case 'read':
      case 'observe': {
        const use = getOr(this.reads, e.source, () => ({ ...emptyUse(e.source), liveStreams: 0, finestGranularity: null }))
        if (denied) return noteDenial(use, e.reason)
        use.requests++
        use.records += e.records
        use.bytes += e.bytes
        this.totals.recordsRead += e.records
        // A live stream always hands over raw points, whatever its entry says.
        const granularity = e.operation === 'observe' ? 0 : e.granularity
        if (e.operation === 'observe') use.liveStreams++
        if (granularity !== undefined && (use.finestGranularity === null || granularity < use.finestGranularity)) use.finestGranularity = granularity
        return
      }
      case 'write':
      case 'delete': {
        const use = getOr(e.operation === 'write' ? this.writes : this.deletes, e.source, () => emptyUse(e.source))
        if (denied) return noteDenial(use, e.reason)
        use.requests++
        use.records += e.records
        use.bytes += e.bytes
        if (e.operation === 'write') {
          this.totals.recordsWritten += e.records
          this.totals.bytesWritten += e.bytes
          // Records are never written in 0 bytes: such an entry did not say their size, and
          // counting them beside the bytes of the others would understate what was written.
          if (e.records > 0 && e.bytes === 0) {
            use.unsizedRecords += e.records
            this.totals.recordsWrittenUnsized += e.records
          }
        } else {
          this.totals.recordsDeleted += e.records
        }
        return
      }
      case 'export': {
        const destination = e.destination ?? e.action.replace(/^EXPORT /, '')
        const out = getOr(this.exports, destination, () => ({ destination, sent: 0, bytes: 0, queued: 0, refused: 0, failed: 0, lastPreview: null }))
        if (e.preview !== undefined && this.#isNewestPreview(destination, e.time, e.seq ?? 0)) out.lastPreview = e.preview
        if (denied || e.status === 401 || e.status === 403) {
          out.refused++
          this.totals.exportsRefused++
        } else if (e.status === 202) {
          out.queued++
          this.totals.exportsQueued++
        } else if (e.status >= 200 && e.status < 300) {
          out.sent++
          out.bytes += e.bytes
          this.totals.exportsSent++
          this.totals.bytesExported += e.bytes
        } else {
          out.failed++
          this.totals.exportsFailed++
        }
        return
      }
      case 'admin':
        if (denied) this.admin.denials++
        else this.admin.requests++
        return
      case 'login':
        if (denied) this.logins.failed++
        else this.logins.succeeded++
        return
      case 'run':
        if (!denied) {
          this.runs.completed++
          return
        }
        this.runs.stopped++
        if (e.reason && this.runs.reasons.length < MAX_REASONS && !this.runs.reasons.includes(e.reason)) this.runs.reasons.push(e.reason)
        return
    }
  }

  #isNewestPreview(destination: string, time: number, seq: number): boolean {
    const [lastTime, lastSeq] = this.#previewAt.get(destination) ?? [-Infinity, -Infinity]
    if (time < lastTime || (time === lastTime && seq < lastSeq)) return false
    this.#previewAt.set(destination, [time, seq])
    return true
  }

  finish(name: string): SubjectActivity {
    return {
      subject: this.subject,
      kind: subjectKind(this.subject),
      name,
      reads: finishUses(this.reads),
      writes: finishUses(this.writes),
      deletes: finishUses(this.deletes),
      exports: [...this.exports.values()].sort((a, b) => compare(a.destination, b.destination)),
      admin: { ...this.admin },
      logins: { ...this.logins },
      runs: { ...this.runs, reasons: [...this.runs.reasons] },
      totals: { ...this.totals },
    }
  }
}

function getOr<K, V>(map: Map<K, V>, key: K, make: () => V): V {
  let value = map.get(key)
  if (value === undefined) map.set(key, (value = make()))
  return value
}
