/**
 * A query's money: posting it moves price × its most participants from the processor's balance
 * into the query's escrow (refused when the balance is short); when it ends, each owner whose
 * answer was counted is paid the price out of the escrow and the rest goes back to the
 * processor. A query withdrawn, or released with fewer answers than its minimum, pays no one and
 * gives all of it back. Both run in the caller's transaction, with what they account for: the
 * query's row, or its result.
 */
import type { Sql } from '../db/index.ts'
import { InsufficientFunds } from '../errors/index.ts'
import { Account, lockAccounts, post, sat } from '../ledger/index.ts'
import type { QuerySpec } from '../query/index.ts'

/** The most a query can cost its processor: what posting it escrows. */
export function escrowOf(spec: Pick<QuerySpec, 'price' | 'participants'>): number {
  return spec.price.amount * spec.participants.max
}

/** Moves a new query's escrow out of its processor's balance; InsufficientFunds (402) when it is short. */
export async function escrowQuery(tx: Sql, processorId: string, queryId: string, spec: Pick<QuerySpec, 'price' | 'participants'>): Promise<void> {
  const amount = escrowOf(spec)
  if (amount === 0) return
  try {
    await post(tx, {
      key: `escrow:${queryId}`, kind: 'escrow', queryId,
      memo: `${sat(spec.price.amount)} × ${spec.participants.max.toLocaleString('en')} participants`,
      lines: [{ account: Account.processor(processorId), amount: -amount }, { account: Account.escrow(queryId), amount }],
    })
  } catch (err) {
    if (!(err instanceof InsufficientFunds)) throw err
    const balance = Number(err.extras.balance)
    throw new InsufficientFunds(
      `Posting this query holds ${sat(amount)} in escrow (${sat(spec.price.amount)} × ${spec.participants.max.toLocaleString('en')} participants at most), and your balance is ${sat(balance)}. `
      + 'Deposit more with the market\'s operator, or ask for fewer participants or a lower price. What the query does not pay out comes back when it ends.',
      { account: Account.processor(processorId), balance, needed: amount },
    )
  }
}

export interface Settlement {
  /** Satoshis paid to owners, and to how many. */
  paid: number
  owners: number
  /** Satoshis given back to the processor. */
  refunded: number
}

/**
 * Ends a query's escrow: `price` to each box in `paid`, the rest back to the processor, as one
 * entry keyed by the query, so a release run again pays no one twice. An escrow that is empty
 * already (the query was withdrawn before) settles to nothing.
 */
export async function settleQuery(tx: Sql, q: { queryId: string; processorId: string; price: number; paid: readonly string[] }): Promise<Settlement> {
  const owners = [...new Set(q.paid)]
  const escrow = Account.escrow(q.queryId)
  const processor = Account.processor(q.processorId)
  const key = `settle:${q.queryId}`
  const balances = await lockAccounts(tx, [escrow, processor, ...owners.map(Account.owner)])
  // Decided under the escrow's lock: a settlement that got there first has committed by now.
  const [settled] = await tx.query('SELECT 1 FROM ledger_entries WHERE key = $1', [key])
  if (settled) return { paid: 0, owners: 0, refunded: 0 }
  const held = balances.get(escrow) ?? 0
  const paid = q.price * owners.length
  if (paid > held) {
    // Never happens while answers stop at the query's maximum, which is what was escrowed; refused rather than overdrawn.
    throw new InsufficientFunds(`Query ${q.queryId}'s escrow holds ${sat(held)}, less than the ${sat(paid)} its ${owners.length} answers are owed.`, { account: escrow, balance: held, needed: paid })
  }
  const refunded = held - paid
  const lines = [
    ...(paid > 0 ? owners.map((box) => ({ account: Account.owner(box), amount: q.price })) : []),
    ...(refunded > 0 ? [{ account: processor, amount: refunded }] : []),
  ]
  if (held > 0) lines.push({ account: escrow, amount: -held })
  if (lines.length < 2) return { paid: 0, owners: 0, refunded: 0 }
  await post(tx, {
    key, kind: 'settlement', queryId: q.queryId,
    memo: `${owners.length} answer${owners.length === 1 ? '' : 's'} paid ${sat(q.price)} each; ${sat(refunded)} back`,
    lines,
  })
  return { paid, owners: owners.length, refunded }
}
