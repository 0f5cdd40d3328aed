/**
 * The Drivers page in a real browser against a real box and a real Mosquitto on a free port: an owner
 * adds OwnTracks, adds a phone and gets its settings with a QR code, a location posted with those
 * settings shows up in the driver's count; in MQTT mode a phone's broker settings become a code, and a
 * location published with them arrives; an MQTT driver with one mapping runs and counts a
 * reading published to the broker; the box's refusal of a bad mapping is shown beside the form;
 * a driver is removed after a confirmation. Checked with axe-core and photographed into test-artifacts/.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import crypto from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import mqtt from 'mqtt'
import type { BrowserContext, Locator, Page } from 'playwright-core'
import { startBox, type Running } from '../../box/test/helpers.ts'
import { startMosquitto, type Mosquitto } from '../../box/test/mosquitto.ts'
import { assertAccessible, assertNoSidewaysScroll, loggedIn, screenshot } from './browser.ts'

const run = crypto.randomBytes(4).toString('hex')
const MQTT_DRIVER = `climate-${run}`
const TOPIC = `coffer-ui-test/${run}/+`

let broker: Mosquitto
let box: Running
let context: BrowserContext
let page: Page
let errors: string[]

before(async () => {
  broker = await startMosquitto()
  box = await startBox()
  const cockpit = await loggedIn(box.url)
  context = cockpit.context
  page = cockpit.page
  errors = cockpit.errors
})

after(async () => {
  await context?.close()
  await box?.close()
  await broker?.close()
})

const card = (id: string): Locator => page.getByRole('listitem').filter({ has: page.getByRole('heading', { level: 3, name: id, exact: true }) })
const fact = (of: Locator, name: string): Locator => of.locator('.facts div').filter({ has: page.getByText(name, { exact: true }) }).locator('dd')

/** A fresh page load: what the box says now, not what the page remembers. */
async function reloadDrivers() {
  await page.reload()
  await page.getByRole('heading', { level: 1, name: 'Drivers' }).waitFor()
}

test('the Drivers page is in the navigation and says when there are none', async () => {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Drivers' }).click()
  await page.getByRole('heading', { level: 1, name: 'Drivers' }).waitFor()
  await page.getByText('No drivers yet.').waitFor()
  assert.equal(await page.title(), 'Drivers · Coffer')
  await assertAccessible(page, 'drivers, empty')
})

test('OwnTracks is added, a phone gets its settings and QR code, and a location posted with them is counted', async () => {
  const form = page.getByRole('form', { name: 'Add OwnTracks' })
  await form.getByLabel('Driver name').fill('phone')
  await form.getByLabel('Source').fill('location')
  await form.getByRole('button', { name: 'Add OwnTracks' }).click()
  await page.getByRole('status').filter({ hasText: 'OwnTracks driver phone is added' }).waitFor()
  const phone = card('phone')
  await phone.getByText('running').waitFor()
  assert.equal(await fact(phone, 'Records written').textContent(), '0')

  const add = phone.getByRole('form', { name: 'Add a phone to phone' })
  await add.getByLabel('User').fill('alice')
  await add.getByLabel('Device').fill('pixel')
  await add.getByRole('button', { name: 'Add a phone' }).click()

  const settings = phone.getByRole('region', { name: 'Settings for alice/pixel' })
  await settings.waitFor()
  const qr = settings.getByRole('img', { name: /QR code of the OwnTracks configuration for alice\/pixel/ })
  assert.equal(await qr.evaluate((el) => el.tagName.toLowerCase()), 'svg')
  assert.ok((await qr.locator('path').getAttribute('d'))!.length > 100, 'the QR code has modules drawn')
  // The same settings stand beside the code as text.
  const shown = settings.getByRole('definition')
  const text = await shown.allTextContents()
  const url = `${box.url}/api/v1/owntracks/phone`
  assert.ok(text.includes(url), `the URL ${url} is among ${text.join(' | ')}`)
  assert.ok(text.includes('alice') && text.includes('pixel') && text.includes('HTTP'))
  const password = await settings.locator('dt', { hasText: 'Password' }).locator('xpath=following-sibling::dd[1]').textContent()
  assert.match(password ?? '', /^[A-Za-z0-9_-]{20,}$/)
  const link = await settings.getByRole('link', { name: 'open them in OwnTracks' }).getAttribute('href')
  assert.match(link ?? '', /^owntracks:\/\/\/config\?inline=/)
  await assertAccessible(page, 'drivers with phone settings')
  await screenshot(page, 'drivers-owntracks')

  // The phone app's own request: HTTP Basic with the shown user and password, its device id in X-Limit-D.
  const posted = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`alice:${password}`).toString('base64')}`, 'x-limit-u': 'alice', 'x-limit-d': 'pixel' },
    body: JSON.stringify({ _type: 'location', lat: 52.52, lon: 13.405, acc: 12, batt: 81, tid: 'el', tst: Math.floor(Date.now() / 1000) }),
  })
  assert.equal(posted.status, 200)
  assert.deepEqual(await posted.json(), [])

  await settings.getByRole('button', { name: 'I have set up the phone' }).click()
  await reloadDrivers()
  assert.ok(Number((await fact(card('phone'), 'Records written').textContent())!.replace(/\D/g, '')) > 0, 'the location was counted')
  await card('phone').getByText('Phones: alice/pixel').waitFor()
  assert.notEqual(await fact(card('phone'), 'Last data').textContent(), '—')
})

test('an MQTT mapping the box refuses is explained beside the form; a good one runs and counts a reading', async () => {
  const form = page.getByRole('form', { name: 'Add an MQTT driver' })
  await form.getByLabel('Driver name').fill(MQTT_DRIVER)
  await form.getByLabel('Broker URL').fill(broker.url)
  await form.getByLabel('Topic filter').fill(TOPIC)
  await form.getByLabel('Source', { exact: true }).fill('Not A Source Id')
  await form.getByLabel('Payload field 1', { exact: true }).fill('temperature')
  await form.getByLabel('Unit 1', { exact: true }).fill('Cel')
  await form.getByRole('button', { name: 'Add MQTT driver' }).click()
  await form.getByRole('alert').filter({ hasText: 'mappings/0/source' }).waitFor()
  // The browser reports the refused request itself; that one is expected.
  assert.ok(errors.length > 0 && errors.every((e) => e.includes('400')), errors.join('\n'))
  errors.length = 0
  await assertAccessible(page, 'drivers with a refused mapping')

  await form.getByLabel('Source', { exact: true }).fill(`climate-${run}`)
  await form.getByRole('button', { name: 'Add a payload field' }).click()
  await form.getByLabel('Payload field 2', { exact: true }).fill('humidity')
  await form.getByLabel('Record name 2', { exact: true }).fill('rh')
  await form.getByLabel('Unit 2', { exact: true }).fill('%RH')
  await form.getByRole('button', { name: 'Add MQTT driver' }).click()
  await page.getByRole('status').filter({ hasText: `MQTT driver ${MQTT_DRIVER} is added` }).waitFor()
  const climate = card(MQTT_DRIVER)
  // The page asks again while the driver connects, until the broker has granted its subscription.
  await climate.locator('.state', { hasText: 'running' }).waitFor()
  await climate.getByText(`temperature (Cel), humidity as rh (%RH)`).waitFor()

  const client = await mqtt.connectAsync(broker.url, { clientId: `coffer-ui-test-${run}` })
  await client.publishAsync(TOPIC.replace('+', 'bedroom'), JSON.stringify({ temperature: 19.5, humidity: 44 }), { qos: 1 })
  await client.endAsync()
  for (;;) {
    const driver = (await box.api('GET', `/api/v1/drivers/${MQTT_DRIVER}`)).body
    if (driver.status.records > 0) break
    await sleep(50)
  }
  await reloadDrivers()
  assert.equal(await fact(card(MQTT_DRIVER), 'Records written').textContent(), '2')
  await assertAccessible(page, 'drivers with an MQTT driver')
  await screenshot(page, 'drivers')
})

test('OwnTracks over MQTT gives a phone its broker settings as a code; a location published with exactly those settings arrives', async () => {
  const id = `phones-${run}`
  const form = page.getByRole('form', { name: 'Add OwnTracks' })
  await form.getByLabel('Driver name').fill(id)
  await form.getByLabel('Source').fill(`location-${run}`)
  await form.getByLabel('to an MQTT broker').check()
  await form.getByLabel('Broker URL').fill(broker.url)
  await form.getByRole('button', { name: 'Add OwnTracks' }).click()
  await page.getByRole('status').filter({ hasText: `OwnTracks driver ${id} is added` }).waitFor()
  const driver = card(id)
  await driver.locator('.state', { hasText: 'running' }).waitFor()

  const phone = driver.getByRole('form', { name: 'Set up a phone for MQTT' })
  await phone.getByLabel('Broker user').fill('bob/x')
  await phone.getByRole('button', { name: 'Show the phone\'s settings' }).click()
  await phone.getByRole('alert').filter({ hasText: 'without spaces, /, + or #' }).waitFor()
  const user = `bob${run}`
  await phone.getByLabel('Broker user').fill(user)
  await phone.getByLabel('Device').fill('fairphone')
  await phone.getByRole('button', { name: 'Show the phone\'s settings' }).click()
  const settings = driver.getByRole('region', { name: `Settings for ${user}/fairphone` })
  await settings.getByText(`owntracks/${user}/fairphone`).waitFor()
  await settings.getByText('a phone cannot reach it there').waitFor()
  await assertAccessible(page, 'drivers with MQTT phone settings')
  await screenshot(page, 'drivers-owntracks-mqtt')

  // The phone: configured from the code's own link, it publishes where OwnTracks publishes.
  const link = await settings.getByRole('link', { name: 'open them in OwnTracks' }).getAttribute('href')
  const config = JSON.parse(Buffer.from(decodeURIComponent(link!.split('inline=')[1]!), 'base64').toString('utf8'))
  assert.deepEqual([config.mode, config.host, config.port, config.tls, config.auth, config.username, config.deviceId], [0, '127.0.0.1', broker.port, false, false, user, 'fairphone'])
  const client = await mqtt.connectAsync(`mqtt://${config.host}:${config.port}`, { clientId: `coffer-ui-phone-${run}` })
  await client.publishAsync(`owntracks/${config.username}/${config.deviceId}`, JSON.stringify({ _type: 'location', lat: 48.2082, lon: 16.3738, tid: config.tid, tst: Math.floor(Date.now() / 1000) }), { qos: 1 })
  await client.endAsync()
  for (;;) {
    const latest = (await box.api('GET', `/api/v1/sources/location-${run}/latest?name=${user}/fairphone/lat`)).body as { v: number }[]
    if (latest.length > 0) {
      assert.equal(latest[0]!.v, 48.2082)
      break
    }
    await sleep(50)
  }
  await settings.getByRole('button', { name: 'I have set up the phone' }).click()
  await phone.waitFor()
})

test('a driver\'s mappings are changed, it is stopped, started and removed after a confirmation; the page reads at 390px', async () => {
  const climate = card(MQTT_DRIVER)
  await climate.getByRole('button', { name: 'Change mappings' }).click()
  const change = climate.getByRole('form', { name: `Change ${MQTT_DRIVER}` })
  assert.equal(await change.getByLabel('Topic filter').inputValue(), TOPIC)
  await change.getByLabel('Unit 1', { exact: true }).fill('K')
  await change.getByRole('button', { name: 'Save and restart' }).click()
  await climate.getByText('temperature (K), humidity as rh (%RH)').waitFor()
  assert.equal((await box.api('GET', `/api/v1/drivers/${MQTT_DRIVER}`)).body.config.mappings[0].fields[0].unit, 'K')

  await climate.getByRole('button', { name: 'Stop' }).click()
  await climate.locator('.state', { hasText: 'stopped' }).waitFor()
  await climate.getByRole('button', { name: 'Start' }).click()
  await climate.locator('.state', { hasText: 'running' }).waitFor()

  await climate.getByRole('button', { name: 'Remove…' }).click()
  const dialog = page.getByRole('dialog', { name: `Remove driver ${MQTT_DRIVER}?` })
  await dialog.waitFor()
  await assertAccessible(page, 'remove a driver')
  await dialog.getByRole('button', { name: 'Cancel' }).click()
  await dialog.waitFor({ state: 'hidden' })
  assert.equal((await box.api('GET', `/api/v1/drivers/${MQTT_DRIVER}`)).status, 200)
  await climate.getByRole('button', { name: 'Remove…' }).click()
  await dialog.getByRole('button', { name: 'Remove' }).click()
  await page.getByRole('status').filter({ hasText: `Driver ${MQTT_DRIVER} is removed` }).waitFor()
  await climate.waitFor({ state: 'detached' })
  assert.equal((await box.api('GET', `/api/v1/drivers/${MQTT_DRIVER}`)).status, 404)

  await page.setViewportSize({ width: 390, height: 844 })
  await page.getByRole('heading', { level: 1, name: 'Drivers' }).waitFor()
  await assertNoSidewaysScroll(page, 'the Drivers page')
  await assertAccessible(page, 'drivers at 390px')
  await screenshot(page, 'drivers-390')
  await page.setViewportSize({ width: 1280, height: 900 })
})

test('no console errors on the way', () => {
  assert.deepEqual(errors, [])
})
