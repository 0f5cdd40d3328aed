/**
 * Payouts to owners' Bitcoin addresses: the market's wallet, batches of one transaction each, and
 * the one interface they reach the network through.
 */
export { createPayouts, DEFAULT_BATCH_MAX, DEFAULT_CONFIRMATIONS, type Payouts, type PayoutsOptions, type PayoutRun, type PayoutSummary, type WalletState } from './payouts.ts'
export { openWallet, newWalletKey, BATCH_WEIGHT_LIMIT, DUST, MAX_STANDARD_WEIGHT, type Coin, type PayTo, type SignedPayout, type Wallet } from './wallet.ts'
export { bitcoinRpc, TransactionRefused, type Broadcaster } from './broadcast.ts'
