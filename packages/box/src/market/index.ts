/**
 * The box's side of the data markets: the markets the owner joined, the queries they publish,
 * and what decides each — the owner, their privacy levels or their rules. Its one door.
 */
export { Membership, QUERY_STATES, marketUrl, type MarketInfo, type ReceivedQuery, type QueryState, type BudgetUsages, type MarketPayments } from './membership.ts'
export { marketOperations, type MarketOperations, type QueryDetail, type MappingRow, type MarketPaymentsView } from './operations.ts'
export { judge, factsOf, logicalTypesOf, levelOf, MarketRule, PrivacyLevels, type QueryFacts, type Verdict } from './rules.ts'
export { Evaluator, defaultMapping, type Mapping } from './evaluate.ts'
export { Answerer } from './answer.ts'
