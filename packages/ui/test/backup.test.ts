/**
 * The Backup page in a real browser against a real box and real blind replicators on a local DHT
 * testnet: the owner invites a replicator from the page, its operator accepts the code the page
 * shows, and the page follows it to paired, connected and in sync, checked block by block; a
 * replicator whose quota is full is flagged. A sync window that shuts it out now is set from the
 * page and the replica drops to "outside its sync window"; removing it needs a confirmation and
 * cuts it off. The owner's other device is invited from the same form, for the owner passphrase, and
 * the page gives the commands the device runs. The paper key downloads as a PDF for the owner
 * passphrase only, and the seed's split (each share handed over as a file or delivered through a
 * replica) and the shares held for friends are shown. Checked with axe-core and the keyboard, on a desktop
 * and at a phone's width, and photographed into test-artifacts/.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import createTestnet from 'hyperdht/testnet.js'
import type { BrowserContext, Locator, Page } from 'playwright-core'
import { initHome } from '../../box/src/index.ts'
import { Replicator, acceptDevice, deviceIdentity } from '../../box/src/backup/index.ts'
import { PASSPHRASE, senml, startBox, tempDir, until, type Running } from '../../box/test/helpers.ts'
import { assertAccessible, assertKeyboardReachable, assertNoSidewaysScroll, loggedIn, screenshot } from './browser.ts'

let testnet: Awaited<ReturnType<typeof createTestnet>>
let box: Running
let friend: Running
let anna: Replicator
let ben: Replicator
let context: BrowserContext
let page: Page
let errors: string[]
let bystander: string

before(async () => {
  testnet = await createTestnet(3)
  // The box reads its DHT bootstrap from the environment when it is made, as `coffer start` does.
  process.env.COFFER_DHT_BOOTSTRAP = testnet.bootstrap.map((b) => `${b.host}:${b.port}`).join(',')
  const home = path.join(tempDir(), 'home')
  initHome(home, { passphrase: PASSPHRASE, timeZone: 'UTC' })
  box = await startBox(home)
  assert.equal((await box.api('POST', '/api/v1/sources', { body: { id: 'diary', kind: 'timeseries', logicalType: 'health', description: 'Notes' } })).status, 201)
  const notes = Array.from({ length: 40 }, (_, i) => ({ n: 'note', t: 1_700_000_000 + i * 60, vs: `note ${i}` }))
  assert.equal((await box.api('POST', '/api/v1/sources/diary/records', { raw: senml(notes) })).status, 201)

  // A friend's box that gave this box a share of its seed, and a third box that holds nothing here.
  friend = await startBox()
  bystander = initHome(path.join(tempDir(), 'home'), { passphrase: PASSPHRASE }).home.config.identity
  const owner = box.box.home.config.identity
  const friendSplit = await friend.api('POST', '/api/v1/recovery/split', { body: { passphrase: PASSPHRASE, threshold: 2, friends: [{ name: 'me', identity: owner }, { name: 'other', identity: bystander }] } })
  assert.equal(friendSplit.status, 200, JSON.stringify(friendSplit.body))
  const share = friendSplit.body.shares.find((s: { identity: string }) => s.identity === owner).file
  assert.equal((await box.api('POST', '/api/v1/recovery/held', { body: { share, label: 'Chloe' } })).status, 200)

  anna = new Replicator({ dir: tempDir('coffer-replicator-'), bootstrap: testnet.bootstrap })
  ben = new Replicator({ dir: tempDir('coffer-replicator-'), bootstrap: testnet.bootstrap })
  await anna.open()
  await ben.open()
  ;({ context, page, errors } = await loggedIn(box.url))
})

after(async () => {
  await context?.close()
  await box?.close()
  await friend?.close()
  await anna?.close()
  await ben?.close()
  await testnet?.destroy()
  delete process.env.COFFER_DHT_BOOTSTRAP
})

const section = (name: string): Locator => page.getByRole('region', { name })
const card = (name: string): Locator => section('Replicas').getByRole('listitem').filter({ has: page.getByRole('heading', { level: 3, name, exact: true }) })
const fact = (of: Locator, name: string): Locator => of.locator('.facts div').filter({ has: page.getByText(name, { exact: true }) }).locator('dd')
const replicas = async () => (await box.api('GET', '/api/v1/backup/replicas')).body as { replicas: { id: string; name: string; settings: { windows: string[] } }[] }

/** Invites a replicator from the page and answers the operator's command the page shows. */
async function invite(key: string, name: string): Promise<string> {
  const add = section('Add a replica')
  await add.getByLabel('Replicator’s key').fill(key)
  await add.getByLabel('Name').fill(name)
  await add.getByLabel('Invite good for').selectOption({ label: '1 day' })
  await add.getByRole('button', { name: 'Invite', exact: true }).click()
  await add.getByRole('heading', { level: 3, name: `Invite for ${name}` }).waitFor()
  return add.getByRole('textbox', { name: 'Command for the replicator’s operator' }).inputValue()
}

test('the Backup page is in the navigation and shows the box\'s key, with no replica yet', async () => {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Backup' }).click()
  await page.getByRole('heading', { level: 1, name: 'Backup' }).waitFor()
  assert.equal(await page.title(), 'Backup · Coffer')
  await section('Replicas').getByText('No replica holds a copy of your data yet').waitFor()
  await section('Replicas').getByText(box.box.backup.publicKey).waitFor()
  await assertAccessible(page, 'backup, no replica')
})

test('an invite needs a replicator\'s key, and the box\'s refusal is shown as it said it', async () => {
  const add = section('Add a replica')
  await add.getByRole('button', { name: 'Invite', exact: true }).click()
  await add.getByRole('alert').filter({ hasText: 'The replicator’s key is the 64 hex characters' }).waitFor()
  await add.getByLabel('Replicator’s key').fill(box.box.backup.publicKey)
  await add.getByLabel('Name').fill('Myself')
  await add.getByRole('button', { name: 'Invite', exact: true }).click()
  await add.getByRole('alert').filter({ hasText: 'That is this box\'s own key, not a replicator\'s.' }).waitFor()
  assert.deepEqual((await replicas()).replicas, [])
  assert.ok(errors.length > 0 && errors.every((e) => e.includes('400')), errors.join('\n'))
  errors.length = 0
})

test('the owner invites a replicator, its operator accepts the code from the page, and the page follows it to paired and in sync', async () => {
  const command = await invite(anna.publicKey, 'Anna’s NAS')
  const match = /^coffer replicator accept (coffer-invite:\S+) --quota 10GiB$/.exec(command)
  assert.ok(match, command)
  const code = match[1]!
  assert.equal(await section('Add a replica').getByRole('textbox', { name: 'Invite code alone' }).inputValue(), code)
  assert.ok(!code.includes(box.box.backup.publicKey), 'the code names nothing in the clear')
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: box.url })
  await section('Add a replica').getByRole('button', { name: 'Copy command' }).click()
  await section('Add a replica').getByRole('status').filter({ hasText: 'Copied.' }).waitFor()
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), command)

  const nas = card('Anna’s NAS')
  await fact(nas, 'State').filter({ hasText: 'Invited' }).waitFor()
  await fact(nas, 'Sync').filter({ hasText: 'Not paired yet' }).waitFor()
  await screenshot(page, 'backup-invited')

  // The operator runs the command the page gave them; the page, following, sees the rest by itself.
  anna.accept(code, { quotaBytes: 64 * 2 ** 20 })
  await fact(nas, 'State').filter({ hasText: 'Paired' }).waitFor({ timeout: 30_000 })
  await fact(nas, 'Connection').filter({ hasText: /^Connected$/ }).waitFor({ timeout: 30_000 })
  await fact(nas, 'Sync').filter({ hasText: /^In sync$/ }).waitFor({ timeout: 30_000 })
  await fact(nas, 'Last check').filter({ hasText: /^(\d+) of \1 blocks matched, / }).waitFor({ timeout: 30_000 })
  assert.match(await fact(nas, 'Quota used').textContent() ?? '', /^[\d.]+ [KM]?B of 64 MB \(\d+%\)$/)
  assert.notEqual(await fact(nas, 'Last seen').textContent(), 'never')
  assert.match(await fact(nas, 'Sent').textContent() ?? '', /^[\d.]+ [KM]?B$/)
  assert.equal(await nas.getByText('Needs attention').count(), 0)

  // Each log in the detail view: the source, the audit log and the list of sources, none behind.
  await nas.getByText(/^Each log, as of its report at /).click()
  const logs = nas.getByRole('region', { name: 'Logs held by Anna’s NAS' })
  for (const log of ['Source diary', 'Audit log', 'List of sources']) await logs.getByRole('row', { name: new RegExp(`^${log} \\d+ 0 0 B$`) }).waitFor()
  assert.ok(Number(await logs.getByRole('row', { name: /^Source diary/ }).getByRole('cell').first().textContent()) > 0, 'the source\'s blocks are held')

  // The check is followed by one look at the replicas, which must have come back before the page is watched.
  await Promise.all([
    page.waitForResponse((response) => response.url().endsWith('/api/v1/backup/replicas') && response.request().method() === 'GET'),
    nas.getByRole('button', { name: 'Check now Anna’s NAS' }).click(),
  ])
  await page.getByRole('status').filter({ hasText: /^Anna’s NAS: (\d+) of \1 blocks matched\.$/ }).waitFor()
  // Settled, the page stops asking: each look is an entry in the audit log.
  await section('Replicas').getByText('Following:', { exact: false }).waitFor({ state: 'detached' })
  // A look already under way may still be reported a moment later; a page still following would look again within the 5 s watched.
  await new Promise((resolve) => setTimeout(resolve, 1000))
  let asked = 0
  const count = (request: { url(): string }) => { if (request.url().endsWith('/api/v1/backup/replicas')) asked++ }
  page.on('request', count)
  await new Promise((resolve) => setTimeout(resolve, 5000))
  page.off('request', count)
  assert.equal(asked, 0)
  await assertAccessible(page, 'backup, in sync')
  await screenshot(page, 'backup-in-sync')
})

test('a replicator whose quota is full is flagged where the owner sees it', async () => {
  const command = await invite(ben.publicKey, 'Ben’s Pi')
  ben.accept(/accept (\S+)/.exec(command)![1]!, { quotaBytes: 1 })
  const pi = card('Ben’s Pi')
  await pi.getByText('Needs attention', { exact: true }).waitFor({ timeout: 30_000 })
  await pi.getByRole('list', { name: 'Problems with Ben’s Pi' }).getByText(/^Its quota is full \([\d.]+ MiB used of [\d.]+ MiB\): it takes no more blocks/).waitFor()
  await section('Replicas').getByText('1 replica needs attention.').waitFor()
  // It stands out from the healthy one by more than its words: a heavy border in the danger colour.
  const border = (of: Locator) => of.evaluate((el) => { const s = getComputedStyle(el); return `${s.borderLeftWidth} ${s.borderLeftColor}` })
  assert.equal(await border(pi), '8px rgb(163, 36, 44)')
  assert.notEqual(await border(card('Anna’s NAS')), await border(pi))
  await screenshot(page, 'backup-flagged')
})

test('a sync window set from the page shuts the replica out now, and checking it then says why not', async () => {
  const nas = card('Anna’s NAS')
  const hhmm = (hours: number) => new Date(Date.now() + hours * 3600_000).toISOString().slice(11, 16)
  const window = `${hhmm(2)}-${hhmm(3)}`
  await nas.getByText(/^Settings: syncs at any time, upload no limit, download no limit, flagged after 1 day$/).click()
  const settings = nas.getByRole('form', { name: 'Settings of Anna’s NAS' })
  await settings.getByLabel('Sync windows').fill('nights')
  await settings.getByRole('button', { name: 'Save settings' }).click()
  await settings.getByRole('alert').filter({ hasText: '“nights” is not a sync window' }).waitFor()
  assert.deepEqual((await replicas()).replicas.find((r) => r.name === 'Anna’s NAS')!.settings.windows, [])

  await settings.getByLabel('Sync windows').fill(window)
  await settings.getByLabel('Upload limit (KB/s)').fill('512')
  await settings.getByRole('button', { name: 'Save settings' }).click()
  await page.getByRole('status').filter({ hasText: `Anna’s NAS: syncs ${window.replace('-', '–')}; upload 512 KB/s, download no limit; flagged after 1 day out of sync.` }).waitFor()
  await nas.getByText(`Settings: syncs ${window.replace('-', '–')}, upload 512 KB/s, download no limit, flagged after 1 day`).waitFor()
  const saved = (await box.api('GET', '/api/v1/backup/replicas')).body.replicas.find((r: { name: string }) => r.name === 'Anna’s NAS')
  assert.deepEqual(saved.settings, { windows: [window], uploadBytesPerSecond: 512 * 1024, downloadBytesPerSecond: 0, staleAfterSeconds: 86400 })
  await fact(nas, 'Connection').filter({ hasText: 'Outside its sync window' }).waitFor()
  await until('the replicator to be cut off', () => anna.owners()[0]?.connected === false ? true : undefined)

  await nas.getByRole('button', { name: 'Check now Anna’s NAS' }).click()
  await nas.getByRole('alert').filter({ hasText: 'Replica "Anna’s NAS" is not connected (outside its sync window)' }).waitFor()
  assert.ok(errors.length > 0 && errors.every((e) => e.includes('409')), errors.join('\n'))
  errors.length = 0
})

test('removing a replica asks first, then cuts it off', async () => {
  await card('Ben’s Pi').getByRole('button', { name: 'Remove Ben’s Pi…' }).click()
  const dialog = page.getByRole('dialog', { name: 'Remove Ben’s Pi?' })
  await dialog.getByRole('button', { name: 'Cancel' }).click()
  await dialog.waitFor({ state: 'hidden' })
  assert.equal((await replicas()).replicas.length, 2)

  await card('Ben’s Pi').getByRole('button', { name: 'Remove Ben’s Pi…' }).click()
  await dialog.getByRole('button', { name: 'Remove', exact: true }).click()
  await page.getByRole('status').filter({ hasText: /^Removed Ben’s Pi: it is disconnected and refused from now on\./ }).waitFor()
  await card('Ben’s Pi').waitFor({ state: 'detached' })
  assert.deepEqual((await replicas()).replicas.map((r) => r.name), ['Anna’s NAS'])
  await section('Replicas').getByText('needs attention').waitFor({ state: 'detached' })
  await until('the removed replicator to be disconnected', () => ben.owners()[0]?.connected === false ? true : undefined)
})

test('the owner\'s other device is invited from the same form for the owner passphrase, and the page gives the commands the device runs', async () => {
  const add = section('Add a replica')
  await add.getByRole('radio', { name: 'your own other device' }).check()
  await add.getByText(/it gets your keys, follows this box, and can take over as your box/).waitFor()
  const deviceDir = path.join(tempDir(), 'laptop')
  await add.getByLabel('Device’s key').fill(deviceIdentity(deviceDir).publicKey.toString('hex'))
  await add.getByLabel('Name').fill('Laptop')
  const passphrase = add.getByLabel('Owner passphrase')
  await add.getByText(/^Asked because the invite carries your box’s seed — every key — sealed so that only that device can open it\./).waitFor()
  await add.getByRole('button', { name: 'Invite', exact: true }).click()
  await add.getByRole('alert').filter({ hasText: 'Enter your owner passphrase: a device’s invite carries your seed' }).waitFor()

  await passphrase.fill('not the passphrase')
  await add.getByRole('button', { name: 'Invite', exact: true }).click()
  await add.getByRole('alert').filter({ hasText: 'That is not the owner passphrase of this box.' }).waitFor()
  assert.equal(await passphrase.inputValue(), '')
  assert.deepEqual((await replicas()).replicas.map((r) => r.name), ['Anna’s NAS'], 'a refused invite leaves nothing behind')
  assert.ok(errors.length > 0 && errors.every((e) => e.includes('403')), errors.join('\n'))
  errors.length = 0

  await passphrase.fill(PASSPHRASE)
  await add.getByRole('button', { name: 'Invite', exact: true }).click()
  await add.getByRole('heading', { level: 3, name: 'Invite for Laptop' }).waitFor()
  assert.equal(await passphrase.inputValue(), '')
  const accept = await add.getByRole('textbox', { name: 'Command to take the invite, on the device' }).inputValue()
  const match = /^coffer device accept (coffer-device-invite:\S+)$/.exec(accept)
  assert.ok(match, accept)
  assert.equal(await add.getByRole('textbox', { name: 'Then, to follow this box' }).inputValue(), 'coffer device start')
  assert.equal(await add.getByRole('textbox', { name: 'Invite code alone' }).inputValue(), match[1])
  await fact(card('Laptop'), 'Kind').filter({ hasText: 'Your device: holds your keys' }).waitFor()
  await card('Laptop').getByText(/^Your device [0-9a-f]{12}…$/).waitFor()
  await screenshot(page, 'backup-device-invite')
  // The code the page gave is the device's alone, and carries this box's seed.
  const accepted = await acceptDevice(deviceDir, match[1]!, async () => 'the laptop has its own')
  assert.equal(accepted.identity, box.box.home.config.identity)
  const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }))
  assert.ok(!stored.includes(PASSPHRASE))

  // Not left open: the page would follow an open invite for as long as it stays good.
  const laptop = (await replicas()).replicas.find((r) => r.name === 'Laptop')!
  assert.equal((await box.api('DELETE', `/api/v1/backup/replicas/${laptop.id}`)).status, 200)
  await add.getByRole('button', { name: 'Done' }).click()
  await card('Laptop').waitFor({ state: 'detached' })
})

test('the paper key downloads as a PDF for the owner passphrase only, and the passphrase is not kept', async () => {
  const paper = section('Paper key')
  const passphrase = paper.getByLabel('Owner passphrase')
  await paper.getByRole('button', { name: 'Download the paper key (PDF)' }).click()
  await paper.getByRole('alert').filter({ hasText: 'Enter your owner passphrase' }).waitFor()
  await passphrase.fill('not the passphrase')
  await paper.getByRole('button', { name: 'Download the paper key (PDF)' }).click()
  await paper.getByRole('alert').filter({ hasText: 'That is not the owner passphrase of this box.' }).waitFor()
  assert.equal(await passphrase.inputValue(), '')
  assert.ok(errors.length > 0 && errors.every((e) => e.includes('403')), errors.join('\n'))
  errors.length = 0

  await passphrase.fill(PASSPHRASE)
  const [download] = await Promise.all([page.waitForEvent('download'), paper.getByRole('button', { name: 'Download the paper key (PDF)' }).click()])
  assert.equal(download.suggestedFilename(), 'coffer-paper-key.pdf')
  const file = path.join(tempDir('coffer-download-'), 'paper.pdf')
  await download.saveAs(file)
  assert.equal(fs.readFileSync(file).subarray(0, 5).toString('latin1'), '%PDF-')
  await paper.getByRole('status').filter({ hasText: 'Downloaded coffer-paper-key.pdf.' }).waitFor()
  assert.equal(await passphrase.inputValue(), '')
  // A session is not the passphrase: nothing the page stored holds it.
  const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }))
  assert.ok(!stored.includes(PASSPHRASE))
})

test('the seed\'s split is shown with the command that makes one, and the shares held for friends', async () => {
  const split = section('Your seed among friends')
  await split.getByText('Your seed is not split among friends.').waitFor()
  await split.getByText(/^coffer backup shares split --threshold 2 --replica anna=ANNAS-REPLICA /).waitFor()

  // Anna's share goes through her replicator, which is outside its sync window now: it waits for it to connect.
  const made = await box.api('POST', '/api/v1/recovery/split', {
    body: { passphrase: PASSPHRASE, threshold: 2, friends: [{ name: 'chloe', identity: friend.box.home.config.identity }, { name: 'dan', identity: bystander }, { name: 'anna', replica: 'Anna’s NAS' }] },
  })
  assert.equal(made.status, 200, JSON.stringify(made.body))
  await page.reload()
  await split.getByText(/any 2 of these 3 friends’ shares rebuild your seed/).waitFor()
  assert.deepEqual(await split.getByRole('listitem').allTextContents(), [
    `chloe ${friend.box.home.config.identity.slice(0, 12)}…: handed over as a file`,
    `dan ${bystander.slice(0, 12)}…: handed over as a file`,
    `anna ${anna.publicKey.slice(0, 12)}…: waiting for Anna’s NAS to connect`,
  ])

  const held = section('Shares you hold for friends')
  await held.getByText(box.box.home.config.identity).waitFor()
  await held.getByRole('row', { name: /^Chloe 1 of 2; 2 rebuild the seed .* never$/ }).waitFor()
})

test('the whole page passes axe and every control is reached by the keyboard, on a desktop and at a phone\'s width without sideways scrolling', async () => {
  // A closed <details> keeps its controls out of the Tab order; opened, each must be reached.
  const closed = page.locator('details:not([open]) > summary')
  while (await closed.count() > 0) await closed.first().click()
  await assertAccessible(page, 'backup')
  await assertKeyboardReachable(page, 'backup')
  await screenshot(page, 'backup')
  await page.setViewportSize({ width: 390, height: 844 })
  await assertNoSidewaysScroll(page, 'the Backup page')
  await assertAccessible(page, 'backup at 390px')
  await assertKeyboardReachable(page, 'backup at 390px')
  await screenshot(page, 'backup-390')
  await page.setViewportSize({ width: 1280, height: 900 })
})

test('no console errors on the way', () => {
  assert.deepEqual(errors, [])
})
