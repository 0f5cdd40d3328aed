/**
 * Payments: processors' deposits and balances, each query's escrow and its settlement, owners'
 * earnings and payout addresses. Money moves in the ledger (../ledger); payouts to owners'
 * Bitcoin addresses are ../payouts'.
 */
export { DEFAULT_FEE_RATE, DEFAULT_THRESHOLD } from './terms.ts'
export { createPayments, type Deposit, type Payments, type PaymentsConfig } from './accounts.ts'
export { escrowOf, escrowQuery, settleQuery, type Settlement } from './escrow.ts'
export { verifyBoxSignature } from './signature.ts'
export { operatorGuard } from './operator.ts'
