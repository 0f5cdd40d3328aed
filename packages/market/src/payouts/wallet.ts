/**
 * The market's wallet: one key the operator configures (WIF), whose P2WPKH address holds the
 * coins payouts are made from. A payout is one transaction: the wallet's coins in, one output
 * per owner, change back to the wallet; built and signed offline with @scure/btc-signer.
 */
import { p2wpkh, Transaction, WIF } from '@scure/btc-signer'
import { pubECDSA, randomPrivateKeyBytes } from '@scure/btc-signer/utils.js'
import { NETWORK_PARAMETERS } from '../protocol/addresses.ts'
import type { Network } from '../protocol/payments.ts'
import { InvalidInput } from '../errors/index.ts'

/**
 * Bitcoin Core relays no transaction heavier than 400,000 weight units (100,000 virtual bytes);
 * a batch stays under half of that, so a fee bump or a larger witness never takes it near.
 */
export const MAX_STANDARD_WEIGHT = 400_000
export const BATCH_WEIGHT_LIMIT = MAX_STANDARD_WEIGHT / 2
/** An output worth less than this is dust to Bitcoin Core's relay policy (for any output type at 3 sat/vB). */
export const DUST = 546

export interface Coin {
  txid: string
  vout: number
  amount: number
}

export interface PayTo {
  address: string
  amount: number
}

export interface SignedPayout {
  txid: string
  /** The signed transaction, as broadcast. */
  bytes: Uint8Array
  hex: string
  vbytes: number
  weight: number
  /** The change output back to the wallet, if there is one. */
  change: { vout: number; amount: number } | null
  /** The output of each PayTo, in order. */
  vouts: number[]
}

export interface Wallet {
  readonly network: Network
  readonly address: string
  /** Builds and signs a transaction spending `coins` to `outputs`, the rest (less `fee`) back to the wallet unless it is dust. */
  sign(coins: readonly Coin[], outputs: readonly PayTo[], fee: number): SignedPayout
}

export function openWallet(key: string, network: Network): Wallet {
  const parameters = NETWORK_PARAMETERS[network]
  let privateKey: Uint8Array
  try {
    privateKey = WIF(parameters).decode(key)
  } catch (err) {
    throw new InvalidInput(`The wallet key is not a ${network} private key in WIF (${(err as Error).message}). \`coffer-market wallet new-key --network ${network}\` makes one.`)
  }
  const own = p2wpkh(pubECDSA(privateKey), parameters)
  return {
    network,
    address: own.address!,
    sign(coins, outputs, fee) {
      const tx = new Transaction()
      for (const coin of coins) tx.addInput({ txid: coin.txid, index: coin.vout, witnessUtxo: { script: own.script, amount: BigInt(coin.amount) } })
      const vouts = outputs.map((o) => tx.addOutputAddress(o.address, BigInt(o.amount), parameters))
      const rest = coins.reduce((sum, c) => sum + c.amount, 0) - outputs.reduce((sum, o) => sum + o.amount, 0) - fee
      if (rest < 0) throw new Error(`the coins are ${-rest} sat short of the outputs and fee`)
      const change = rest >= DUST ? { vout: tx.addOutputAddress(own.address!, BigInt(rest), parameters), amount: rest } : null
      tx.sign(privateKey)
      tx.finalize()
      const bytes = tx.extract()
      return { txid: tx.id, bytes, hex: tx.hex, vbytes: tx.vsize, weight: tx.weight, change, vouts }
    },
  }
}

/** A new wallet key for a network, with its address: for an operator setting up a market. */
export function newWalletKey(network: Network): { key: string; address: string } {
  const parameters = NETWORK_PARAMETERS[network]
  const privateKey = randomPrivateKeyBytes()
  return { key: WIF(parameters).encode(privateKey), address: p2wpkh(pubECDSA(privateKey), parameters).address! }
}
