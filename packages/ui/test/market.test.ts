/**
 * The Market page in a real browser against a real box and a real pair of markets (leader and
 * helper, embedded storage, real sockets): the owner joins a market, opens Activity at medium,
 * reads a processor's query in plain words, accepts it and sees it answered, and the market
 * counts that one answer; a query about Identity, which the owner does not share, shows that it
 * cannot be answered and offers no Accept; a declined one is never answered. Rules and the
 * attribute mapping are edited and kept. Checked with axe-core and the keyboard, on a desktop
 * and at a phone's width, and photographed into test-artifacts/.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import type { BrowserContext, Locator, Page } from 'playwright-core'
import { createMarket, newWalletKey, type Market } from '@coffer/market'
import { startBox, type Running } from '../../box/test/helpers.ts'
import { answerOf, makeBox, sendAnswer } from '../../market/test/boxes.ts'
import { addressOf, startFakeNode, type FakeNode } from '../../market/test/bitcoin.ts'
import { assertAccessible, assertKeyboardReachable, assertNoSidewaysScroll, loggedIn, screenshot } from './browser.ts'

const DAY = 86400
let helper: Market
let leader: Market
let marketUrl: string
let key: string
let box: Running
let context: BrowserContext
let page: Page
let errors: string[]
let node: FakeNode
const start = Math.floor(Date.now() / 1000 / DAY) * DAY - 20 * DAY
const day = (t: number) => new Date(t * 1000).toISOString().slice(0, 10)

/** The market's own API, as a processor calls it. */
async function processor(method: string, route: string, body?: unknown): Promise<any> {
  const res = await fetch(marketUrl + route, {
    method, body: body === undefined ? undefined : JSON.stringify(body),
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...(key ? { authorization: `Bearer ${key}` } : {}) },
  })
  const answer = await res.json()
  if (!res.ok) throw new Error(`${method} ${route}: ${res.status} ${JSON.stringify(answer)}`)
  return answer
}

function post(question: string, purpose: string, price: number, bounds: Record<string, { lo: number; hi: number }>) {
  return processor('POST', '/api/v1/queries', {
    question, purpose, price: { amount: price, currency: 'sat' }, deadline: new Date(Date.now() + 30 * DAY * 1000).toISOString(),
    participants: { min: 10, max: 1000 }, bounds, answer: 'statistics', retention: '1y',
  }) as Promise<{ id: string }>
}

before(async () => {
  helper = createMarket({ port: 0, logLevel: 'silent', aggregation: { role: 'helper', leaderToken: 'between-operators', verifyKey: 'agreed by both operators' } })
  await helper.open()
  const helperUrl = await helper.listen()
  node = await startFakeNode()
  leader = createMarket({
    port: 0, logLevel: 'silent', aggregation: { role: 'leader', helper: { url: helperUrl, token: 'between-operators' }, verifyKey: 'agreed by both operators', releasePollMs: 60_000 },
    payments: { network: 'regtest', threshold: 1000, feeRate: 1, walletKey: newWalletKey('regtest').key, bitcoinRpc: node.url, payoutEveryMs: 0 },
  })
  await leader.open()
  marketUrl = await leader.listen()
  const registered = await processor('POST', '/api/v1/processors', { name: 'Walking study', contact: 'study@example.org' })
  key = registered.key
  await leader.payments.deposit({ processorId: registered.processor.id, amount: 10_000_000, reference: 'study grant' })

  box = await startBox()
  // Two weeks of daily step counts, named as the Apple Health importer names them.
  await box.box.store.add({ id: 'steps', logicalType: 'activity', description: 'Steps', attributes: [{ name: 'steps', technicalType: 'number', unit: 'count' }] })
  await box.box.store.get('steps').appendRecords(Array.from({ length: 14 }, (_, i) => ({ n: 'steps', u: 'count', t: start + i * DAY + 3600, v: 8000 + i * 100 })))
  ;({ context, page, errors } = await loggedIn(box.url))
})

after(async () => {
  await context?.close()
  await box?.close()
  await leader?.close()
  await helper?.close()
  await node?.close()
})

const section = (name: string): Locator => page.getByRole('region', { name })
const queryCard = (id: string): Locator => section('Queries').getByRole('listitem').filter({ hasText: `Query ${id} ` })
const fact = (of: Locator, name: string): Locator => of.locator('.facts div').filter({ has: page.getByText(name, { exact: true }) }).locator('dd')

test('the Market page is in the navigation and says what joining means', async () => {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Market' }).click()
  await page.getByRole('heading', { level: 1, name: 'Market' }).waitFor()
  assert.equal(await page.title(), 'Market · Coffer')
  await page.getByText('You have joined no market yet.').waitFor()
  await page.getByText('No queries yet.').waitFor()
  await assertAccessible(page, 'market, nothing joined')
})

test('a bad address is refused with what to do, and nothing is joined', async () => {
  await page.getByRole('button', { name: 'Join', exact: true }).click()
  await page.getByRole('alert').filter({ hasText: 'Enter the market’s address first' }).waitFor()
  await page.getByLabel('Market address').fill('ftp://market.example.org')
  await page.getByRole('button', { name: 'Join', exact: true }).click()
  await page.getByRole('alert').filter({ hasText: 'not ftp:' }).waitFor()
  assert.deepEqual((await box.api('GET', '/api/v1/markets')).body, [])
  // The browser logs the box's refusal itself; that one is expected.
  assert.ok(errors.length > 0 && errors.every((e) => e.includes('400')), errors.join('\n'))
  errors.length = 0
})

test('the owner joins, opens Activity at medium, reads a query in plain words, accepts it, and the box answers once', async () => {
  await page.getByLabel('Market address').fill(marketUrl)
  await page.getByRole('button', { name: 'Join', exact: true }).click()
  await page.getByRole('status').filter({ hasText: /Joined .* 0 queries read\./ }).waitFor()
  const [joined] = (await box.api('GET', '/api/v1/markets')).body as { id: string }[]
  const marketCard = section('Markets').getByRole('listitem').filter({ has: page.getByRole('heading', { level: 3, name: joined!.id }) })
  await marketCard.waitFor()
  assert.notEqual(await fact(marketCard, 'Last read').textContent(), 'never')

  // The kinds of data come from the market's vocabulary; none is shared until the owner chooses.
  const levels = section('Privacy levels')
  const activity = levels.getByLabel('Activity', { exact: true })
  assert.equal(await activity.inputValue(), 'dont_share')
  assert.equal(await levels.getByLabel('Identity', { exact: true }).inputValue(), 'dont_share')
  await levels.getByRole('row', { name: /^Medium/ }).filter({ hasText: '1/2' }).waitFor()
  await activity.selectOption('medium')
  await levels.getByText(/ε = 1\/2 per answer, at most 2 per month/).waitFor()
  await levels.getByRole('button', { name: 'Save levels' }).click()
  await levels.getByRole('status').filter({ hasText: 'Saved: Activity medium' }).waitFor()
  assert.deepEqual((await box.api('GET', '/api/v1/market/levels')).body, { Activity: 'medium' })

  // The box maps Activity.steps to the steps source by its record name.
  const mapping = section('Where your box finds the data')
  await mapping.getByRole('row', { name: /^Activity\.steps/ }).getByRole('cell', { name: 'the box, by its name', exact: true }).waitFor()

  const posted = await post(
    `SELECT AVG(MEAN(SUM(Activity.steps) PER 1d) DURING ${day(start)} .. ${day(start + 14 * DAY)})`,
    'How much people walk, for a public health study.', 250, { 'Activity.steps': { lo: 0, hi: 30000 } },
  )
  await marketCard.getByRole('button', { name: /^Read now/ }).click()
  await page.getByRole('status').filter({ hasText: `${joined!.id}: 1 new query.` }).waitFor()

  const card = queryCard(posted.id)
  await card.waitFor()
  await card.getByRole('heading', { level: 3, name: /^The average of your daily step totals from/ }).waitFor()
  assert.match(await card.textContent() ?? '', /waiting for you/)
  assert.equal(await fact(card, 'Who asks').textContent(), 'Walking study <study@example.org>')
  assert.equal(await fact(card, 'Why').textContent(), 'How much people walk, for a public health study.')
  assert.match(await fact(card, 'What leaves').textContent() ?? '', /^Two encrypted shares of your value, clipped to Activity\.steps between 0 and 30,000,/)
  assert.match(await fact(card, 'How it is protected').textContent() ?? '', /at medium privacy, your level for Activity: noise with ε = 1\/2 per answer/)
  assert.equal(await fact(card, 'What it pays').textContent(), '250 sat to each participant')
  assert.match(await fact(card, 'Participants').textContent() ?? '', /^at least 10, at most 1,000/)
  assert.equal(await fact(card, 'Kept by the processor').textContent(), '1 year')
  await assertAccessible(page, 'market, a query waiting')
  await screenshot(page, 'market-waiting')

  await card.getByRole('button', { name: 'Accept' }).click()
  await card.getByRole('status').filter({ hasText: 'Answered at level medium: your box sent its two encrypted shares to the market.' }).waitFor()
  await card.locator('.state').filter({ hasText: 'answered at level medium' }).waitFor()
  assert.equal(await card.getByRole('button', { name: 'Accept' }).count(), 0)
  assert.match(await fact(card, 'What leaves').textContent() ?? '', /^Sent: two encrypted shares/)

  const participation = (await processor('GET', `/api/v1/queries/${posted.id}`)).participation
  assert.equal(participation.answered, 1)
  assert.equal(participation.levels.medium, 1)
  const sent = (await box.api('GET', '/api/v1/exports')).body as { state: string; destination: string }[]
  assert.deepEqual(sent.map((e) => [e.destination.endsWith(`/queries/${posted.id}/answers`), e.state]), [[true, 'sent']])
})

test('a query about Identity, which the owner does not share, says it cannot be answered and offers no Accept', async () => {
  const posted = await post('SELECT COUNT(*) WHERE Identity.age > 30', 'How many are over 30.', 1000, {})
  await section('Markets').getByRole('button', { name: /^Read now/ }).click()
  await page.getByRole('status').filter({ hasText: '1 new query.' }).waitFor()
  const card = queryCard(posted.id)
  await card.waitFor()
  await card.locator('.state').filter({ hasText: 'cannot be answered' }).waitFor()
  assert.match(await card.textContent() ?? '', /it asks for Identity, which you do not share/)
  assert.equal(await fact(card, 'What leaves').textContent(), 'Nothing: your box cannot answer it.')
  assert.match(await fact(card, 'How it is protected').textContent() ?? '', /^You do not share Identity/)
  assert.equal(await fact(card, 'What it pays').textContent(), '1,000 sat to each participant')
  assert.equal(await card.getByRole('button').count(), 0)
  assert.equal((await processor('GET', `/api/v1/queries/${posted.id}`)).participation.answered, 0)
})

test('a declined query is never answered, and says so', async () => {
  const posted = await post(`SELECT AVG(MEAN(SUM(Activity.steps) PER 1d) DURING ${day(start)} .. ${day(start + 7 * DAY)})`, 'Steps in a week, for an insurer.', 50, { 'Activity.steps': { lo: 0, hi: 30000 } })
  await section('Markets').getByRole('button', { name: /^Read now/ }).click()
  const card = queryCard(posted.id)
  await card.getByRole('button', { name: 'Decline' }).click()
  await card.getByRole('status').filter({ hasText: 'Declined: your box will not answer it.' }).waitFor()
  await card.locator('.state').filter({ hasText: 'declined' }).waitFor()
  assert.equal(await fact(card, 'What leaves').textContent(), 'Nothing: you declined it.')
  assert.equal(await card.getByRole('button').count(), 0)
  assert.equal((await processor('GET', `/api/v1/queries/${posted.id}`)).participation.answered, 0)
})

test('the page shows what an answer earned, the balance and the payout, and sets the payout address', async () => {
  const posted = await processor('POST', '/api/v1/queries', {
    question: `SELECT AVG(MEAN(SUM(Activity.steps) PER 1d) DURING ${day(start)} .. ${day(start + 14 * DAY)})`, purpose: 'Steps, for a city walking plan.',
    price: { amount: 2000, currency: 'sat' }, deadline: new Date(Date.now() + 30 * DAY * 1000).toISOString(),
    participants: { min: 10, max: 20 }, bounds: { 'Activity.steps': { lo: 0, hi: 30000 } }, answer: 'statistics', retention: '1y',
  }) as { id: string; seq: number }
  const markets = section('Markets')
  await markets.getByRole('button', { name: /^Read now/ }).click()
  const card = queryCard(posted.id)
  await card.getByRole('button', { name: 'Accept' }).click()
  await card.locator('.state').filter({ hasText: 'answered at level medium' }).waitFor()
  assert.equal(await fact(card, 'Earned').textContent(), 'Nothing yet: the market pays once it releases the result, if the query reaches its minimum.')

  const published = (await processor('GET', `/api/v1/feed?since=${posted.seq - 1}&limit=1`)).queries[0]
  for (let i = 0; i < 9; i++) assert.equal((await sendAnswer(marketUrl, await answerOf(makeBox(), published, 'medium', 9000 + 100 * i))).status, 202)
  await processor('POST', `/api/v1/queries/${posted.id}/close`)
  await leader.releaseDue()
  await markets.getByRole('button', { name: /^Read now/ }).click()
  await fact(card, 'Earned').filter({ hasText: /^2,000 sat, paid into your balance on \d{4}-\d{2}-\d{2}$/ }).waitFor()
  await fact(markets, 'Your balance').filter({ hasText: '2,000 sat' }).waitFor()
  assert.equal(await fact(markets, 'Paid to').textContent(), 'no address yet')

  const address = markets.getByLabel('Payout address')
  await address.fill(addressOf(5, 'testnet'))
  await markets.getByRole('button', { name: 'Save address' }).click()
  await markets.getByRole('alert').filter({ hasText: 'is not a regtest address' }).waitFor()
  await address.fill(addressOf(5))
  await markets.getByRole('button', { name: 'Save address' }).click()
  await page.getByRole('status').filter({ hasText: `pays you at ${addressOf(5)}.` }).waitFor()
  await fact(markets, 'Paid to').filter({ hasText: addressOf(5) }).waitFor()

  await leader.payouts!.addCoin(node.fund((await leader.payouts!.walletState()).address, 50_000))
  const run = await leader.runPayouts()
  node.mine()
  await leader.runPayouts()
  await markets.getByRole('button', { name: /^Read now/ }).click()
  const payouts = markets.getByRole('region', { name: /^Payouts from / })
  const row = payouts.getByRole('row').filter({ hasText: run.made[0]!.txid.slice(0, 16) })
  await row.filter({ hasText: 'confirmed: paid' }).waitFor()
  assert.match(await row.textContent() ?? '', new RegExp(`${(2000 - run.made[0]!.feePerOwner).toLocaleString('en')} sat${run.made[0]!.feePerOwner} sat`))
  await fact(markets, 'Your balance').filter({ hasText: /^0 sat$/ }).waitFor()
  await assertAccessible(page, 'market, paid out')
  await screenshot(page, 'market-paid')
  // The refused address is the browser's to log, as the box answered it.
  assert.ok(errors.every((e) => e.includes('400')), errors.join('\n'))
  errors.length = 0
})

test('rules are added, ordered and removed, and the box keeps them in order', async () => {
  const rules = section('Rules')
  await rules.getByText('No rules: every query your levels allow waits for you.').waitFor()
  await rules.getByRole('button', { name: 'Add a rule' }).click()
  await rules.getByRole('button', { name: 'Add a rule' }).click()
  const first = rules.getByRole('group', { name: 'Rule 1' })
  const second = rules.getByRole('group', { name: 'Rule 2' })
  await first.getByRole('group', { name: 'Only about' }).getByLabel('Activity', { exact: true }).check()
  await first.getByLabel('Paying at least (sat)').fill('100')
  await first.getByRole('group', { name: 'Asking for' }).getByLabel(/statistics/).check()
  await first.getByText('Accept queries only about Activity, paying at least 100 sat, asking for statistics (counts, sums, averages).').waitFor()
  await second.getByLabel('Then').selectOption('decline')
  await second.getByLabel('Purpose mentions').fill('advertising')

  await second.getByLabel('Paying at least (sat)').fill('lots')
  await rules.getByRole('button', { name: 'Save rules' }).click()
  await rules.getByRole('alert').filter({ hasText: 'Rule 2: the least price is a whole number of satoshis' }).waitFor()
  assert.deepEqual((await box.api('GET', '/api/v1/market/rules')).body, [])
  await second.getByLabel('Paying at least (sat)').fill('')

  // The decline rule goes first: the first rule that matches decides.
  await rules.getByRole('button', { name: 'Move up rule 2' }).click()
  await rules.getByRole('group', { name: 'Rule 1' }).getByText('Decline queries whose purpose mentions “advertising”.').waitFor()
  await rules.getByRole('button', { name: 'Add a rule' }).click()
  await rules.getByRole('button', { name: 'Remove rule 3' }).click()
  await rules.getByRole('button', { name: 'Save rules' }).click()
  await rules.getByRole('status').filter({ hasText: 'Saved 2 rules.' }).waitFor()
  assert.deepEqual((await box.api('GET', '/api/v1/market/rules')).body, [
    { action: 'decline', purposeIncludes: 'advertising' },
    { action: 'accept', logicalTypes: ['Activity'], minPrice: 100, answers: ['statistics'] },
  ])

  await page.reload()
  await section('Rules').getByRole('group', { name: 'Rule 2' }).getByText('Accept queries only about Activity, paying at least 100 sat, asking for statistics (counts, sums, averages).').waitFor()
})

test('the owner picks the source an attribute is found in', async () => {
  const mapping = section('Where your box finds the data')
  const distance = mapping.getByLabel('Activity.distance', { exact: true })
  assert.equal(await distance.inputValue(), '')
  await distance.selectOption({ label: 'steps: steps (count)' })
  await mapping.getByRole('button', { name: 'Save where to find the data' }).click()
  await mapping.getByRole('status').filter({ hasText: 'Saved where the box finds Activity.distance.' }).waitFor()
  await mapping.getByRole('row', { name: /^Activity\.distance/ }).getByRole('cell', { name: 'you', exact: true }).waitFor()
  const [joined] = (await box.api('GET', '/api/v1/markets')).body as { id: string }[]
  const rows = (await box.api('GET', `/api/v1/markets/${joined!.id}/mapping`)).body as { attribute: string; source: string; name: string; by: string }[]
  assert.deepEqual(rows.find((r) => r.attribute === 'Activity.distance'), { attribute: 'Activity.distance', technicalType: 'number', unit: 'm', source: 'steps', name: 'steps', by: 'owner' })
})

test('the whole page passes axe and every control is reached by the keyboard, on a desktop and at a phone\'s width without sideways scrolling', async () => {
  await assertAccessible(page, 'market')
  await assertKeyboardReachable(page, 'market')
  await screenshot(page, 'market')
  await page.setViewportSize({ width: 390, height: 844 })
  await assertNoSidewaysScroll(page, 'the Market page')
  await assertAccessible(page, 'market at 390px')
  await assertKeyboardReachable(page, 'market at 390px')
  await screenshot(page, 'market-390')
  await page.setViewportSize({ width: 1280, height: 900 })
})

test('no console errors on the way', () => {
  assert.deepEqual(errors, [])
})
