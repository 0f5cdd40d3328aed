import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { randomBytes } from 'node:crypto'
import Hyperbee from 'hyperbee'
import type { ApplyHost } from 'autobase'
import { generateSeed, keyPairFromSeed } from '../keys/index.ts'
import { openCorestore } from '../store/index.ts'
import { signStatement } from './members.ts'
import type { GroupOp } from './ops.ts'
import { applier, memberKey, reread, type ViewValue } from './apply.ts'

const cutShort = () => Object.assign(new Error('SNAPSHOT_NOT_AVAILABLE: snapshot at index 14 not available'), { code: 'SNAPSHOT_NOT_AVAILABLE' })

test('a read of a group view cut short by autobase reordering it is made again until it succeeds', async () => {
  let tries = 0
  const value = await reread(async () => {
    if (++tries < 3) throw cutShort()
    return 'members'
  })
  assert.equal(value, 'members')
  assert.equal(tries, 3)
})

test('a read failing for any other reason fails at once, and one that keeps being cut short fails in the end', async () => {
  let tries = 0
  await assert.rejects(reread(async () => {
    tries++
    throw Object.assign(new Error('SESSION_CLOSED'), { code: 'SESSION_CLOSED' })
  }), /SESSION_CLOSED/)
  assert.equal(tries, 1)
  tries = 0
  await assert.rejects(reread(async () => {
    tries++
    throw cutShort()
  }), /SNAPSHOT_NOT_AVAILABLE/)
  assert.equal(tries, 8)
})

/**
 * A group's first epoch applied to a real view, founded by Anna with or without `indexers`, then
 * given an admin and a member: for each writer added, whether the apply function made it an indexer.
 */
async function indexersAdded(indexers: 'founder' | undefined): Promise<Record<string, boolean>> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-apply-'))
  const store = openCorestore(dir)
  const view = new Hyperbee<ViewValue>(store.get({ name: 'view' }), { keyEncoding: 'utf-8', valueEncoding: 'json' })
  try {
    const writers = { Anna: randomBytes(32).toString('hex'), Bea: randomBytes(32).toString('hex'), Cai: randomBytes(32).toString('hex') }
    const group = writers.Anna
    const statement = (name: keyof typeof writers) =>
      signStatement(group, { peer: randomBytes(32).toString('hex'), writer: writers[name], blobs: randomBytes(32).toString('hex'), name }, keyPairFromSeed(generateSeed()))
    const added: Record<string, boolean> = {}
    const host = {
      addWriter: async (key: Buffer, opts: { indexer: boolean }) => {
        added[Object.entries(writers).find(([, w]) => w === key.toString('hex'))![0]] = opts.indexer
      },
    } as unknown as ApplyHost
    const byAnna = (value: GroupOp) => ({ value, from: { key: Buffer.from(writers.Anna, 'hex') } })
    await applier(group, writers.Anna, 0)([
      byAnna({ type: 'found', name: 'Allotment', member: statement('Anna'), at: 1, ...(indexers ? { indexers } : {}) }),
      byAnna({ type: 'add', member: statement('Bea'), role: 'admin', at: 2 }),
      byAnna({ type: 'add', member: statement('Cai'), role: 'member', at: 3 }),
    ] as never, view, host)
    assert.ok(await view.get(memberKey(writers.Cai)), 'Cai is a member')
    return added
  } finally {
    await view.close()
    await store.close()
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

test('a base founded now is ordered by its founder alone: admins and members are added as writers, never indexers; a base founded before keeps every member an indexer', async () => {
  assert.deepEqual(await indexersAdded('founder'), { Bea: false, Cai: false })
  assert.deepEqual(await indexersAdded(undefined), { Bea: true, Cai: true })
})
