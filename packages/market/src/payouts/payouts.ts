/**
 * Payouts: owners whose balance reached the operator's threshold, and who set a payout address,
 * are paid in batches, each batch ONE Bitcoin transaction from the market's wallet with an output
 * per owner. The network fee is shared equally by the batch's owners and shown to each.
 *
 * A payout goes signed → broadcast → confirmed, or signed → failed:
 * - Making it is one database transaction: the owners' balances move to the payouts-in-flight
 *   account (one ledger entry for the whole batch), the signed transaction's bytes are kept, the
 *   coins it spends are marked spent and its change is kept as pending. A process that dies after
 *   this leaves a signed payout that any process sends later, byte for byte the same: the same
 *   transaction cannot pay anyone twice.
 * - Broadcasting asks the Broadcaster; one the network refuses for good fails, and its money goes
 *   back to the owners' balances (and its coins back to the wallet).
 * - It is final once the Broadcaster reports the confirmations the operator asks for: the money
 *   leaves the ledger, to the owners and (the fee) to the miners.
 * Every state change is conditional on the state it leaves and every ledger entry has its key,
 * so two market processes working on the same payout change it once.
 */
import crypto from 'node:crypto'
import type { Database, Sql } from '../db/index.ts'
import { Conflict, InvalidInput, NotFound } from '../errors/index.ts'
import { Account, lockAccounts, post } from '../ledger/index.ts'
import type { PayoutState } from '../protocol/payments.ts'
import { TransactionRefused, type Broadcaster } from './broadcast.ts'
import { BATCH_WEIGHT_LIMIT, DUST, type Coin, type PayTo, type SignedPayout, type Wallet } from './wallet.ts'

/**
 * Owners per transaction: at 43 virtual bytes for the largest standard output (P2TR or P2WSH),
 * 1,000 owners take some 43,000 of the 100,000 a standard transaction may have.
 */
export const DEFAULT_BATCH_MAX = 1000
export const DEFAULT_CONFIRMATIONS = 1
/** Inputs per payout at most: 68 virtual bytes each, so the coins never crowd out the owners. */
const MAX_INPUTS = 200

export interface PayoutsOptions {
  wallet: Wallet
  broadcaster: Broadcaster
  threshold: number
  /** Satoshis per virtual byte. */
  feeRate: number
  batchMax?: number
  confirmations?: number
}

export interface PayoutSummary {
  id: string
  txid: string
  state: PayoutState
  owners: number
  /** What the owners receive, together. */
  sent: number
  /** The transaction's network fee, and each owner's share of it. */
  fee: number
  feePerOwner: number
  vbytes: number
  createdAt: string
  broadcastAt: string | null
  settledAt: string | null
  error: string | null
}

export interface PayoutRun {
  made: PayoutSummary[]
  broadcast: string[]
  confirmed: string[]
  /** Refused by the network: the money is back in the owners' balances. */
  failed: string[]
  /** What kept a payout from being made or moving on, for the operator. */
  problems: string[]
}

export interface WalletState {
  address: string
  network: string
  available: number
  pending: number
  coins: { txid: string; vout: number; amount: number; state: 'available' | 'pending' | 'spent'; spentBy: string | null; changeOf: string | null }[]
}

export interface Payouts {
  readonly wallet: Wallet
  /** Sends what is signed, confirms what the network confirmed, then pays every owner due, batch by batch. */
  run(): Promise<PayoutRun>
  list(limit?: number): Promise<PayoutSummary[]>
  get(id: string): Promise<PayoutSummary & { lines: { boxId: string; address: string; amount: number; fee: number; vout: number }[] }>
  walletState(): Promise<WalletState>
  /** Records a coin the operator sent to the wallet's address (once its transaction confirmed). */
  addCoin(coin: Coin): Promise<{ added: boolean }>
}

export function createPayouts(db: Database, options: PayoutsOptions): Payouts {
  const { wallet, broadcaster, threshold, feeRate } = options
  const batchMax = options.batchMax ?? DEFAULT_BATCH_MAX
  const wanted = options.confirmations ?? DEFAULT_CONFIRMATIONS

  /** One batch, in one transaction; undefined when no owner is due, or a problem says why none could be paid. */
  const makeOne = async (): Promise<PayoutSummary | string | undefined> => db.transaction(async (tx) => {
    const candidates = await tx.query<{ box_id: string; address: string }>(
      `SELECT p.box_id, p.address FROM payout_addresses p JOIN ledger_accounts a ON a.id = 'owner:' || p.box_id
       WHERE a.balance >= $1 ORDER BY a.id LIMIT $2`, [Math.max(threshold, DUST + 1), batchMax])
    if (candidates.length === 0) return undefined
    const balances = await lockAccounts(tx, [Account.payouts, ...candidates.map((c) => Account.owner(c.box_id))])
    const due = candidates
      .map((c) => ({ boxId: c.box_id, address: c.address, balance: balances.get(Account.owner(c.box_id))! }))
      .filter((o) => o.balance >= threshold)
    if (due.length === 0) return undefined

    const coins = (await tx.query<{ txid: string; vout: number; amount: string }>(
      `SELECT txid, vout, amount::text AS amount FROM wallet_coins WHERE state = 'available' ORDER BY amount DESC, txid, vout LIMIT $1 FOR UPDATE SKIP LOCKED`,
      [MAX_INPUTS])).map((c) => ({ txid: c.txid, vout: Number(c.vout), amount: Number(c.amount) }))
    const available = coins.reduce((sum, c) => sum + c.amount, 0)
    // As many owners, in order, as the wallet's coins can pay.
    let covered = 0
    const owners = due.filter((o) => (covered + o.balance <= available ? ((covered += o.balance), true) : false))
    if (owners.length === 0) {
      const least = Math.min(...due.map((o) => o.balance))
      return `The wallet has ${available.toLocaleString('en')} sat in coins it can spend, and an owner due is owed ${least.toLocaleString('en')} sat: send more to ${wallet.address} and record the coin.`
    }

    const built = buildBatch(owners, coins)
    if (typeof built === 'string') return built
    const { signed, paid, share } = built
    const id = crypto.randomUUID()
    const total = paid.reduce((sum, o) => sum + o.balance, 0)
    await post(tx, {
      key: `payout:${id}`, kind: 'payout', payoutId: id, memo: signed.txid,
      lines: [...paid.map((o) => ({ account: Account.owner(o.boxId), amount: -o.balance })), { account: Account.payouts, amount: total }],
    })
    const fee = share * paid.length
    await tx.query(
      `INSERT INTO payouts (id, state, txid, tx, vbytes, fee, fee_per_owner, owners, sent) VALUES ($1, 'signed', $2, $3, $4, $5, $6, $7, $8)`,
      [id, signed.txid, Buffer.from(signed.bytes), signed.vbytes, fee, share, paid.length, total - fee])
    await tx.query(
      `INSERT INTO payout_lines (payout_id, box_id, address, amount, fee, vout)
       SELECT $1, b, a, n, $5, v FROM unnest($2::text[], $3::text[], $4::bigint[], $6::integer[]) AS l (b, a, n, v)`,
      [id, paid.map((o) => o.boxId), paid.map((o) => o.address), paid.map((o) => String(o.balance)), share, signed.vouts])
    await tx.query(`UPDATE wallet_coins SET state = 'spent', spent_by = $1 FROM unnest($2::text[], $3::integer[]) AS s (t, v) WHERE txid = s.t AND vout = s.v`,
      [id, built.inputs.map((c) => c.txid), built.inputs.map((c) => c.vout)])
    if (signed.change) {
      await tx.query(`INSERT INTO wallet_coins (txid, vout, amount, state, change_of) VALUES ($1, $2, $3, 'pending', $4)`, [signed.txid, signed.change.vout, signed.change.amount, id])
    }
    return summaryOf(await one(tx, id))
  })

  /**
   * Signs a batch: each owner is sent their balance less an equal share of the fee, which is the
   * fee rate times the transaction's size (measured on a first signing; the amounts do not change
   * the size). An owner whose share would leave dust waits for a later batch.
   */
  const buildBatch = (owners: Owner[], coins: Coin[]): { signed: SignedPayout; paid: Owner[]; share: number; inputs: Coin[] } | string => {
    let paid = owners
    for (;;) {
      const owed = paid.reduce((sum, o) => sum + o.balance, 0)
      const inputs: Coin[] = []
      let held = 0
      for (const coin of coins) {
        if (held >= owed) break
        inputs.push(coin)
        held += coin.amount
      }
      const outputs = (share: number): PayTo[] => paid.map((o) => ({ address: o.address, amount: o.balance - share }))
      const measured = wallet.sign(inputs, outputs(0), 0)
      // A byte per input over the measure: a signature may come out a byte longer the second time.
      const fee = Math.ceil(feeRate * (measured.vbytes + inputs.length))
      const share = Math.ceil(fee / paid.length)
      const keep = paid.filter((o) => o.balance - share >= DUST)
      if (keep.length === 0) return `No payout: a fee share of ${share} sat would leave the owners due less than ${DUST} sat each.`
      if (keep.length < paid.length) {
        paid = keep
        continue
      }
      const signed = wallet.sign(inputs, outputs(share), share * paid.length)
      if (signed.weight > BATCH_WEIGHT_LIMIT) {
        if (paid.length === 1) return `A payout to one owner weighs ${signed.weight} units; the wallet's coins are too many small ones.`
        paid = paid.slice(0, Math.floor(paid.length / 2))
        continue
      }
      return { signed, paid, share, inputs }
    }
  }

  /** Money back to the owners, coins back to the wallet: for a payout the network refused. */
  const fail = (id: string, reason: string) => db.transaction(async (tx) => {
    const [row] = await tx.query<{ id: string }>(`UPDATE payouts SET state = 'failed', error = $2, settled_at = now() WHERE id = $1 AND state = 'signed' RETURNING id`, [id, reason])
    if (!row) return false
    const lines = await tx.query<{ box_id: string; amount: string }>('SELECT box_id, amount::text AS amount FROM payout_lines WHERE payout_id = $1', [id])
    const total = lines.reduce((sum, l) => sum + Number(l.amount), 0)
    await post(tx, {
      key: `payout-returned:${id}`, kind: 'payout_returned', payoutId: id, memo: reason.slice(0, 500),
      lines: [{ account: Account.payouts, amount: -total }, ...lines.map((l) => ({ account: Account.owner(l.box_id), amount: Number(l.amount) }))],
    })
    await tx.query(`UPDATE wallet_coins SET state = 'available', spent_by = NULL WHERE spent_by = $1`, [id])
    await tx.query('DELETE FROM wallet_coins WHERE change_of = $1', [id])
    return true
  })

  /** Final: the owners' money left the ledger on chain, the fee to the miners; the change can be spent. */
  const confirm = (id: string) => db.transaction(async (tx) => {
    const [row] = await tx.query<{ sent: string; fee: string }>(
      `UPDATE payouts SET state = 'confirmed', settled_at = now() WHERE id = $1 AND state = 'broadcast' RETURNING sent::text AS sent, fee::text AS fee`, [id])
    if (!row) return false
    const sent = Number(row.sent)
    const fee = Number(row.fee)
    await post(tx, {
      key: `payout-confirmed:${id}`, kind: 'payout_confirmed', payoutId: id,
      lines: [{ account: Account.payouts, amount: -(sent + fee) }, { account: Account.paid, amount: sent }, ...(fee > 0 ? [{ account: Account.fees, amount: fee }] : [])],
    })
    await tx.query(`UPDATE wallet_coins SET state = 'available' WHERE change_of = $1 AND state = 'pending'`, [id])
    return true
  })

  const send = async (row: { id: string; txid: string; tx: Uint8Array }, report: PayoutRun): Promise<boolean> => {
    try {
      await broadcaster.broadcast({ txid: row.txid, hex: Buffer.from(row.tx).toString('hex') })
      return true
    } catch (err) {
      if (err instanceof TransactionRefused) {
        if (await fail(row.id, err.message)) report.failed.push(row.id)
      } else {
        report.problems.push(`Payout ${row.id} (${row.txid}) was not sent yet: ${(err as Error).message}`)
      }
      return false
    }
  }

  /** Moves every payout that is not settled one step on, as far as the network lets it now. */
  const advance = async (report: PayoutRun) => {
    const open = await db.query<{ id: string; state: PayoutState; txid: string; tx: Uint8Array }>(
      `SELECT id, state, txid, tx FROM payouts WHERE state IN ('signed', 'broadcast') ORDER BY created_at`)
    for (const row of open) {
      if (row.state === 'signed') {
        if (!(await send(row, report))) continue
        const [moved] = await db.query(`UPDATE payouts SET state = 'broadcast', broadcast_at = now() WHERE id = $1 AND state = 'signed' RETURNING id`, [row.id])
        if (moved) report.broadcast.push(row.id)
      }
      let confirmations: number | null
      try {
        confirmations = await broadcaster.confirmations(row.txid)
      } catch (err) {
        report.problems.push(`Payout ${row.id} (${row.txid}): cannot tell whether it confirmed: ${(err as Error).message}`)
        continue
      }
      // Forgotten by the node (dropped from its mempool, say): the very same transaction goes out again; it is never replaced.
      if (confirmations === null) {
        if (row.state === 'broadcast') await send(row, report)
        continue
      }
      if (confirmations >= wanted && await confirm(row.id)) report.confirmed.push(row.id)
    }
  }

  return {
    wallet,

    async run() {
      const report: PayoutRun = { made: [], broadcast: [], confirmed: [], failed: [], problems: [] }
      await advance(report)
      for (;;) {
        const made = await makeOne()
        if (made === undefined) break
        if (typeof made === 'string') {
          report.problems.push(made)
          break
        }
        report.made.push(made)
      }
      if (report.made.length > 0) await advance(report)
      return report
    },

    async list(limit = 100) {
      const rows = await db.query<PayoutRow>(`SELECT ${PAYOUT_COLUMNS} FROM payouts ORDER BY created_at DESC LIMIT $1`, [Math.min(Math.max(limit, 1), 1000)])
      return rows.map(summaryOf)
    },

    async get(id) {
      const lines = await db.query<{ box_id: string; address: string; amount: string; fee: string; vout: number }>(
        'SELECT box_id, address, amount::text AS amount, fee::text AS fee, vout FROM payout_lines WHERE payout_id = $1 ORDER BY vout', [id])
      return { ...summaryOf(await one(db, id)), lines: lines.map((l) => ({ boxId: l.box_id, address: l.address, amount: Number(l.amount), fee: Number(l.fee), vout: Number(l.vout) })) }
    },

    async walletState() {
      const coins = await db.query<{ txid: string; vout: number; amount: string; state: 'available' | 'pending' | 'spent'; spent_by: string | null; change_of: string | null }>(
        'SELECT txid, vout, amount::text AS amount, state, spent_by, change_of FROM wallet_coins ORDER BY added_at DESC, txid, vout LIMIT 1000')
      const total = (state: string) => coins.filter((c) => c.state === state).reduce((sum, c) => sum + Number(c.amount), 0)
      return {
        address: wallet.address, network: wallet.network, available: total('available'), pending: total('pending'),
        coins: coins.map((c) => ({ txid: c.txid, vout: Number(c.vout), amount: Number(c.amount), state: c.state, spentBy: c.spent_by, changeOf: c.change_of })),
      }
    },

    async addCoin({ txid, vout, amount }) {
      if (!/^[0-9a-f]{64}$/.test(txid)) throw new InvalidInput('txid is 64 lowercase hex digits.', { field: 'txid' })
      if (!Number.isInteger(vout) || vout < 0) throw new InvalidInput('vout is the output\'s index: 0 or more.', { field: 'vout' })
      if (!Number.isSafeInteger(amount) || amount < DUST) throw new InvalidInput(`amount is the output's value in satoshis, at least ${DUST}.`, { field: 'amount' })
      const [added] = await db.query(`INSERT INTO wallet_coins (txid, vout, amount, state) VALUES ($1, $2, $3, 'available') ON CONFLICT DO NOTHING RETURNING txid`, [txid, vout, amount])
      if (added) return { added: true }
      const [same] = await db.query('SELECT 1 FROM wallet_coins WHERE txid = $1 AND vout = $2 AND amount = $3', [txid, vout, amount])
      if (!same) throw new Conflict(`The wallet holds ${txid}:${vout} already, with another amount.`)
      return { added: false }
    },
  }
}

interface Owner {
  boxId: string
  address: string
  balance: number
}

const PAYOUT_COLUMNS = 'id, txid, state, owners, sent::text AS sent, fee::text AS fee, fee_per_owner::text AS fee_per_owner, vbytes, created_at, broadcast_at, settled_at, error'

interface PayoutRow extends Record<string, unknown> {
  id: string
  txid: string
  state: PayoutState
  owners: number
  sent: string
  fee: string
  fee_per_owner: string
  vbytes: number
  created_at: Date
  broadcast_at: Date | null
  settled_at: Date | null
  error: string | null
}

async function one(sql: Sql, id: string): Promise<PayoutRow> {
  const [row] = await sql.query<PayoutRow>(`SELECT ${PAYOUT_COLUMNS} FROM payouts WHERE id = $1`, [id])
  if (!row) throw new NotFound(`There is no payout ${id}.`)
  return row
}

function summaryOf(row: PayoutRow): PayoutSummary {
  const iso = (t: Date | null) => (t ? new Date(t).toISOString() : null)
  return {
    id: row.id, txid: row.txid, state: row.state, owners: Number(row.owners), sent: Number(row.sent), fee: Number(row.fee),
    feePerOwner: Number(row.fee_per_owner), vbytes: Number(row.vbytes), createdAt: iso(row.created_at)!, broadcastAt: iso(row.broadcast_at),
    settledAt: iso(row.settled_at), error: row.error,
  }
}
