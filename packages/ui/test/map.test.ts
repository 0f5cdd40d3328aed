/**
 * Location in the cockpit, in a real browser against a real box: a day with two stays becomes
 * a track with two places; a tile server the owner sets in Settings draws the map underneath
 * (the page's policy lets those images in and nothing else), and is gone again when removed.
 * Driven by keyboard where an owner would use it, and an idle session ends on time by itself.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import type { BrowserContext, Page } from 'playwright-core'
import { startBox, type Running } from '../../box/test/helpers.ts'
import { mercator } from '../src/pages/source/geo.ts'
import { assertAccessible, assertKeyboardReachable, loggedIn, screenshot } from './browser.ts'

const HOUR = 3600
const HOME: [number, number] = [48.8566, 2.3522]
const WORK: [number, number] = [48.8738, 2.2950]

let box: Running
let tileServer: http.Server
let tileUrl: string
const tileRequests: string[] = []
let context: BrowserContext
let page: Page
let errors: string[]

/** Three hours at home, an hour crossing town, two hours at work: positions every five minutes. */
function dayGpx(start: number): string {
  const points: string[] = []
  const at = (t: number, [lat, lon]: [number, number]) => points.push(`<trkpt lat="${lat.toFixed(6)}" lon="${lon.toFixed(6)}"><time>${new Date(t * 1000).toISOString()}</time></trkpt>`)
  const jitter = (i: number) => ((i * 7919) % 11 - 5) * 0.00002
  for (let i = 0; i < 36; i++) at(start + i * 300, [HOME[0] + jitter(i), HOME[1] + jitter(i + 3)])
  for (let i = 0; i < 12; i++) at(start + 3 * HOUR + i * 300, [HOME[0] + ((WORK[0] - HOME[0]) * i) / 12, HOME[1] + ((WORK[1] - HOME[1]) * i) / 12])
  for (let i = 0; i < 24; i++) at(start + 4 * HOUR + i * 300, [WORK[0] + jitter(i), WORK[1] + jitter(i + 5)])
  return `<?xml version="1.0"?><gpx version="1.1" creator="test" xmlns="http://www.topografix.com/GPX/1/1"><trk><name>Day</name><trkseg>${points.join('')}</trkseg></trk></gpx>`
}

before(async () => {
  box = await startBox()
  const start = Math.floor(Date.now() / 1000 / HOUR) * HOUR - 8 * HOUR
  const imported = await box.api('POST', '/api/v1/imports?name=day.gpx', { raw: dayGpx(start), type: 'application/octet-stream' })
  assert.equal(imported.body.state, 'done', JSON.stringify(imported.body))

  // A tile server on another origin: it answers every tile with a small picture and remembers what was asked.
  tileServer = http.createServer((req, res) => {
    tileRequests.push(req.url ?? '')
    res.writeHead(200, { 'content-type': 'image/svg+xml' })
    res.end('<svg xmlns="http://www.w3.org/2000/svg" width="256" height="256"><rect width="256" height="256" fill="#e8eef2" stroke="#b8c4cc"/></svg>')
  })
  await new Promise<void>((resolve) => tileServer.listen(0, '127.0.0.1', resolve))
  tileUrl = `http://127.0.0.1:${(tileServer.address() as AddressInfo).port}/{z}/{x}/{y}.svg`

  const cockpit = await loggedIn(box.url)
  context = cockpit.context
  page = cockpit.page
  errors = cockpit.errors
})

after(async () => {
  await context?.close()
  await box?.close()
  tileServer?.close()
})

async function openSource() {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Overview' }).click()
  await page.getByRole('link', { name: 'gpx' }).click()
  await page.getByRole('heading', { level: 1, name: 'gpx' }).waitFor()
}

test('a day with two stays is drawn as a track with two places, and no map while no tile server is set', async () => {
  await openSource()
  const places = page.getByRole('table', { name: /Places/ })
  await places.waitFor()
  const rows = places.locator('tbody tr')
  assert.equal(await rows.count(), 2)
  assert.match(await rows.nth(0).innerText(), /^1\s+48\.856\d, 2\.352\d\s+3\s/)
  assert.match(await rows.nth(1).innerText(), /^2\s+48\.873\d, 2\.295\d\s+2\s/)
  assert.equal(await page.locator('svg.track g.place').count(), 2)
  assert.equal(await page.locator('svg.track image').count(), 0)
  assert.equal(tileRequests.length, 0, 'no tile server is asked for anything until the owner chooses one')
  await page.getByText('choose a tile server in').waitFor()
  await assertAccessible(page, 'track with places')
  await assertKeyboardReachable(page, 'source page')
  await screenshot(page, 'track-places')
})

test('the plot zooms and pans by keyboard', async () => {
  const status = page.locator('.plot p[aria-live]')
  await status.filter({ hasText: 'in buckets of' }).waitFor()
  const before = await status.innerText()
  await page.locator('svg.timeplot').focus()
  await page.keyboard.press('+')
  await page.waitForFunction((old) => { const t = document.querySelector('.plot p[aria-live]')?.textContent ?? ''; return t !== old && !t.includes('updating') }, before)
  const zoomed = await status.innerText()
  await page.keyboard.press('ArrowLeft')
  await page.waitForFunction((old) => { const t = document.querySelector('.plot p[aria-live]')?.textContent ?? ''; return t !== old && !t.includes('updating') }, zoomed)
  await page.keyboard.press('Home')
  await page.waitForFunction((old) => (document.querySelector('.plot p[aria-live]')?.textContent ?? '') === old, before)
})

test('a tile server set in Settings, by keyboard, draws the map under the track; removing it stops every tile request', async () => {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Settings' }).click()
  await page.getByRole('heading', { level: 1, name: 'Settings' }).waitFor()
  await page.getByText('Europe/').or(page.getByText('UTC')).first().waitFor()
  await assertAccessible(page, 'settings')

  // A malformed URL is refused with a reason, and nothing is saved.
  await page.getByLabel('Tile URL').focus()
  await page.keyboard.type('http://127.0.0.1/tiles.png')
  await page.keyboard.press('Enter')
  await page.getByRole('alert').filter({ hasText: '{z}, {x} and {y}' }).waitFor()
  assert.equal((await box.api('GET', '/api/v1/settings')).body.map, null)
  // The browser reports the refused request itself; that one is expected.
  assert.ok(errors.every((e) => e.includes('400')), errors.join('\n'))
  errors.length = 0

  await page.getByLabel('Tile URL').fill('')
  await page.getByLabel('Tile URL').focus()
  await page.keyboard.type(tileUrl)
  await page.keyboard.press('Tab')
  await page.keyboard.type('Test tiles')
  await page.keyboard.press('Enter')
  await page.getByRole('status').filter({ hasText: 'Saved' }).waitFor()
  assert.equal((await box.api('GET', '/api/v1/settings')).body.map.tiles, tileUrl)
  await screenshot(page, 'settings')

  await openSource()
  await page.locator('svg.track image').first().waitFor()
  await page.getByText('Map tiles: Test tiles').waitFor()
  // Every tile the page draws is fetched from the tile server: the page's policy let them through.
  await page.waitForFunction(() => [...document.querySelectorAll('svg.track image')].every((img) => (img as SVGImageElement).getBBox().width > 0))
  const drawn = await page.locator('svg.track image').evaluateAll((imgs) => imgs.map((i) => new URL(i.getAttribute('href')!).pathname))
  for (const href of drawn) await waitFor(() => tileRequests.includes(href), `the browser fetched ${href}`)
  // At the zoom the page chose, the tiles holding home and work are among them.
  const zoom = Number(drawn[0]!.split('/')[1])
  for (const place of [HOME, WORK]) {
    const [x, y] = mercator(place).map((v) => Math.floor((v * 2 ** zoom) / 256))
    assert.ok(drawn.includes(`/${zoom}/${x}/${y}.svg`), `tile ${zoom}/${x}/${y} under ${place} is drawn (drawn: ${drawn.join(' ')})`)
  }
  await assertAccessible(page, 'track over tiles')
  await screenshot(page, 'track-map')

  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Settings' }).click()
  await page.getByRole('button', { name: 'Stop using tiles' }).focus()
  await page.keyboard.press('Enter')
  await page.getByRole('status').filter({ hasText: 'Removed' }).waitFor()
  const asked = tileRequests.length
  await openSource()
  await page.getByRole('table', { name: /Places/ }).waitFor()
  assert.equal(await page.locator('svg.track image').count(), 0)
  assert.equal(tileRequests.length, asked)
})

test('an idle session ends by itself when its time is up', async () => {
  // The same session, told it ends five seconds from now (time enough to load the page first): no request
  // is made, the page just goes back to login when the time is up.
  await page.evaluate(() => {
    const session = JSON.parse(sessionStorage.getItem('coffer.session')!) as { token: string; expires: number }
    sessionStorage.setItem('coffer.session', JSON.stringify({ ...session, expires: Date.now() / 1000 + 5 }))
  })
  await page.reload()
  await page.getByRole('heading', { level: 1, name: 'gpx' }).waitFor()
  await page.getByLabel('Passphrase').waitFor()
  assert.equal(await page.evaluate(() => sessionStorage.getItem('coffer.session')), null)
})

test('no console errors on the way', () => {
  assert.deepEqual(errors, [])
})

async function waitFor(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 100 && !check(); i++) await new Promise((r) => setTimeout(r, 50))
  assert.ok(check(), what)
}
