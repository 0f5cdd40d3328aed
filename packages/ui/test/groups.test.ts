/**
 * The Groups page in a real browser against two real boxes on a local DHT testnet. The owner
 * founds a group from the page, invites the other box (the sealed invite is copied from the page)
 * and the page follows it until both members are listed, connected. Through the page a file goes
 * up into the drive, is found there over WebDAV by a plain HTTP client and at the other member's
 * box, comes down again byte for byte, and is deleted after a confirmation; a file both members
 * wrote at once shows as a conflict until its copy is deleted from the page. A blind replicator
 * pairs, and the sync windows set for it from the page let it go and let it back. A source the
 * other member shares shows with its rules in words and this box's read-only copy, and the owner
 * shares one of theirs from the page. The owner joins the
 * other box's group with an invite pasted into the page, removes a member after a confirmation
 * that says what removal does and does not do, and leaves a group. Checked with axe-core and the
 * keyboard, on a desktop and at a phone's width, and photographed into test-artifacts/.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { createHash, randomBytes } from 'node:crypto'
import createTestnet from 'hyperdht/testnet.js'
import type { BrowserContext, Locator, Page } from 'playwright-core'
import { initHome } from '../../box/src/index.ts'
import { Replicator } from '../../box/src/backup/index.ts'
import type { GroupView, UnopenedGroup } from '../../box/src/groups/index.ts'
import { openCorestore } from '../../box/src/store/index.ts'
import { PASSPHRASE, startBox, tempDir, until, type Running } from '../../box/test/helpers.ts'
import { assertAccessible, assertKeyboardReachable, assertNoSidewaysScroll, loggedIn, screenshot, watchErrors } from './browser.ts'

/** How long a box may take to reach another over the testnet and be let in. */
const JOIN_MS = 60_000

let testnet: Awaited<ReturnType<typeof createTestnet>>
let anna: Running
let bea: Running
let context: BrowserContext
let page: Page
let errors: string[]
let household: string
let replicator: Replicator

before(async () => {
  testnet = await createTestnet(3, { host: '127.0.0.1' })
  // A box reads its DHT bootstrap from the environment when it is made, as `coffer start` does.
  process.env.COFFER_DHT_BOOTSTRAP = testnet.bootstrap.map((b) => `${b.host}:${b.port}`).join(',')
  // The boxes meet on the LAN on a port of this test's own, so nothing else on the link is heard.
  process.env.COFFER_LAN_PORT = String(40_000 + Math.floor(Math.random() * 20_000))
  const home = path.join(tempDir(), 'home')
  initHome(home, { passphrase: PASSPHRASE, timeZone: 'UTC' })
  anna = await startBox(home)
  bea = await startBox()
  ;({ context, page, errors } = await loggedIn(anna.url))
})

after(async () => {
  await context?.close()
  await replicator?.close()
  await anna?.close()
  await bea?.close()
  await testnet?.destroy()
  delete process.env.COFFER_DHT_BOOTSTRAP
  delete process.env.COFFER_LAN_PORT
})

const section = (name: string): Locator => page.getByRole('region', { name })
const card = (name: string): Locator => section('Your groups').getByRole('listitem').filter({ has: page.getByRole('heading', { level: 3, name, exact: true }) })
const fact = (of: Locator, name: string): Locator => of.locator('.facts div').filter({ has: page.getByText(name, { exact: true }) }).locator('dd')
const members = (of: Locator, group: string): Locator => of.getByRole('region', { name: `Members of ${group}` }).getByRole('row')
const dialog = (): Locator => page.getByRole('dialog')
const groupsOf = async (box: Running) => (await box.api('GET', '/api/v1/groups')).body as { boxKey: string; groups: GroupView[]; unopened: UnopenedGroup[] }

/** A request to a drive over WebDAV, as a file manager sends it: the owner's token, the path below the drive. */
const dav = (box: Running, group: string, target: string, init: RequestInit = {}) =>
  fetch(`${box.url}/dav/groups/${group}${target}`, { ...init, headers: { authorization: `Bearer ${box.token}`, ...init.headers } })

test('the Groups page is in the navigation and shows the box\'s key, with no group yet', async () => {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Groups' }).click()
  await page.getByRole('heading', { level: 1, name: 'Groups' }).waitFor()
  assert.equal(await page.title(), 'Groups · Coffer')
  await section('Your groups').getByText('This box is in no group yet').waitFor()
  await section('Your groups').getByText(anna.box.groups.publicKey).waitFor()
  await assertAccessible(page, 'groups, none yet')
})

test('the owner founds a group from the page: its key, address, their role and where to mount its drive', async () => {
  const found = page.getByRole('form', { name: 'Found a group' })
  await found.getByRole('button', { name: 'Found the group' }).click()
  await found.getByRole('alert').filter({ hasText: 'Give the group a name' }).waitFor()
  await found.getByLabel('Group name').fill('Household')
  await found.getByLabel('Your name in it').fill('Anna')
  await found.getByRole('button', { name: 'Found the group' }).click()
  await page.getByRole('status').filter({ hasText: 'Founded Household.' }).waitFor()

  const listed = (await groupsOf(anna)).groups
  assert.deepEqual(listed.map((g) => g.name), ['Household'])
  household = listed[0]!.key
  const home = card('Household')
  assert.equal(await fact(home, 'Your role').textContent(), 'Admin')
  assert.equal(await fact(home, 'Connected').textContent(), 'No other member yet')
  await home.getByText(household, { exact: true }).waitFor()
  await home.getByText(listed[0]!.address, { exact: true }).waitFor()
  await home.getByText(`${anna.url}/dav/groups/${household}/`, { exact: true }).waitFor()
  const rows = await members(home, 'Household').allTextContents()
  assert.equal(rows.length, 2, 'a header and the founder')
  assert.match(rows[1]!, new RegExp(`^Anna \\(you\\)AdminThis box.+Founded it${anna.box.groups.publicKey.slice(0, 12)}…$`))
  await home.getByText('The drive is empty.').waitFor()
  await section('Your groups').getByText('This box is in no group yet').waitFor({ state: 'detached' })
})

test('an invite needs a box\'s key, and the box\'s refusal is shown as it said it', async () => {
  const home = card('Household')
  await home.getByText('Invite a member to Household').click()
  const form = home.getByRole('form', { name: 'Invite a member to Household' })
  await form.getByLabel('Their box’s key').fill('not a key')
  await form.getByRole('button', { name: 'Invite', exact: true }).click()
  await form.getByRole('alert').filter({ hasText: 'A box’s key is 64 hex characters' }).waitFor()
  await form.getByLabel('Their box’s key').fill(anna.box.groups.publicKey)
  await form.getByLabel('Name').fill('Myself')
  await form.getByRole('button', { name: 'Invite', exact: true }).click()
  await form.getByRole('alert').filter({ hasText: 'That is this box\'s own key.' }).waitFor()
  assert.ok(errors.length > 0 && errors.every((e) => e.includes('400')), errors.join('\n'))
  errors.length = 0
})

test('an admin invites a blind replicator: the page says none holds the group yet, and gives the command for its operator', async () => {
  const home = card('Household')
  const replicators = home.getByRole('region', { name: 'Replicators of Household' })
  await replicators.getByText('No replicator holds Household yet.').waitFor()
  await replicators.getByText('Add a replicator to Household').click()
  const form = replicators.getByRole('form', { name: 'Add a replicator to Household' })
  await form.getByLabel('Its key').fill('not a key')
  await form.getByRole('button', { name: 'Invite the replicator' }).click()
  await form.getByRole('alert').filter({ hasText: 'coffer replicator id' }).waitFor()
  replicator = new Replicator({ dir: tempDir('coffer-ui-replicator-'), bootstrap: testnet.bootstrap })
  await replicator.open()
  await form.getByLabel('Its key').fill(replicator.publicKey)
  await form.getByLabel('Name').fill('Co-op server')
  await form.getByRole('button', { name: 'Invite the replicator' }).click()
  const command = await replicators.getByLabel('Command for the replicator’s operator').inputValue()
  assert.match(command, /^coffer replicator accept coffer-group-replica:[A-Za-z0-9_-]+ --quota 10GiB$/)
  // Its operator accepts; once it pairs it is listed.
  replicator.accept(command.split(' ')[3]!, { quotaBytes: 2 ** 30 })
  await until('the replicator to pair', async () => (await groupsOf(anna)).groups[0]!.replicators[0]?.connected || undefined, JOIN_MS)
})

test('this box\'s sync windows with a replicator are set from the page: outside them it is let go, inside them it connects again', async () => {
  const home = card('Household')
  const replicators = home.getByRole('region', { name: 'Replicators of Household' })
  const row = replicators.getByRole('row').filter({ hasText: /^Co-op server/ })
  await section('Your groups').getByRole('button', { name: 'Refresh' }).click()
  await row.filter({ hasText: /^Co-op serverConnectedAt any time/ }).waitFor()
  await replicators.getByText('Sync of Co-op server: at any time, upload no limit, download no limit').click()
  const form = replicators.getByRole('form', { name: 'Sync of Co-op server' })
  await form.getByLabel('Sync windows').fill('25:00-26:00')
  await form.getByRole('button', { name: 'Save' }).click()
  await form.getByRole('alert').filter({ hasText: '“25:00-26:00” is not a sync window' }).waitFor()

  // A window that opens in two hours (the box is in UTC): the replicator is let go at once.
  const hhmm = (offsetHours: number) => new Date(Date.now() + offsetHours * 3600_000).toISOString().slice(11, 16)
  const closed = `${hhmm(2)}-${hhmm(3)}`
  await form.getByLabel('Sync windows').fill(closed)
  await form.getByLabel('Upload limit (KB/s)').fill('512')
  await form.getByRole('button', { name: 'Save' }).click()
  await replicators.getByRole('status').filter({ hasText: `Co-op server: syncs ${closed.replace('-', '–')} (outside its windows now: this box lets it go until one opens); upload 512 KB/s, download no limit.` }).waitFor()
  await row.filter({ hasText: `Co-op serverOutside its sync windows${closed.replace('-', '–')}` }).waitFor()
  const set = (await groupsOf(anna)).groups[0]!.replicators[0]!
  assert.deepEqual([set.windows, set.limits.uploadBytesPerSecond, set.connected], [[closed], 512 * 1024, false])

  // Emptied, it syncs at any time and connects again.
  await replicators.getByText(/^Sync of Co-op server: /).click()
  await form.getByLabel('Sync windows').fill('')
  await form.getByRole('button', { name: 'Save' }).click()
  await until('the replicator to connect again', async () => (await groupsOf(anna)).groups[0]!.replicators[0]?.connected || undefined, JOIN_MS)
  await section('Your groups').getByRole('button', { name: 'Refresh' }).click()
  await row.filter({ hasText: /^Co-op serverConnectedAt any time/ }).waitFor()
})

test('the owner invites another box, copies the sealed invite, and the page follows it until both members are listed and connected', async () => {
  const home = card('Household')
  const form = home.getByRole('form', { name: 'Invite a member to Household' })
  const beaKey = (await groupsOf(bea)).boxKey
  await form.getByLabel('Their box’s key').fill(beaKey.toUpperCase().replace(/(.{16})/g, '$1 '))
  await form.getByLabel('Name').fill('Bea')
  await form.getByLabel('Role').selectOption({ label: 'Member' })
  await form.getByLabel('Invite good for').selectOption({ label: '1 hour' })
  await form.getByRole('button', { name: 'Invite', exact: true }).click()
  await home.getByRole('heading', { level: 4, name: 'Invite for Bea' }).waitFor()

  const code = await home.getByRole('textbox', { name: 'Invite', exact: true }).inputValue()
  assert.match(code, /^coffer-group:[A-Za-z0-9_-]+$/)
  assert.ok(!code.includes(household) && !code.includes('Household'), 'the invite names nothing in the clear')
  assert.equal(await home.getByRole('textbox', { name: 'Command for their box' }).inputValue(), `coffer groups join ${code}`)
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: anna.url })
  await home.getByRole('button', { name: 'Copy invite' }).click()
  await home.getByRole('status').filter({ hasText: 'Copied.' }).waitFor()
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), code)
  await home.getByRole('status').filter({ hasText: 'Waiting for Bea to join Household' }).waitFor()

  // Bea's owner uses the invite on their box; the page, following, sees them arrive by itself.
  const copied = await page.evaluate(() => navigator.clipboard.readText())
  const joined = await bea.api('POST', '/api/v1/groups/join', { body: { code: copied } })
  assert.equal(joined.status, 201, JSON.stringify(joined.body))
  await members(home, 'Household').filter({ hasText: /^Bea/ }).waitFor({ timeout: JOIN_MS })
  assert.equal(await members(home, 'Household').count(), 3, 'a header and two members')
  await members(home, 'Household').filter({ hasText: /^BeaMemberConnected/ }).waitFor({ timeout: JOIN_MS })
  assert.match(await members(home, 'Household').filter({ hasText: /^Bea/ }).textContent() ?? '', new RegExp(`^BeaMemberConnected.+Anna${beaKey.slice(0, 12)}…Remove…$`))
  await home.getByRole('status').filter({ hasText: 'Waiting for Bea' }).waitFor({ state: 'detached' })
  assert.equal(await fact(home, 'Connected').textContent(), '1 of 1 other member')
  await screenshot(page, 'groups-two-members')
  await home.getByRole('button', { name: 'Done' }).click()
  await home.getByRole('heading', { level: 4, name: 'Invite for Bea' }).waitFor({ state: 'detached' })
})

test('a file uploaded through the page is in the drive over WebDAV and at the other member, downloads byte for byte, and is deleted after a confirmation', async () => {
  const home = card('Household')
  const name = 'Grüße & shopping.bin'
  const bytes = randomBytes(300 * 1024 + 17)
  const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')

  await home.getByLabel('Upload files here').setInputFiles({ name, mimeType: 'application/octet-stream', buffer: bytes })
  await home.getByText(`Uploaded ${name} (300 KB) to the drive.`).waitFor()
  const row = home.getByRole('region', { name: 'Files in Household’s drive, top folder' }).getByRole('row').filter({ hasText: name })
  await row.filter({ hasText: /300 KB.+Anna/ }).waitFor()

  // A plain WebDAV client finds it where the page put it, and reads the same bytes.
  const listing = await dav(anna, household, '/', { method: 'PROPFIND', headers: { depth: '1' } })
  assert.equal(listing.status, 207)
  const xml = await listing.text()
  const hrefs = [...xml.matchAll(/<D:href>([^<]*)<\/D:href>/gi)].map((m) => decodeURIComponent(m[1]!.replaceAll('&amp;', '&')))
  assert.ok(hrefs.includes(`${anna.url}/dav/groups/${household}/${name}`), hrefs.join('\n'))
  assert.match(xml, new RegExp(`getcontentlength>${bytes.length}<`, 'i'))
  const got = await dav(anna, household, `/${encodeURIComponent(name)}`)
  assert.equal(got.status, 200)
  assert.equal(sha(new Uint8Array(await got.arrayBuffer())), sha(bytes))
  // And so does the other member, from its own box, once the change has reached it.
  await until('the file at Bea\'s box', async () => (await dav(bea, household, `/${encodeURIComponent(name)}`, { method: 'HEAD' })).status === 200 || undefined, JOIN_MS)
  assert.equal(sha(new Uint8Array(await (await dav(bea, household, `/${encodeURIComponent(name)}`)).arrayBuffer())), sha(bytes))

  const [download] = await Promise.all([page.waitForEvent('download'), row.getByRole('button', { name: `Download ${name}` }).click()])
  assert.equal(download.suggestedFilename(), name)
  const file = path.join(tempDir('coffer-download-'), 'file.bin')
  await download.saveAs(file)
  assert.equal(sha(fs.readFileSync(file)), sha(bytes))
  await home.getByText(`Downloaded ${name}.`).waitFor()

  // A folder made from the page is one to open, and back out of.
  await home.getByLabel('New folder').fill('photos')
  await home.getByRole('button', { name: 'Make folder' }).click()
  await home.getByRole('button', { name: 'Open folder photos' }).click()
  await home.getByText('This folder is empty.').waitFor()
  assert.equal((await dav(anna, household, '/photos/', { method: 'PROPFIND', headers: { depth: '0' } })).status, 207)
  await home.getByRole('navigation', { name: 'Folders in Household’s drive' }).getByRole('button', { name: 'Top folder' }).click()
  await row.waitFor()

  await row.getByRole('button', { name: `Delete ${name}…` }).click()
  await dialog().getByText('from Household’s drive for every member').waitFor()
  await dialog().getByRole('button', { name: 'Cancel' }).click()
  await dialog().waitFor({ state: 'hidden' })
  assert.equal((await dav(anna, household, `/${encodeURIComponent(name)}`, { method: 'HEAD' })).status, 200)
  await row.getByRole('button', { name: `Delete ${name}…` }).click()
  await dialog().getByRole('button', { name: 'Delete', exact: true }).click()
  await home.getByText(`Deleted ${name} from the drive, for every member.`).waitFor()
  await row.waitFor({ state: 'detached' })
  assert.equal((await dav(anna, household, `/${encodeURIComponent(name)}`)).status, 404)
  await until('the deletion at Bea\'s box', async () => (await dav(bea, household, `/${encodeURIComponent(name)}`, { method: 'HEAD' })).status === 404 || undefined, JOIN_MS)
})

test('a file both members wrote at once shows as a conflict, both versions kept, until the page deletes the copy', async () => {
  const write = async (box: Running, text: string) => {
    await box.box.groups.drive(household).writeFile('/plan.txt', text)
  }
  await write(anna, 'beans in row 1')
  await until('the plan at Bea\'s box', async () => (await bea.box.groups.drive(household).stat('/plan.txt')) ?? undefined, JOIN_MS)
  // Each box starts its edit over the version both hold, and only then do both finish: neither saw the other's.
  const annas = await anna.box.groups.drive(household).write('/plan.txt')
  const beas = await bea.box.groups.drive(household).write('/plan.txt')
  const finish = (stream: NodeJS.WritableStream, text: string) => new Promise<void>((resolve, reject) => {
    stream.once('error', reject)
    stream.end(text, () => resolve())
  })
  await Promise.all([finish(annas, 'potatoes in row 1'), finish(beas, 'carrots in row 1')])
  await until('the conflict at Anna\'s box', async () => (await groupsOf(anna)).groups.find((g) => g.key === household)?.conflicts.find((c) => c.versions.length === 2), JOIN_MS)

  const home = card('Household')
  await section('Your groups').getByRole('button', { name: 'Refresh' }).click()
  const conflicts = home.getByRole('group', { name: 'Conflicting versions in Household’s drive' })
  await conflicts.getByText(/^\/plan\.txt: (Anna|Bea) at .+, (Anna|Bea) at .+$/).waitFor()
  const files = home.getByRole('region', { name: 'Files in Household’s drive, top folder' })
  const copy = files.getByRole('row').filter({ hasText: /^plan \(conflict (Anna|Bea) / })
  await copy.getByText('another version of plan.txt, written at the same time').waitFor()
  await files.getByRole('row').filter({ hasText: /^plan\.txt — members wrote it at once/ }).waitFor()
  await screenshot(page, 'groups-conflict')

  await copy.getByRole('button', { name: /^Delete plan \(conflict/ }).click()
  await dialog().getByText('This version goes; the file keeps its others.').waitFor()
  await dialog().getByRole('button', { name: 'Delete', exact: true }).click()
  await copy.waitFor({ state: 'detached' })
  await section('Your groups').getByRole('button', { name: 'Refresh' }).click()
  await conflicts.waitFor({ state: 'detached' })
  assert.deepEqual((await groupsOf(anna)).groups.find((g) => g.key === household)!.conflicts, [])
  assert.match((await (await dav(anna, household, '/plan.txt')).text()), /^(potatoes|carrots) in row 1$/)
})

test('a source another member shares shows with who shares it, its rules in words and this box\'s read-only copy; the owner shares one of theirs from the page', async () => {
  const t0 = Date.UTC(2026, 10, 2, 10) / 1000
  for (const [box, id, type] of [[bea, 'meter', 'energy'], [anna, 'thermostat', 'environment']] as const) {
    assert.equal((await box.api('POST', '/api/v1/sources', { body: { id, logicalType: type, description: `The ${id}` } })).status, 201)
    assert.equal((await box.api('POST', `/api/v1/sources/${id}/records`, { raw: JSON.stringify([{ n: 'x', v: 1, t: t0 }]), type: 'application/senml+json' })).status, 201)
  }
  assert.equal((await bea.api('POST', `/api/v1/groups/${household}/sources`, { body: { source: 'meter', apps: 'raw' } })).status, 201)
  const copy = await until('Anna\'s copy of Bea\'s meter', async () => (await groupsOf(anna)).groups.find((g) => g.key === household)?.sources.find((s) => s.source === 'meter' && s.records === 1), JOIN_MS)
  // The share form lists this box's sources as the page found them: it is read again with the page.
  await page.reload()
  const home = card('Household')
  const shared = home.getByRole('region', { name: 'Sources shared with Household' })
  const meter = shared.getByRole('row').filter({ hasText: /^meter/ })
  await meter.waitFor()
  assert.match(await meter.textContent() ?? '', new RegExp(`^meterBea${copy.id.replaceAll('.', '\\.')} Read-only, held by the group1Live since .+Apps may read every reading; nothing read from it leaves a member’s box; it answers no data market\\.$`))
  assert.equal(await meter.getByRole('button').count(), 0, 'only its sharer stops sharing it')
  await meter.getByRole('link', { name: copy.id }).waitFor()

  await home.getByText('Share a source with Household').click()
  const form = home.getByRole('form', { name: 'Share a source with Household' })
  await form.getByRole('button', { name: 'Share it' }).click()
  await form.getByRole('alert').filter({ hasText: 'Choose the source to share.' }).waitFor()
  assert.deepEqual(await form.getByLabel('Source').locator('option').allTextContents(), ['Choose…', 'thermostat'], 'neither the copy of Bea\'s meter nor anything else')
  await form.getByLabel('Source').selectOption('thermostat')
  await form.getByLabel('Over at least').selectOption({ label: '1 day' })
  await form.getByLabel('It may answer data markets').check()
  await form.getByRole('button', { name: 'Share it' }).click()
  const thermostat = shared.getByRole('row').filter({ hasText: /^thermostat/ })
  await thermostat.filter({ hasText: /^thermostatAnna \(you\)thermostat1Live since .+Apps may read totals and averages over 1 day or more; nothing read from it leaves a member’s box; it may answer data markets\.Stop sharing…$/ }).waitFor()
  const atBea = await until('Bea\'s copy of the thermostat', async () => (await groupsOf(bea)).groups.find((g) => g.key === household)?.sources.find((s) => s.source === 'thermostat' && s.records === 1), JOIN_MS)
  assert.deepEqual(atBea.rules, { apps: 'aggregates', finest: 86400, gateway: false, market: true })
  await screenshot(page, 'groups-shared-sources')
})

test('the owner joins another box\'s group with an invite pasted into the page', async () => {
  const join = page.getByRole('form', { name: 'Join a group' })
  await join.getByLabel('Invite').fill('coffer-invite:not-for-groups')
  await join.getByRole('button', { name: 'Join', exact: true }).click()
  await join.getByRole('alert').filter({ hasText: 'A group invite starts with "coffer-group:": paste the whole code the group\'s admin gave you.' }).waitFor()
  assert.ok(errors.length > 0 && errors.every((e) => e.includes('400')), errors.join('\n'))
  errors.length = 0

  const allotment = await bea.api('POST', '/api/v1/groups', { body: { name: 'Allotment', as: 'Bea' } })
  assert.equal(allotment.status, 201, JSON.stringify(allotment.body))
  const invited = await bea.api('POST', `/api/v1/groups/${allotment.body.key}/invites`, { body: { publicKey: anna.box.groups.publicKey, name: 'Anna', expiresIn: '1h' } })
  assert.equal(invited.status, 200, JSON.stringify(invited.body))
  // The whole command, as the CLI prints it, is taken too.
  await join.getByLabel('Invite').fill(`  coffer groups join ${invited.body.invite}\n`)
  await join.getByLabel('Your name in it').fill('Anna G.')
  await join.getByRole('button', { name: 'Join', exact: true }).click()
  await page.getByRole('status').filter({ hasText: 'Joined Allotment as Anna G.' }).waitFor({ timeout: JOIN_MS })
  const plot = card('Allotment')
  assert.equal(await fact(plot, 'Your role').textContent(), 'Member')
  assert.equal(await members(plot, 'Allotment').count(), 3)
  await members(plot, 'Allotment').filter({ hasText: /^Anna G\. \(you\)Member/ }).waitFor()
  // A member, not an admin, is offered neither invites nor removals.
  assert.equal(await plot.getByText('Invite a member to Allotment').count(), 0)
  assert.equal(await plot.getByRole('button', { name: /^Remove/ }).count(), 0)
})

test('removing a member asks first, saying plainly what it does and does not do, then the group moves to a new content key', async () => {
  const home = card('Household')
  await home.getByRole('button', { name: 'Remove Bea…' }).click()
  const ask = page.getByRole('dialog', { name: 'Remove Bea from Household?' })
  await ask.getByText('Household moves to a new content key that their box never gets').waitFor()
  await ask.getByText('Nothing written in the group from now on is readable by them.').waitFor()
  await ask.getByText('What they already had — the files their box synced before now — they keep.').waitFor()
  await ask.getByRole('button', { name: 'Cancel' }).click()
  await ask.waitFor({ state: 'hidden' })
  assert.equal((await groupsOf(anna)).groups.find((g) => g.key === household)!.members.length, 2)

  await home.getByRole('button', { name: 'Remove Bea…' }).click()
  await ask.getByRole('button', { name: 'Remove', exact: true }).click()
  await page.getByRole('status').filter({ hasText: /^Removed Bea from Household\. .*they cannot read anything written from now on\. What they already had, they keep\.$/ }).waitFor({ timeout: JOIN_MS })
  await members(home, 'Household').filter({ hasText: /^Bea/ }).waitFor({ state: 'detached' })
  assert.equal(await fact(home, 'Content key').textContent(), 'Changed 1 time')
  await until('Bea\'s box to hear it was removed', async () => (await groupsOf(bea)).groups.find((g) => g.key === household)?.removed || undefined, JOIN_MS)
})

test('the whole page passes axe and every control is reached by the keyboard, on a desktop and at a phone\'s width without sideways scrolling', async () => {
  await card('Household').getByText('Invite a member to Household').click()
  await card('Household').getByRole('form', { name: 'Invite a member to Household' }).waitFor()
  const closed = page.locator('details:not([open]) > summary')
  while (await closed.count() > 0) await closed.first().click()
  await assertAccessible(page, 'groups')
  await assertKeyboardReachable(page, 'groups')
  await screenshot(page, 'groups')
  await page.setViewportSize({ width: 390, height: 844 })
  await assertNoSidewaysScroll(page, 'the Groups page')
  await assertAccessible(page, 'groups at 390px')
  await assertKeyboardReachable(page, 'groups at 390px')
  await screenshot(page, 'groups-390')
  await page.setViewportSize({ width: 1280, height: 900 })
})

test('leaving a group asks first, then the other members hear it and the group is gone from the page', async () => {
  const plot = card('Allotment')
  await plot.getByRole('button', { name: 'Leave Allotment…' }).click()
  const ask = page.getByRole('dialog', { name: 'Leave Allotment?' })
  await ask.getByText('this box deletes its copy of Allotment and its drive').waitFor()
  await ask.getByRole('button', { name: 'Leave', exact: true }).click()
  await page.getByRole('status').filter({ hasText: 'Left Allotment: its members were told' }).waitFor({ timeout: JOIN_MS })
  await plot.waitFor({ state: 'detached' })
  assert.deepEqual((await groupsOf(anna)).groups.map((g) => g.name), ['Household'])
  await until('Bea\'s box to hear Anna left', async () => (await groupsOf(bea)).groups.find((g) => g.name === 'Allotment')?.members.length === 1 || undefined, JOIN_MS)
})

test('on the local network the admin invites a box asking nearby by its fingerprint, and the page asks to join another box\'s group and joins once the admin\'s fingerprint is shown', async () => {
  const club = await anna.api('POST', '/api/v1/groups', { body: { name: 'Club', as: 'Anna' } })
  assert.equal(club.status, 201, JSON.stringify(club.body))
  const beaAsks = await bea.api('POST', '/api/v1/groups/lan/ask', { body: { as: 'Bea', wait: 120 } })
  assert.equal(beaAsks.status, 200, JSON.stringify(beaAsks.body))
  await page.reload()
  const clubCard = card('Club')
  await clubCard.getByText('Invite a member to Club').click()
  await clubCard.getByRole('button', { name: 'Look for boxes nearby' }).click()
  const nearby = clubCard.getByRole('region', { name: 'Boxes asking to join nearby, for Club' })
  await nearby.getByRole('row').filter({ hasText: `${beaAsks.body.fingerprint}Bea` }).waitFor()
  await assertAccessible(page, 'groups, boxes asking nearby')
  await nearby.getByRole('button', { name: `Invite the box ${beaAsks.body.fingerprint}` }).click()
  const sent = clubCard.getByRole('region', { name: 'Invite for Bea' })
  await sent.getByText(`Sent on this network to the box ${beaAsks.body.fingerprint}. Their box has it.`).waitFor()
  const adminFingerprint = await sent.locator('.fingerprint').textContent()
  const offer = await until('the invite at Bea\'s box', async () => (await bea.api('GET', '/api/v1/groups/lan/ask')).body.offers[0])
  assert.equal(offer.adminFingerprint, adminFingerprint, 'both screens show the admin\'s fingerprint')
  assert.equal(offer.groupName, 'Club')
  assert.equal((await bea.api('POST', '/api/v1/groups/lan/join', { body: { offer: offer.id } })).status, 201)
  await members(clubCard, 'Club').filter({ hasText: /^BeaMember/ }).waitFor({ timeout: JOIN_MS })
  await clubCard.getByRole('button', { name: 'Done' }).click()

  // The other way round: this page asks, and Bea's box invites it.
  const choir = await bea.api('POST', '/api/v1/groups', { body: { name: 'Choir', as: 'Bea' } })
  assert.equal(choir.status, 201, JSON.stringify(choir.body))
  const ask = page.getByRole('form', { name: 'Ask to join on this network' })
  await ask.getByLabel('Your name in the group').fill('Anna L.')
  await ask.getByRole('button', { name: 'Ask to join' }).click()
  await ask.getByRole('status').filter({ hasText: 'The admin’s screen shows this fingerprint beside Anna L.' }).waitFor()
  const fingerprint = (await ask.locator('strong.fingerprint').textContent())!
  assert.match(fingerprint, /^[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}$/)
  await until('Bea\'s box to hear this one asking', async () => (await bea.api('GET', '/api/v1/groups/lan/nearby')).body.nearby.find((b: { fingerprint: string }) => b.fingerprint === fingerprint))
  const invited = await bea.api('POST', `/api/v1/groups/${choir.body.key}/invites/lan`, { body: { to: fingerprint } })
  assert.equal(invited.status, 200, JSON.stringify(invited.body))
  assert.equal(invited.body.to.name, 'Anna L.')
  const shown = ask.getByRole('region', { name: 'Invite to Choir' })
  await shown.getByText('Invited to Choir as Anna L. (a member)').waitFor()
  await shown.getByText(`By the admin whose fingerprint is ${invited.body.adminFingerprint}`).waitFor()
  await assertAccessible(page, 'groups, an invite arrived on the local network')
  await screenshot(page, 'groups-lan')
  await shown.getByRole('button', { name: 'Join Choir' }).click()
  await page.getByRole('status').filter({ hasText: 'Joined Choir as Anna L.' }).waitFor({ timeout: JOIN_MS })
  await members(card('Choir'), 'Choir').filter({ hasText: /^Anna L\. \(you\)Member/ }).waitFor()
})

test('a group the box cannot open is shown with why and when the box tries again, and can be dropped from it after a confirmation', async () => {
  const home = bea.box.home.dir
  const choir = (await groupsOf(bea)).groups.find((g) => g.name === 'Choir')!
  await bea.close()
  // Another process holds the group's store, so Bea's box, started again, cannot lock it.
  const holder = openCorestore(path.join(home, 'groups', choir.key))
  await holder.ready()
  try {
    bea = await startBox(home)
    const beas = await context.newPage()
    const beaErrors = watchErrors(beas)
    await beas.goto(bea.url)
    await beas.getByLabel('Passphrase').fill(PASSPHRASE)
    await beas.keyboard.press('Enter')
    await beas.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Groups' }).click()
    const stuck = beas.getByRole('group', { name: 'Choir, not opened' })
    await stuck.getByText(/could not be opened: .*lock.*\. The box tries again in \d+ s/i).waitFor()
    await assertAccessible(beas, 'groups, one not opened')
    await stuck.getByRole('button', { name: 'Drop Choir from this box…' }).click()
    const ask = beas.getByRole('dialog', { name: 'Drop Choir from this box?' })
    await ask.getByText('the other members are not told').waitFor()
    await ask.getByRole('button', { name: 'Drop', exact: true }).click()
    await beas.getByRole('status').filter({ hasText: 'Dropped Choir from this box. Its members were not told' }).waitFor()
    await stuck.waitFor({ state: 'detached' })
    const left = await groupsOf(bea)
    assert.ok(!left.groups.some((g) => g.key === choir.key))
    assert.deepEqual(left.unopened, [])
    assert.ok(!fs.existsSync(path.join(home, 'groups', choir.key)), 'its files are deleted')
    assert.deepEqual(beaErrors, [])
    await beas.close()
  } finally {
    await holder.close().catch(() => {})
  }
})

test('no console errors on the way', () => {
  assert.deepEqual(errors, [])
})
