/**
 * Payments through the market's API, end to end on real sockets with a leader and a helper:
 * the operator records deposits, a query escrows price × its most participants (or is refused),
 * its release pays each owner whose answer was counted and returns the rest, a query withdrawn
 * or short of its minimum returns everything, and owners set their payout address and read what
 * they earned with requests their box signed. The ledger balances after each.
 */
import { describe, test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { accountHeaders, answerOf, makeBox, payoutAddressOf, sendAnswer, startPair, type Box } from './boxes.ts'
import { fund, OPERATOR_TOKEN, register, spec } from './helpers.ts'
import { addressOf } from './bitcoin.ts'
import type { PublishedQuery } from '../src/protocol/index.ts'

const PROBLEM = /^application\/problem\+json/

for (const storage of ['pglite', 'postgres'] as const) {
  describe(`payments on ${storage}`, () => {
    let pair: Awaited<ReturnType<typeof startPair>>
    let key: string
    let processorId: string

    before(async () => {
      pair = await startPair(storage, {}, { payments: { network: 'regtest', threshold: 1000 } })
      key = await register(pair.running, 'Walking study', 0)
      processorId = (await pair.running.api('GET', '/api/v1/processors/me', { key })).body.id
    })
    after(async () => pair.close())

    const account = async () => (await pair.running.api('GET', '/api/v1/processors/me/account', { key })).body
    const ledger = async () => (await pair.running.api('GET', '/api/v1/operator/ledger', { key: OPERATOR_TOKEN })).body
    const balanced = async () => {
      const check = await ledger()
      assert.deepEqual([check.entriesBalance, check.balancesMatchLines, check.total], [true, true, 0], JSON.stringify(check))
      return check
    }
    const post = async (overrides: Record<string, unknown>): Promise<PublishedQuery> => {
      const posted = await pair.running.api('POST', '/api/v1/queries', { key, body: spec(overrides) })
      assert.equal(posted.status, 201, JSON.stringify(posted.body))
      return (await pair.running.api('GET', `/api/v1/feed?since=${posted.body.seq - 1}&limit=1`)).body.queries[0]
    }
    const owner = async (box: Box) => pair.running.api('GET', `/api/v1/owners/${box.boxId}/account`, { headers: accountHeaders(box) })

    test('the market says how it pays owners', async () => {
      assert.deepEqual((await pair.running.api('GET', '/api/v1/payments')).body, { currency: 'sat', network: 'regtest', threshold: 1000, feeRate: 2, paysOut: false })
    })

    test('deposits are the operator\'s, once per reference; a query is refused until the balance covers its escrow', async () => {
      const short = await pair.running.api('POST', '/api/v1/queries', { key, body: spec({ price: { amount: 100, currency: 'sat' }, participants: { min: 10, max: 30 } }) })
      assert.equal(short.status, 402)
      assert.match(short.headers.get('content-type')!, PROBLEM)
      assert.equal(short.body.type, 'https://coffer.dev/problems/insufficient-funds')
      assert.deepEqual([short.body.account, short.body.balance, short.body.needed], [`processor:${processorId}`, 0, 3000])
      assert.equal((await pair.running.api('GET', '/api/v1/queries', { key })).body.queries.length, 0, 'nothing posted')

      const body = { processorId, amount: 10_000, reference: 'tx 7f3a:0' }
      assert.equal((await pair.running.api('POST', '/api/v1/operator/deposits', { body })).status, 401)
      assert.equal((await pair.running.api('POST', '/api/v1/operator/deposits', { key, body })).status, 401, 'a processor\'s key is not the operator\'s')
      const first = await fund(pair.running, processorId, 10_000, 'tx 7f3a:0')
      assert.equal(first.status, 201)
      assert.deepEqual([first.body.recorded, first.body.balance], [true, 10_000])
      const replay = await fund(pair.running, processorId, 10_000, 'tx 7f3a:0')
      assert.deepEqual([replay.status, replay.body.recorded, replay.body.balance], [200, false, 10_000])
      const reused = await pair.running.api('POST', '/api/v1/operator/deposits', { key: OPERATOR_TOKEN, body: { ...body, amount: 5 } })
      assert.equal(reused.status, 409)
      assert.equal((await pair.running.api('POST', '/api/v1/operator/deposits', { key: OPERATOR_TOKEN, body: { ...body, processorId: 'nobody', reference: 'x' } })).status, 404)
      assert.equal((await pair.running.api('POST', '/api/v1/operator/deposits', { key: OPERATOR_TOKEN, body: { ...body, amount: 0, reference: 'y' } })).status, 400)
      assert.deepEqual((await account()).balance, 10_000)
      await balanced()
    })

    test('a release pays each counted owner the price once and returns the rest; a second answer and a forged one earn nothing', async () => {
      const query = await post({ price: { amount: 100, currency: 'sat' }, participants: { min: 10, max: 30 } })
      const held = await account()
      assert.deepEqual([held.balance, held.escrowed], [7000, 3000])
      assert.deepEqual([held.entries[0].kind, held.entries[0].amount, held.entries[0].queryId], ['escrow', -3000, query.id])

      const boxes = Array.from({ length: 12 }, () => makeBox())
      for (const [i, box] of boxes.entries()) assert.equal((await sendAnswer(pair.leaderUrl, await answerOf(box, query, 'low', 20 + i))).status, 202)
      assert.equal((await sendAnswer(pair.leaderUrl, await answerOf(boxes[0]!, query, 'medium', 50))).status, 409, 'one answer per box')
      const forged = { ...(await answerOf(makeBox(), query, 'low', 40)), boxId: boxes[1]!.boxId }
      assert.equal((await sendAnswer(pair.leaderUrl, forged)).status, 401)

      assert.equal((await pair.running.api('POST', `/api/v1/queries/${query.id}/close`, { key })).status, 200)
      assert.equal(await pair.leader.releaseDue(), 1)
      const result = (await pair.running.api('GET', `/api/v1/queries/${query.id}/result`, { key })).body
      assert.equal(result.state, 'released')
      assert.deepEqual(result.payment, { owners: 12, paid: 1200, refunded: 1800 })
      const after = await account()
      assert.deepEqual([after.balance, after.escrowed], [8800, 0])
      assert.deepEqual([after.entries[0].kind, after.entries[0].amount], ['settlement', 1800])
      for (const box of boxes) {
        const mine = await owner(box)
        assert.equal(mine.status, 200, JSON.stringify(mine.body))
        assert.deepEqual([mine.body.balance, mine.body.earnings.map((e: any) => [e.queryId, e.amount])], [100, [[query.id, 100]]])
      }
      // Releasing again pays no one twice.
      assert.equal(await pair.leader.releaseDue(), 0)
      const check = await balanced()
      assert.equal(check.byKind.owner, 1200)
    })

    test('a box sending its answer five times at once is kept once, counted once and paid once', async () => {
      const query = await post({ price: { amount: 10, currency: 'sat' }, participants: { min: 10, max: 20 } })
      const boxes = Array.from({ length: 10 }, () => makeBox())
      const answers = await Promise.all(boxes.map((box, i) => answerOf(box, query, 'low', 30 + i)))
      const statuses = await Promise.all(answers.flatMap((answer) => Array.from({ length: 5 }, () => sendAnswer(pair.leaderUrl, answer).then((r) => r.status))))
      assert.equal(statuses.filter((s) => s === 202).length, 10, statuses.join())
      assert.equal(statuses.filter((s) => s === 409).length, 40)
      assert.equal((await pair.running.api('POST', `/api/v1/queries/${query.id}/close`, { key })).status, 200)
      await pair.leader.releaseDue()
      const result = (await pair.running.api('GET', `/api/v1/queries/${query.id}/result`, { key })).body
      assert.deepEqual([result.participants.total, result.payment], [10, { owners: 10, paid: 100, refunded: 100 }])
      for (const box of boxes) assert.equal((await owner(box)).body.balance, 10)
      await balanced()
    })

    test('a query withdrawn, or short of its minimum at its deadline, gives its whole escrow back', async () => {
      const before = (await account()).balance
      const withdrawn = await post({ price: { amount: 50, currency: 'sat' }, participants: { min: 10, max: 20 } })
      assert.equal((await account()).balance, before - 1000)
      const boxes = Array.from({ length: 3 }, () => makeBox())
      for (const box of boxes) assert.equal((await sendAnswer(pair.leaderUrl, await answerOf(box, withdrawn, 'low', 30))).status, 202)
      assert.equal((await pair.running.api('POST', `/api/v1/queries/${withdrawn.id}/cancel`, { key })).status, 200)
      assert.equal((await account()).balance, before, 'back at once')

      const short = await post({ price: { amount: 50, currency: 'sat' }, participants: { min: 10, max: 20 } })
      for (const box of boxes) assert.equal((await sendAnswer(pair.leaderUrl, await answerOf(box, short, 'low', 30))).status, 202)
      await pair.leader.db.query("UPDATE queries SET deadline = now() - interval '1 second' WHERE id = $1", [short.id])
      await pair.leader.releaseDue()
      assert.equal((await pair.running.api('GET', `/api/v1/queries/${short.id}/result`, { key })).body.state, 'not_enough')
      assert.deepEqual([(await account()).balance, (await account()).escrowed], [before, 0])
      for (const box of boxes) assert.equal((await owner(box)).body.balance, 0, 'no one is paid for a query that released nothing')
      await balanced()
    })

    test('an owner sets a payout address by a signed message, and reads their account only with a fresh signature', async () => {
      const box = makeBox()
      const set = await pair.running.api('POST', '/api/v1/owners/payout-address', { body: payoutAddressOf(box, addressOf(7)) })
      assert.equal(set.status, 200, JSON.stringify(set.body))
      assert.deepEqual(set.body, { boxId: box.boxId, address: addressOf(7), network: 'regtest' })
      const read = await owner(box)
      assert.deepEqual([read.body.payoutAddress, read.body.balance, read.body.threshold, read.body.network, read.body.payouts], [addressOf(7), 0, 1000, 'regtest', []])

      const earlier = new Date(Date.now() - 60_000).toISOString()
      const replayed = await pair.running.api('POST', '/api/v1/owners/payout-address', { body: payoutAddressOf(box, addressOf(8), earlier) })
      assert.equal(replayed.status, 409, 'an older message changes nothing')
      const wrongNetwork = await pair.running.api('POST', '/api/v1/owners/payout-address', { body: payoutAddressOf(box, addressOf(8, 'testnet')) })
      assert.equal(wrongNetwork.status, 400)
      assert.match(wrongNetwork.body.detail, /not a regtest address/)
      const intruder = makeBox()
      const forged = { ...payoutAddressOf(intruder, addressOf(9)), boxId: box.boxId }
      assert.equal((await pair.running.api('POST', '/api/v1/owners/payout-address', { body: forged })).status, 401)
      const stale = payoutAddressOf(box, addressOf(9), new Date(Date.now() - 3_600_000).toISOString())
      assert.equal((await pair.running.api('POST', '/api/v1/owners/payout-address', { body: stale })).status, 401)
      assert.equal((await owner(box)).body.payoutAddress, addressOf(7))

      assert.equal((await pair.running.api('GET', `/api/v1/owners/${box.boxId}/account`)).status, 401, 'unsigned')
      assert.equal((await pair.running.api('GET', `/api/v1/owners/${box.boxId}/account`, { headers: accountHeaders(intruder) })).status, 401, 'signed by another box')
      const old = accountHeaders(box, new Date(Date.now() - 3_600_000).toISOString())
      assert.equal((await pair.running.api('GET', `/api/v1/owners/${box.boxId}/account`, { headers: old })).status, 401, 'too old')
    })
  })
}
