/** The market's double-entry ledger: accounts, balanced entries, idempotency keys, no overdrafts, one lock order. */
export {
  Account, ACCOUNT_KINDS, ENTRY_KINDS, balanceOf, checkLedger, kindOf, lockAccounts, post, sat,
  type AccountKind, type Entry, type EntryKind, type Line, type LedgerCheck, type Posted,
} from './ledger.ts'
