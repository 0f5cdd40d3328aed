/**
 * Who holds what, as each side reads it: processors pay in (deposits the operator records when
 * the money arrives), and read their balance and movements with their API key; owners (boxes)
 * set where they are paid and read what they earned, each with a request signed by the box's
 * identity key. The money itself moves in the ledger.
 */
import type { Database } from '../db/index.ts'
import { Conflict, InvalidInput, NotFound, Unauthorized } from '../errors/index.ts'
import { Account, balanceOf, checkLedger, post, type LedgerCheck } from '../ledger/index.ts'
import { payoutAddressProblem } from '../protocol/addresses.ts'
import {
  accountSigningText, payoutAddressSigningText, SIGNATURE_WINDOW_SECONDS,
  type Network, type OwnerAccount, type PaymentTerms, type PayoutAddressBody, type PayoutAddressSet, type PayoutState, type ProcessorAccount,
} from '../protocol/payments.ts'
import { verifyBoxSignature } from './signature.ts'
import { DEFAULT_FEE_RATE, DEFAULT_THRESHOLD } from './terms.ts'


export interface PaymentsConfig {
  /** The Bitcoin network owners are paid on; without one, owners cannot set a payout address. */
  network?: Network
  /** An owner is paid once their balance reaches this many satoshis. */
  threshold?: number
  /** The fee paid per virtual byte of a payout transaction, in satoshis. */
  feeRate?: number
}

export interface Deposit {
  entryId: number
  processorId: string
  amount: number
  reference: string
  /** false: this reference had been recorded before; nothing changed now. */
  recorded: boolean
  balance: number
}

export interface Payments {
  readonly terms: PaymentTerms
  /** Records money a processor paid in; the reference (a transaction id, a bank reference) makes it once only. */
  deposit(input: { processorId: string; amount: number; reference: string }): Promise<Deposit>
  processorAccount(processorId: string, limit?: number): Promise<ProcessorAccount>
  /** An owner's account, for a request the box signed (ACCOUNT_SIGNED_AT / ACCOUNT_SIGNATURE). */
  ownerAccount(boxId: string, signed: { signedAt: string | undefined; signature: string | undefined }): Promise<OwnerAccount>
  setPayoutAddress(body: PayoutAddressBody): Promise<PayoutAddressSet>
  check(): Promise<LedgerCheck>
}

const ENTRY_LIMIT = 1000

export function createPayments(db: Database, config: PaymentsConfig & { paysOut: boolean; now?: () => number }): Payments {
  const now = config.now ?? Date.now
  const terms: PaymentTerms = {
    currency: 'sat', network: config.network ?? null, threshold: config.threshold ?? DEFAULT_THRESHOLD,
    feeRate: config.feeRate ?? DEFAULT_FEE_RATE, paysOut: config.paysOut,
  }
  const fresh = (signedAt: string, what: string) => {
    const t = Date.parse(signedAt)
    if (!Number.isFinite(t)) throw new InvalidInput(`${what}: signedAt is not a time.`, { field: 'signedAt' })
    if (Math.abs(t - now()) > SIGNATURE_WINDOW_SECONDS * 1000) {
      throw new Unauthorized(`${what} was signed at ${signedAt}, more than ${SIGNATURE_WINDOW_SECONDS / 60} minutes from the market's clock: sign it again now (and check the box's clock).`)
    }
  }

  return {
    terms,

    async deposit({ processorId, amount, reference }) {
      if (!Number.isSafeInteger(amount) || amount <= 0) throw new InvalidInput('A deposit is a whole number of satoshis, more than 0.', { field: 'amount' })
      return db.transaction(async (tx) => {
        const [processor] = await tx.query('SELECT 1 FROM processors WHERE id = $1', [processorId])
        if (!processor) throw new NotFound(`There is no processor ${processorId}.`)
        const key = `deposit:${reference}`
        const account = Account.processor(processorId)
        const { entryId, applied } = await post(tx, {
          key, kind: 'deposit', memo: reference,
          lines: [{ account: Account.deposits, amount: -amount }, { account, amount }],
        })
        if (!applied) {
          const [same] = await tx.query('SELECT 1 FROM ledger_lines WHERE entry_id = $1 AND account_id = $2 AND amount = $3', [entryId, account, amount])
          if (!same) throw new Conflict(`Deposit ${reference} was recorded before for another processor or amount; a reference names one deposit.`)
        }
        return { entryId, processorId, amount, reference, recorded: applied, balance: await balanceOf(tx, account) }
      })
    },

    async processorAccount(processorId, limit = 100) {
      const account = Account.processor(processorId)
      const [escrowed] = await db.query<{ total: string }>(
        `SELECT coalesce(sum(a.balance), 0)::text AS total FROM ledger_accounts a JOIN queries q ON a.id = 'escrow:' || q.id WHERE q.processor_id = $1`, [processorId])
      const entries = await db.query<{ created_at: Date; kind: ProcessorAccount['entries'][number]['kind']; amount: string; query_id: string | null; memo: string | null }>(
        `SELECT e.created_at, e.kind, l.amount::text AS amount, e.query_id, e.memo FROM ledger_lines l JOIN ledger_entries e ON e.id = l.entry_id
         WHERE l.account_id = $1 ORDER BY e.id DESC LIMIT $2`, [account, Math.min(Math.max(1, limit), ENTRY_LIMIT)])
      return {
        processorId, balance: await balanceOf(db, account), escrowed: Number(escrowed!.total),
        entries: entries.map((e) => ({ at: iso(e.created_at), kind: e.kind, amount: Number(e.amount), queryId: e.query_id, memo: e.memo })),
      }
    },

    async ownerAccount(boxId, { signedAt, signature }) {
      if (!signedAt || !signature) throw new Unauthorized('Reading an owner\'s account takes the box\'s signature: x-coffer-signed-at and x-coffer-signature.')
      fresh(signedAt, 'The account request')
      if (!verifyBoxSignature(boxId, accountSigningText(boxId, signedAt), signature)) throw new Unauthorized('The signature does not verify under this box id.')
      const account = Account.owner(boxId)
      const [address] = await db.query<{ address: string }>('SELECT address FROM payout_addresses WHERE box_id = $1', [boxId])
      const earnings = await db.query<{ query_id: string; amount: string; created_at: Date }>(
        `SELECT e.query_id, l.amount::text AS amount, e.created_at FROM ledger_lines l JOIN ledger_entries e ON e.id = l.entry_id
         WHERE l.account_id = $1 AND e.kind = 'settlement' ORDER BY e.id DESC LIMIT $2`, [account, ENTRY_LIMIT])
      const payouts = await db.query<{ id: string; txid: string; state: PayoutState; address: string; amount: string; fee: string; created_at: Date; settled_at: Date | null }>(
        `SELECT p.id, p.txid, p.state, l.address, l.amount::text AS amount, l.fee::text AS fee, p.created_at, p.settled_at
         FROM payout_lines l JOIN payouts p ON p.id = l.payout_id WHERE l.box_id = $1 ORDER BY p.created_at DESC LIMIT $2`, [boxId, ENTRY_LIMIT])
      return {
        boxId, balance: await balanceOf(db, account),
        inFlight: payouts.filter((p) => p.state === 'signed' || p.state === 'broadcast').reduce((sum, p) => sum + Number(p.amount), 0),
        threshold: terms.threshold, network: terms.network, payoutAddress: address?.address ?? null,
        earnings: earnings.map((e) => ({ queryId: e.query_id, amount: Number(e.amount), at: iso(e.created_at) })),
        payouts: payouts.map((p) => ({
          id: p.id, txid: p.txid, state: p.state, address: p.address, amount: Number(p.amount), fee: Number(p.fee),
          sent: Number(p.amount) - Number(p.fee), createdAt: iso(p.created_at), settledAt: p.settled_at ? iso(p.settled_at) : null,
        })),
      }
    },

    async setPayoutAddress(body) {
      const network = terms.network
      if (!network) throw new Conflict('This market makes no payouts: its operator has set no Bitcoin network. What your answers earn stays in your balance here.')
      fresh(body.signedAt, 'The payout address')
      if (!verifyBoxSignature(body.boxId, payoutAddressSigningText(body), body.signature)) throw new Unauthorized('The signature does not verify under boxId: the address is refused.')
      const problem = payoutAddressProblem(body.address, network)
      if (problem) throw new InvalidInput(`${problem}. This market pays out on ${network}.`, { field: 'address' })
      // Only a newer signature replaces the address: an older message, sent again, changes nothing.
      const [kept] = await db.query<{ address: string }>(
        `INSERT INTO payout_addresses (box_id, address, signed_at, signature) VALUES ($1, $2, $3, $4)
         ON CONFLICT (box_id) DO UPDATE SET address = excluded.address, signed_at = excluded.signed_at, signature = excluded.signature, updated_at = now()
         WHERE payout_addresses.signed_at < excluded.signed_at RETURNING address`,
        [body.boxId, body.address, body.signedAt, body.signature])
      if (!kept) throw new Conflict('The market holds a payout address this box signed later than this one; send a new one, signed now.')
      return { boxId: body.boxId, address: kept.address, network }
    },

    check: () => checkLedger(db),
  }
}

function iso(t: Date | string): string {
  return new Date(t).toISOString()
}
