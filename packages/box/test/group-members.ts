/** What the group tests share: undoing a test's setup in order, a DHT testnet, and a box's groups on a home of its own. */
import type { TestContext } from 'node:test'
import path from 'node:path'
import createTestnet from 'hyperdht/testnet.js'
import { initHome, openHome } from '../src/index.ts'
import { openMetaDb } from '../src/db/index.ts'
import { Groups } from '../src/groups/index.ts'
import { PASSPHRASE, tempDir } from './helpers.ts'

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
