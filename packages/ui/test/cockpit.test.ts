/**
 * The cockpit in a real browser against a real box: an owner logs in, looks at their data,
 * deletes a range, installs an example app, narrows its grant, sees its view, revokes it,
 * and finds all of that in the audit log, which verifies. Every page is checked with axe-core
 * and photographed into test-artifacts/.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import zlib from 'node:zlib'
import tar from 'tar-stream'
import type { BrowserContext, Page } from 'playwright-core'
import { buildApp } from '../../sdk/src/tools.ts'
import { PASSPHRASE, startBox, tempDir, type Running } from '../../box/test/helpers.ts'
import { COCKPIT_DIR } from '../../box/src/api/cockpit.ts'
import { ARTIFACTS, assertAccessible, assertKeyboardReachable, assertNoSidewaysScroll, launch, screenshot, watchErrors } from './browser.ts'

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 }
const bucketSeconds = (spec: string) => Number(spec.slice(0, -1)) * UNITS[spec.at(-1)!]!
const HOUR = 3600
const DAY = 86400
const APPS = path.resolve(import.meta.dirname, '../../../apps')

let box: Running
let context: BrowserContext
let page: Page
let errors: string[]
let tarball: Buffer
let first: number

/** Ten days of five-minute readings, so the plot has something to zoom into. */
async function seed(id: string, base: number) {
  const now = Math.floor(Date.now() / 1000 / HOUR) * HOUR
  first = now - 10 * DAY
  assert.equal((await box.api('POST', '/api/v1/sources', { body: { id, kind: 'timeseries', logicalType: 'environment', description: `Temperature in the ${id}` } })).status, 201)
  const records = []
  for (let t = first; t < now; t += 300) records.push({ n: 'temperature', u: 'Cel', t, v: base + 3 * Math.sin((t / DAY) * 2 * Math.PI) })
  const res = await box.api('POST', `/api/v1/sources/${id}/records`, { raw: JSON.stringify(records) })
  assert.equal(res.status, 201, JSON.stringify(res.body))
}

/** The example app, built and packed the way an author ships it. */
async function packApp(name: string): Promise<Buffer> {
  // Built in a copy inside the repository, where @coffer/sdk resolves, leaving apps/ untouched.
  fs.mkdirSync(ARTIFACTS, { recursive: true })
  const dir = fs.mkdtempSync(path.join(ARTIFACTS, `${name}-`))
  fs.cpSync(path.join(APPS, name), dir, { recursive: true, filter: (p) => !p.endsWith('app.js') })
  await buildApp(dir)
  const pack = tar.pack()
  for (const file of ['manifest.json', 'app.js']) pack.entry({ name: `package/${file}` }, fs.readFileSync(path.join(dir, file)))
  pack.finalize()
  fs.rmSync(dir, { recursive: true, force: true })
  const chunks: Buffer[] = []
  for await (const chunk of pack) chunks.push(chunk as Buffer)
  return zlib.gzipSync(Buffer.concat(chunks))
}

before(async () => {
  assert.ok(fs.existsSync(path.join(COCKPIT_DIR, 'index.html')), 'The cockpit is not built: run `npm run build` first (npm test does).')
  box = await startBox()
  await seed('living-room', 20)
  await seed('bedroom', 17)
  assert.equal((await box.api('POST', '/api/v1/drivers', { body: { id: 'phone', kind: 'owntracks', config: { mode: 'http' } } })).status, 201)
  tarball = await packApp('home-climate')
  context = await launch(tempDir('coffer-chromium-'))
  page = context.pages()[0] ?? await context.newPage()
  errors = watchErrors(page)
})

after(async () => {
  await context?.close()
  await box?.close()
})

async function visit(name: string, link: string, heading: string | RegExp) {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: link }).click()
  await page.getByRole('heading', { level: 1, name: heading }).waitFor()
}

test('an owner logs in; a wrong passphrase is announced', async () => {
  await page.goto(box.url)
  await page.getByRole('heading', { name: 'Coffer', level: 1 }).waitFor()
  await assertAccessible(page, 'login')
  await screenshot(page, 'login')

  await page.getByLabel('Passphrase').fill('not the passphrase')
  await page.getByRole('button', { name: 'Log in' }).click()
  await page.getByRole('alert').filter({ hasText: 'Wrong passphrase' }).waitFor()
  // The browser reports the refused login itself; that one is expected.
  assert.ok(errors.every((e) => e.includes('401')), errors.join('\n'))
  errors.length = 0
  await assertAccessible(page, 'login with an error')

  await page.getByLabel('Passphrase').fill(PASSPHRASE)
  await page.keyboard.press('Enter')
  await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor()
  const stored = await page.evaluate(() => sessionStorage.getItem('coffer.session'))
  assert.match(stored ?? '', /"token"/)
  assert.deepEqual(await context.cookies(), [], 'the session is no cookie')
})

test('the overview shows every source with a sparkline, its last value and size, and the drivers', async () => {
  for (const id of ['living-room', 'bedroom']) {
    const card = page.getByRole('listitem').filter({ has: page.getByRole('heading', { name: id }) })
    await card.locator('svg.sparkline path').waitFor()
    await card.getByText(/temperature: \d+(\.\d+)? Cel/).waitFor()
    await card.getByText(/2,880 points/).waitFor()
  }
  const drivers = page.getByRole('table')
  await drivers.getByRole('rowheader', { name: 'phone' }).waitFor()
  await assertAccessible(page, 'overview')
  await screenshot(page, 'overview')

  await page.setViewportSize({ width: 390, height: 844 })
  await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor()
  await assertNoSidewaysScroll(page, 'the overview')
  await assertAccessible(page, 'overview at 390px')
  await screenshot(page, 'overview-390')
  await page.setViewportSize({ width: 1280, height: 900 })
})

test('a source shows a plot that zooms by asking for finer buckets, a table, and deletes a range after confirming', async () => {
  await page.getByRole('link', { name: 'living-room' }).click()
  await page.getByRole('heading', { level: 1, name: 'living-room' }).waitFor()
  const plot = page.locator('svg.timeplot')
  await plot.locator('path.line[d^="M"]').waitFor()
  // The plot says which bucket size it asked the box for, once the answer is drawn.
  const shown = () => page.locator('.plot p[aria-live]').filter({ hasText: /in buckets of \w+$/ }).innerText().then((t) => /in buckets of (\w+)$/.exec(t)![1]!)
  const overall = await shown()
  assert.ok(bucketSeconds(overall) >= 1800, `ten days drawn in buckets of ${overall}`)
  const values = page.getByRole('region', { name: 'Values' })
  await values.getByRole('row').nth(1).waitFor()
  assert.equal(await values.getByRole('row').count(), 21, 'a header and the newest 20 records')

  for (let i = 0; i < 4; i++) await page.getByRole('button', { name: 'Zoom in' }).click()
  await page.waitForFunction(([before, units]) => {
    const m = /in buckets of (\d+)(\w)$/.exec(document.querySelector('.plot p[aria-live]')?.textContent ?? '')
    return m !== null && Number(m[1]) * units[m[2]!]! < before
  }, [bucketSeconds(overall), UNITS] as const)
  await plot.locator('path.line[d^="M"]').waitFor()
  // Keyboard: the plot takes focus, and Home shows everything again.
  await plot.focus()
  await page.keyboard.press('Home')
  await page.locator('.plot p[aria-live]').filter({ hasText: new RegExp(`in buckets of ${overall}$`) }).waitFor()
  await assertAccessible(page, 'source')
  await screenshot(page, 'source')

  // Delete the first day: 288 five-minute readings.
  const iso = (t: number) => new Date(t * 1000).toISOString().slice(0, 16)
  await page.getByLabel('From').fill(iso(first))
  await page.getByLabel('To (not included)').fill(iso(first + DAY))
  await page.getByRole('button', { name: 'Delete…' }).click()
  const dialog = page.getByRole('dialog', { name: 'Delete these records?' })
  await dialog.waitFor()
  await dialog.getByText('This cannot be undone').waitFor()
  await assertAccessible(page, 'source delete dialog')
  await screenshot(page, 'source-delete')
  await dialog.getByRole('button', { name: 'Cancel' }).click()
  await dialog.waitFor({ state: 'hidden' })
  assert.equal((await box.api('GET', '/api/v1/sources/living-room')).body.points, 2880, 'cancel deletes nothing')

  await page.getByRole('button', { name: 'Delete…' }).click()
  await dialog.getByRole('button', { name: 'Delete for good' }).click()
  await page.getByRole('status').filter({ hasText: 'Deleted 288 records.' }).waitFor()
  assert.equal((await box.api('GET', '/api/v1/sources/living-room')).body.points, 2880 - 288)
})

test('a GPX file dropped on the import page is read with progress and becomes a source with a track and a plot', async () => {
  await visit('import', 'Import', 'Import a file')
  await assertAccessible(page, 'import')
  const start = Math.floor(Date.now() / 1000) - 2 * HOUR
  const points = Array.from({ length: 120 }, (_, i) =>
    `<trkpt lat="${(52.52 + i * 0.0005).toFixed(5)}" lon="${(13.40 + Math.sin(i / 10) * 0.002).toFixed(5)}"><ele>${34 + i % 7}</ele><time>${new Date((start + i * 30) * 1000).toISOString()}</time></trkpt>`).join('')
  const gpx = `<?xml version="1.0"?><gpx version="1.1" creator="test" xmlns="http://www.topografix.com/GPX/1/1"><trk><name>Walk</name><trkseg>${points}</trkseg></trk></gpx>`
  await page.getByLabel('Choose a file').setInputFiles({ name: 'walk.gpx', mimeType: 'application/gpx+xml', buffer: Buffer.from(gpx) })
  const done = page.getByText(/Imported 360 records from gpx into/)
  await done.waitFor()
  await screenshot(page, 'import')
  await done.getByRole('link', { name: 'gpx' }).click()
  await page.getByRole('heading', { level: 1, name: 'gpx' }).waitFor()
  await page.locator('svg.track polyline').waitFor()
  await page.getByLabel('Series').selectOption('ele')
  await page.locator('svg.timeplot path.line[d^="M"]').waitFor()
  await assertAccessible(page, 'track')
  await screenshot(page, 'track')
})

test('an app is installed from its file, its grant narrowed in the review, its view drawn, then revoked', async () => {
  await visit('apps', 'Apps', 'Apps')
  await assertAccessible(page, 'apps')
  await page.getByLabel('App file (.tar.gz)').setInputFiles({ name: 'home-climate.tar.gz', mimeType: 'application/gzip', buffer: tarball })
  await page.getByRole('button', { name: 'Review and install' }).click()
  const review = page.getByRole('form', { name: 'Home climate report asks for your permission' })
  await review.waitFor()
  await review.getByText('Why:').first().waitFor()
  await review.getByText(/climate-adviser\.example\.org/).first().waitFor()
  await assertAccessible(page, 'app review')
  await screenshot(page, 'app-review')

  // Narrow: one room instead of both, and the monthly summary is never sent.
  await review.getByRole('checkbox', { name: 'bedroom' }).uncheck()
  await review.getByRole('radio', { name: 'Never send' }).check()
  await review.getByRole('button', { name: 'Grant as chosen' }).click()
  await page.getByRole('status').filter({ hasText: 'may now run with what you granted' }).waitFor()

  const app = (await box.api('GET', '/api/v1/apps/home-climate')).body
  assert.equal(app.state, 'active')
  assert.deepEqual(app.consent.sources.map((s: any) => s.sources), [['living-room']])
  assert.deepEqual(app.consent.exports, { adviser: 'deny' })

  const card = page.getByRole('listitem').filter({ has: page.getByRole('heading', { name: 'Home climate report' }) })
  await card.getByText('Export “adviser”: never sent').waitFor()
  await card.getByText('Reads living-room as hourly totals and averages, from the last 31 days').waitFor()
  await card.getByRole('button', { name: 'Run now' }).click()
  await card.getByRole('status').filter({ hasText: 'It ran.' }).waitFor()
  await card.getByRole('button', { name: 'Show views' }).click()
  await card.locator('figure.view svg .mark-area path').first().waitFor()
  await assertAccessible(page, 'app view')
  await screenshot(page, 'app-view')

  // Change the grant in force: the form starts from what was granted, not from what was asked.
  await card.getByRole('button', { name: 'Change what it may do' }).click()
  const change = page.getByRole('form', { name: 'Change what Home climate report may do' })
  await change.waitFor()
  assert.equal(await change.getByRole('checkbox', { name: 'bedroom' }).isChecked(), false)
  assert.equal(await change.getByRole('radio', { name: 'Never send' }).isChecked(), true)
  await change.getByLabel('How far back').selectOption({ label: 'the last 7 days' })
  await change.getByRole('radio', { name: 'Ask me each time' }).check()
  await change.getByRole('button', { name: 'Grant as chosen' }).click()
  await page.getByRole('status').filter({ hasText: 'may now run with what you granted' }).waitFor()
  const changed = (await box.api('GET', '/api/v1/apps/home-climate')).body
  assert.deepEqual(changed.consent.sources.map((s: any) => [s.sources, s.window]), [[['living-room'], 7 * 86400]])
  assert.deepEqual(changed.consent.exports, { adviser: 'ask' })
  await card.getByText('Export “adviser”: asks you each time').waitFor()

  await card.getByRole('button', { name: 'Revoke…' }).click()
  const dialog = page.getByRole('dialog', { name: 'Revoke Home climate report?' })
  await dialog.getByRole('button', { name: 'Revoke' }).click()
  await card.getByText('revoked', { exact: true }).waitFor()
  assert.equal((await box.api('GET', '/api/v1/apps/home-climate')).body.state, 'revoked')
})

test('the audit page finds those actions, filters them, and says the log is intact', async () => {
  await visit('audit', 'Audit', 'Audit log')
  const table = page.locator('table.audit')
  await table.getByText('POST /api/v1/apps/:id/revoke').waitFor()
  await table.getByText('POST /api/v1/apps/:id/grant').first().waitFor()
  await table.getByText('DELETE /api/v1/sources/:source/records').waitFor()

  await page.getByLabel('Who').fill('app:home-climate')
  await page.getByRole('button', { name: 'Filter' }).click()
  await page.waitForFunction(() => {
    const subjects = [...document.querySelectorAll('table.audit tbody tr td:nth-child(2)')].map((td) => td.textContent)
    return subjects.length > 0 && subjects.every((s) => s === 'app:home-climate')
  })
  // An app's reads go straight to the operation, and the entry says so.
  await table.getByText('APP records.aggregate').first().waitFor()

  await page.getByRole('button', { name: 'Verify the audit log' }).click()
  await page.getByText(/The audit log is intact: all [\d,]+ entries check out/).waitFor()
  await assertAccessible(page, 'audit')
  await screenshot(page, 'audit')
})

test('an export waiting for approval is previewed and denied; the history says so', async () => {
  await visit('exports', 'Exports', 'Exports')
  await page.getByText('Nothing is waiting.').waitFor()
  // Granted again as asked (each export asked each time), the app asks to send its summary.
  assert.equal((await box.api('POST', '/api/v1/apps/home-climate/grant', { body: {} })).status, 200)
  const run = await box.api('POST', '/api/v1/apps/home-climate/run', { body: { event: { send: true } } })
  assert.equal(run.body.value.export.state, 'pending', JSON.stringify(run.body))
  await page.reload()
  const item = page.getByRole('listitem').filter({ has: page.getByRole('heading', { name: /home-climate wants to send .* to climate-adviser\.example\.org/ }) })
  await item.getByLabel('Preview of the data').getByText('living-room').waitFor()
  await assertAccessible(page, 'exports')
  await screenshot(page, 'exports')
  await item.getByRole('button', { name: 'Deny' }).click()
  await page.getByRole('status').filter({ hasText: 'Denied: nothing was sent' }).waitFor()
  await page.getByRole('region', { name: 'Export history' }).getByText('denied').waitFor()
  assert.equal((await box.api('GET', `/api/v1/exports/${run.body.value.export.id}`)).body.state, 'denied')
})

test('the statement page shows this month and offers the PDF', async () => {

  await visit('statement', 'Statement', 'Monthly statement')
  const frame = page.frameLocator('iframe.statement')
  await frame.locator('body').getByText(/home-climate|Home climate report/).first().waitFor()
  const download = page.waitForEvent('download')
  await page.getByRole('button', { name: 'Download as PDF' }).click()
  assert.match((await download).suggestedFilename(), /^coffer-statement-\d{4}-\d{2}\.pdf$/)
  await assertAccessible(page, 'statement')
  await screenshot(page, 'statement')
})

test('at a phone\'s width every page and each of its controls is reached by keyboard alone, reads without sideways scrolling, and passes axe', async () => {
  await page.setViewportSize({ width: 390, height: 844 })
  const pages: [string, string][] = [['Overview', 'Overview'], ['Import', 'Import a file'], ['Drivers', 'Drivers'], ['Apps', 'Apps'], ['Exports', 'Exports'], ['Audit', 'Audit log'], ['Statement', 'Monthly statement'], ['Settings', 'Settings']]
  for (const [link, heading] of pages) {
    // From the top of the page, Tab until the link has focus, then Enter: no mouse anywhere.
    await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur())
    let focused = ''
    for (let presses = 0; presses < 40 && focused !== link; presses++) {
      await page.keyboard.press('Tab')
      focused = await page.evaluate(() => (document.activeElement?.closest('nav') ? document.activeElement.textContent ?? '' : ''))
    }
    assert.equal(focused, link, `Tab never reached the ${link} link`)
    await page.keyboard.press('Enter')
    await page.getByRole('heading', { level: 1, name: heading }).waitFor()
    await assertNoSidewaysScroll(page, link)
    await assertAccessible(page, `${link} at 390px`)
    await assertKeyboardReachable(page, `${link} at 390px`)
    await screenshot(page, `${link.toLowerCase()}-390`)
  }
  await page.setViewportSize({ width: 1280, height: 900 })
})

test('logging out forgets the session; an ended session goes back to login', async () => {
  await page.getByRole('button', { name: 'Log out' }).click()
  await page.getByLabel('Passphrase').waitFor()
  assert.equal(await page.evaluate(() => sessionStorage.getItem('coffer.session')), null)

  // A token the box no longer accepts (here: a made-up one) sends the owner back to login on the next call.
  await page.evaluate(() => sessionStorage.setItem('coffer.session', JSON.stringify({ token: 'not-a-token', expires: null })))
  await page.goto(`${box.url}/audit`)
  await page.getByLabel('Passphrase').waitFor()
  assert.ok(errors.every((e) => e.includes('401')), errors.join('\n'))
  errors.length = 0
})

test('no console errors on the way', () => {
  assert.deepEqual(errors, [])
})
