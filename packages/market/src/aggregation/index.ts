/**
 * Secure aggregation for statistics answers: Prio3 (VDAF-08) reports built as DAP-09 clients
 * build them, split between a leader and a helper run by different operators, each of which
 * adds discrete noise to its aggregate share. See README.md for who sees what.
 */
export {
  AggregationKind,
  AggregatorEndpoint,
  DeclaredBounds,
  TaskDescription,
  VdafSpec,
  PROTOCOL,
  checkTask,
  carriesCount,
  createTask,
  deriveTaskId,
  type TaskInput,
} from './task.ts'
export { measurementFor, type Measurement, type VdafMeasurement } from './measurement.ts'
export { makeReport, type Report } from './report.ts'
export { generateAggregatorKeys, type AggregatorKeys } from './hpke.ts'
export {
  Aggregator,
  generateVerifyKey,
  deriveVerifyKey,
  memoryReportIdStore,
  type AggregatorOptions,
  type AggregatorStatus,
  type NoiseRequest,
  type NoiseStatement,
  type PreparationOutcome,
  type ReportIdStore,
  type Role,
} from './aggregator.ts'
export { unshard, type AggregateResult } from './result.ts'
export { AggregationProtocolError, BatchNotReleasable, InvalidTask, ReportRejected, type RejectionReason } from './errors.ts'
