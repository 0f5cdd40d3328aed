/** @coffer/market: the market service, for code that runs it (the CLI, tests, a demo). */
export { createMarket, type Market, type MarketConfig, type AggregationConfig, type PayoutConfig } from './market.ts'
export type { Payments, PaymentsConfig, Deposit } from './payments/index.ts'
export { bitcoinRpc, newWalletKey, TransactionRefused, type Broadcaster, type Payouts, type PayoutRun, type PayoutSummary, type WalletState } from './payouts/index.ts'
export type { QueryResult } from './answers/index.ts'
export { openDatabase, type Database, type DatabaseOptions } from './db/index.ts'
export type { Processor, Registration } from './processors/index.ts'
export type { PostedQuery, FeedEntry, FeedPage, Participation, QueryStatus, Validation } from './queries/index.ts'
export { MarketError, type Problem } from './errors/index.ts'
