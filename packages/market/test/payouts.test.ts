/**
 * Payouts end to end: owners who answered queries, and set a payout address, are paid in one
 * Bitcoin transaction per batch, built and signed by the market from its wallet and broadcast
 * to a stand-in Bitcoin node over JSON-RPC that checks every signature and refuses double
 * spends. The fee is shared and shown per owner; a payout is final only once the node confirms
 * it; one the node refuses puts the money back in the owners' balances; and nothing is paid
 * twice, however often payouts run, even from two market processes at once.
 */
import { describe, test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import crypto from 'node:crypto'
import { createMarket, type Market } from '../src/index.ts'
import { openWallet, newWalletKey } from '../src/payouts/index.ts'
import { settleQuery } from '../src/payments/index.ts'
import { Account, balanceOf, post } from '../src/ledger/index.ts'
import { accountHeaders, answerOf, makeBox, payoutAddressOf, sendAnswer, startPair, type Box } from './boxes.ts'
import { call, cli, OPERATOR_TOKEN, register, spec } from './helpers.ts'
import { addressOf, startFakeNode, type FakeNode } from './bitcoin.ts'
import { createTempDatabase } from './postgres.ts'
import type { PublishedQuery } from '../src/protocol/index.ts'

const WALLET = newWalletKey('regtest')

/** Credits each box `amount` as a settled query would: the processor's deposit, the query's escrow, its settlement. */
async function credit(market: Market, boxes: Box[], amount: number): Promise<void> {
  const queryId = crypto.randomUUID()
  await market.db.transaction(async (tx) => {
    const total = amount * boxes.length
    await post(tx, { key: `deposit:${queryId}`, kind: 'deposit', lines: [{ account: Account.deposits, amount: -total }, { account: Account.processor('lab'), amount: total }] })
    await post(tx, { key: `escrow:${queryId}`, kind: 'escrow', queryId, lines: [{ account: Account.processor('lab'), amount: -total }, { account: Account.escrow(queryId), amount: total }] })
  })
  await market.db.transaction((tx) => settleQuery(tx, { queryId, processorId: 'lab', price: amount, paid: boxes.map((b) => b.boxId) }))
}

const ledgerOf = async (url: string) => (await call(url, 'GET', '/api/v1/operator/ledger', { key: OPERATOR_TOKEN })).body
const runPayouts = async (url: string) => {
  const res = await call(url, 'POST', '/api/v1/operator/payouts', { key: OPERATOR_TOKEN })
  assert.equal(res.status, 200, JSON.stringify(res.body))
  return res.body
}
const balanced = async (url: string) => {
  const check = await ledgerOf(url)
  assert.deepEqual([check.entriesBalance, check.balancesMatchLines, check.total], [true, true, 0], JSON.stringify(check))
  return check
}

describe('payouts on PGlite', () => {
  let node: FakeNode
  let pair: Awaited<ReturnType<typeof startPair>>
  let nextAddress = 1
  const setAddress = async (box: Box) => {
    const res = await pair.running.api('POST', '/api/v1/owners/payout-address', { body: payoutAddressOf(box, addressOf(nextAddress++)) })
    assert.equal(res.status, 200, JSON.stringify(res.body))
    return res.body.address as string
  }
  const addCoin = async (amount: number) => {
    const coin = node.fund(openWallet(WALLET.key, 'regtest').address, amount)
    assert.equal((await pair.running.api('POST', '/api/v1/operator/wallet/coins', { key: OPERATOR_TOKEN, body: coin })).status, 201)
    return coin
  }

  before(async () => {
    node = await startFakeNode()
    pair = await startPair('pglite', {}, { payments: { network: 'regtest', threshold: 2000, feeRate: 3, walletKey: WALLET.key, bitcoinRpc: node.url, payoutEveryMs: 0 } })
  })
  after(async () => {
    await pair.close()
    await node.close()
  })

  test('owners paid for their answers are paid out in one signed transaction, fee shared, final once confirmed', async () => {
    assert.deepEqual((await pair.running.api('GET', '/api/v1/payments')).body, { currency: 'sat', network: 'regtest', threshold: 2000, feeRate: 3, paysOut: true })
    const key = await register(pair.running)
    const posted = await pair.running.api('POST', '/api/v1/queries', { key, body: spec({ price: { amount: 2500, currency: 'sat' }, participants: { min: 10, max: 12 } }) })
    const query: PublishedQuery = (await pair.running.api('GET', `/api/v1/feed?since=${posted.body.seq - 1}&limit=1`)).body.queries[0]
    const boxes = Array.from({ length: 11 }, () => makeBox())
    for (const [i, box] of boxes.entries()) assert.equal((await sendAnswer(pair.leaderUrl, await answerOf(box, query, 'medium', 30 + i))).status, 202)
    await pair.running.api('POST', `/api/v1/queries/${query.id}/close`, { key })
    await pair.leader.releaseDue()
    // Ten owners give an address; the eleventh has none and is not paid.
    const addresses = await Promise.all(boxes.slice(0, 10).map(setAddress))

    const dry = await runPayouts(pair.leaderUrl)
    assert.deepEqual(dry.made, [])
    assert.match(dry.problems[0], /^The wallet has 0 sat in coins it can spend, and an owner due is owed 2,500 sat: send more to bcrt1/)
    const coin = await addCoin(100_000)

    const run = await runPayouts(pair.leaderUrl)
    assert.deepEqual(run.problems, [])
    assert.equal(run.made.length, 1)
    const [payout] = run.made
    assert.equal(payout.owners, 10)
    assert.deepEqual(run.broadcast, [payout.id])
    const sent = node.transactions.get(payout.txid)!
    assert.ok(sent, 'the node has the transaction')
    assert.deepEqual(sent.inputs, [{ txid: coin.txid, vout: 0 }])
    // One output per owner, each their 2,500 sat less the same share of the fee, and the change back to the wallet.
    const share = payout.feePerOwner
    assert.equal(share, Math.ceil(Math.ceil(3 * (payout.vbytes + 1)) / 10), 'the fee rate times the size, shared')
    for (const address of addresses) assert.deepEqual(sent.outputs.filter((o) => o.address === address), [{ address, amount: 2500 - share }])
    const change = sent.outputs.find((o) => o.address === openWallet(WALLET.key, 'regtest').address)!
    assert.equal(change.amount, 100_000 - 25_000)
    assert.equal(payout.fee, share * 10)
    assert.equal(payout.sent, 25_000 - share * 10)
    assert.equal(sent.outputs.length, 11)

    // In flight: out of the owners' balances, not final yet.
    const mine = await pair.running.api('GET', `/api/v1/owners/${boxes[0]!.boxId}/account`, { headers: accountHeaders(boxes[0]!) })
    assert.deepEqual([mine.body.balance, mine.body.inFlight], [0, 2500])
    assert.deepEqual(mine.body.payouts.map((p: any) => [p.txid, p.state, p.amount, p.fee, p.sent, p.address]), [[payout.txid, 'broadcast', 2500, share, 2500 - share, addresses[0]]])
    const unpaid = await pair.running.api('GET', `/api/v1/owners/${boxes[10]!.boxId}/account`, { headers: accountHeaders(boxes[10]!) })
    assert.deepEqual([unpaid.body.balance, unpaid.body.payouts], [2500, []], 'no address, no payout')
    assert.equal((await ledgerOf(pair.leaderUrl)).byKind.payouts, 25_000)
    assert.deepEqual((await runPayouts(pair.leaderUrl)).made, [], 'nothing more to pay while it waits')
    assert.equal((await pair.running.api('GET', '/api/v1/operator/wallet', { key: OPERATOR_TOKEN })).body.pending, 75_000, 'the change waits too')

    node.mine()
    const confirmed = await runPayouts(pair.leaderUrl)
    assert.deepEqual(confirmed.confirmed, [payout.id])
    const after = await pair.running.api('GET', `/api/v1/owners/${boxes[0]!.boxId}/account`, { headers: accountHeaders(boxes[0]!) })
    assert.deepEqual([after.body.balance, after.body.inFlight, after.body.payouts[0].state], [0, 0, 'confirmed'])
    const check = await balanced(pair.leaderUrl)
    assert.deepEqual([check.byKind.paid, check.byKind.fees, check.byKind.payouts], [25_000 - share * 10, share * 10, 0])
    const wallet = (await pair.running.api('GET', '/api/v1/operator/wallet', { key: OPERATOR_TOKEN })).body
    assert.deepEqual([wallet.available, wallet.pending], [75_000, 0])
    assert.equal((await runPayouts(pair.leaderUrl)).made.length, 0, 'paid once')
    assert.equal(node.transactions.size, 1)
  })

  test('a payout the node refuses puts the money back in the owners\' balances; the next run pays them', async () => {
    const boxes = Array.from({ length: 3 }, () => makeBox())
    await credit(pair.leader, boxes, 4000)
    for (const box of boxes) await setAddress(box)
    node.refuseNext('min relay fee not met, 100 < 141')
    const refused = await runPayouts(pair.leaderUrl)
    assert.equal(refused.made.length, 1)
    assert.deepEqual(refused.failed, [refused.made[0].id])
    for (const box of boxes) assert.equal(await balanceOf(pair.leader.db, Account.owner(box.boxId)), 4000, 'back in the balance')
    const detail = (await pair.running.api('GET', `/api/v1/operator/payouts/${refused.made[0].id}`, { key: OPERATOR_TOKEN })).body
    assert.equal(detail.state, 'failed')
    assert.match(detail.error, /min relay fee not met/)
    const shown = await pair.running.api('GET', `/api/v1/owners/${boxes[0]!.boxId}/account`, { headers: accountHeaders(boxes[0]!) })
    assert.deepEqual(shown.body.payouts.map((p: any) => p.state), ['failed'])
    await balanced(pair.leaderUrl)

    const again = await runPayouts(pair.leaderUrl)
    assert.equal(again.made.length, 1)
    assert.deepEqual(again.broadcast, [again.made[0].id])
    for (const box of boxes) assert.equal(await balanceOf(pair.leader.db, Account.owner(box.boxId)), 0)
    node.mine()
    await runPayouts(pair.leaderUrl)
    await balanced(pair.leaderUrl)
  })

  test('owners below the threshold wait; many owners are paid in batches of the most a transaction takes', async () => {
    const small = makeBox()
    await credit(pair.leader, [small], 1999)
    await setAddress(small)
    assert.deepEqual((await runPayouts(pair.leaderUrl)).made, [], 'below 2,000 sat')
    await addCoin(1_000_000)
    const many = Array.from({ length: 25 }, () => makeBox())
    await credit(pair.leader, many, 3000)
    const addresses: string[] = []
    for (const box of many) addresses.push(await setAddress(box))
    const run = await runPayouts(pair.leaderUrl)
    assert.equal(run.made.reduce((sum: number, p: any) => sum + p.owners, 0), 25)
    assert.equal(await balanceOf(pair.leader.db, Account.owner(small.boxId)), 1999)
    node.mine()
    await runPayouts(pair.leaderUrl)
    const paidTo = [...node.transactions.values()].flatMap((t) => t.outputs.map((o) => o.address))
    for (const [i, box] of many.entries()) {
      assert.equal(await balanceOf(pair.leader.db, Account.owner(box.boxId)), 0)
      assert.equal(paidTo.filter((a) => a === addresses[i]).length, 1, 'paid once')
    }
    await balanced(pair.leaderUrl)
  })

  test('the operator follows the wallet and the payouts with `coffer-market`', async () => {
    const env = { COFFER_MARKET_URL: pair.leaderUrl, COFFER_MARKET_OPERATOR_TOKEN: OPERATOR_TOKEN }
    const address = openWallet(WALLET.key, 'regtest').address
    const shown = await cli(['wallet', 'show'], env)
    assert.equal(shown.code, 0, shown.stderr)
    assert.match(shown.stdout, new RegExp(`^Wallet ${address} \\(regtest\\): [\\d,]+ sat to spend, 0 sat waiting`))
    const coin = node.fund(address, 50_000)
    const added = await cli(['wallet', 'add-coin', `${coin.txid}:0`, '50000'], env)
    assert.equal(added.stdout, `Recorded ${coin.txid}:0: 50,000 sat.\n`)
    assert.match((await cli(['wallet', 'add-coin', `${coin.txid}:0`, '50000'], env)).stdout, /held .* already; nothing changed/)

    const boxes = Array.from({ length: 2 }, () => makeBox())
    await credit(pair.leader, boxes, 6000)
    for (const box of boxes) await setAddress(box)
    const run = await cli(['payouts', 'run'], env)
    assert.equal(run.code, 0, run.stderr)
    const made = /^Made payout ([0-9a-f-]{36}): 2 owners, ([\d,]+) sat sent, fee ([\d,]+) sat \(([\d,]+) sat each\), (\d+) vbytes, transaction ([0-9a-f]{64})$/m.exec(run.stdout)
    assert.ok(made, run.stdout)
    assert.match(run.stdout, /^Sent to the network: 1$/m)
    const list = await cli(['payouts', 'list'], env)
    assert.match(list.stdout, new RegExp(`${made[1]}\\s+broadcast\\s+2\\s+${made[2]} sat\\s+${made[3]} sat\\s+${made[4]} sat\\s+${made[5]}`))
    node.mine()
    assert.match((await cli(['payouts', 'run'], env)).stdout, /^Confirmed, final: 1$/m)
    assert.equal((await cli(['payouts', 'run'], env)).stdout, 'Nothing to do: no owner is due, and no payout is under way.\n')
    const key = await cli(['wallet', 'new-key', '--network', 'testnet'])
    assert.match(key.stdout, /^Address: tb1q[a-z0-9]+\nKey \(WIF\), shown only now; keep it secret:\n\n {2}c[1-9A-HJ-NP-Za-km-z]{51}\n/)
  })
})

test('PostgreSQL: two market processes making payouts at once pay every owner once, in batches that stay under half a standard transaction', async () => {
  const node = await startFakeNode()
  const temp = await createTempDatabase()
  const config = { database: temp.url, port: 0, logLevel: 'silent' as const, operatorToken: OPERATOR_TOKEN, payments: { network: 'regtest' as const, threshold: 1000, walletKey: WALLET.key, bitcoinRpc: node.url, payoutEveryMs: 0, batchMax: 40 } }
  const a = createMarket(config)
  const b = createMarket(config)
  await a.open()
  await b.open()
  try {
    const wallet = openWallet(WALLET.key, 'regtest')
    for (let i = 0; i < 5; i++) await a.payouts!.addCoin(node.fund(wallet.address, 2_000_000))
    const owners = Array.from({ length: 150 }, () => makeBox())
    await credit(a, owners, 5000)
    const url = await a.listen()
    for (const [i, box] of owners.entries()) {
      const res = await call(url, 'POST', '/api/v1/owners/payout-address', { body: payoutAddressOf(box, addressOf(i + 1)) })
      assert.equal(res.status, 200)
    }
    // A process runs payouts one at a time (a second call joins the first); the two processes run side by side.
    const runs = await Promise.all([a.runPayouts(), b.runPayouts(), a.runPayouts(), b.runPayouts()])
    assert.equal(runs[0], runs[2])
    const made = [runs[0]!, runs[1]!].flatMap((r) => r.made)
    assert.equal(made.reduce((sum, p) => sum + p.owners, 0), 150, 'every owner in exactly one payout')
    for (const p of made) {
      assert.ok(p.owners <= 40)
      assert.ok(p.vbytes * 4 <= 200_000, `${p.vbytes} vbytes`)
    }
    node.mine()
    await a.runPayouts()
    const lines = await a.db.query<{ box_id: string }>("SELECT l.box_id FROM payout_lines l JOIN payouts p ON p.id = l.payout_id WHERE p.state = 'confirmed'")
    assert.equal(lines.length, 150)
    assert.equal(new Set(lines.map((l) => l.box_id)).size, 150)
    const check = await a.payments.check()
    assert.deepEqual([check.entriesBalance, check.balancesMatchLines, check.total, check.byKind.owner, check.byKind.payouts], [true, true, 0, 0, 0])
  } finally {
    await a.close()
    await b.close()
    await temp.drop()
    await node.close()
  }
})
