/**
 * The monthly data-use statement: what every app, data market, driver and device did with your
 * data in one month, what the market answers sent pay, and which replicas hold encrypted copies
 * of which logs, in plain words, built from the audit log and carrying whether that log verified.
 */
export {
  buildStatement, MonthTally, monthBounds, monthOf, parseMonth,
  type Statement, type StatementInput, type SubjectActivity, type SubjectKind, type SourceUse, type SourceReads, type DestinationExports, type SubjectTotals,
} from './build.ts'
export { type AccountRecord, type AnswerRecord, type MarketAccount, type MarketAnswer, type MarketsPart } from './markets.ts'
export { type ReplicaRecord, type ReplicaHolding, type ReplicasPart } from './replicas.ts'
export { statementFromLog, type FromLogOptions } from './log.ts'
export { renderHtml, escapeHtml } from './html.ts'
export { renderPdf, type PdfOptions } from './pdf.ts'
