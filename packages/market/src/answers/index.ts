/**
 * Statistics answers end to end in the service: boxes' signed Prio3 answers kept in the
 * database, released at the deadline by the leader with the helper (another market, run by
 * another operator), noised per privacy class and merged for the processor; and datasets, whose
 * boxes' sealed records open only in classes of at least k (dataset.ts).
 */
export { createLeader, participantsOf, type Leader, type LeaderOptions, type Participants, type Tasks } from './leader.ts'
export { createHelper, type Helper, type HelperOptions } from './helper.ts'
export { aggregatorKeys } from './keys.ts'
export { statisticOf, planFor, type Statistic } from './statistic.ts'
export { QueryResultSchema, ClassRelease, resultCsv, type QueryResult } from './result.ts'
export { datasetColumns, classPositions, type DatasetColumn } from './dataset.ts'
