import { MarketError } from '../errors/index.ts'

/**
 * Why an aggregator refused one report. Each reason is final for that report and touches no
 * other: the batch goes on without it.
 */
export type RejectionReason =
  | 'malformed' // bytes that do not parse as an upload, or shares of the wrong length
  | 'wrong-task' // an upload for another task (another query or another privacy class)
  | 'undecryptable' // HPKE refused it: tampered ciphertext, metadata or public share, or another key
  | 'replayed' // a report id this aggregator has already taken for this task
  | 'outside-window' // a report time outside the task's window
  | 'invalid' // the Prio3 proof did not verify: the measurement is not one the task allows
  | 'batch-collected' // the aggregate share has been released; nothing joins the batch after that

const STATUS: Record<RejectionReason, number> = {
  malformed: 400,
  'wrong-task': 400,
  undecryptable: 400,
  replayed: 409,
  'outside-window': 400,
  invalid: 400,
  'batch-collected': 409,
}

/** A report an aggregator will not count. `reportId` is base64url when the bytes got that far. */
export class ReportRejected extends MarketError {
  readonly reason: RejectionReason
  readonly reportId: string | undefined

  constructor(reason: RejectionReason, detail: string, reportId?: string) {
    super(STATUS[reason], 'report-rejected', 'Report rejected', detail, reportId === undefined ? { reason } : { reason, reportId })
    this.reason = reason
    this.reportId = reportId
  }
}

/**
 * A message between the two aggregators (or an aggregate share handed to the processor) that
 * does not fit the protocol: wrong task, wrong role, bytes that do not parse, shares that
 * disagree on which reports they count. Nothing is changed when this is thrown.
 */
export class AggregationProtocolError extends MarketError {
  constructor(detail: string) {
    super(400, 'aggregation-protocol', 'Aggregation protocol error', detail)
  }
}

/** A task or a measurement that cannot be encoded: bounds the field cannot hold, a missing edge list. */
export class InvalidTask extends MarketError {
  constructor(detail: string, field?: string) {
    super(400, 'invalid-input', 'Invalid input', detail, field === undefined ? {} : { field })
  }
}

/** Too few reports verified to release anything, or the aggregate share was already released. */
export class BatchNotReleasable extends MarketError {
  constructor(detail: string, extras: Record<string, unknown> = {}) {
    super(409, 'batch-not-releasable', 'Batch not releasable', detail, extras)
  }
}
