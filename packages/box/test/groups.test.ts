import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import path from 'node:path'
import createTestnet from 'hyperdht/testnet.js'
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
  const make = () => new Groups({ db, keys: home.keys, dir: path.join(dir, 'groups'), bootstrap })
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
    async start() {
      box.groups = make()
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
