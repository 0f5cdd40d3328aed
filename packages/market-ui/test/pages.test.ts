/**
 * The market's pages in a real browser against a real market (embedded storage, a free port):
 * a processor registers, keeps the key shown once, writes a query with a mistake and sees it at
 * its line and column as they type, fixes it, declares bounds, sees the price and privacy,
 * posts it, finds it listed and on its own page with no result yet, signs out and back in.
 * Every page is checked with axe-core and photographed into test-artifacts/.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import type { BrowserContext, Page } from 'playwright-core'
import { fund, startMarket, tempDir, type Running } from '../../market/test/helpers.ts'
import { assertAccessible, assertBuilt, assertKeyboardReachable, launch, screenshot, watchErrors } from './browser.ts'

let market: Running
let context: BrowserContext
let page: Page
let errors: string[]
let key: string

before(async () => {
  assertBuilt()
  market = await startMarket('pglite')
  context = await launch(tempDir('coffer-market-chromium-'))
  page = context.pages()[0] ?? await context.newPage()
  errors = watchErrors(page)
})

after(async () => {
  await context?.close()
  await market?.close()
})

const storedKey = () => page.evaluate(() => ({ session: sessionStorage.getItem('coffer-market.key'), local: localStorage.length }))

test('a processor registers and is shown its API key once, kept in this tab only', async () => {
  await page.goto(market.url)
  await page.getByRole('heading', { level: 1, name: 'Coffer market' }).waitFor()
  await assertAccessible(page, 'sign-in')
  await page.getByRole('link', { name: 'Register as a processor' }).click()
  await page.getByRole('heading', { level: 1, name: 'Register a processor' }).waitFor()

  await page.getByRole('button', { name: 'Register' }).click()
  await page.getByRole('alert').filter({ hasText: 'Enter a name' }).waitFor()
  assert.equal(await page.getByLabel('Name').getAttribute('aria-invalid'), 'true')

  await page.getByLabel('Name').fill('Aachen Institute of Urban Health')
  await page.getByLabel('Contact (optional)').fill('research@example.org')
  await assertAccessible(page, 'register')
  await page.getByRole('button', { name: 'Register' }).click()
  await page.getByRole('heading', { level: 1, name: 'Your API key' }).waitFor()
  key = await page.getByLabel('API key').inputValue()
  assert.match(key, /^cmk_/)
  assert.deepEqual(await storedKey(), { session: null, local: 0 }, 'not kept before the processor says they have it')
  await screenshot(page, 'key')

  await page.getByRole('button', { name: 'I have kept it: continue' }).click()
  await page.getByRole('heading', { level: 1, name: 'New query' }).waitFor()
  assert.deepEqual(await storedKey(), { session: key, local: 0 })
  assert.ok(!page.url().includes(key), 'never in a URL')
  await page.getByText('Signed in as').getByText('Aachen Institute of Urban Health').waitFor()
})

test('the editor checks the query as it is typed, shows each problem at its line and column, and posts it once fixed', async () => {
  const question = page.getByLabel('Question', { exact: true })
  const status = page.locator('#check-status')
  await status.filter({ hasText: 'problems to fix' }).waitFor()
  assert.equal(await page.locator('#purpose-problems').textContent(), 'Say why you ask, in plain words: owners read it before they decide.')

  await page.getByLabel('Purpose').fill('How old the people of Aachen are, for planning school places.')
  await question.click()
  await page.keyboard.type('SELECT AVG(Identity.age)\nWHERE Identity.city < aachen')
  const problem = page.locator('#question-problems li')
  await problem.filter({ hasText: 'Line 2, column 21' }).waitFor()
  assert.match(await problem.textContent() ?? '', /< compares numbers, and Identity\.city is a text: use = or !=\./)
  assert.equal(await problem.locator('mark').textContent(), '<', 'the place is marked in the line')
  assert.equal(await question.getAttribute('aria-invalid'), 'true')
  assert.match(await question.getAttribute('aria-describedby') ?? '', /question-problems/)
  await page.getByText('Identity.age').first().waitFor()
  await page.getByRole('group', { name: 'Declared bounds' }).getByText('Declare bounds for Identity.age').waitFor()
  await status.filter({ hasText: '2 problems to fix before posting.' }).waitFor()
  await assertAccessible(page, 'editor with problems')
  await screenshot(page, 'editor-problems')

  await page.getByRole('button', { name: /Show it in the question/ }).click()
  const selection = await question.evaluate((el: HTMLTextAreaElement) => [el.selectionStart, el.selectionEnd, document.activeElement === el])
  assert.deepEqual(selection, [45, 46, true], 'the cursor is put on the problem')

  await page.getByRole('button', { name: 'Post query' }).click()
  await page.getByRole('alert').filter({ hasText: 'Fix the 2 problems marked below, then post.' }).waitFor()
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'question', 'focus goes to the first problem')

  // Fix the comparison by typing over the selected "<".
  await question.evaluate((el: HTMLTextAreaElement) => el.setSelectionRange(45, 46))
  await page.keyboard.type('=')
  await page.locator('#question-problems').waitFor({ state: 'detached' })
  await page.getByLabel('from (lowest Identity.age)').fill('0')
  await page.getByLabel('to (highest Identity.age)').fill('abc')
  await page.getByText('Enter the highest value of Identity.age you expect, as a number.').waitFor()
  await page.getByLabel('to (highest Identity.age)').fill('120')
  await status.filter({ hasText: 'No problems: ready to post.' }).waitFor()

  const summary = page.getByRole('complementary', { name: 'What you are asking' })
  await summary.getByText('SELECT AVG(Identity.age) WHERE Identity.city = aachen').waitFor()
  assert.match(await summary.locator('.plain').textContent() ?? '', /age/i, 'the question in plain words')
  await summary.getByText('100 sat × 1,000 participants = 100,000 sat').waitFor()
  await summary.getByText('Identity.age: 0 to 120').waitFor()
  const privacy = await summary.textContent() ?? ''
  assert.match(privacy, /Each owner chose a privacy level for Identity/)
  assert.match(privacy, /ε per answer/, 'the levels, with the ε the market publishes for each')
  assert.match(privacy, /What the market sees: Which boxes answered and at which privacy level\. Each answer is two encrypted shares/)

  await page.getByLabel('Price per participant (sat)').fill('250')
  await page.getByLabel('Most participants').fill('400')
  await summary.getByText('250 sat × 400 participants = 100,000 sat').waitFor()
  await page.getByLabel('Fewest participants').fill('5')
  await page.locator('#min-problems').waitFor()
  assert.match(await page.locator('#min-problems').textContent() ?? '', /10/, 'the market floor, beside the field')
  assert.equal(await page.getByLabel('Fewest participants').getAttribute('aria-invalid'), 'true')
  await page.getByLabel('Fewest participants').fill('20')
  await status.filter({ hasText: 'No problems: ready to post.' }).waitFor()
  await assertAccessible(page, 'editor ready')
  await assertKeyboardReachable(page, 'editor')
  await screenshot(page, 'editor-ready')

  // Posting holds 100,000 sat in escrow: refused until the operator has recorded a deposit.
  await summary.getByText('Held from your balance of 0 sat when you post; what is not paid out comes back.').waitFor()
  await summary.getByText('Your balance does not cover it yet:').waitFor()
  await page.getByRole('button', { name: 'Post query' }).click()
  await page.getByRole('alert').filter({ hasText: 'Posting this query holds 100,000 sat in escrow (250 sat × 400 participants at most), and your balance is 0 sat.' }).waitFor()
  const me = (await market.api('GET', '/api/v1/processors/me', { key })).body
  await fund(market, me.id, 150_000, 'bank transfer 42')
  await page.getByRole('button', { name: 'Post query' }).click()
  await page.getByRole('heading', { level: 1, name: 'Query #1' }).waitFor()
  await page.getByText('No result yet.').waitFor()
  await page.getByText('0 accepted, 0 answered, 0 declined (of at most 400).').waitFor()
  await assertAccessible(page, 'query')
  await screenshot(page, 'query')

  const posted = await market.api('GET', '/api/v1/queries', { key })
  assert.equal(posted.body.queries.length, 1)
  assert.equal(posted.body.queries[0].text, 'SELECT AVG(Identity.age) WHERE Identity.city = aachen')
  assert.deepEqual(posted.body.queries[0].spec.bounds, { 'Identity.age': { lo: 0, hi: 120 } })
  assert.deepEqual(posted.body.queries[0].spec.participants, { min: 20, max: 400 })
  assert.equal(posted.body.queries[0].spec.price.amount, 250)
})

test('the account shows the balance, what the query holds, and each movement', async () => {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Account' }).click()
  await page.getByRole('heading', { level: 1, name: 'Account' }).waitFor()
  const facts = page.locator('.facts')
  await facts.getByText('50,000 sat').waitFor()
  await facts.getByText('100,000 sat').waitFor()
  const movements = page.getByRole('table', { name: 'Your balance’s movements, newest first' })
  await movements.getByRole('row').filter({ hasText: 'Held for a query' }).filter({ hasText: '−100,000 sat' }).waitFor()
  await movements.getByRole('row').filter({ hasText: 'Deposit' }).filter({ hasText: '+150,000 sat' }).filter({ hasText: 'bank transfer 42' }).waitFor()
  const me = (await market.api('GET', '/api/v1/processors/me', { key })).body
  await page.getByText(me.id).waitFor()
  await assertAccessible(page, 'account')
  await screenshot(page, 'account')
})

test('the list shows each query with its state and participation; a reload keeps the page', async () => {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Your queries' }).click()
  await page.getByRole('heading', { level: 1, name: 'Your queries' }).waitFor()
  const row = page.getByRole('row').filter({ hasText: 'SELECT AVG(Identity.age)' })
  await row.getByText('open').waitFor()
  await row.getByText('0 accepted, 0 answered, 0 declined (of at most 400)').waitFor()
  await assertAccessible(page, 'queries')
  await screenshot(page, 'queries')

  await row.getByRole('link').click()
  await page.getByRole('heading', { level: 1, name: 'Query #1' }).waitFor()
  await page.reload()
  await page.getByRole('heading', { level: 1, name: 'Query #1' }).waitFor()

  await page.getByRole('button', { name: 'Close to new participants…' }).click()
  await page.getByRole('button', { name: 'Close it' }).click()
  await page.getByText(/^closed/).first().waitFor()
  assert.equal((await market.api('GET', '/api/v1/queries', { key })).body.queries[0].status, 'closed')
})

/**
 * A released result, in the shape the market's OpenAPI document gives GET /queries/:id/result,
 * answered in the browser: releasing one for real takes boxes answering through both
 * aggregators, which the market's own tests do. This checks the page shows and downloads it.
 */
const RELEASED = {
  queryId: '', state: 'released', statistic: { kind: 'mean', attribute: 'Identity.age', bounds: { lower: 0, upper: 120, decimals: 0 } },
  minimum: 20, participants: { total: 60, low: 30, medium: 20, high: 10 }, releasedAt: '2026-12-30T12:00:05.000Z',
  value: 41.5, matched: 57, standardDeviation: 1.25, halfWidth95: 2.5, interval95: [39, 44],
  classes: [
    { level: 'low', epsilon: '1', reports: 30, value: 40.9, standardDeviation: 1.5, halfWidth95: 3, interval95: [37.9, 43.9], noise: { leader: null, helper: null } },
    { level: 'high', epsilon: '1/10', reports: 10, value: 44, standardDeviation: 15, halfWidth95: 30, interval95: [14, 74], noise: { leader: null, helper: null } },
  ],
  parameters: { protocol: 'Prio3', mechanism: 'discrete-laplace', aggregators: 2, note: 'Each aggregator adds the full noise.' },
  payment: { owners: 60, paid: 15_000, refunded: 85_000 },
}
const RELEASED_CSV = 'query_id,state,class,epsilon,participants,value,standard_deviation,ci95_low,ci95_high\nq,released,all,,60,41.5,1.25,39,44\n'

test('a released result shows the merged value with its error, each class with its ε, and downloads as JSON and CSV', async () => {
  const served: string[] = []
  await page.route('**/api/v1/queries/*/result*', async (route) => {
    const url = new URL(route.request().url())
    served.push(`${url.search} ${route.request().headers().authorization === `Bearer ${key}` ? 'with key' : 'without key'}`)
    if (url.searchParams.get('format') === 'csv') await route.fulfill({ status: 200, contentType: 'text/csv; charset=utf-8', body: RELEASED_CSV })
    else await route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(RELEASED) })
  })
  try {
    await page.reload()
    await page.getByRole('heading', { level: 1, name: 'Query #1' }).waitFor()
    const merged = page.getByRole('table', { name: 'The merged result, with the error to expect' })
    await merged.getByRole('row').filter({ hasText: '41.5' }).filter({ hasText: '± 1.25' }).filter({ hasText: '39 to 44' }).waitFor()
    const classes = page.getByRole('table', { name: 'Each privacy class, noised at its own ε' })
    await classes.getByRole('row').filter({ hasText: 'high' }).filter({ hasText: '1/10' }).waitFor()
    await page.getByText('Participants: 60 (30 at low, 20 at medium, 10 at high).').waitFor()
    await page.getByText('What it cost: 15,000 sat to 60 owners whose answers were counted; 85,000 sat of the escrow came back to your balance.').waitFor()
    await page.getByRole('cell', { name: 'discrete-laplace' }).waitFor()
    await assertAccessible(page, 'result')
    await screenshot(page, 'result')

    for (const [button, check] of [
      ['Download JSON', (text: string) => assert.deepEqual(JSON.parse(text), RELEASED)],
      ['Download CSV', (text: string) => assert.equal(text, RELEASED_CSV)],
    ] as const) {
      const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: button }).click()])
      assert.match(download.suggestedFilename(), /^coffer-query-1-result\.(json|csv)$/)
      const stream = await download.createReadStream()
      const chunks: Buffer[] = []
      for await (const chunk of stream) chunks.push(chunk as Buffer)
      check(Buffer.concat(chunks).toString('utf8'))
    }
    assert.ok(served.every((s) => s.endsWith('with key')), 'every result request carries the key in its header')
    assert.ok(served.some((s) => s.startsWith('?format=csv')), 'the CSV is the market\'s own')
    assert.ok(!page.url().includes(key))
  } finally {
    await page.unroute('**/api/v1/queries/*/result*')
  }
})

test('a released dataset shows each class with its k and l, what was suppressed, and the records', async () => {
  await page.route('**/api/v1/queries/*/result*', (route) => route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(DATASET) }))
  try {
    await page.reload()
    await page.getByRole('heading', { level: 1, name: 'Query #1' }).waitFor()
    await page.getByText(/6 records in 1 class\. 15 suppressed .*; 1 rejected as forged\./).waitFor()
    const classes = page.getByRole('table', { name: /Each released class/ })
    await classes.getByRole('row').filter({ hasText: 'low' }).filter({ hasText: '30, Aachen' }).waitFor()
    const records = page.getByRole('table', { name: 'The records, in random order' })
    assert.deepEqual(await records.getByRole('columnheader').allInnerTexts(), ['Identity.age BAND 10', 'Identity.city', 'SENSITIVE Health.smoker'])
    assert.equal(await records.getByRole('row').count(), 7)
    await page.getByRole('cell', { name: 'k-anonymity' }).waitFor()
    await assertAccessible(page, 'dataset')
    await screenshot(page, 'dataset')
  } finally {
    await page.unroute('**/api/v1/queries/*/result*')
  }
})

test('signing out forgets the key; a wrong key is refused with what to do; the right one signs in again, back where the processor was', async () => {
  await page.getByRole('button', { name: 'Sign out' }).click()
  await page.getByRole('heading', { level: 1, name: 'Coffer market' }).waitFor()
  assert.deepEqual(await storedKey(), { session: null, local: 0 })

  await page.getByLabel('API key').fill('cmk_not-a-key')
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.getByRole('alert').filter({ hasText: 'The market does not know this key' }).waitFor()
  assert.equal(await storedKey().then((s) => s.session), null)

  await page.getByLabel('API key').fill(key)
  await page.keyboard.press('Enter')
  await page.getByRole('heading', { level: 1, name: 'Query #1' }).waitFor({ state: 'visible' })
  assert.ok(!page.url().includes(key))
  // Expected refusals: the result where the market has none, the wrong key, and the post before the deposit.
  const expected = /^Failed to load resource: the server responded with a status of (404 \(Not Found\) \/api\/v1\/queries\/[^/]+\/result|401 \(Unauthorized\) \/api\/v1\/processors\/me|402 \(Payment Required\) \/api\/v1\/queries)$/
  assert.deepEqual(errors.filter((e) => !expected.test(e)), [], 'no console errors or policy violations on the way')
})

const DATASET = {
  queryId: 'q', state: 'released', releasedAt: '2026-12-01T12:00:00.000Z', minimum: 10,
  message: '6 of 22 records released in 1 classes; 15 suppressed, 1 rejected as forged.',
  participants: { total: 22, low: 17, medium: 5, high: 0 }, classes: [],
  payment: { owners: 21, paid: 2100, refunded: 97900 },
  dataset: {
    columns: [
      { name: 'Identity.age BAND 10', attribute: 'Identity.age', generalisation: 'band 10', sensitive: false },
      { name: 'Identity.city', attribute: 'Identity.city', generalisation: null, sensitive: false },
      { name: 'SENSITIVE Health.smoker', attribute: 'Health.smoker', generalisation: null, sensitive: true },
    ],
    rows: [[30, 'Aachen', true], [30, 'Aachen', false], [30, 'Aachen', false], [30, 'Aachen', true], [30, 'Aachen', false], [30, 'Aachen', false]],
    classes: [{ level: 'low', k: 5, l: 2, records: 6, values: [30, 'Aachen'] }],
    suppressed: 15, rejected: 1,
  },
  parameters: { protocol: 'coffer-star-v1', mechanism: 'k-anonymity', aggregators: 1, note: 'Each box generalises its own record.' },
}
