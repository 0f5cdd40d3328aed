/**
 * Latest values answered from memory against a scan of the raw points, on the same data, after
 * every kind of change: newer and older writes, deletions of the newest point and of whole
 * series, windows, a source closed and opened again, and a transaction that failed.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { SenmlRecord } from '../senml/index.ts'
import { Store, type Source } from './index.ts'
import { View } from './view.ts'
import { BoxKeys } from '../keys/index.ts'
import { openMetaDb } from '../db/index.ts'
import { seededRandom as random } from '../demo/random.ts'

const T0 = 1_767_225_600
const NAMES = ['a', 'b', 'c']

async function openStore(dir: string, idleMs?: number): Promise<Store> {
  fs.mkdirSync(path.join(dir, 'logs'), { recursive: true })
  fs.mkdirSync(path.join(dir, 'views'), { recursive: true })
  const store = new Store({ db: openMetaDb(path.join(dir, 'box.db')), keys: new BoxKeys(Buffer.alloc(32, 3)), logsDir: path.join(dir, 'logs'), viewsDir: path.join(dir, 'views'), idleMs })
  await store.open()
  return store
}

/** The newest point of each name in [from, to), found by reading every raw point. */
function scanned(source: Source, window = { from: 0, to: 2e9 }): SenmlRecord[] {
  const newest = new Map<string, SenmlRecord>()
  for (const r of source.view.records({ ...window, limit: 1_000_000, order: 'asc' })) {
    if ((newest.get(r.n)?.t ?? -Infinity) < r.t) newest.set(r.n, r)
  }
  return [...newest.values()].sort((a, b) => a.t - b.t)
}

function latest(source: Source, window?: { from: number; to: number }): SenmlRecord[] {
  const view = source.view
  return view.latest(view.seriesNamed(undefined), window)
}

test('latest values equal the raw scan after newer and older writes, deletions, windows and a reopen', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-latest-'))
  let store = await openStore(dir)
  await store.add({ id: 'mix' })
  const rand = random(12)
  // Every time is used once, so the newest point of a name is never a tie.
  const used = new Set<number>()
  const freshTime = (lo: number, hi: number): number => {
    for (;;) {
      const t = Math.round(lo + rand() * (hi - lo))
      if (!used.has(t)) {
        used.add(t)
        return t
      }
    }
  }
  const write = (lo: number, hi: number, n: number) => store.get('mix').appendRecords(Array.from({ length: n }, () => ({
    n: NAMES[Math.floor(rand() * NAMES.length)]!, t: freshTime(lo, hi), v: Math.round(rand() * 1000),
  })))
  const check = (what: string) => {
    const source = store.get('mix')
    assert.deepEqual(latest(source), scanned(source), what)
    const newest = Math.max(...scanned(source).map((r) => r.t))
    // A window that holds the newest points, and one that cuts them off, which must search the points.
    for (const window of [{ from: T0, to: newest + 1 }, { from: T0 + 100, to: newest - 50 }, { from: 0, to: T0 + 10 }]) {
      assert.deepEqual(latest(source, window), scanned(source, window), `${what}, window ${window.from - T0}..${window.to - T0}`)
    }
  }

  await write(T0, T0 + 1000, 200)
  check('first writes')
  await write(T0 + 1000, T0 + 2000, 50)
  check('newer points')
  await write(T0, T0 + 999, 50)
  check('points older than the newest')
  for (let round = 0; round < 5; round++) {
    const newest = Math.max(...latest(store.get('mix')).map((r) => r.t))
    await store.get('mix').deleteRange(newest - 20, newest + 1)
    check(`the newest points deleted, round ${round}`)
    await write(newest - 400, newest - 10, 5)
    check(`older points written after a deletion, round ${round}`)
  }

  // Every point of one name gone: it has no latest value, however it was read before.
  const onlyA = store.get('mix').view.records({ from: 0, to: 2e9, limit: 1_000_000, order: 'asc' }).filter((r) => r.n === 'a').map((r) => r.t)
  for (const t of onlyA) await store.get('mix').deleteRange(t, t + 0.5)
  check('every point of one name deleted')
  assert.ok(!latest(store.get('mix')).some((r) => r.n === 'a'))
  await store.get('mix').appendRecords([{ n: 'a', t: T0 + 5, v: -1 }])
  check('a name written again after all its points went')

  // Closed and opened again, the source answers from its table, then keeps it right as before.
  const before = latest(store.get('mix'))
  await store.close()
  store = await openStore(dir)
  assert.deepEqual(latest(store.get('mix')), before, 'reopened store')
  await write(T0 + 3000, T0 + 3100, 10)
  check('a write after the reopen')
  await store.close()

  // A source the store closed when idle opens a fresh view, whose memory starts empty.
  store = await openStore(dir, 30)
  const source = store.get('mix')
  const was = latest(source)
  await new Promise((resolve) => setTimeout(resolve, 120))
  assert.equal(source.isOpen, false, 'closed when idle')
  assert.deepEqual(latest(source), was)
  await write(T0 + 500, T0 + 600, 10)
  check('an older write to a source opened again')
  await store.close()
})

test('a transaction that fails leaves the latest values as its table has them', () => {
  const view = new View(path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-latest-')), 'view.sqlite'))
  view.transaction(() => {
    view.insertBlocks([{ index: 0, records: [{ n: 'x', t: T0, v: 1 }, { n: 'x', t: T0 + 10, v: 2 }] }])
    view.setApplied(1)
  })
  const series = view.seriesNamed(['x'])
  assert.deepEqual(view.latest(series), [{ n: 'x', t: T0 + 10, v: 2 }])
  assert.throws(() => view.transaction(() => {
    view.insertBlocks([{ index: 1, records: [{ n: 'x', t: T0 + 20, v: 3 }] }])
    throw new Error('the disk is full')
  }), /the disk is full/)
  assert.deepEqual(view.latest(series), [{ n: 'x', t: T0 + 10, v: 2 }], 'the rolled-back point is not shown')
  assert.equal(view.hasPointAt('x', T0 + 20), false)
  view.close()
})
