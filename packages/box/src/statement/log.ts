import type { AuditLog } from '../audit/index.ts'
import { MonthTally, monthOf, type Statement } from './build.ts'
import type { AccountRecord, AnswerRecord } from './markets.ts'
import type { ReplicaRecord } from './replicas.ts'

export interface FromLogOptions {
  /** YYYY-MM; the current month in `timeZone` when absent. */
  month?: string
  timeZone: string
  names?: Record<string, string>
  /** The box's records of the market queries it answered, for the statement's data-market part. */
  answers?: Iterable<AnswerRecord>
  /** The owner's accounts at the markets, as the box last read them. */
  accounts?: Iterable<AccountRecord>
  /** The box's replicas as it knows them at `now`, for the statement's backup part. */
  replicas?: Iterable<ReplicaRecord>
  /** Epoch seconds; also what "the current month" is judged by. */
  now: number
}

/** Streams one month of the audit log into a statement, and verifies the whole log for its banner. */
export async function statementFromLog(audit: AuditLog, opts: FromLogOptions): Promise<Statement> {
  const tally = new MonthTally(opts.month ?? monthOf(opts.now, opts.timeZone), opts.timeZone)
  const verify = await audit.verify()
  for await (const entry of audit.between(tally.readFrom, tally.readTo)) tally.add(entry)
  return tally.finish({ verify, names: opts.names, generatedAt: opts.now, answers: opts.answers, accounts: opts.accounts, replicas: opts.replicas })
}
