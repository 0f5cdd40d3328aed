import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import createTestnet from 'hyperdht/testnet.js'
import HyperDHT from 'hyperdht'
import Hyperswarm from 'hyperswarm'
import { initHome, openHome } from '../src/index.ts'
import { openMetaDb } from '../src/db/index.ts'
import { Groups } from '../src/groups/index.ts'
import { PASSPHRASE, tempDir, until, within } from './helpers.ts'

type Bootstrap = { host: string; port: number }[]

/** Undoes what a test set up in reverse order: boxes leave the DHT before its nodes go. */
function teardown(t: TestContext): (step: () => Promise<unknown> | unknown) => void {
  const steps: (() => Promise<unknown> | unknown)[] = []
  t.after(async () => {
    for (const step of steps.reverse()) await step()
  })
  return (step) => void steps.push(step)
}

/** A box's groups, on its own home, as the box makes them: closed and opened again like a box stopped and started. */
async function member(later: ReturnType<typeof teardown>, bootstrap: Bootstrap) {
  const dir = path.join(tempDir('coffer-groups-'), 'home')
  initHome(dir, { passphrase: PASSPHRASE, timeZone: 'UTC' })
  const home = openHome(dir)
  const db = openMetaDb(home.paths.meta)
  const make = (network = bootstrap) => new Groups({ db, keys: home.keys, dir: path.join(dir, 'groups'), bootstrap: network })
  const box = { dir, home, groups: make(), running: true }
  await box.groups.open()
  later(async () => {
    if (box.running) await box.groups.close()
    db.close()
  })
  return Object.assign(box, {
    async stop() {
      await box.groups.close()
      box.running = false
    },
    /** Starts the box again, on the group's network or on another one. */
    async start(network = bootstrap) {
      box.groups = make(network)
      await box.groups.open()
      box.running = true
    },
  })
}

async function testnet(later: ReturnType<typeof teardown>): Promise<Bootstrap> {
  const net = await createTestnet(3, { host: '127.0.0.1' })
  later(() => net.destroy())
  return net.bootstrap
}

test('a box founds a group, invites another, and both write and read the drive', async (t) => {
  const later = teardown(t)
  const bootstrap = await testnet(later)
  const anna = await member(later, bootstrap)
  const bea = await member(later, bootstrap)
  const group = await anna.groups.create({ name: 'Household', as: 'Anna' })
  assert.equal(group.role, 'admin')
  assert.deepEqual(group.members.map((m) => m.name), ['Anna'])
  const { invite } = anna.groups.invite(group.key, { publicKey: bea.groups.publicKey, name: 'Bea', role: 'member', expiresInSeconds: 600 })
  const joined = await within('the join', bea.groups.join({ code: invite }), 60_000)
  assert.equal(joined.key, group.key)
  assert.equal(joined.role, 'member')
  assert.deepEqual(joined.members.map((m) => m.name).sort(), ['Anna', 'Bea'])

  await anna.groups.drive(group.key).writeFile('/notes/shopping.txt', 'milk, eggs')
  const fromAnna = await until('Anna\'s file at Bea\'s', async () => (await bea.groups.drive(group.key).stat('/notes/shopping.txt')) ?? undefined)
  assert.equal(fromAnna.author, 'Anna')
  assert.equal((await bea.groups.drive(group.key).readFile('/notes/shopping.txt')).toString(), 'milk, eggs')
  await bea.groups.drive(group.key).writeFile('/notes/shopping.txt', 'milk, eggs, bread')
  await until('Bea\'s edit at Anna\'s', async () => (await anna.groups.drive(group.key).stat('/notes/shopping.txt'))?.author === 'Bea' || undefined)
  assert.equal((await anna.groups.drive(group.key).readFile('/notes/shopping.txt')).toString(), 'milk, eggs, bread')
  const history = await anna.groups.drive(group.key).history('/notes/shopping.txt')
  assert.deepEqual(history.map((h) => [h.action, h.author]), [['created', 'Anna'], ['edited', 'Bea']])
})

/** What a member's drive holds, as every member must come to see it: each path, what is there, which version, and the bytes. */
async function snapshot(groups: Groups, key: string) {
  const drive = groups.drive(key)
  const entries = await drive.tree()
  return Promise.all(entries.map(async (e) => ({
    path: e.path, type: e.type, version: e.version, author: e.author, conflictOf: e.conflictOf,
    text: e.type === 'file' ? (await drive.readFile(e.path)).toString() : null,
  })))
}

test('three members edit the drive while one is offline; when it returns all converge, and its concurrent edit of a file is kept as a conflict', async (t) => {
  const later = teardown(t)
  const bootstrap = await testnet(later)
  // Where the offline member's box runs meanwhile: a network of its own, reaching nobody in the group.
  const elsewhere = await testnet(later)
  const anna = await member(later, bootstrap)
  const bea = await member(later, bootstrap)
  const cai = await member(later, bootstrap)
  const { key } = await anna.groups.create({ name: 'Allotment', as: 'Anna' })
  for (const [box, name] of [[bea, 'Bea'], [cai, 'Cai']] as const) {
    const { invite } = anna.groups.invite(key, { publicKey: box.groups.publicKey, name, role: 'member', expiresInSeconds: 600 })
    await within(`${name} joining`, box.groups.join({ code: invite }), 60_000)
  }
  const drive = (box: { groups: Groups }) => box.groups.drive(key)

  await drive(anna).writeFile('/plan.txt', 'beans in row 1')
  await drive(anna).writeFile('/trash.txt', 'old seed list')
  await drive(bea).writeFile('/old-name.txt', 'rota')
  const before = await until('everyone to have the first files', async () => {
    const all = await Promise.all([anna, bea, cai].map((b) => snapshot(b.groups, key)))
    return all.every((s) => s.length === 3 && JSON.stringify(s) === JSON.stringify(all[0])) ? all[0] : undefined
  })
  assert.deepEqual(before.map((e) => e.path), ['/old-name.txt', '/plan.txt', '/trash.txt'])

  // Cai's box goes offline: it keeps running, on a network where no member is.
  await cai.stop()
  await cai.start(elsewhere)
  await drive(cai).writeFile('/plan.txt', 'potatoes in row 1')
  await drive(cai).writeFile('/cai.txt', 'written offline')

  await drive(anna).writeFile('/plan.txt', 'beans in row 1, peas in row 2')
  await drive(anna).remove('/trash.txt')
  await drive(bea).move('/old-name.txt', '/rota/watering.txt', { overwrite: false })
  await drive(bea).writeFile('/rota/weeding.txt', 'Bea: Mondays')
  await until('Anna and Bea to agree', async () => JSON.stringify(await snapshot(anna.groups, key)) === JSON.stringify(await snapshot(bea.groups, key)) || undefined)
  assert.equal((await snapshot(cai.groups, key)).find((e) => e.path === '/plan.txt')?.text, 'potatoes in row 1', 'Cai is offline: it has not seen Anna\'s edit')

  // Cai comes back online.
  await cai.stop()
  await cai.start()
  const converged = await until('all three to converge', async () => {
    const all = await Promise.all([anna, bea, cai].map((b) => snapshot(b.groups, key)))
    return all.every((s) => JSON.stringify(s) === JSON.stringify(all[0])) && all[0]!.some((e) => e.path === '/cai.txt') ? all[0] : undefined
  }, 60_000)

  const byPath = new Map(converged.map((e) => [e.path, e]))
  assert.deepEqual([...byPath.keys()].filter((p) => !p.includes('(conflict')), ['/cai.txt', '/plan.txt', '/rota', '/rota/watering.txt', '/rota/weeding.txt'])
  assert.equal(byPath.get('/rota/watering.txt')?.text, 'rota', 'the rename reached everyone')
  assert.ok(!byPath.has('/trash.txt') && !byPath.has('/old-name.txt'), 'the deletion and the rename\'s old name reached everyone')
  assert.equal(byPath.get('/cai.txt')?.author, 'Cai')

  // Both edits of the plan are kept: one at its path, the other beside it, named for who wrote it.
  const copies = converged.filter((e) => e.conflictOf === '/plan.txt')
  assert.equal(copies.length, 1)
  const texts = [byPath.get('/plan.txt')!.text, copies[0]!.text].sort()
  assert.deepEqual(texts, ['beans in row 1, peas in row 2', 'potatoes in row 1'])
  const authors = [byPath.get('/plan.txt')!.author, copies[0]!.author].sort()
  assert.deepEqual(authors, ['Anna', 'Cai'])
  assert.match(copies[0]!.path, new RegExp(`^/plan \\(conflict ${copies[0]!.author} \\d{4}-\\d\\d-\\d\\d \\d\\d\\.\\d\\d [0-9a-f]{8}\\)\\.txt$`))
  for (const box of [anna, bea, cai]) {
    const view = await box.groups.get(key)
    assert.deepEqual(view.conflicts.map((c) => [c.path, c.versions.map((v) => v.author).sort()]), [['/plan.txt', ['Anna', 'Cai']]])
    assert.ok(view.conflicts[0]!.versions.every((v) => !Number.isNaN(Date.parse(v.mtime))), 'each version says when it was written')
  }
  const history = await drive(bea).history('/plan.txt')
  assert.deepEqual(history.map((h) => h.action).sort(), ['conflict', 'created', 'edited'])

  // A member resolves the conflict by deleting the copy: one version is left, everywhere.
  await drive(bea).remove(copies[0]!.path)
  await until('the conflict to be resolved everywhere', async () => {
    const all = await Promise.all([anna, bea, cai].map(async (b) => (await b.groups.get(key)).conflicts.length))
    return all.every((n) => n === 0) || undefined
  })
  assert.equal((await drive(cai).readFile('/plan.txt')).toString(), byPath.get('/plan.txt')!.text)
})

test('an invite sealed to another box, an expired one and a spent one are refused; a member who leaves is dropped, and a stranger at the group\'s address gets no connection', async (t) => {
  const later = teardown(t)
  const bootstrap = await testnet(later)
  const anna = await member(later, bootstrap)
  const bea = await member(later, bootstrap)
  const cai = await member(later, bootstrap)
  const group = await anna.groups.create({ name: 'Choir', as: 'Anna' })

  const forBea = anna.groups.invite(group.key, { publicKey: bea.groups.publicKey, name: 'Bea', role: 'member', expiresInSeconds: 600 }).invite
  assert.ok(!forBea.includes(group.key) && !forBea.includes(bea.groups.publicKey), 'the code names nothing in the clear')
  await assert.rejects(cai.groups.join({ code: forBea }), /not made for this box/)

  const expiring = anna.groups.invite(group.key, { publicKey: cai.groups.publicKey, name: 'Cai', role: 'member', expiresInSeconds: 1 }).invite
  await new Promise((resolve) => setTimeout(resolve, 1100))
  await assert.rejects(cai.groups.join({ code: expiring }), /expired/)
  assert.deepEqual(await cai.groups.list(), [])

  await within('Bea joining', bea.groups.join({ code: forBea }), 60_000)
  await assert.rejects(bea.groups.join({ code: forBea }), /in "Choir" already/)
  await until('Anna to see Bea connected', async () => (await anna.groups.get(group.key)).members.find((m) => m.name === 'Bea')?.connected || undefined)

  // Bea leaves: Anna hears it, Bea's box keeps nothing of the group, and the spent invite does not let it back in.
  await bea.groups.leave(group.key)
  assert.deepEqual(await bea.groups.list(), [])
  assert.ok(!fs.existsSync(path.join(bea.dir, 'groups', group.key)), 'Bea\'s copy of the group is deleted')
  await until('Anna to hear Bea left', async () => (await anna.groups.get(group.key)).members.length === 1 || undefined)
  await assert.rejects(within('the second use', bea.groups.join({ code: forBea }), 60_000), /used already/)

  // A stranger who knows the group's address finds its member there, and is refused.
  const stranger = new Hyperswarm({ dht: new HyperDHT({ bootstrap, host: '127.0.0.1', firewalled: false }) })
  later(() => stranger.destroy())
  let connections = 0
  stranger.on('connection', (conn) => {
    connections++
    conn.on('error', () => {})
  })
  const stats = (stranger as unknown as { stats: { connects: { client: { attempted: number } } } }).stats.connects.client
  ;(stranger as unknown as { join(topic: Buffer): unknown }).join(Buffer.from(group.address, 'hex'))
  await until('the stranger to find the group\'s member and try it', () => stats.attempted > 0 || undefined)
  await new Promise((resolve) => setTimeout(resolve, 1000))
  assert.equal(connections, 0)
})
