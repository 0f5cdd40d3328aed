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
import { startMarket, tempDir, type Running } from '../../market/test/helpers.ts'
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
  assert.match(privacy, /does not publish its privacy table yet|ε per answer/, 'the levels, and their ε when the market publishes them')

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
  // Expected refusals: the privacy table and the result where the market has none, and the wrong key.
  const expected = /^Failed to load resource: the server responded with a status of (404 \(Not Found\) \/api\/v1\/(privacy|queries\/[^/]+\/result)|401 \(Unauthorized\) \/api\/v1\/processors\/me)$/
  assert.deepEqual(errors.filter((e) => !expected.test(e)), [], 'no console errors or policy violations on the way')
})
