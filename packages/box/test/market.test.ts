/**
 * A box taking part in a real market, end to end: a leader and a helper market (embedded
 * storage, real sockets), a processor posting a question, and the owner using `coffer market`:
 * levels, join, list, show in plain words, accept. The box answers through its gateway with two
 * encrypted shares; the market counts one answer; the owner's budget, audit log and export
 * history say what happened; nothing is answered twice, and a query touching data the owner does
 * not share is never answered.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createMarket, newWalletKey, type Market } from '@coffer/market'
import { cli, startBox, type Running } from './helpers.ts'
import { answerOf, datasetAnswerOf, makeBox, sendAnswer } from '../../market/test/boxes.ts'
import { addressOf, startFakeNode, type FakeNode } from '../../market/test/bitcoin.ts'

const DAY = 86400
let helper: Market
let leader: Market
let marketUrl: string
let key: string
let box: Running
let home: string
let node: FakeNode

async function market(method: string, route: string, body?: unknown): Promise<any> {
  const res = await fetch(marketUrl + route, {
    method, body: body === undefined ? undefined : JSON.stringify(body),
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...(key ? { authorization: `Bearer ${key}` } : {}) },
  })
  const answer = await res.json()
  if (!res.ok) throw new Error(`${method} ${route}: ${res.status} ${JSON.stringify(answer)}`)
  return answer
}

const day = (t: number) => new Date(t * 1000).toISOString().slice(0, 10)

async function coffer(...args: string[]) {
  const result = await cli(['--home', home, 'market', ...args])
  assert.equal(result.code, 0, `coffer market ${args.join(' ')}: ${result.stderr}`)
  return result.stdout
}

before(async () => {
  helper = createMarket({ port: 0, logLevel: 'silent', aggregation: { role: 'helper', leaderToken: 'between-operators', verifyKey: 'agreed by both operators' } })
  await helper.open()
  const helperUrl = await helper.listen()
  // The leader pays owners out on regtest, through a stand-in Bitcoin node.
  node = await startFakeNode()
  leader = createMarket({
    port: 0, logLevel: 'silent', aggregation: { role: 'leader', helper: { url: helperUrl, token: 'between-operators' }, verifyKey: 'agreed by both operators', releasePollMs: 60_000 },
    payments: { network: 'regtest', threshold: 1000, feeRate: 1, walletKey: newWalletKey('regtest').key, bitcoinRpc: node.url, payoutEveryMs: 0 },
  })
  await leader.open()
  marketUrl = await leader.listen()
  const registered = await market('POST', '/api/v1/processors', { name: 'Walking study', contact: 'study@example.org' })
  key = registered.key
  // Each query holds price × its most participants in escrow: the operator records the processor's deposit first.
  await leader.payments.deposit({ processorId: registered.processor.id, amount: 10_000_000, reference: 'study grant' })

  box = await startBox()
  home = box.box.home.dir
  // Two weeks of daily step counts, as the Apple Health importer names them.
  await box.box.store.add({ id: 'steps', logicalType: 'activity', description: 'Steps', attributes: [{ name: 'steps', technicalType: 'number', unit: 'count' }] })
  const start = Math.floor(Date.now() / 1000 / DAY) * DAY - 20 * DAY
  await box.box.store.get('steps').appendRecords(Array.from({ length: 14 }, (_, i) => ({ n: 'steps', u: 'count', t: start + i * DAY + 3600, v: 8000 + i * 100 })))
})

after(async () => {
  await box?.close()
  await leader?.close()
  await helper?.close()
  await node?.close()
})

test('the owner joins, reads a query in plain words, accepts it, and the box answers once through its gateway', async () => {
  const start = Math.floor(Date.now() / 1000 / DAY) * DAY - 20 * DAY
  const posted = await market('POST', '/api/v1/queries', {
    question: `SELECT AVG(MEAN(SUM(Activity.steps) PER 1d) DURING ${day(start)} .. ${day(start + 14 * DAY)})`,
    purpose: 'How much people walk, for a public health study.', price: { amount: 250, currency: 'sat' },
    deadline: new Date(Date.now() + 30 * DAY * 1000).toISOString(), participants: { min: 10, max: 1000 },
    bounds: { 'Activity.steps': { lo: 0, hi: 30000 } }, answer: 'statistics', retention: '1y',
  })

  assert.match(await coffer('levels', 'Activity=medium'), /Activity\s+medium/)
  assert.match(await coffer('join', marketUrl), /1 query read/)
  const list = await coffer('list')
  assert.match(list, new RegExp(`${posted.id}\\s+waiting\\s+250 sat`))
  const shown = await coffer('show', posted.id)
  assert.match(shown, /from Walking study <study@example.org>: waiting/)
  assert.match(shown, /Why: How much people walk/)
  assert.match(shown, /two encrypted shares/)
  const [joined] = (await box.api('GET', '/api/v1/markets')).body as { id: string }[]
  assert.match(await coffer('map', joined!.id), /Activity\.steps\s+number \(count\)\s+steps:steps\s+default/)

  assert.match(await coffer('accept', posted.id), /it is answered \(answered at level medium\)/)
  const participation = (await market('GET', `/api/v1/queries/${posted.id}`)).participation
  assert.equal(participation.answered, 1)
  assert.equal(participation.levels.medium, 1)

  // What left, and why, is on the owner's side too: the export history, the budget, the audit log.
  const sent = (await box.api('GET', '/api/v1/exports')).body as { app: string; destination: string; state: string }[]
  assert.deepEqual(sent.map((e) => [e.app.startsWith('market:'), e.destination.endsWith(`/queries/${posted.id}/answers`), e.state]), [[true, true, 'sent']])
  const reads = (await box.api('GET', '/api/v1/audit?operation=read')).body as { subject: string; outcome: string }[]
  assert.ok(reads.some((e) => e.subject.startsWith('market:') && e.outcome === 'allow'), 'the market\'s reads are audited under its own subject')
  const statement = (await box.api('GET', '/api/v1/statement?format=json')).body as { markets: { answers: { query: string; priceSat: number; logged: boolean }[]; promisedSat: number } | null }
  assert.deepEqual(statement.markets?.answers.map((a) => [a.query, a.priceSat]), [[posted.id, 250]], 'the month\'s statement lists the answer and what it promises')
  assert.equal(statement.markets?.promisedSat, 250)
  assert.match(await coffer('budget'), /Activity\s+medium\s+1\/2\s+2\s/, 'medium spends ε = 1/2 of its monthly 2')
  const again = await cli(['--home', home, 'market', 'accept', posted.id])
  assert.notEqual(again.code, 0)
  assert.match(again.stderr, /answered/)
  assert.equal((await market('GET', `/api/v1/queries/${posted.id}`)).participation.answered, 1)
})

test('a query about data the owner does not share is never answered, whatever the owner clicks', async () => {
  const posted = await market('POST', '/api/v1/queries', {
    question: 'SELECT COUNT(*) WHERE Identity.age > 30', purpose: 'How many are over 30.', price: { amount: 1000, currency: 'sat' },
    deadline: new Date(Date.now() + 30 * DAY * 1000).toISOString(), participants: { min: 10, max: 1000 }, bounds: {}, answer: 'statistics', retention: '30d',
  })
  assert.match(await coffer('sync'), /1 new query/)
  const shown = await coffer('show', posted.id)
  assert.match(shown, /cannot \(it asks for Identity, which you do not share/)
  const accept = await cli(['--home', home, 'market', 'accept', posted.id])
  assert.notEqual(accept.code, 0)
  assert.equal((await market('GET', `/api/v1/queries/${posted.id}`)).participation.answered, 0)
})

test('what an answer earned, the balance and the payout are the owner\'s to see; the payout address goes out signed, through the gateway', async () => {
  const start = Math.floor(Date.now() / 1000 / DAY) * DAY - 20 * DAY
  const posted = await market('POST', '/api/v1/queries', {
    question: `SELECT AVG(MEAN(SUM(Activity.steps) PER 1d) DURING ${day(start)} .. ${day(start + 14 * DAY)})`,
    purpose: 'Steps, for a city walking plan.', price: { amount: 2000, currency: 'sat' },
    deadline: new Date(Date.now() + 30 * DAY * 1000).toISOString(), participants: { min: 10, max: 20 },
    bounds: { 'Activity.steps': { lo: 0, hi: 30000 } }, answer: 'statistics', retention: '1y',
  })
  assert.match(await coffer('sync'), /1 new query/)
  assert.match(await coffer('accept', posted.id), /it is answered/)
  assert.match(await coffer('show', posted.id), /Earned: nothing yet; it is paid into your balance at .* once the market releases the result/)
  // Nine more boxes answer, and the query reaches its minimum.
  const page = await market('GET', `/api/v1/feed?since=${posted.seq - 1}&limit=1`)
  for (let i = 0; i < 9; i++) assert.equal((await sendAnswer(marketUrl, await answerOf(makeBox(), page.queries[0], 'medium', 9000 + i * 100))).status, 202)
  await market('POST', `/api/v1/queries/${posted.id}/close`)
  await leader.releaseDue()
  assert.equal((await market('GET', `/api/v1/queries/${posted.id}/result`)).payment.owners, 10)

  const [joined] = (await box.api('GET', '/api/v1/markets')).body as { id: string }[]
  const wrong = await cli(['--home', home, 'market', 'payout-address', joined!.id, addressOf(3, 'testnet')])
  assert.notEqual(wrong.code, 0)
  assert.match(wrong.stderr, /is not a regtest address/)
  const address = addressOf(3)
  assert.match(await coffer('payout-address', joined!.id, address), new RegExp(`pays you at ${address}\\. Your balance there is 2,000 sat; it is paid out once it reaches 1,000 sat\\.`))
  const sent = (await box.api('GET', '/api/v1/exports')).body as { id: string; app: string; destination: string; state: string }[]
  const addressExport = sent.find((e) => e.destination.endsWith('/api/v1/owners/payout-address'))!
  assert.deepEqual([addressExport.app, addressExport.state], [`market:${joined!.id}`, 'sent'])
  const payload = (await box.api('GET', `/api/v1/exports/${addressExport.id}`)).body.payload as { boxId: string; address: string; signature: string }
  assert.deepEqual([payload.boxId, payload.address], [box.box.home.keys.identity.publicKey.toString('hex'), address])
  assert.deepEqual(box.box.membership.destinations(joined!.id).filter((d) => d.url.endsWith('/payout-address')), [], 'held only until the market had it')

  assert.match(await coffer('show', posted.id), /Earned: 2,000 sat, paid into your balance at /)
  let list = await coffer('list')
  assert.match(list, new RegExp(`${joined!.id}\\s+\\S+\\s+\\S+\\s+2,000 sat\\s+${address}`))
  assert.match(list, new RegExp(`${posted.id}\\s+answered\\s+2,000 sat\\s+2,000 sat`))

  // The operator pays out: one transaction, to the owner's address, less the owner's share of the fee.
  const wallet = (await leader.payouts!.walletState()).address
  await leader.payouts!.addCoin(node.fund(wallet, 50_000))
  const run = await leader.runPayouts()
  assert.equal(run.made.length, 1)
  const paid = node.transactions.get(run.made[0]!.txid)!.outputs.find((o) => o.address === address)!
  assert.equal(paid.amount, 2000 - run.made[0]!.feePerOwner)
  node.mine()
  await leader.runPayouts()
  await coffer('sync')
  list = await coffer('list')
  assert.match(list, new RegExp(`${joined!.id}\\s+${run.made[0]!.txid}\\s+confirmed\\s+${(2000 - run.made[0]!.feePerOwner).toLocaleString('en')} sat\\s+${run.made[0]!.feePerOwner} sat`))
  const payments = (await box.api('GET', '/api/v1/market/payments')).body as { account: { balance: number; payouts: { state: string }[] } }[]
  assert.deepEqual([payments[0]!.account.balance, payments[0]!.account.payouts.map((p) => p.state)], [0, ['confirmed']])

  const statement = (await box.api('GET', '/api/v1/statement?format=json')).body as { markets: { answers: { query: string; earnedSat: number | null }[]; earnedSat: number } }
  assert.deepEqual(statement.markets.answers.filter((a) => a.query === posted.id).map((a) => a.earnedSat), [2000], 'the month\'s statement says what the answer was paid')
  assert.equal(statement.markets.earnedSat, 2000)
})

test('a dataset answer leaves as one sealed record, spends no ε, and is released only in a class of k at the owner\'s level', async () => {
  const start = Math.floor(Date.now() / 1000 / DAY) * DAY - 20 * DAY
  const steps = `MEAN(SUM(Activity.steps) PER 1d) DURING ${day(start)} .. ${day(start + 14 * DAY)}`
  const posted = await market('POST', '/api/v1/queries', {
    question: `SELECT ${steps} BAND 1000`, purpose: 'How much people walk, in bands of a thousand steps.', price: { amount: 100, currency: 'sat' },
    deadline: new Date(Date.now() + 30 * DAY * 1000).toISOString(), participants: { min: 10, max: 100 }, bounds: {}, answer: 'dataset', retention: '1y',
  })
  assert.match(await coffer('sync'), /1 new query/)
  assert.match(await coffer('show', posted.id), /What leaves: your values, generalised as the query says, as one sealed record/)
  const budget = await coffer('budget')
  assert.match(await coffer('accept', posted.id), /it is answered \(answered at level medium: a sealed record, released only in a class of at least 10\)/)
  assert.equal(await coffer('budget'), budget, 'a dataset spends no ε')
  const sent = (await box.api('GET', '/api/v1/exports')).body as { id: string; destination: string }[]
  const record = (await box.api('GET', `/api/v1/exports/${sent.find((e) => e.destination.endsWith(`/queries/${posted.id}/answers`))!.id}`)).body.payload as { record: { ciphertext: string } }
  assert.ok(!Buffer.from(record.record.ciphertext, 'base64url').toString('latin1').includes('8000'), 'the record leaves sealed')

  // Nine others at medium walk between 8,000 and 9,000 a day too: with the box, a class of k = 10.
  const page = await market('GET', `/api/v1/feed?since=${posted.seq - 1}&limit=1`)
  for (let i = 0; i < 9; i++) assert.equal((await sendAnswer(marketUrl, datasetAnswerOf(makeBox(), page.queries[0], 'medium', [8000 + i * 100]))).status, 202)
  await market('POST', `/api/v1/queries/${posted.id}/close`)
  await leader.releaseDue()
  const result = await market('GET', `/api/v1/queries/${posted.id}/result`)
  assert.deepEqual(result.dataset.classes, [{ level: 'medium', k: 10, l: 3, records: 10, values: [8000] }])
  assert.deepEqual(result.dataset.rows, Array.from({ length: 10 }, () => [8000]))
  assert.equal(result.payment.owners, 10)
})

test('a query whose deadline passes while it waits for the owner is closed, and says why', async () => {
  const posted = await market('POST', '/api/v1/queries', {
    question: 'SELECT COUNT(*)', purpose: 'How many answer within two seconds.', price: { amount: 1, currency: 'sat' },
    deadline: new Date(Date.now() + 2000).toISOString(), participants: { min: 10, max: 100 }, bounds: {}, answer: 'statistics', retention: '30d',
  })
  assert.match(await coffer('sync'), /1 new query/)
  assert.match(await coffer('list'), new RegExp(`${posted.id}\\s+waiting`))
  await new Promise((resolve) => setTimeout(resolve, 2200))
  await coffer('sync')
  assert.match(await coffer('list'), new RegExp(`${posted.id}\\s+closed`))
  assert.match(await coffer('show', posted.id), /closed \(its deadline \(.*\) passed before you decided\)/)
  const late = await cli(['--home', home, 'market', 'accept', posted.id])
  assert.notEqual(late.code, 0)
})
