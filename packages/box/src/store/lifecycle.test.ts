/** Sources open on use and close when idle or beyond the bound, without losing data, writes or subscribers. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import Database from 'better-sqlite3'
import { Store, viewCacheKiB } from './index.ts'
import { BoxKeys } from '../keys/index.ts'
import { openMetaDb } from '../db/index.ts'
import type { SenmlRecord } from '../senml/index.ts'

const T0 = 1_767_225_600

async function openStore(dir: string, opts: { maxOpen?: number; idleMs?: number } = {}): Promise<Store> {
  fs.mkdirSync(path.join(dir, 'logs'), { recursive: true })
  fs.mkdirSync(path.join(dir, 'views'), { recursive: true })
  const store = new Store({ db: openMetaDb(path.join(dir, 'box.db')), keys: new BoxKeys(Buffer.alloc(32, 1)), logsDir: path.join(dir, 'logs'), viewsDir: path.join(dir, 'views'), ...opts })
  await store.open()
  return store
}

const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-lifecycle-'))
const points = (k: number, n: number, from = 0): SenmlRecord[] => Array.from({ length: n }, (_, i) => ({ n: 'x', t: T0 + from + i, v: k * 1000 + from + i }))
const all = (store: Store, id: string) => store.get(id).view.records({ from: 0, to: 2e9, limit: 100_000, order: 'asc' })
const openCount = (store: Store) => store.list().filter((m) => store.get(m.id).isOpen).length
/** Lets the store's sweep, queued after the current synchronous work, run. */
const settle = () => new Promise((resolve) => setImmediate(resolve))

test('sources beyond the open bound still answer correctly, and at most the bound stay open', async () => {
  const dir = tempDir()
  let store = await openStore(dir, { maxOpen: 3 })
  for (let k = 0; k < 10; k++) {
    await store.add({ id: `s${k}` })
    await store.get(`s${k}`).appendRecords(points(k, 50))
    await settle()
  }
  assert.ok(openCount(store) <= 3, `${openCount(store)} open`)
  for (let round = 0; round < 2; round++) {
    for (let k = 0; k < 10; k++) {
      const records = all(store, `s${k}`)
      assert.equal(records.length, 50)
      assert.equal(records[7]!.v, k * 1000 + 7)
      assert.equal(store.summary(`s${k}`).points, 50)
      await settle()
    }
    assert.ok(openCount(store) <= 3, `${openCount(store)} open`)
  }
  // Listing every source reads what each left at its close: it opens none of them.
  await store.close()
  store = await openStore(dir, { maxOpen: 3 })
  assert.equal(openCount(store), 0, 'a clean start opens no view')
  const summaries = store.list().map((m) => store.summary(m.id))
  assert.deepEqual(summaries.map((s) => [s.id, s.points, s.logLength, s.first, s.last]), Array.from({ length: 10 }, (_, k) => [`s${k}`, 50, 2, T0, T0 + 49]))
  assert.deepEqual(summaries[0]!.series, [{ name: 'x', unit: null, type: 'number' }])
  assert.equal(openCount(store), 0)
  await store.close()
})

test('an idle source closes, and reopens with its data for reads, writes and a new start alike', async () => {
  const dir = tempDir()
  let store = await openStore(dir, { idleMs: 40 })
  await store.add({ id: 'idle' })
  await store.add({ id: 'notes', kind: 'kv' })
  await store.get('idle').appendRecords(points(1, 100))
  await store.get('notes').put('a', { text: 'first' })
  const before = store.summary('idle')
  await sleep(200)
  assert.equal(store.get('idle').isOpen, false, 'closed once idle')
  assert.equal(store.get('notes').isOpen, false)
  assert.deepEqual(store.summary('idle'), before, 'a closed source summarises as it was')
  assert.equal(store.get('idle').isOpen, false, 'without opening')

  assert.equal(all(store, 'idle').length, 100, 'a read opens the view again')
  assert.deepEqual(store.get('notes').view.kvGet('a')?.value, { text: 'first' })
  await sleep(200)
  assert.equal(store.get('idle').isOpen, false)
  const written = await store.get('idle').appendRecords(points(1, 10, 100))
  assert.equal(written.first, 2, 'a write opens the log and carries on where it was')
  await store.get('notes').put('b', 2)
  assert.equal(all(store, 'idle').length, 110)
  assert.deepEqual(store.get('notes').view.kvKeys('', 10), ['a', 'b'])
  await store.close()

  store = await openStore(dir, { idleMs: 40 })
  assert.equal(store.summary('idle').points, 110)
  assert.equal(all(store, 'idle').at(-1)!.v, 1109)
  await store.close()
})

test('writes in flight and live subscribers are never cut by closing', async () => {
  const dir = tempDir()
  const store = await openStore(dir, { maxOpen: 1, idleMs: 20 })
  for (const id of ['live', 'other1', 'other2']) await store.add({ id })
  const heard: SenmlRecord[] = []
  store.get('live').events.on('records', (records: SenmlRecord[]) => heard.push(...records))

  // Many writers at once, a range delete among them, while other sources crowd the single open slot.
  const writes: Promise<unknown>[] = []
  for (let b = 0; b < 40; b++) {
    writes.push(store.get('live').appendRecords(points(0, 25, b * 25)))
    if (b === 20) writes.push(store.get('live').deleteRange(T0 + 100, T0 + 200))
    if (b % 5 === 0) {
      writes.push(store.get(`other${1 + (b % 2)}`).appendRecords(points(9, 5, b)))
      await settle()
    }
  }
  await Promise.all(writes)
  const kept = all(store, 'live')
  assert.equal(kept.length, 1000 - 100)
  assert.ok(kept.every((r) => r.t < T0 + 100 || r.t >= T0 + 200))
  assert.equal(heard.filter((r) => r.t < T0 + 100 || r.t >= T0 + 200).length, 900, 'every write reached the subscriber')

  // Closed while idle, the source keeps its subscriber: the next write still reaches it.
  await sleep(150)
  assert.equal(store.get('live').isOpen, false)
  heard.length = 0
  await store.get('live').appendRecords(points(0, 3, 5000))
  assert.deepEqual(heard.map((r) => r.t), [T0 + 5000, T0 + 5001, T0 + 5002])
  await store.close()
})

test('a view changed while the box was stopped, or summaries lost, are checked and caught up at start', async () => {
  const dir = tempDir()
  let store = await openStore(dir)
  await store.add({ id: 'old' })
  await store.get('old').appendRecords(points(0, 10))
  await store.close()
  const view = fs.readdirSync(path.join(dir, 'views')).find((f) => f.startsWith('old.') && f.endsWith('.sqlite'))!
  const copy = fs.readFileSync(path.join(dir, 'views', view))

  store = await openStore(dir)
  await store.get('old').appendRecords(points(0, 10, 10))
  await store.close()
  // An older copy of the view put back by hand: the store sees the file is not the one it closed.
  fs.writeFileSync(path.join(dir, 'views', view), copy)
  store = await openStore(dir)
  assert.equal(store.summary('old').points, 20)
  assert.equal(all(store, 'old').length, 20)
  await store.close()

  fs.rmSync(path.join(dir, 'views', 'summaries.sqlite'))
  store = await openStore(dir)
  assert.equal(store.get('old').isOpen, true, 'checked at start')
  assert.equal(store.summary('old').points, 20)
  assert.equal(store.summary('old').logLength, 3)
  await store.close()

  store = await openStore(dir)
  assert.equal(store.get('old').isOpen, false, 'a view closed cleanly is trusted at start')
  await store.close()
  // A view laid out by other code (as after an upgrade that changes the view's tables) is checked at start too.
  editSummaries(dir, (db) => db.prepare("UPDATE views SET layout = 'another'").run())
  store = await openStore(dir)
  assert.equal(store.get('old').isOpen, true)
  assert.equal(all(store, 'old').length, 20)
  await store.close()
})

test('a view found behind its log only when opened answers 503 while it catches up, then in full', async () => {
  const dir = tempDir()
  let store = await openStore(dir)
  await store.add({ id: 'late' })
  await store.get('late').appendRecords(points(0, 10))
  await store.close()
  const file = path.join(dir, 'views', fs.readdirSync(path.join(dir, 'views')).find((f) => f.startsWith('late.'))!)
  const copy = fs.readFileSync(file)
  store = await openStore(dir)
  await store.get('late').appendRecords(points(0, 10, 10))
  await store.close()
  // The older copy goes back, and the record of the closed view is made to match it: nothing tells at start.
  fs.writeFileSync(file, copy)
  const stat = fs.statSync(file)
  editSummaries(dir, (db) => db.prepare('UPDATE views SET size = ?, mtime = ?').run(stat.size, stat.mtimeMs))
  store = await openStore(dir)
  assert.equal(store.get('late').isOpen, false)
  assert.throws(() => store.get('late').view, { status: 503, slug: 'view-unavailable' })
  await store.get('late').open()
  assert.equal(all(store, 'late').length, 20)
  assert.equal(store.summary('late').points, 20)
  await store.close()
})

function editSummaries(dir: string, edit: (db: Database.Database) => void): void {
  const db = new Database(path.join(dir, 'views', 'summaries.sqlite'))
  edit(db)
  db.close()
}

test('view caches are sized to the machine and bounded together', () => {
  assert.equal(viewCacheKiB(64, 32 * 2 ** 30), 4096, '256 MiB in all on a large machine')
  assert.equal(viewCacheKiB(64, 4 * 2 ** 30), 2048, 'a 32nd of a 4 GiB machine')
  assert.equal(viewCacheKiB(64, 2 ** 30), 1024, 'never below 1 MiB')
  assert.equal(viewCacheKiB(4, 64 * 2 ** 30), 16 * 1024, 'never above 16 MiB')
})
