/**
 * The market's money as a double-entry ledger in its database. Every movement is an entry of
 * lines that add up to zero; each line changes one account's balance. Balances are kept on the
 * account rows, beside the lines that explain them, so a transfer checks and changes one row per
 * account instead of adding up its history.
 *
 * Three guarantees, each from one place:
 * - An entry carries a key, unique in the database: posting it again (a release run twice, a
 *   deposit sent twice, a payout retried after a crash) writes nothing and says so.
 * - No account but the outside world's side of deposits goes below zero: the transfer is refused
 *   (InsufficientFunds) and nothing of it is written. The table's CHECK says the same, as a floor.
 * - Accounts are locked in one order, by id, in one statement, before anything is written. Two
 *   transfers that share accounts take them in the same order, so they wait for each other and
 *   never deadlock. A transaction that posts several entries locks all their accounts first (or
 *   only ever a subset of what it already holds).
 */
import type { Sql } from '../db/index.ts'
import { InsufficientFunds } from '../errors/index.ts'
import { ENTRY_KINDS } from '../protocol/payments.ts'

export const ACCOUNT_KINDS = ['processor', 'escrow', 'owner', 'payouts', 'fees', 'deposits', 'paid'] as const
export type AccountKind = (typeof ACCOUNT_KINDS)[number]

export { ENTRY_KINDS }
export type EntryKind = (typeof ENTRY_KINDS)[number]

/**
 * Account ids. The prefix is the kind; the market's own accounts and the outside world's have
 * one each. `deposits` is what came in from outside (it goes negative by exactly that much),
 * `paid` what went out to owners on chain and `fees` what miners took, so all balances sum to zero.
 */
export const Account = {
  processor: (processorId: string) => `processor:${processorId}`,
  escrow: (queryId: string) => `escrow:${queryId}`,
  owner: (boxId: string) => `owner:${boxId}`,
  payouts: 'market:payouts',
  fees: 'market:fees',
  deposits: 'outside:deposits',
  paid: 'outside:paid',
} as const

const SINGLE: Record<string, AccountKind> = { [Account.payouts]: 'payouts', [Account.fees]: 'fees', [Account.deposits]: 'deposits', [Account.paid]: 'paid' }

export function kindOf(account: string): AccountKind {
  const single = SINGLE[account]
  if (single) return single
  const prefix = account.slice(0, account.indexOf(':'))
  if (prefix === 'processor' || prefix === 'escrow' || prefix === 'owner') return prefix
  throw new Error(`"${account}" is not a ledger account`)
}

/** A line credits its account `amount` satoshis; a negative amount debits it. */
export interface Line {
  account: string
  amount: number
}

export interface Entry {
  /** Unique per movement of money: posting the same key again is a no-op. */
  key: string
  kind: EntryKind
  lines: Line[]
  memo?: string
  queryId?: string
  payoutId?: string
}

export interface Posted {
  entryId: number
  /** false: an entry with this key had been posted before, and nothing was written now. */
  applied: boolean
}

export interface LedgerCheck {
  /** Every entry's lines add up to zero. */
  entriesBalance: boolean
  /** Every account's balance is the sum of its lines. */
  balancesMatchLines: boolean
  /** All balances add up to zero: what came in is held somewhere, or went out. */
  total: number
  byKind: Record<AccountKind, number>
  entries: number
}

/**
 * Locks the accounts, creating those that do not exist yet, in id order; resolves to each one's
 * balance as locked. Whoever holds them may move their money until the transaction ends.
 */
export async function lockAccounts(tx: Sql, accounts: readonly string[]): Promise<Map<string, number>> {
  const ids = [...new Set(accounts)].sort()
  if (ids.length === 0) return new Map()
  // Created in the same order as they are then locked: two transactions creating the same new accounts wait in line.
  await tx.query(
    `INSERT INTO ledger_accounts (id, kind) SELECT id, kind FROM unnest($1::text[], $2::text[]) AS a (id, kind) ORDER BY id
     ON CONFLICT (id) DO NOTHING`,
    [ids, ids.map(kindOf)],
  )
  const rows = await tx.query<{ id: string; balance: string | number | bigint }>(
    'SELECT id, balance FROM ledger_accounts WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE', [ids])
  return new Map(rows.map((r) => [r.id, Number(r.balance)]))
}

/** Posts an entry in the caller's transaction: balanced, once per key, never overdrawing. */
export async function post(tx: Sql, entry: Entry): Promise<Posted> {
  checkBalanced(entry)
  const balances = await lockAccounts(tx, entry.lines.map((l) => l.account))
  // The key is claimed after the locks: a replay waits on the accounts, then finds the key taken.
  const [inserted] = await tx.query<{ id: string | number }>(
    `INSERT INTO ledger_entries (key, kind, memo, query_id, payout_id) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (key) DO NOTHING RETURNING id`,
    [entry.key, entry.kind, entry.memo ?? null, entry.queryId ?? null, entry.payoutId ?? null])
  if (!inserted) {
    const [existing] = await tx.query<{ id: string | number }>('SELECT id FROM ledger_entries WHERE key = $1', [entry.key])
    return { entryId: Number(existing!.id), applied: false }
  }
  for (const line of entry.lines) {
    const balance = balances.get(line.account)!
    if (balance + line.amount < 0 && kindOf(line.account) !== 'deposits') {
      throw new InsufficientFunds(
        `${describe(line.account)} holds ${sat(balance)}; this needs ${sat(-line.amount)}.`,
        { account: line.account, balance, needed: -line.amount },
      )
    }
  }
  const entryId = Number(inserted.id)
  const accounts = entry.lines.map((l) => l.account)
  const amounts = entry.lines.map((l) => String(l.amount))
  await tx.query('INSERT INTO ledger_lines (entry_id, account_id, amount) SELECT $1, a, n FROM unnest($2::text[], $3::bigint[]) AS l (a, n)', [entryId, accounts, amounts])
  await tx.query(
    'UPDATE ledger_accounts SET balance = balance + d.n FROM unnest($1::text[], $2::bigint[]) AS d (a, n) WHERE id = d.a',
    [accounts, amounts])
  return { entryId, applied: true }
}

export async function balanceOf(sql: Sql, account: string): Promise<number> {
  const [row] = await sql.query<{ balance: string | number }>('SELECT balance FROM ledger_accounts WHERE id = $1', [account])
  return row ? Number(row.balance) : 0
}

/** Checks the whole ledger: what an operator (and the tests) run to see it still balances. */
export async function checkLedger(sql: Sql): Promise<LedgerCheck> {
  const [unbalanced] = await sql.query<{ n: number }>(
    'SELECT count(*)::integer AS n FROM (SELECT entry_id FROM ledger_lines GROUP BY entry_id HAVING sum(amount) <> 0) u')
  const [mismatched] = await sql.query<{ n: number }>(
    `SELECT count(*)::integer AS n FROM ledger_accounts a
     LEFT JOIN (SELECT account_id, sum(amount) AS s FROM ledger_lines GROUP BY account_id) l ON l.account_id = a.id
     WHERE a.balance <> coalesce(l.s, 0)`)
  const kinds = await sql.query<{ kind: AccountKind; total: string }>('SELECT kind, sum(balance)::text AS total FROM ledger_accounts GROUP BY kind')
  const [{ n: entries } = { n: 0 }] = await sql.query<{ n: number }>('SELECT count(*)::integer AS n FROM ledger_entries')
  const byKind = Object.fromEntries(ACCOUNT_KINDS.map((k) => [k, 0])) as Record<AccountKind, number>
  for (const { kind, total } of kinds) byKind[kind] = Number(total)
  return {
    entriesBalance: Number(unbalanced!.n) === 0,
    balancesMatchLines: Number(mismatched!.n) === 0,
    total: Object.values(byKind).reduce((a, b) => a + b, 0),
    byKind,
    entries: Number(entries),
  }
}

function checkBalanced(entry: Entry): void {
  if (entry.lines.length < 2) throw new Error(`Ledger entry ${entry.key} needs two lines at least`)
  const seen = new Set<string>()
  let sum = 0
  for (const { account, amount } of entry.lines) {
    kindOf(account)
    if (!Number.isSafeInteger(amount) || amount === 0) throw new Error(`Ledger entry ${entry.key}: ${amount} is not a whole, non-zero number of satoshis`)
    if (seen.has(account)) throw new Error(`Ledger entry ${entry.key} names ${account} twice`)
    seen.add(account)
    sum += amount
  }
  if (sum !== 0) throw new Error(`Ledger entry ${entry.key} does not balance: its lines add up to ${sum}`)
}

function describe(account: string): string {
  switch (kindOf(account)) {
    case 'processor': return 'Your balance'
    case 'escrow': return `The escrow of query ${account.slice('escrow:'.length)}`
    case 'owner': return `The balance of box ${account.slice('owner:'.length, 'owner:'.length + 16)}…`
    default: return `The market's ${account} account`
  }
}

export function sat(amount: number): string {
  return `${amount.toLocaleString('en')} sat`
}
