/**
 * A stand-in Bitcoin node for tests, on a real socket, answering the two JSON-RPC calls the
 * market makes as Bitcoin Core documents them (`sendrawtransaction`, `getrawtransaction` with
 * verbose): it records every transaction it is sent, keeps a set of unspent outputs, checks each
 * input's P2WPKH signature (BIP 143) and refuses a double spend, and confirms what is in its
 * mempool when the test mines a block. It can also refuse or hold a broadcast, for the failure
 * and crash tests.
 */
import http from 'node:http'
import crypto from 'node:crypto'
import type { AddressInfo } from 'node:net'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { Address, OutScript, p2wpkh, Transaction } from '@scure/btc-signer'
import { hash160, pubECDSA } from '@scure/btc-signer/utils.js'
import { NETWORK_PARAMETERS } from '../src/protocol/addresses.ts'

/** A regtest (or testnet) P2WPKH address of a fixed key (seed 1 to 255): what an owner's wallet would hand out. */
export function addressOf(seed: number, network: 'regtest' | 'testnet' = 'regtest'): string {
  return p2wpkh(pubECDSA(new Uint8Array(32).fill(seed)), NETWORK_PARAMETERS[network]).address!
}

export interface Output {
  address: string
  amount: number
}

export interface Recorded {
  txid: string
  hex: string
  inputs: { txid: string; vout: number }[]
  outputs: Output[]
  /** How many times it was sent. */
  sent: number
  /** The block height it was mined in, or null while in the mempool. */
  minedAt: number | null
}

export interface FakeNode {
  /** With a user and password, as an operator would give the market. */
  url: string
  transactions: Map<string, Recorded>
  /** Outputs no transaction spent yet, as `txid:vout`. */
  unspent: Map<string, { script: string; amount: number }>
  /** An output paying `amount` to `address`, as if received from outside: its coin. */
  fund(address: string, amount: number): { txid: string; vout: number; amount: number }
  /** Mines the mempool into a block. */
  mine(): void
  /** The next sendrawtransaction is refused with Bitcoin Core's RPC_VERIFY_REJECTED. */
  refuseNext(message: string): void
  /** sendrawtransaction calls wait until release() (the transaction is taken, the answer held); resolves when one arrives. */
  hold(): Promise<void>
  release(): void
  calls: string[]
  close(): Promise<void>
}

const USER = 'market'
const PASSWORD = 'rpc password'

export async function startFakeNode(network: 'regtest' | 'testnet' = 'regtest'): Promise<FakeNode> {
  const parameters = NETWORK_PARAMETERS[network]
  const transactions = new Map<string, Recorded>()
  const unspent = new Map<string, { script: string; amount: number }>()
  const calls: string[] = []
  let height = 100
  let refusal: string | undefined
  let holding: { arrived: () => void; gate: Promise<void>; open: () => void } | undefined

  const addressOf = (script: Uint8Array) => Address(parameters).encode(OutScript.decode(script))

  const accept = (hex: string): { txid: string } | { code: number; message: string } => {
    let tx: Transaction
    try {
      tx = Transaction.fromRaw(Buffer.from(hex, 'hex'))
    } catch (err) {
      return { code: -22, message: `TX decode failed: ${(err as Error).message}` }
    }
    // The id hashes the whole transaction: computed once, not once per output of a thousand.
    const txid = tx.id
    const known = transactions.get(txid)
    if (known) {
      known.sent++
      if (known.minedAt !== null) return { code: -27, message: 'Transaction already in block chain' }
      return { txid }
    }
    const inputs: Recorded['inputs'] = []
    for (let i = 0; i < tx.inputsLength; i++) {
      const input = tx.getInput(i)
      const ref = `${Buffer.from(input.txid!).toString('hex')}:${input.index}`
      const coin = unspent.get(ref)
      if (!coin) return { code: -25, message: `bad-txns-inputs-missingorspent (${ref})` }
      const [signature, publicKey] = input.finalScriptWitness ?? []
      if (!signature || !publicKey) return { code: -26, message: 'mandatory-script-verify-flag-failed (Witness program was passed an empty witness)' }
      const expected = OutScript.encode({ type: 'wpkh', hash: hash160(publicKey) })
      if (Buffer.from(expected).toString('hex') !== coin.script) return { code: -26, message: 'mandatory-script-verify-flag-failed (Witness program hash mismatch)' }
      const sighash = tx.preimageWitnessV0(i, OutScript.encode({ type: 'pkh', hash: hash160(publicKey) }), signature.at(-1)!, BigInt(coin.amount))
      if (!secp256k1.verify(signature.subarray(0, -1), sighash, publicKey, { prehash: false, format: 'der', lowS: true })) {
        return { code: -26, message: 'mandatory-script-verify-flag-failed (Signature must be zero for failed CHECK(MULTI)SIG operation)' }
      }
      inputs.push({ txid: Buffer.from(input.txid!).toString('hex'), vout: input.index! })
    }
    const outputs: Output[] = []
    for (let i = 0; i < tx.outputsLength; i++) {
      const output = tx.getOutput(i)
      outputs.push({ address: addressOf(output.script!), amount: Number(output.amount) })
    }
    const spent = inputs.reduce((sum, r) => sum + unspent.get(`${r.txid}:${r.vout}`)!.amount, 0)
    if (outputs.reduce((sum, o) => sum + o.amount, 0) > spent) return { code: -26, message: 'bad-txns-in-belowout' }
    if (refusal !== undefined) {
      const message = refusal
      refusal = undefined
      return { code: -26, message }
    }
    for (const r of inputs) unspent.delete(`${r.txid}:${r.vout}`)
    for (let i = 0; i < tx.outputsLength; i++) unspent.set(`${txid}:${i}`, { script: Buffer.from(tx.getOutput(i).script!).toString('hex'), amount: outputs[i]!.amount })
    transactions.set(txid, { txid, hex, inputs, outputs, sent: 1, minedAt: null })
    return { txid }
  }

  const server = http.createServer((req, res) => {
    let body = ''
    req.on('data', (chunk) => (body += chunk))
    req.on('end', async () => {
      const expected = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`
      if (req.headers.authorization !== expected) {
        res.writeHead(401).end()
        return
      }
      const { id, method, params } = JSON.parse(body) as { id: string; method: string; params: unknown[] }
      calls.push(method)
      const answer = (result: unknown, error: { code: number; message: string } | null) => {
        res.writeHead(error ? 500 : 200, { 'content-type': 'application/json' }).end(JSON.stringify({ result, error, id }))
      }
      if (method === 'sendrawtransaction') {
        const outcome = accept(String(params[0]))
        if (holding) {
          holding.arrived()
          await holding.gate
        }
        return 'txid' in outcome ? answer(outcome.txid, null) : answer(null, outcome)
      }
      if (method === 'getrawtransaction') {
        const tx = transactions.get(String(params[0]))
        if (!tx) return answer(null, { code: -5, message: 'No such mempool or blockchain transaction. Use gettransaction for wallet transactions.' })
        return answer({ txid: tx.txid, hex: tx.hex, ...(tx.minedAt === null ? {} : { confirmations: height - tx.minedAt + 1 }) }, null)
      }
      answer(null, { code: -32601, message: 'Method not found' })
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo

  const node: FakeNode = {
    url: `http://${USER}:${encodeURIComponent(PASSWORD)}@127.0.0.1:${port}/`,
    transactions, unspent, calls,
    fund(address, amount) {
      const txid = crypto.randomBytes(32).toString('hex')
      unspent.set(`${txid}:0`, { script: Buffer.from(OutScript.encode(Address(parameters).decode(address))).toString('hex'), amount })
      return { txid, vout: 0, amount }
    },
    mine() {
      height++
      for (const tx of transactions.values()) if (tx.minedAt === null) tx.minedAt = height
    },
    refuseNext(message) {
      refusal = message
    },
    hold() {
      return new Promise<void>((arrived) => {
        let open!: () => void
        const gate = new Promise<void>((resolve) => (open = resolve))
        holding = { arrived, gate, open }
      })
    },
    release() {
      holding?.open()
      holding = undefined
    },
    async close() {
      node.release()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
  return node
}
