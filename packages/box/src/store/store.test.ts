import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Store } from './index.ts'
import { BoxKeys } from '../keys/index.ts'
import { openMetaDb } from '../db/index.ts'

async function openStore(dir: string): Promise<Store> {
  fs.mkdirSync(path.join(dir, 'logs'), { recursive: true })
  fs.mkdirSync(path.join(dir, 'views'), { recursive: true })
  const store = new Store({ db: openMetaDb(path.join(dir, 'box.db')), keys: new BoxKeys(Buffer.alloc(32, 1)), logsDir: path.join(dir, 'logs'), viewsDir: path.join(dir, 'views') })
  await store.open()
  return store
}

test('points sharing a timestamp are all kept, in any number and across batches', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-store-'))
  const store = await openStore(dir)
  await store.add({ id: 'same' })
  const source = store.get('same')
  const batch = Array.from({ length: 1000 }, (_, i) => ({ n: 'x', t: 1_767_225_600, v: i }))
  await Promise.all([source.appendRecords(batch), source.appendRecords(batch), source.appendRecords(batch)])
  for (let i = 0; i < 10; i++) await source.appendRecords(batch.slice(0, 100))
  assert.equal(store.summary('same').points, 4000)
  const records = source.view.records({ from: 0, to: 2e9, limit: 10_000, order: 'asc' })
  assert.equal(records.length, 4000)
  assert.equal(records.reduce((sum, r) => sum + r.v!, 0), 3 * 499500 + 10 * 4950)
  await store.close()
})

test('concurrent writes and a range delete leave the view equal to the log', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-store-'))
  let store = await openStore(dir)
  await store.add({ id: 'mix' })
  const source = store.get('mix')
  const writes = []
  for (let b = 0; b < 20; b++) writes.push(source.appendRecords(Array.from({ length: 50 }, (_, i) => ({ n: 'x', t: 1000 + b * 50 + i, v: 1 }))))
  writes.splice(10, 0, source.deleteRange(1200, 1300) as never)
  await Promise.all(writes)
  const before = source.view.records({ from: 0, to: 1e6, limit: 10_000, order: 'asc' }).map((r) => r.t)
  assert.ok(before.every((t) => t < 1200 || t >= 1300), 'nothing in the deleted range, however the writes interleaved')
  await store.close()
  fs.rmSync(path.join(dir, 'views'), { recursive: true })
  store = await openStore(dir)
  assert.deepEqual(store.get('mix').view.records({ from: 0, to: 1e6, limit: 10_000, order: 'asc' }).map((r) => r.t), before)
  await store.close()
})
