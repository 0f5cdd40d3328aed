/**
 * Importing a CSV file in the cockpit, in a real browser against a real box: a bank export in
 * Windows-1252 with semicolons and decimal commas is read by the box, its mapping guessed and
 * corrected, saved and imported; the next such file starts from the saved mapping; a mapping that
 * does not fit the file is refused with the line and column, and nothing is imported.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import type { BrowserContext, Page } from 'playwright-core'
import { startBox, type Running } from '../../box/test/helpers.ts'
import { assertAccessible, assertKeyboardReachable, assertNoSidewaysScroll, loggedIn, screenshot } from './browser.ts'

let box: Running
let context: BrowserContext
let page: Page
let errors: string[]

/** Windows-1252 by hand for the few characters used, so the fixture needs no encoder. */
function cp1252(text: string): Buffer {
  const map: Record<string, number> = { 'ä': 0xe4, 'ü': 0xfc, 'ö': 0xf6, '€': 0x80 }
  return Buffer.from([...text].map((ch) => map[ch] ?? ch.charCodeAt(0)))
}
const MARCH = cp1252('Buchungstag;Empfänger;Betrag;Saldo\r\n01.03.2026;Bäckerei Müller;-4,50;1.245,50\r\n02.03.2026;Miete €;-1.250,00;-4,50\r\n03.03.2026;Gehalt;3.100,00;3.095,50\r\n')
const APRIL = cp1252('Buchungstag;Empfänger;Betrag;Saldo\r\n01.04.2026;Bäckerei Müller;-3,80;3.091,70\r\n')

before(async () => {
  box = await startBox()
  const cockpit = await loggedIn(box.url)
  context = cockpit.context
  page = cockpit.page
  errors = cockpit.errors
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Import' }).click()
  await page.getByRole('heading', { level: 1, name: 'Import a file' }).waitFor()
})

after(async () => {
  await context?.close()
  await box?.close()
})

const choose = (name: string, buffer: Buffer) => page.getByLabel('Choose a file').setInputFiles({ name, mimeType: 'text/csv', buffer })

test('a bank export is read by the box, its mapping guessed, corrected, saved and imported', async () => {
  await choose('umsatz-2026-03.csv', MARCH)
  await page.getByRole('heading', { name: 'Map the columns of umsatz-2026-03.csv' }).waitFor()
  await page.getByText('Read as windows-1252 text with semicolons between fields').waitFor()
  await page.getByRole('cell', { name: 'Bäckerei Müller' }).waitFor()
  // The box's guesses: the date column and its format, the numeric columns, decimal commas.
  assert.equal(await page.getByLabel('Column', { exact: true }).inputValue(), 'Buchungstag')
  assert.equal(await page.getByLabel('Written as').inputValue(), 'DD.MM.YYYY')
  assert.ok(await page.getByLabel('Betrag', { exact: true }).isChecked())
  assert.ok(await page.getByLabel('Saldo', { exact: true }).isChecked())
  assert.ok(!(await page.getByLabel('Empfänger', { exact: true }).isChecked()))
  assert.ok(await page.getByRole('radio', { name: /a comma/ }).isChecked())
  await assertAccessible(page, 'CSV mapping')
  await assertKeyboardReachable(page, 'CSV mapping')
  await screenshot(page, 'import-csv-mapping')

  // The owner names the amount, leaves out the balance, keeps the payee as text, in Berlin time.
  await page.getByLabel('Time zone').fill('Europe/Berlin')
  await page.getByLabel('Record name for Betrag').fill('amount')
  await page.getByLabel('Unit of Betrag').fill('EUR')
  await page.getByLabel('Saldo', { exact: true }).uncheck()
  await page.getByLabel('Empfänger', { exact: true }).check()
  await page.getByLabel('Kind of Empfänger').selectOption('string')
  await page.getByLabel('Record name for Empfänger').fill('payee')
  await page.getByLabel('What the data is').selectOption('finance')
  await page.getByLabel('Import into source').fill('bank')
  await page.getByLabel('Save the mapping as').fill('my-bank')
  await page.getByRole('button', { name: 'Save mapping and import' }).click()
  await page.getByText('Imported 6 records from csv into').waitFor()

  const records = (await box.api('GET', '/api/v1/sources/bank/records')).body as { n: string; t: number; v?: number; vs?: string; u?: string }[]
  assert.deepEqual(records.map((r) => [r.n, new Date(r.t * 1000).toISOString(), r.v ?? r.vs, r.u]), [
    ['payee', '2026-02-28T23:00:00.000Z', 'Bäckerei Müller', undefined], ['amount', '2026-02-28T23:00:00.000Z', -4.5, 'EUR'],
    ['payee', '2026-03-01T23:00:00.000Z', 'Miete €', undefined], ['amount', '2026-03-01T23:00:00.000Z', -1250, 'EUR'],
    ['payee', '2026-03-02T23:00:00.000Z', 'Gehalt', undefined], ['amount', '2026-03-02T23:00:00.000Z', 3100, 'EUR'],
  ])
  assert.equal((await box.api('GET', '/api/v1/sources/bank')).body.logicalType, 'finance')
  await screenshot(page, 'import-csv-done')
})

test('the next export starts from the saved mapping', async () => {
  await choose('umsatz-2026-04.csv', APRIL)
  await page.getByRole('heading', { name: 'Map the columns of umsatz-2026-04.csv' }).waitFor()
  await page.getByLabel('Start from a saved mapping').selectOption('my-bank')
  assert.equal(await page.getByLabel('Record name for Betrag').inputValue(), 'amount')
  assert.ok(!(await page.getByLabel('Saldo', { exact: true }).isChecked()))
  assert.equal(await page.getByLabel('Save the mapping as').inputValue(), 'my-bank')
  await page.getByLabel('Import into source').fill('bank')
  await page.getByRole('button', { name: 'Save mapping and import' }).click()
  await page.getByText('Imported 2 records from csv into').waitFor()
  assert.equal((await box.api('GET', '/api/v1/sources/bank')).body.points, 8)
})

test('a mapping that does not fit the file is refused with the line and column, and nothing is imported', async () => {
  await choose('umsatz-2026-03-again.csv', MARCH)
  await page.getByRole('heading', { name: /Map the columns/ }).waitFor()
  await page.getByLabel('Written as').fill('YYYY-MM-DD')
  await page.getByLabel('Import into source').fill('bank-wrong')
  await page.getByRole('button', { name: 'Save mapping and import' }).click()
  await page.getByRole('alert').filter({ hasText: 'Line 2: "01.03.2026" in column "Buchungstag" is not a time in the format YYYY-MM-DD' }).waitFor()
  assert.equal((await box.api('GET', '/api/v1/sources/bank-wrong')).body.points ?? 0, 0)
  await assertAccessible(page, 'CSV import refused')

  // A file that is not CSV at all says so before any mapping.
  await choose('notes.csv', Buffer.from('just a line of words\n'))
  await page.getByRole('alert').filter({ hasText: 'header line' }).waitFor()
  await page.getByRole('button', { name: 'Choose another file' }).click()

  // The browser reports the refused requests itself; those are expected.
  assert.ok(errors.every((e) => e.includes('400')), errors.join('\n'))
  errors.length = 0
})

test('the mapping screen reads at a phone\'s width', async () => {
  await page.setViewportSize({ width: 390, height: 844 })
  await choose('umsatz-2026-03.csv', MARCH)
  await page.getByRole('heading', { name: /Map the columns/ }).waitFor()
  await assertNoSidewaysScroll(page, 'the mapping')
  await assertAccessible(page, 'CSV mapping at 390px')
  await screenshot(page, 'import-csv-390')
  assert.deepEqual(errors, [])
})
