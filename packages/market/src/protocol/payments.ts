/**
 * What boxes and a market exchange about money: the market's payment terms, an owner's payout
 * address (signed by the box's identity key, like its answers), and the owner's account as the
 * box reads it (a request signed the same way). Amounts are whole satoshis.
 */
import { Type, type Static } from '@sinclair/typebox'

export const NETWORKS = ['bitcoin', 'testnet', 'regtest'] as const
export type Network = (typeof NETWORKS)[number]

const NetworkSchema = Type.Union(NETWORKS.map((n) => Type.Literal(n)))
const BoxId = Type.String({ pattern: '^[0-9a-f]{64}$', description: 'The box\'s Ed25519 public key, as 64 lowercase hex digits' })
const Signature = Type.String({ pattern: '^[A-Za-z0-9_-]{86}$', description: 'Ed25519 signature, base64url without padding' })
const Instant = Type.String({ format: 'date-time' })
const Sat = Type.Integer({ minimum: 0 })

export const PaymentTerms = Type.Object({
  currency: Type.Literal('sat'),
  network: Type.Union([NetworkSchema, Type.Null()], { description: 'The Bitcoin network payouts are made on; null when the market makes none' }),
  threshold: Type.Integer({ minimum: 1, description: 'An owner is paid out once their balance reaches this' }),
  feeRate: Type.Number({ description: 'The network fee the market pays per virtual byte, shared by the owners of a batch' }),
  paysOut: Type.Boolean({ description: 'Whether the market holds a wallet and makes payouts now' }),
})
export type PaymentTerms = Static<typeof PaymentTerms>

/** An owner's payout address, as the box sends it: the address, when it was signed, and the box's signature. */
export const PayoutAddressBody = Type.Object({
  boxId: BoxId,
  address: Type.String({ minLength: 14, maxLength: 100 }),
  signedAt: Instant,
  signature: Signature,
})
export type PayoutAddressBody = Static<typeof PayoutAddressBody>

export const PayoutAddressSet = Type.Object({ boxId: BoxId, address: Type.String(), network: NetworkSchema })
export type PayoutAddressSet = Static<typeof PayoutAddressSet>

/** What a box signs to set its payout address. signedAt only moves forward: an older message sent again is refused. */
export function payoutAddressSigningText(body: Omit<PayoutAddressBody, 'signature'>): string {
  return `coffer-market-payout-address-v1\n${body.boxId}\n${body.address}\n${body.signedAt}`
}

/** Headers a box sends to read its account: when it signed, and its signature over accountSigningText. */
export const ACCOUNT_SIGNED_AT = 'x-coffer-signed-at'
export const ACCOUNT_SIGNATURE = 'x-coffer-signature'

export function accountSigningText(boxId: string, signedAt: string): string {
  return `coffer-market-account-v1\n${boxId}\n${signedAt}`
}

/** How far a signed request's time may be from the market's clock. */
export const SIGNATURE_WINDOW_SECONDS = 600

export const PAYOUT_STATES = ['signed', 'broadcast', 'confirmed', 'failed'] as const
export type PayoutState = (typeof PAYOUT_STATES)[number]

export const OwnerPayout = Type.Object({
  id: Type.String(),
  txid: Type.String(),
  state: Type.Union(PAYOUT_STATES.map((s) => Type.Literal(s)), {
    description: 'signed (made, not yet sent), broadcast (on its way), confirmed (paid), failed (the network refused it; the money went back to the balance)',
  }),
  address: Type.String(),
  amount: Sat,
  fee: Type.Integer({ minimum: 0, description: 'This owner\'s share of the transaction\'s network fee' }),
  sent: Type.Integer({ minimum: 0, description: 'What the owner receives: amount less fee' }),
  createdAt: Instant,
  settledAt: Type.Union([Instant, Type.Null()]),
})
export type OwnerPayout = Static<typeof OwnerPayout>

export const OwnerEarning = Type.Object({
  queryId: Type.String(),
  amount: Sat,
  at: Instant,
})
export type OwnerEarning = Static<typeof OwnerEarning>

/** An owner's account at a market, as the box reads it. */
export const OwnerAccount = Type.Object({
  boxId: BoxId,
  balance: Type.Integer({ minimum: 0, description: 'Earned and not paid out yet' }),
  inFlight: Type.Integer({ minimum: 0, description: 'In payouts not confirmed yet' }),
  threshold: Type.Integer({ minimum: 1 }),
  network: Type.Union([NetworkSchema, Type.Null()]),
  payoutAddress: Type.Union([Type.String(), Type.Null()]),
  earnings: Type.Array(OwnerEarning, { description: 'What each released query paid, newest first' }),
  payouts: Type.Array(OwnerPayout, { description: 'Newest first' }),
})
export type OwnerAccount = Static<typeof OwnerAccount>

export const ENTRY_KINDS = ['deposit', 'escrow', 'settlement', 'payout', 'payout_returned', 'payout_confirmed'] as const

/** A processor's account, as its API key reads it: what it can spend, what its open queries hold, and each movement. */
export const ProcessorAccount = Type.Object({
  processorId: Type.String(),
  balance: Type.Integer({ minimum: 0, description: 'What new queries can escrow' }),
  escrowed: Type.Integer({ minimum: 0, description: 'Held for queries not settled yet' }),
  entries: Type.Array(Type.Object({
    at: Instant,
    kind: Type.Union(ENTRY_KINDS.map((k) => Type.Literal(k))),
    amount: Type.Integer({ description: 'Into the balance (positive) or out of it (negative)' }),
    queryId: Type.Union([Type.String(), Type.Null()]),
    memo: Type.Union([Type.String(), Type.Null()]),
  }), { description: 'Newest first' }),
})
export type ProcessorAccount = Static<typeof ProcessorAccount>
