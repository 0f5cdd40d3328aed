/**
 * Market processes are stateless: two leader processes serve one market from one PostgreSQL,
 * and one is killed (SIGKILL) while answers arrive, another while it sends a payout to the
 * Bitcoin node. Boxes whose answer got no reply send it to the other process (and hear 409 when
 * it had been kept); the release counts every box once and pays each once; the payout the dead
 * process signed is sent by the survivor, byte for byte the same, so every owner is paid once;
 * and the ledger balances. A leader killed half-way through a release (the helper has released
 * its share; the leader never heard it) leaves nothing released and no one paid, and the next
 * leader releases it with the very share the helper kept. Runs the built CLI.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import pg from 'pg'
import { createMarket, newWalletKey } from '../src/index.ts'
import { createTempDatabase } from './postgres.ts'
import { call, OPERATOR_TOKEN, register, spec, startProcess, stopProcess } from './helpers.ts'
import { answerOf, HELPER_TOKEN, makeBox, payoutAddressOf, sendAnswer, VERIFY_KEY } from './boxes.ts'
import { addressOf, startFakeNode } from './bitcoin.ts'

test('two leaders on one PostgreSQL, one killed while answers arrive and one while a payout goes out: no answer lost or counted twice, no owner paid twice, the ledger balances', async () => {
  const helperDb = await createTempDatabase()
  const leaderDb = await createTempDatabase()
  const node = await startFakeNode()
  const helper = createMarket({ database: helperDb.url, port: 0, logLevel: 'silent', aggregation: { role: 'helper', leaderToken: HELPER_TOKEN, verifyKey: VERIFY_KEY } })
  await helper.open()
  const helperUrl = await helper.listen()
  const wallet = newWalletKey('regtest')
  const args = [
    '--database', leaderDb.url, '--role', 'leader', '--helper-url', helperUrl, '--helper-token', HELPER_TOKEN, '--verify-key', VERIFY_KEY, '--release-poll', '60000',
    '--operator-token', OPERATOR_TOKEN, '--network', 'regtest', '--payout-threshold', '1000', '--fee-rate', '1', '--payout-every', '0',
    '--wallet-key', wallet.key, '--bitcoin-rpc', node.url,
  ]
  const [first, second] = await Promise.all([startProcess(args), startProcess(args)])
  let third: Awaited<ReturnType<typeof startProcess>> | undefined
  const api = (url: string) => ({ api: (method: string, route: string, opts?: Parameters<typeof call>[3]) => call(url, method, route, opts) })
  try {
    const key = await register(api(first.url), 'RWTH Aachen', 1_000_000)
    const posted = await call(first.url, 'POST', '/api/v1/queries', { key, body: spec({ price: { amount: 2000, currency: 'sat' }, participants: { min: 10, max: 100 } }) })
    assert.equal(posted.status, 201)
    const query = (await call(second.url, 'GET', `/api/v1/feed?since=${posted.body.seq - 1}&limit=1`)).body.queries[0]

    const N = 60
    const boxes = Array.from({ length: N }, () => makeBox())
    const answers = await Promise.all(boxes.map((box, i) => answerOf(box, query, (['low', 'medium', 'high'] as const)[i % 3]!, 20 + i)))
    const send = async (url: string, i: number) => {
      try {
        return (await sendAnswer(url, answers[i]!)).status
      } catch {
        return 0 // no reply: the connection died with the process
      }
    }
    // Eight boxes at a time, each sent to one process or the other; the first is killed once a third are kept.
    const accepted = new Set<number>()
    let next = 0
    let killed = false
    await Promise.all(Array.from({ length: 8 }, async (_, lane) => {
      while (next < N) {
        const i = next++
        const status = await send(lane % 2 ? second.url : first.url, i)
        if (status === 202) accepted.add(i)
        if (!killed && accepted.size >= N / 3) {
          killed = true
          first.child.kill('SIGKILL')
        }
      }
    }))
    assert.ok(killed)
    const acceptedBefore = new Set(accepted)
    for (let i = 0; i < N; i++) {
      if (accepted.has(i)) continue
      const status = await send(second.url, i)
      assert.ok(status === 202 || status === 409, `box ${i}: ${status}`)
    }
    const client = new pg.Client({ connectionString: leaderDb.url })
    await client.connect()
    const rows = (await client.query('SELECT box_id FROM answers WHERE query_id = $1', [query.id])).rows.map((r) => r.box_id as string)
    assert.equal(rows.length, N)
    assert.equal(new Set(rows).size, N)
    for (const i of acceptedBefore) assert.equal(await send(second.url, i), 409, 'kept once; a second answer is refused')

    assert.equal((await call(second.url, 'POST', `/api/v1/queries/${query.id}/close`, { key })).status, 200)
    let result
    for (let attempt = 0; attempt < 300; attempt++) {
      result = (await call(second.url, 'GET', `/api/v1/queries/${query.id}/result`, { key })).body
      if (result.state !== 'pending') break
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    assert.equal(result.state, 'released')
    assert.equal(result.participants.total, N)
    assert.equal(result.classes.reduce((s: number, c: any) => s + c.reports, 0), N, 'each answer counted once')
    assert.deepEqual(result.payment, { owners: N, paid: N * 2000, refunded: (100 - N) * 2000 })

    // Every owner gives an address; the wallet gets a coin.
    for (const [i, box] of boxes.entries()) assert.equal((await call(second.url, 'POST', '/api/v1/owners/payout-address', { body: payoutAddressOf(box, addressOf(i + 1)) })).status, 200)
    const walletAddress = (await call(second.url, 'GET', '/api/v1/operator/wallet', { key: OPERATOR_TOKEN })).body.address
    const coin = node.fund(walletAddress, 500_000)
    assert.equal((await call(second.url, 'POST', '/api/v1/operator/wallet/coins', { key: OPERATOR_TOKEN, body: coin })).status, 201)

    // A third process makes the payout and is killed while the node holds its broadcast.
    third = await startProcess(args)
    const held = node.hold()
    void call(third.url, 'POST', '/api/v1/operator/payouts', { key: OPERATOR_TOKEN }).catch(() => undefined)
    await held
    third.child.kill('SIGKILL')
    await new Promise((resolve) => third!.child.once('exit', resolve))
    node.release()
    const signed = (await client.query("SELECT id, txid, state FROM payouts")).rows
    assert.equal(signed.length, 1)
    assert.equal(signed[0].state, 'signed', 'made and kept, its broadcast not acknowledged')

    // The survivor sends the very same transaction, and confirms it once the node has mined it.
    const resumed = (await call(second.url, 'POST', '/api/v1/operator/payouts', { key: OPERATOR_TOKEN })).body
    assert.deepEqual([resumed.made, resumed.broadcast], [[], [signed[0].id]])
    node.mine()
    assert.deepEqual((await call(second.url, 'POST', '/api/v1/operator/payouts', { key: OPERATOR_TOKEN })).body.confirmed, [signed[0].id])
    assert.equal(node.transactions.size, 1, 'one transaction')
    const tx = node.transactions.get(signed[0].txid)!
    assert.ok(tx.sent >= 2, 'sent by the dead process and again by the survivor')
    for (let i = 0; i < N; i++) assert.equal(tx.outputs.filter((o) => o.address === addressOf(i + 1)).length, 1, `owner ${i} paid once`)
    assert.deepEqual((await call(second.url, 'POST', '/api/v1/operator/payouts', { key: OPERATOR_TOKEN })).body.made, [], 'nothing left to pay')

    const check = (await call(second.url, 'GET', '/api/v1/operator/ledger', { key: OPERATOR_TOKEN })).body
    assert.deepEqual([check.entriesBalance, check.balancesMatchLines, check.total], [true, true, 0])
    assert.deepEqual([check.byKind.owner, check.byKind.payouts, check.byKind.escrow], [0, 0, 0])
    assert.equal(check.byKind.paid + check.byKind.fees, N * 2000)
    await client.end()
  } finally {
    node.release()
    assert.equal(await stopProcess(second.child), 0)
    for (const dead of [first, third]) if (dead && dead.child.exitCode === null && dead.child.signalCode === null) dead.child.kill('SIGKILL')
    await helper.close()
    await node.close()
    await helperDb.drop()
    await leaderDb.drop()
  }
})

/**
 * In front of the helper: forwards every call, and can hold the answer to the first release (the
 * helper has released and kept its share; the leader has not heard it yet).
 */
async function helperProxy(target: string) {
  let held: (() => void) | undefined
  const shares: { taskId: string; aggregateShare: string }[] = []
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', async () => {
      const body = Buffer.concat(chunks)
      const answer = await fetch(target + req.url, {
        method: req.method, body: req.method === 'GET' ? undefined : body,
        headers: { authorization: req.headers.authorization ?? '', 'content-type': req.headers['content-type'] ?? 'application/json' },
      })
      const text = await answer.text()
      if (req.url === '/api/v1/aggregator/release' && answer.ok) {
        shares.push({ taskId: JSON.parse(body.toString()).taskId, aggregateShare: JSON.parse(text).aggregateShare })
        if (held) {
          const arrived = held
          held = undefined
          arrived()
          return // never answered: the leader that asked dies waiting
        }
      }
      res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json' }).end(text)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    shares,
    holdRelease: () => new Promise<void>((resolve) => (held = resolve)),
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    }),
  }
}

test('a leader killed while it releases: another releases the query once, with the share the helper kept, and pays each owner once', async () => {
  const helperDb = await createTempDatabase()
  const leaderDb = await createTempDatabase()
  const helper = createMarket({ database: helperDb.url, port: 0, logLevel: 'silent', aggregation: { role: 'helper', leaderToken: HELPER_TOKEN, verifyKey: VERIFY_KEY } })
  await helper.open()
  const proxy = await helperProxy(await helper.listen())
  const args = (releasePoll: number) => [
    '--database', leaderDb.url, '--role', 'leader', '--helper-url', proxy.url, '--helper-token', HELPER_TOKEN, '--verify-key', VERIFY_KEY,
    '--release-poll', String(releasePoll), '--operator-token', OPERATOR_TOKEN,
  ]
  // The first releases the moment the query closes; the second would wait a minute for its next look.
  const first = await startProcess(args(60_000))
  let survivor: Awaited<ReturnType<typeof startProcess>> | undefined
  try {
    const key = await register({ api: (method, route, opts) => call(first.url, method, route, opts) }, 'RWTH Aachen', 1_000_000)
    const posted = await call(first.url, 'POST', '/api/v1/queries', { key, body: spec({ price: { amount: 2000, currency: 'sat' }, participants: { min: 10, max: 100 } }) })
    const query = (await call(first.url, 'GET', `/api/v1/feed?since=${posted.body.seq - 1}&limit=1`)).body.queries[0]
    const N = 30
    const boxes = Array.from({ length: N }, () => makeBox())
    for (const [i, box] of boxes.entries()) {
      assert.equal((await sendAnswer(first.url, await answerOf(box, query, (['low', 'medium', 'high'] as const)[i % 3]!, 20 + i))).status, 202)
    }

    const released = proxy.holdRelease()
    assert.equal((await call(first.url, 'POST', `/api/v1/queries/${query.id}/close`, { key })).status, 200)
    await released
    first.child.kill('SIGKILL')
    await new Promise((resolve) => first.child.once('exit', resolve))
    const client = new pg.Client({ connectionString: leaderDb.url })
    await client.connect()
    assert.equal((await client.query('SELECT count(*)::integer AS n FROM results')).rows[0].n, 0, 'nothing released by the dead leader')
    assert.equal((await client.query("SELECT count(*)::integer AS n FROM ledger_entries WHERE kind = 'settlement'")).rows[0].n, 0, 'nobody paid by it')

    survivor = await startProcess(args(100))
    let result
    for (let attempt = 0; attempt < 300; attempt++) {
      result = (await call(survivor.url, 'GET', `/api/v1/queries/${query.id}/result`, { key })).body
      if (result.state !== 'pending') break
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    assert.equal(result.state, 'released')
    assert.equal(result.classes.reduce((s: number, c: any) => s + c.reports, 0), N, 'each answer counted once')
    assert.deepEqual(result.payment, { owners: N, paid: N * 2000, refunded: (100 - N) * 2000 })
    // The helper released one share per class, once: the one the dead leader never heard is the one the survivor got.
    const [held, ...rest] = proxy.shares
    assert.equal(rest.filter((s) => s.taskId === held!.taskId).length, 1)
    assert.equal(rest.find((s) => s.taskId === held!.taskId)!.aggregateShare, held!.aggregateShare, 'the same share, the same helper noise')
    const settlements = (await client.query("SELECT count(*)::integer AS n FROM ledger_entries WHERE kind = 'settlement' AND query_id = $1", [query.id])).rows[0].n
    assert.equal(settlements, 1)
    const owners = (await client.query("SELECT count(*)::integer AS n, sum(balance)::bigint AS total FROM ledger_accounts WHERE kind = 'owner'")).rows[0]
    assert.deepEqual([owners.n, Number(owners.total)], [N, N * 2000], 'each owner credited once')
    await client.end()
    const check = (await call(survivor.url, 'GET', '/api/v1/operator/ledger', { key: OPERATOR_TOKEN })).body
    assert.deepEqual([check.entriesBalance, check.balancesMatchLines, check.total, check.byKind.escrow], [true, true, 0, 0])
  } finally {
    if (first.child.exitCode === null && first.child.signalCode === null) first.child.kill('SIGKILL')
    if (survivor) assert.equal(await stopProcess(survivor.child), 0)
    await proxy.close()
    await helper.close()
    await helperDb.drop()
    await leaderDb.drop()
  }
})
