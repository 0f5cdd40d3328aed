/**
 * Which cells are rolled up, and that rolling them does not depend on how blocks were grouped:
 * a cell is rolled, with a row per numeric series exact over its points, once it holds
 * ROLLUP_MIN_POINTS points of any series; until then it keeps no row at all. Blocks applied in
 * groups (as a busy source applies them) leave the very same rows, bit for bit, as blocks applied
 * one at a time (as a rebuild from the log does), before and after deletions.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { SenmlRecord } from '../senml/index.ts'
import type { View } from './view.ts'
import { apply, tempView } from '../../test/views.ts'
import { aggregate, type AggregateFn } from './aggregate.ts'
import { ExactSum, ROLLUP_MIN_POINTS, ROLLUP_RESOLUTIONS, rolledBit } from './rollups.ts'
import { bucketBoundaries, parseBucket } from './buckets.ts'
import { seededRandom as random } from '../demo/random.ts'

const HOUR = 3600
const T0 = Date.UTC(2026, 5, 1) / 1000
const DAYS = 4

/** Points of several series and types, at densities either side of the threshold, in cells of every kind. */
function records(rand: () => number): SenmlRecord[] {
  const out: SenmlRecord[] = []
  for (let h = T0; h < T0 + DAYS * 86400; h += HOUR) {
    const mode = rand()
    // Per hour: nothing, a few points either side of the threshold, or a burst.
    const count = mode < 0.3 ? 0 : mode < 0.7 ? Math.floor(rand() * 2 * ROLLUP_MIN_POINTS) : 50 + Math.floor(rand() * 300)
    for (let i = 0; i < count; i++) {
      const t = h + rand() * HOUR
      const kind = rand()
      if (kind < 0.6) out.push({ n: 'a', t, v: rand() < 0.2 ? 0.1 * Math.floor(rand() * 10) : (rand() - 0.3) * 1e3 })
      else if (kind < 0.8) out.push({ n: 'b', u: 'W', t, v: 1e6 + rand() })
      else if (kind < 0.9) out.push({ n: 'note', t, vs: 'x' })
      else if (kind < 0.95) out.push({ n: 'flag', t, vb: rand() < 0.5 })
      else out.push({ n: 'a', t, s: 1 })
    }
  }
  return out
}

/** Blocks of random sizes, mostly in time order but their records not always, some late. */
function blocksOf(rand: () => number, all: SenmlRecord[]): SenmlRecord[][] {
  const sorted = [...all].sort((x, y) => x.t - y.t)
  const blocks: SenmlRecord[][] = []
  for (let i = 0; i < sorted.length;) {
    const size = rand() < 0.5 ? 1 + Math.floor(rand() * 5) : 1 + Math.floor(rand() * 400)
    const block = sorted.slice(i, i + size)
    blocks.push(rand() < 0.5 ? block : block.sort(() => rand() - 0.5))
    i += size
  }
  // Late blocks: shuffled stretches moved to the end, so their points land in cells already written.
  for (let k = 0; k < blocks.length / 10; k++) {
    const i = Math.floor(rand() * blocks.length)
    blocks.push(...blocks.splice(i, 1))
  }
  return blocks
}

function rollupState(view: View): unknown[] {
  return [
    view.db.prepare('SELECT * FROM rollups ORDER BY res, series, bucket').raw().all(),
    view.db.prepare('SELECT * FROM rolled ORDER BY slot').raw().all(),
  ]
}

/** Every cell of every resolution: rolled exactly when it holds enough points, and its rows exact. */
function checkCells(view: View, what: string, deleted = false): void {
  const points = view.db.prepare('SELECT t, series, val FROM points').raw().all() as [number, number, unknown][]
  const numeric = new Set([...view.seriesById.values()].filter((s) => s.type === 'number').map((s) => s.id))
  const masks = new Map(view.db.prepare('SELECT slot, cells FROM rolled').raw().all() as [number, number][])
  for (const res of ROLLUP_RESOLUTIONS) {
    const cells = new Map<number, { count: number; values: Map<number, number[]> }>()
    for (const [t, series, val] of points) {
      const bucket = Math.floor(t / res) * res
      let cell = cells.get(bucket)
      if (!cell) cells.set(bucket, (cell = { count: 0, values: new Map() }))
      cell.count++
      if (!numeric.has(series) || typeof val !== 'number') continue
      const values = cell.values.get(series)
      if (values) values.push(val)
      else cell.values.set(series, [val])
    }
    const rolled = (bucket: number) => {
      const { slot, bit } = rolledBit(res, bucket)
      return (((masks.get(slot) ?? 0) >> bit) & 1) === 1
    }
    for (const [bucket, cell] of cells) {
      const where = `${what}: ${res} s cell at ${bucket}, ${cell.count} points`
      // Deletions leave a cell rolled that held enough points once.
      if (deleted) assert.ok(rolled(bucket) || cell.count < ROLLUP_MIN_POINTS, where)
      else assert.equal(rolled(bucket), cell.count >= ROLLUP_MIN_POINTS, where)
    }
    const rows = view.db.prepare('SELECT series, bucket, n, sum, min, max, sumsq FROM rollups WHERE res = ?').raw().all(res) as number[][]
    const seen = new Set<string>()
    for (const [series, bucket, n, sum, min, max, sumsq] of rows) {
      const where = `${what}: row of series ${series} in the ${res} s cell at ${bucket}`
      assert.ok(rolled(bucket!), `${where} is in a cell not rolled`)
      const values = cells.get(bucket!)?.values.get(series!) ?? []
      assert.equal(n, values.length, where)
      assert.equal(min, Math.min(...values), where)
      assert.equal(max, Math.max(...values), where)
      const scale = values.reduce((a, v) => a + Math.abs(v), 0)
      assert.ok(Math.abs(sum! - values.reduce((a, v) => a + v, 0)) <= 1e-9 * Math.max(1, scale), `${where}: sum`)
      assert.ok(Math.abs(sumsq! - values.reduce((a, v) => a + v * v, 0)) <= 1e-9 * Math.max(1, values.reduce((a, v) => a + v * v, 0)), `${where}: sumsq`)
      seen.add(`${series} ${bucket}`)
    }
    // And every numeric series with values in a rolled cell has its row there.
    for (const [bucket, cell] of cells) {
      if (!rolled(bucket)) continue
      for (const series of cell.values.keys()) assert.ok(seen.has(`${series} ${bucket}`), `${what}: series ${series} lacks its row in the rolled ${res} s cell at ${bucket}`)
    }
  }
}

function answers(view: View): unknown[] {
  const fns: AggregateFn[] = ['count', 'sum', 'min', 'max', 'mean', 'sd', 'median', 'p99']
  const hourly = bucketBoundaries(T0, T0 + DAYS * 86400, parseBucket('1h'), 'UTC')
  const out: unknown[] = []
  for (const names of [['a'], ['b'], ['a', 'b']]) {
    for (const bounds of [hourly, hourly.map((b) => b + 150), bucketBoundaries(T0 + 1234, T0 + DAYS * 86400, parseBucket('1d'), 'Asia/Kolkata'), [T0 - 1, T0 + DAYS * 86400]]) {
      out.push(aggregate(view.db, view.seriesNamed(names), bounds, fns))
    }
  }
  return out
}

test('a cell is rolled once it holds enough points of any series, with exact rows; until then it keeps none', () => {
  const rand = random(11)
  const view = tempView()
  apply(view, blocksOf(rand, records(rand)), () => 1 + Math.floor(rand() * 4))
  checkCells(view, 'after ingest')
  view.close()
})

test('blocks applied in groups leave the same rollups as one at a time, bit for bit, and the same answers, deletions too', () => {
  for (const seed of [21, 22, 23]) {
    const rand = random(seed)
    const blocks = blocksOf(rand, records(rand))
    const grouped = tempView()
    const single = tempView()
    apply(grouped, blocks, () => (rand() < 0.3 ? 1 : 2 + Math.floor(rand() * 30)))
    apply(single, blocks, () => 1)
    assert.deepEqual(rollupState(grouped), rollupState(single), `seed ${seed}`)
    assert.deepEqual(answers(grouped), answers(single), `seed ${seed}`)

    // A range deletion, as a source makes one: its blocks go, the points it keeps come back, a block for each block they were in.
    const from = T0 + 86400 + 1234.5
    const to = from + 2 * 86400
    for (const view of [grouped, single]) {
      const dropped = view.blocksInRange(from, to)
      const survivors = view.survivors(dropped, from, to)
      view.db.transaction(() => view.dropBlocks(dropped))()
      apply(view, [...survivors.values()], () => 1)
      checkCells(view, `seed ${seed}, after a deletion`, true)
    }
    // Then more blocks, late ones among them, in groups again and one at a time.
    const more = blocksOf(rand, records(rand))
    apply(grouped, more, () => 1 + Math.floor(rand() * 20))
    apply(single, more, () => 1)
    assert.deepEqual(rollupState(grouped), rollupState(single), `seed ${seed}, after a deletion and more blocks`)
    assert.deepEqual(answers(grouped), answers(single), `seed ${seed}, after a deletion and more blocks`)
    grouped.close()
    single.close()
  }
})

test('a cell reaching the threshold in a block shared with other cells, or over several groups, is rolled by the right block', () => {
  const view = tempView()
  const at = (k: number): SenmlRecord => ({ n: 'a', t: T0 + k * 10, v: k })
  // Seven points, one by one, in a 5-minute cell: not rolled; the eighth rolls it, and the hour with it.
  for (let k = 0; k < ROLLUP_MIN_POINTS - 1; k++) apply(view, [[at(k)]], () => 1)
  assert.equal(view.db.prepare('SELECT count(*) FROM rollups').pluck().get(), 0)
  apply(view, [[at(ROLLUP_MIN_POINTS - 1), { n: 'a', t: T0 + 2 * HOUR, v: 1 }]], () => 1)
  const rows = view.db.prepare('SELECT res, bucket, n, sum FROM rollups ORDER BY res, bucket').raw().all()
  const sum = (ROLLUP_MIN_POINTS * (ROLLUP_MIN_POINTS - 1)) / 2
  assert.deepEqual(rows, [[300, T0, ROLLUP_MIN_POINTS, sum], [3600, T0, ROLLUP_MIN_POINTS, sum]])
  checkCells(view, 'threshold')
  view.close()
})

test('exact sums do not depend on the order of the values', () => {
  const rand = random(31)
  const values = Array.from({ length: 500 }, () => (rand() - 0.5) * 10 ** Math.floor(rand() * 30 - 10))
  const sumOf = (vs: number[]) => {
    const s = new ExactSum()
    for (const v of vs) s.add(v)
    return s.value()
  }
  const sum = sumOf(values)
  for (let k = 0; k < 20; k++) assert.equal(sumOf([...values].sort(() => rand() - 0.5)), sum)
  assert.equal(sumOf([0.1, 0.2, 0.3]), 0.6)
  assert.equal(sumOf([1e100, 1, -1e100]), 1)
  assert.equal(sumOf([]), 0)
})
