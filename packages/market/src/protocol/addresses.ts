/** Bitcoin addresses on the networks a market pays out on, read with @scure/btc-signer. */
import { Address, NETWORK, OutScript, TEST_NETWORK } from '@scure/btc-signer'
import type { Network } from './payments.ts'

/** Address and key prefixes per network (regtest is testnet's, with its own bech32 prefix). */
export const NETWORK_PARAMETERS: Record<Network, typeof NETWORK> = {
  bitcoin: NETWORK,
  testnet: TEST_NETWORK,
  regtest: { ...TEST_NETWORK, bech32: 'bcrt' },
}

/**
 * Why an address cannot be paid on a network, or null when it can: any standard output (P2PKH,
 * P2SH, P2WPKH, P2WSH, P2TR) whose prefix is the network's.
 */
export function payoutAddressProblem(address: string, network: Network): string | null {
  try {
    OutScript.encode(Address(NETWORK_PARAMETERS[network]).decode(address))
    return null
  } catch (err) {
    return `"${address}" is not a ${network} address (${(err as Error).message})`
  }
}
