/** What the group tests share: undoing a test's setup in order, a DHT testnet, a box's groups on a home of its own, and a whole box. */
import type { TestContext } from 'node:test'
import path from 'node:path'
import { createHmac } from 'node:crypto'
import createTestnet from 'hyperdht/testnet.js'
import { Command } from 'commander'
import { createBox, initHome, openHome, type Box } from '../src/index.ts'
import { openMetaDb } from '../src/db/index.ts'
import { Groups } from '../src/groups/index.ts'
import { Replicator } from '../src/backup/index.ts'
import { groupCommands } from '../src/cli/groups.ts'
import { Client } from '../src/cli/connect.ts'
import { PASSPHRASE, call, tempDir, within } from './helpers.ts'

export type Bootstrap = { host: string; port: number }[]
export type Later = (step: () => Promise<unknown> | unknown) => void

/** Undoes what a test set up in reverse order: boxes leave the DHT before its nodes go. */
export function teardown(t: TestContext): Later {
  const steps: (() => Promise<unknown> | unknown)[] = []
  t.after(async () => {
    for (const step of steps.reverse()) await step()
  })
  return (step) => void steps.push(step)
}

/** A DHT testnet on 127.0.0.1, gone when the test ends. */
export async function testnet(later: Later): Promise<Bootstrap> {
  const net = await createTestnet(3, { host: '127.0.0.1' })
  later(() => net.destroy())
  return net.bootstrap
}

/** A box's groups, on its own home, as the box makes them: closed and opened again like a box stopped and started. */
export async function member(later: Later, bootstrap: Bootstrap) {
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
    /** Its key on a group's network. */
    peer: (group: string) => home.keys.deriveKeyPair(`groups/${group}/peer`).publicKey.toString('hex'),
  })
}

/** What a command printed. */
export async function captured(run: () => Promise<unknown>): Promise<string> {
  const write = process.stdout.write
  let text = ''
  process.stdout.write = ((chunk: string) => {
    text += chunk
    return true
  }) as typeof process.stdout.write
  try {
    await run()
  } finally {
    process.stdout.write = write
  }
  return text
}

/** A whole box on the testnet, reached over HTTP with its owner's token, and its command line; it can be stopped and started again, on the group's network or on another. */
export async function startBox(later: Later, bootstrap: Bootstrap) {
  const home = path.join(tempDir('coffer-group-box-'), 'home')
  initHome(home, { passphrase: PASSPHRASE, timeZone: 'UTC' })
  let box: Box | undefined
  let url = ''
  let token = ''
  const program = new Command().exitOverride()
  groupCommands(program, () => new Client(url, token))
  const start = async (network: Bootstrap) => {
    // Silent, unless GROUP_TEST_LOG names a level (warn, info): the boxes' own account of a failing run.
    const started = createBox({ home, port: 0, logLevel: (process.env.GROUP_TEST_LOG ?? 'silent') as 'silent', dhtBootstrap: network })
    await started.open()
    url = await started.listen()
    token = started.arbiter.ownerToken(3600).token
    box = started
  }
  await start(bootstrap)
  later(() => box?.close())
  return {
    home,
    get url() { return url },
    get token() { return token },
    /** Stops the box, so what it holds on disk can be read as it is. */
    async stop() {
      const running = box
      box = undefined
      await running?.close()
    },
    /** Starts the box again, on the group's network or on another one. */
    start: (network = bootstrap) => start(network),
    api: (method: string, route: string, opts: { body?: unknown; raw?: string; token?: string } = {}) => call(url, method, `/api/v1${route}`, { token, ...opts }),
    coffer: (...args: string[]) => captured(() => program.parseAsync(['node', 'coffer', ...args])),
  }
}

/** Every content key a box's database holds for a group, oldest epoch first: all it could open the group's cores with. */
export function contentKeys(meta: string, group: string): { epoch: number; content_key: string }[] {
  const db = openMetaDb(meta)
  try {
    return db.prepare('SELECT epoch, content_key FROM group_epochs WHERE group_key = ? ORDER BY epoch').all(group) as { epoch: number; content_key: string }[]
  } finally {
    db.close()
  }
}

/** The key a group's content key gives its members' blob cores, as the drive derives it. */
export const blobKeyOf = (contentKey: string): Buffer => createHmac('sha256', Buffer.from(contentKey, 'hex')).update('coffer/v1/group-blobs').digest()

/**
 * Anna's group "Allotment" with Bea and Cai as members, each a box's groups on a testnet of the
 * test's own, and a blind replicator open beside them (not yet invited).
 */
export async function allotment(later: Later, replicatorDir: string) {
  const bootstrap = await testnet(later)
  const [anna, bea, cai] = [await member(later, bootstrap), await member(later, bootstrap), await member(later, bootstrap)]
  const replicator = new Replicator({ dir: replicatorDir, bootstrap })
  await replicator.open()
  later(() => replicator.close())
  const { key } = await anna.groups.create({ name: 'Allotment', as: 'Anna' })
  for (const [box, name] of [[bea, 'Bea'], [cai, 'Cai']] as const) {
    const { invite } = await anna.groups.invite(key, { publicKey: box.groups.publicKey, name, role: 'member', expiresInSeconds: 600 })
    await within(`${name} joining`, box.groups.join({ code: invite }), 60_000)
  }
  return { bootstrap, anna, bea, cai, replicator, key }
}

/** A whole box as startBox gives it. */
export type TestBox = Awaited<ReturnType<typeof startBox>>

/** Anna's group "Flat", with Bea in it: two whole boxes on a testnet of their own. */
export async function flat(t: TestContext): Promise<{ anna: TestBox; bea: TestBox; key: string }> {
  const later = teardown(t)
  const bootstrap = await testnet(later)
  const anna = await startBox(later, bootstrap)
  const bea = await startBox(later, bootstrap)
  const key: string = (await anna.api('POST', '/groups', { body: { name: 'Flat', as: 'Anna' } })).body.key
  const { invite } = (await anna.api('POST', `/groups/${key}/invites`, { body: { publicKey: (await bea.api('GET', '/groups')).body.boxKey, name: 'Bea' } })).body
  const joined = await bea.api('POST', '/groups/join', { body: { code: invite } })
  if (joined.status !== 201) throw new Error(`Bea could not join: ${JSON.stringify(joined.body)}`)
  return { anna, bea, key }
}
