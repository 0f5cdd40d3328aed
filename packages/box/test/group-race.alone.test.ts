import { test } from 'node:test'
import assert from 'node:assert/strict'
import path from 'node:path'
import { openCorestore } from '../src/store/index.ts'
import { call, until, within } from './helpers.ts'
import { blobKeyOf, contentKeys, startBox, teardown, testnet, type Bootstrap } from './group-members.ts'

type Box = Awaited<ReturnType<typeof startBox>>

interface GroupState { epoch: number; role: string | null; removed: boolean; writable: boolean; members: { name: string; box: string; writer: string; blobs: string }[] }

/** A box's view of the group. One moving to a new epoch answers 503 while it moves, longer than usual on a loaded machine: asked again, as a client told to retry does. */
async function state(box: Box, key: string): Promise<GroupState> {
  for (const end = Date.now() + 60_000; ;) {
    const res = await within(`GET /groups/${key.slice(0, 8)}…`, box.api('GET', `/groups/${key}`), 60_000)
    if (res.status === 503 && Date.now() < end) {
      await new Promise((resolve) => setTimeout(resolve, 200))
      continue
    }
    assert.equal(res.status, 200, JSON.stringify(res.body))
    return res.body
  }
}

async function boxKey(box: Box): Promise<string> {
  return (await box.api('GET', '/groups')).body.boxKey
}

async function put(box: Box, key: string, file: string, text: string): Promise<void> {
  const res = await within(`PUT ${file}`, call(box.url, 'PUT', `/dav/groups/${key}${file}`, { raw: text, type: 'text/plain', token: box.token }), 60_000)
  assert.ok([201, 204].includes(res.status), `PUT ${file} answered ${res.status}`)
}

async function read(box: Box, key: string, file: string): Promise<string | undefined> {
  const res = await within(`GET ${file}`, call(box.url, 'GET', `/dav/groups/${key}${file}`, { token: box.token, accept: '*/*' }), 60_000)
  return res.status === 200 ? String(res.body) : undefined
}

/** A group founded by Anna, Bea an admin too, and the others members, all on one network. */
async function group(boxes: { box: Box; name: string; admin?: boolean }[]): Promise<string> {
  const [founder, ...others] = boxes
  const created = await founder!.box.api('POST', '/groups', { body: { name: 'Studio', as: founder!.name } })
  assert.equal(created.status, 201, JSON.stringify(created.body))
  const key: string = created.body.key
  for (const { box, name, admin } of others) {
    const { invite } = (await founder!.box.api('POST', `/groups/${key}/invites`, { body: { publicKey: await boxKey(box), name, ...(admin ? { role: 'admin' } : {}) } })).body
    const joined = await within(`${name} joining`, box.api('POST', '/groups/join', { body: { code: invite } }), 60_000)
    assert.equal(joined.status, 201, JSON.stringify(joined.body))
  }
  return key
}

/** Moves boxes to another network: stopped, and started there. Each step is bounded, so one that does not end fails the test, naming it, rather than hanging it. */
async function moveTo(network: Bootstrap, ...boxes: Box[]): Promise<void> {
  for (const [i, box] of boxes.entries()) await within(`box ${i + 1} of ${boxes.length} to stop`, box.stop(), 60_000)
  for (const [i, box] of boxes.entries()) await within(`box ${i + 1} of ${boxes.length} to start again`, box.start(network), 60_000)
}

/** Every content key a box holds for the group, as its box.db keeps them. */
const keysHeld = (box: Box, key: string): string[] => contentKeys(path.join(box.home, 'box.db'), key).map((k) => k.content_key)

/** The bytes of a blob core as a box's group store holds them, read with a key (or none). */
async function contents(box: Box, key: string, core: string, encryption: Buffer | null): Promise<{ length: number; bytes: Buffer }> {
  const store = openCorestore(path.join(box.home, 'groups', key))
  try {
    const hypercore = store.get({ key: Buffer.from(core, 'hex'), ...(encryption ? { encryption: { key: encryption } } : {}) })
    await hypercore.ready()
    const blocks: Buffer[] = []
    for (let i = 0; i < hypercore.length; i++) {
      const block = await hypercore.get(i, { wait: false })
      if (block) blocks.push(block)
    }
    return { length: hypercore.length, bytes: Buffer.concat(blocks) }
  } finally {
    await store.close()
  }
}

/**
 * After convergence: a file Anna writes opens at every remaining member, and with nothing any
 * removed box holds (every key it ever had, the raw content key, no key) — nor did their boxes get its blocks.
 */
async function writtenAfterIsSealed(key: string, remaining: Box[], removed: { box: Box; keys: string[] }[]): Promise<void> {
  const [anna] = remaining
  const marker = 'MARKER-after-the-race'
  await put(anna!, key, '/after.txt', marker)
  for (const box of remaining) await until('the file written after convergence everywhere', async () => (await read(box, key, '/after.txt')) === marker || undefined, 30_000)
  const final = await state(anna!, key)
  const annaBlobs = final.members.find((m) => m.name === 'Anna')!.blobs
  const finalKey = keysHeld(anna!, key).at(-1)!
  for (const { box } of removed) assert.ok(!keysHeld(box, key).includes(finalKey), 'a removed box holds the final epoch\'s key')
  for (const box of [...remaining, ...removed.map((r) => r.box)]) await box.stop()
  const candidates = removed.flatMap((r) => [...new Set([...r.keys, ...keysHeld(r.box, key)])])
  for (const candidate of [...candidates.map(blobKeyOf), ...candidates.map((k) => Buffer.from(k, 'hex')), null]) {
    const { length, bytes } = await contents(anna!, key, annaBlobs, candidate)
    assert.ok(length > 0)
    assert.ok(!bytes.includes(marker), 'a key a removed box holds opens the file written after the race')
  }
  assert.ok((await contents(anna!, key, annaBlobs, blobKeyOf(finalKey))).bytes.includes(marker), 'the final epoch\'s key opens it')
  for (const { box } of removed) assert.equal((await contents(box, key, annaBlobs, null)).length, 0, 'a removed box received blocks written after the race')
}

test('two admins each remove a different member while cut off from each other: once they meet, every remaining member is in one epoch, both removed boxes are out of it and open nothing written afterwards, and what both sides wrote meanwhile is kept', async (t) => {
  const later = teardown(t)
  const bootstrap = await testnet(later)
  const elsewhere = await testnet(later)
  const [anna, bea, cleo, xavi, yuri] = [await startBox(later, bootstrap), await startBox(later, bootstrap), await startBox(later, bootstrap), await startBox(later, bootstrap), await startBox(later, bootstrap)]
  const key = await group([{ box: anna!, name: 'Anna' }, { box: bea!, name: 'Bea', admin: true }, { box: cleo!, name: 'Cleo' }, { box: xavi!, name: 'Xavi' }, { box: yuri!, name: 'Yuri' }])
  await put(anna!, key, '/before.txt', 'written before the race')
  for (const box of [bea!, cleo!, xavi!, yuri!]) await until('everyone to have the first file', async () => (await read(box, key, '/before.txt')) ?? undefined, 30_000)
  const [xaviKey, yuriKey] = [await boxKey(xavi!), await boxKey(yuri!)]

  // Bea, Cleo and Xavi go to another network: Anna and Bea cannot reach each other. Each removes a
  // member of the other's side, so each removed box is carried into the other admin's epoch.
  await moveTo(elsewhere, bea!, cleo!, xavi!)
  // A box opening the group again, or moving to a new epoch, is waited for by the requests themselves: this waits only for each to have heard of all five members before it is cut off.
  for (const box of [bea!, cleo!, xavi!]) await until('a moved box to know all five members', async () => (await state(box, key)).members.length === 5 || undefined, 30_000)
  assert.equal((await within('Anna removing Xavi', anna!.api('DELETE', `/groups/${key}/members/${xaviKey}`), 60_000)).status, 200)
  assert.equal((await within('Bea removing Yuri', bea!.api('DELETE', `/groups/${key}/members/${yuriKey}`), 60_000)).status, 200)
  for (const [box, name, side] of [[yuri!, 'Yuri', 'Anna'], [cleo!, 'Cleo', 'Bea'], [xavi!, 'Xavi', 'Bea']] as const) {
    let seen: GroupState | undefined
    await until(`${name} to be in ${side}'s new epoch`, async () => {
      const s = seen = await state(box, key)
      return s.epoch === 1 && s.writable && s.role !== null || undefined
    }, 60_000).catch((err: Error) => {
      throw new Error(`${err.message} Last seen: epoch ${seen?.epoch}, writable ${seen?.writable}, role ${seen?.role}, members ${seen?.members.map((m) => m.name).join(', ')}.`)
    })
  }
  await put(anna!, key, '/anna.txt', 'Anna, during the race')
  await put(bea!, key, '/bea.txt', 'Bea, during the race')
  await put(cleo!, key, '/cleo.txt', 'Cleo, during the race')
  await until('Bea to have Cleo\'s file', async () => (await read(bea!, key, '/cleo.txt')) ?? undefined, 30_000)
  // Each removed box holds the key of the other admin's epoch now.
  const held = { xavi: keysHeld(xavi!, key), yuri: keysHeld(yuri!, key) }
  assert.equal(held.xavi.length, 2)
  assert.equal(held.yuri.length, 2)

  // They meet again.
  await moveTo(bootstrap, bea!, cleo!, xavi!)
  const expected = {
    '/before.txt': 'written before the race', '/anna.txt': 'Anna, during the race', '/bea.txt': 'Bea, during the race', '/cleo.txt': 'Cleo, during the race',
  }
  const remaining = [anna!, bea!, cleo!]
  const converged = await until('the remaining members to converge on one epoch with everything written', async () => {
    const states = await Promise.all(remaining.map((b) => state(b, key)))
    const writers = states.map((s) => s.members.map((m) => m.writer).sort().join())
    if (!states.every((s) => s.writable && s.epoch === states[0]!.epoch && writers[0] === writers[states.indexOf(s)])) return undefined
    if (states[0]!.members.map((m) => m.name).sort().join() !== 'Anna,Bea,Cleo') return undefined
    for (const box of remaining) {
      for (const [file, text] of Object.entries(expected)) if ((await read(box, key, file)) !== text) return undefined
    }
    return states[0]
  }, 120_000)
  // One removal won the race (epoch 1); the other admin made its removal again there (epoch 2).
  assert.equal(converged.epoch, 2)
  // Both removed boxes are out of it (a removed box learns so only if it is connected as it is let go: neither is admitted any more).
  assert.deepEqual(converged.members.filter((m) => m.box === xaviKey || m.box === yuriKey), [])
  const listing = (await anna!.api('GET', `/groups/${key}/files`)).body.entries.map((e: { path: string }) => e.path)
  assert.deepEqual(listing, ['/anna.txt', '/bea.txt', '/before.txt', '/cleo.txt'])

  await writtenAfterIsSealed(key, remaining, [{ box: xavi!, keys: held.xavi }, { box: yuri!, keys: held.yuri }])
})

test('two admins remove the same member at once: they converge on one epoch, the removed box is out and opens nothing written afterwards, and both sides\' files are kept', async (t) => {
  const later = teardown(t)
  const bootstrap = await testnet(later)
  const elsewhere = await testnet(later)
  const [anna, bea, xavi] = [await startBox(later, bootstrap), await startBox(later, bootstrap), await startBox(later, bootstrap)]
  const key = await group([{ box: anna!, name: 'Anna' }, { box: bea!, name: 'Bea', admin: true }, { box: xavi!, name: 'Xavi' }])
  await until('Bea and Xavi to be in the group', async () => (await state(anna!, key)).members.length === 3 || undefined)
  const xaviKey = await boxKey(xavi!)

  await moveTo(elsewhere, bea!)
  assert.equal((await within('Anna removing Xavi', anna!.api('DELETE', `/groups/${key}/members/${xaviKey}`), 60_000)).status, 200)
  assert.equal((await within('Bea removing Xavi', bea!.api('DELETE', `/groups/${key}/members/${xaviKey}`), 60_000)).status, 200)
  await put(anna!, key, '/anna.txt', 'Anna, during the race')
  await put(bea!, key, '/bea.txt', 'Bea, during the race')
  const held = keysHeld(xavi!, key)

  await moveTo(bootstrap, bea!)
  const remaining = [anna!, bea!]
  const converged = await until('Anna and Bea to converge on one epoch with both files', async () => {
    const states = await Promise.all(remaining.map((b) => state(b, key)))
    const writers = states.map((s) => s.members.map((m) => m.writer).sort().join())
    if (!states.every((s) => s.writable && s.epoch === states[0]!.epoch && s.members.length === 2) || writers[0] !== writers[1]) return undefined
    for (const box of remaining) {
      if ((await read(box, key, '/anna.txt')) !== 'Anna, during the race' || (await read(box, key, '/bea.txt')) !== 'Bea, during the race') return undefined
    }
    return states[0]
  }, 120_000)
  // Both removed the same box: the winning epoch holds both removals, and no other is needed.
  assert.equal(converged.epoch, 1)
  await until('Xavi, connected to Anna as she removed it, to know it was removed', async () => (await state(xavi!, key)).removed || undefined, 30_000)

  await writtenAfterIsSealed(key, remaining, [{ box: xavi!, keys: held }])
})
