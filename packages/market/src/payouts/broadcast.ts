/**
 * How a signed payout reaches the Bitcoin network: one interface, so the market needs no node of
 * its own. In production, a Bitcoin node's JSON-RPC (Bitcoin Core's `sendrawtransaction` and
 * `getrawtransaction`); in tests, a stand-in that records what it was sent.
 */

export interface Broadcaster {
  /**
   * Hands a signed transaction to the network. Resolves once a node took it (or already had it:
   * sending the same transaction again is harmless). Throws TransactionRefused when the network
   * will never take it as it is; any other error means it could not tell, and it is tried again.
   */
  broadcast(tx: { txid: string; hex: string }): Promise<void>
  /** Blocks on top of the transaction's: 0 while it waits in the mempool, null when the node knows nothing of it. */
  confirmations(txid: string): Promise<number | null>
}

/** The network refused a transaction for good (invalid, spends what is spent, below its fee floor). */
export class TransactionRefused extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'TransactionRefused'
  }
}

/**
 * Bitcoin Core's RPC error codes (src/rpc/protocol.h) that mean the transaction itself is not
 * acceptable: RPC_DESERIALIZATION_ERROR, RPC_VERIFY_ERROR, RPC_VERIFY_REJECTED.
 */
const REFUSED = new Set([-22, -25, -26])
/** RPC_VERIFY_ALREADY_IN_CHAIN: it was mined already; sending it was not needed. */
const ALREADY_IN_CHAIN = -27
/** RPC_INVALID_ADDRESS_OR_KEY, which getrawtransaction answers for a transaction it does not know. */
const NOT_FOUND = -5
const RPC_TIMEOUT_MS = 30_000

interface RpcAnswer {
  result: unknown
  error: { code: number; message: string } | null
}

/**
 * A Bitcoin Core node at `url` (http://user:password@host:port/, with `-txindex` so it finds
 * confirmed transactions that are not its wallet's).
 */
export function bitcoinRpc(url: string, fetchImpl: typeof fetch = fetch): Broadcaster {
  const target = new URL(url)
  const authorization = target.username ? `Basic ${Buffer.from(`${decodeURIComponent(target.username)}:${decodeURIComponent(target.password)}`).toString('base64')}` : undefined
  target.username = ''
  target.password = ''
  let id = 0
  const call = async (method: string, params: unknown[]): Promise<RpcAnswer> => {
    let res: Response
    try {
      res = await fetchImpl(target, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
        body: JSON.stringify({ jsonrpc: '1.0', id: `coffer-market-${++id}`, method, params }),
        signal: AbortSignal.timeout(RPC_TIMEOUT_MS),
      })
    } catch (err) {
      throw new Error(`The Bitcoin node at ${target.origin} cannot be reached (${(err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message})`)
    }
    // Bitcoin Core answers an RPC error with HTTP 500 (404 for an unknown method) and the error in the body.
    const text = await res.text()
    let answer: RpcAnswer
    try {
      answer = JSON.parse(text) as RpcAnswer
    } catch {
      throw new Error(`The Bitcoin node at ${target.origin} answered ${res.status}${res.status === 401 ? ' (check the user and password in its URL)' : ''}: ${text.slice(0, 200)}`)
    }
    return answer
  }
  return {
    async broadcast({ txid, hex }) {
      const { result, error } = await call('sendrawtransaction', [hex])
      if (!error) {
        if (result !== txid) throw new Error(`The Bitcoin node took a transaction as ${String(result)}, not ${txid}`)
        return
      }
      if (error.code === ALREADY_IN_CHAIN) return
      if (REFUSED.has(error.code)) throw new TransactionRefused(`the Bitcoin node refused it (${error.code}): ${error.message}`)
      throw new Error(`The Bitcoin node could not take it (${error.code}): ${error.message}`)
    },
    async confirmations(txid) {
      const { result, error } = await call('getrawtransaction', [txid, true])
      if (error?.code === NOT_FOUND) return null
      if (error) throw new Error(`The Bitcoin node could not say (${error.code}): ${error.message}`)
      return Number((result as { confirmations?: number }).confirmations ?? 0)
    },
  }
}
