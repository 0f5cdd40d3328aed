/**
 * The monthly data-use statement, for the owner: added up from the audit log, with where the
 * box's replicas stand as it knows now, and answered as the statement's data or drawn as a
 * self-contained HTML page or a PDF.
 */
import { Type, type TSchema } from '@sinclair/typebox'
import { defineOperation, ownerOnly } from '../operations/index.ts'
import type { Apps } from '../apps/index.ts'
import type { AuditLog } from '../audit/index.ts'
import type { Home } from '../home/index.ts'
import { renderHtml, renderPdf, statementFromLog, type AccountRecord, type AnswerRecord, type ReplicaRecord } from './index.ts'

const Count = Type.Integer({ minimum: 0 })

const SourceUseFields = {
  source: Type.Union([Type.String(), Type.Null()], { description: 'null: requests about the box as a whole (status, catalogue, the list of sources)' }),
  requests: Count, records: Count, bytes: Count, denials: Count,
  unsizedRecords: Type.Integer({ minimum: 0, description: 'Of the records, those whose size the log does not say; bytes is the size of the others' }),
  denialReasons: Type.Array(Type.String(), { description: 'The distinct reasons for the refusals, at most five' }),
}
const SourceUseSchema = Type.Object(SourceUseFields)
const SourceReadsSchema = Type.Object({
  ...SourceUseFields,
  liveStreams: Count,
  finestGranularity: Type.Union([Type.Integer(), Type.Null()], { description: 'Seconds of the finest detail handed over; 0 is raw points' }),
})

const TotalsFields = {
  requests: Count, denials: Count, recordsRead: Count, recordsWritten: Count, bytesWritten: Count, recordsWrittenUnsized: Count, recordsDeleted: Count,
  exportsSent: Count, bytesExported: Count, exportsQueued: Count, exportsRefused: Count, exportsFailed: Count,
}

const SubjectActivitySchema = Type.Object({
  subject: Type.String(),
  kind: Type.Union([Type.Literal('app'), Type.Literal('market'), Type.Literal('driver'), Type.Literal('device'), Type.Literal('owner'), Type.Literal('other')]),
  name: Type.String(),
  reads: Type.Array(SourceReadsSchema),
  writes: Type.Array(SourceUseSchema),
  deletes: Type.Array(SourceUseSchema),
  exports: Type.Array(Type.Object({
    destination: Type.String(), sent: Count, bytes: Count, queued: Count, refused: Count, failed: Count,
    lastPreview: Type.Union([Type.String(), Type.Null()]),
  })),
  admin: Type.Object({ requests: Count, denials: Count }),
  logins: Type.Object({ succeeded: Count, failed: Count }),
  runs: Type.Object({ completed: Count, stopped: Count, reasons: Type.Array(Type.String()) }),
  totals: Type.Object(TotalsFields),
})

const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()])

const MarketsSchema = Type.Object({
  answers: Type.Array(Type.Object({
    market: Type.String(),
    query: Type.String(),
    sentAt: Type.Number({ description: 'Epoch seconds: when the audit log shows it sent, else when the box recorded it' }),
    processor: Nullable(Type.Object({ id: Type.String(), name: Type.String() })),
    purpose: Nullable(Type.String()),
    privacyLevel: Nullable(Type.String()),
    epsilon: Nullable(Type.String({ description: 'The privacy budget spent, an exact rational as text' })),
    priceSat: Nullable(Type.Integer({ minimum: 0, description: 'Promised to each participant, paid once the market releases the result' })),
    earnedSat: Nullable(Type.Integer({ minimum: 0, description: 'Paid into your balance at the market for it; null while it is not (or the box does not know it is)' })),
    bytes: Nullable(Count),
    recorded: Type.Boolean({ description: 'The box holds a record of answering it; null fields above when not' }),
    logged: Type.Boolean({ description: 'The audit log shows it sent through the gateway' }),
  })),
  promisedSat: Type.Integer({ minimum: 0, description: 'What the month\'s answers promise' }),
  earnedSat: Type.Integer({ minimum: 0, description: 'What the month\'s answers were paid into your balances, so far' }),
  accounts: Type.Array(Type.Object({
    market: Type.String(),
    readAt: Type.Number({ description: 'Epoch seconds: when the box last read the account; balances are as of then' }),
    balanceSat: Count, inFlightSat: Count, thresholdSat: Count,
    payoutAddress: Nullable(Type.String()),
    payouts: Type.Array(Type.Object({
      txid: Type.String(), state: Type.String(), address: Type.String(), sentSat: Count, feeSat: Count,
      madeAt: Type.Number(), settledAt: Nullable(Type.Number()),
    }), { description: 'Payouts made or settled in the month' }),
  }), { description: 'Your account at each market with a balance, or payouts in the month' }),
  notLogged: Count,
  notRecorded: Count,
})

const ReplicasSchema = Type.Object({
  replicas: Type.Array(Type.Object({
    name: Type.String(),
    kind: Type.Union([Type.Literal('blind'), Type.Literal('device')], { description: 'blind: holds the logs\' blocks, encrypted, and never a key that decrypts them; device: the owner\'s own device, which holds the keys too' }),
    state: Type.Union([Type.Literal('invited'), Type.Literal('paired')]),
    lastSeen: Nullable(Type.Number({ description: 'Epoch seconds: when it last spoke to the box' })),
    reportedAt: Nullable(Type.Number({ description: 'Epoch seconds: its last verified health report, which what follows is from; null: none yet' })),
    inSync: Nullable(Type.Boolean({ description: 'Its last report showed it holding every block the box holds; null without a report' })),
    behindBlocks: Count,
    behindBytes: Count,
    sources: Type.Array(Type.String(), { description: 'The sources whose logs it held blocks of, by id' }),
    audit: Type.Boolean({ description: 'It held blocks of the audit log' }),
    problems: Type.Array(Type.String(), { description: 'Why the box flags it; empty when it does not' }),
  })),
  unheld: Type.Array(Type.String(), { description: 'Sources whose logs no replica\'s last report showed held' }),
})

export const StatementSchema = Type.Object({
  month: Type.String({ description: 'YYYY-MM' }),
  timeZone: Type.String(),
  from: Type.Number({ description: 'Local midnight on the month\'s first day, epoch seconds' }),
  to: Type.Number({ description: 'Local midnight on the next month\'s first day, epoch seconds' }),
  generatedAt: Type.Union([Type.Number(), Type.Null()]),
  audit: Type.Object({ ok: Type.Boolean(), length: Count, problems: Type.Array(Type.String()) }, { description: 'Whether the whole audit log verified' }),
  subjects: Type.Array(SubjectActivitySchema),
  totals: Type.Object({ ...TotalsFields, subjects: Count }),
  markets: Type.Union([MarketsSchema, Type.Null()], { description: 'The answers sent to data markets in the month and what they pay; null when none were' }),
  replicas: Type.Union([ReplicasSchema, Type.Null()], { description: 'Which replicas held encrypted copies of which logs, as the box knew at generatedAt, whatever the month; null when it has no replica' }),
}, { description: 'The statement as data: every number a rendering shows' })

/** The statement drawn for reading: the page or the PDF, and the month it is for. */
const DocumentSchema = Type.Object({
  format: Type.Union([Type.Literal('html'), Type.Literal('pdf')]),
  month: Type.String({ description: 'YYYY-MM' }),
  document: Type.Union([Type.String({ description: 'The HTML page' }), Type.Unsafe<Buffer>({ description: 'The PDF\'s bytes' })]),
})

export interface StatementOperationsDeps {
  home: Home
  audit: AuditLog
  apps: Apps
  /** The market queries the box answered, all of them: the statement picks out the month's. */
  answers?: () => Iterable<AnswerRecord>
  /** The owner's accounts at the markets, as the box last read them (the market module's `membership.payments()`). */
  accounts?: () => Iterable<AccountRecord>
  /** The box's replicas as it knows them now (the backup module's `list()`). */
  replicas?: () => Promise<Iterable<ReplicaRecord>>
}

export function statementOperations({ home, audit, apps, answers, accounts, replicas }: StatementOperationsDeps) {
  return {
    get: defineOperation({
      name: 'statement.get', summary: 'The monthly statement of who used which data, what the answers sent to data markets pay and what they paid, built from the audit log, with whether the log verified, and which replicas hold copies of which logs', audit: 'admin',
      input: Type.Object({
        month: Type.Optional(Type.String({ description: 'YYYY-MM; default: the current month' })),
        tz: Type.Optional(Type.String({ description: 'IANA time zone the month is read in; default: the box owner\'s' })),
        format: Type.Union([Type.Literal('html'), Type.Literal('pdf'), Type.Literal('json')], { default: 'html' }),
      }),
      output: Type.Union([StatementSchema, DocumentSchema]),
      access: ownerOnly,
      run: async ({ month, tz, format }, ctx) => {
        // Boxes made before the owner's zone was kept in the home's config have none: they read months in UTC.
        const timeZone = tz ?? home.config.timeZone ?? 'UTC'
        const names = Object.fromEntries(apps.list().map((app) => [`app:${app.id}`, app.name]))
        const statement = await statementFromLog(audit, {
          month, timeZone, now: Math.floor(Date.now() / 1000), names, answers: answers?.(), accounts: accounts?.(), replicas: await replicas?.(),
        })
        ctx.records = statement.totals.requests
        if (format === 'json') return statement
        const document = format === 'pdf' ? await renderPdf(statement) : renderHtml(statement)
        ctx.bytes = Buffer.byteLength(document)
        return { format, month: statement.month, document }
      },
    }),
  }
}

export type StatementOperations = ReturnType<typeof statementOperations>
