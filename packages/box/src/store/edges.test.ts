/**
 * Aggregates with bucket edges inside hours, answered from the dense hours' cells (edges.ts): the
 * same answers as every raw value gives, whatever the edges, however the blocks came and after
 * deletions; and the cells themselves the same however the blocks were grouped.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { SenmlRecord } from '../senml/index.ts'
import type { View } from './view.ts'
import { apply, tempView } from '../../test/views.ts'
import { aggregate } from './aggregate.ts'
import { CellReader } from './cells.ts'
import { DENSE, MAX_VALUES, eachPackedValue, edgeStats } from './edges.ts'
import { sketchAccumulators } from './quantiles.ts'
import { bucketBoundaries, parseBucket } from './buckets.ts'
import { seededRandom as random } from '../demo/random.ts'

const HOUR = 3600
const T0 = Date.UTC(2026, 5, 1) / 1000
const DAYS = 3

/** Hours dense and sparse for 'a', a few points of 'b' everywhere; times whole, to the millisecond, and with no round microsecond. */
function records(rand: () => number): SenmlRecord[] {
  const out: SenmlRecord[] = []
  for (let h = T0; h < T0 + DAYS * 86400; h += HOUR) {
    const mode = rand()
    const count = mode < 0.1 ? 0 : mode < 0.2 ? Math.floor(rand() * DENSE) : DENSE + Math.floor(rand() * 600)
    for (let i = 0; i < count; i++) {
      const kind = rand()
      const t = kind < 0.3 ? h + Math.floor(rand() * HOUR) : kind < 0.6 ? h + Math.round(rand() * HOUR * 1000) / 1000 : h + rand() * HOUR
      out.push({ n: 'a', t, v: rand() < 0.1 ? 20 : (rand() - 0.4) * 100 })
    }
    if (rand() < 0.5) out.push({ n: 'b', t: h + rand() * HOUR, v: rand() }, { n: 'a', t: h + 7, vs: 'not a number' })
  }
  return out
}

/** Blocks of random sizes, mostly in time order, some shuffled, some late. */
function blocksOf(rand: () => number, all: SenmlRecord[]): SenmlRecord[][] {
  const sorted = [...all].sort((x, y) => x.t - y.t)
  const blocks: SenmlRecord[][] = []
  for (let i = 0; i < sorted.length;) {
    const size = 1 + Math.floor(rand() * (rand() < 0.3 ? 5 : 700))
    const block = sorted.slice(i, i + size)
    blocks.push(rand() < 0.3 ? block.sort(() => rand() - 0.5) : block)
    i += size
  }
  for (let k = 0; k < blocks.length / 8; k++) blocks.push(...blocks.splice(Math.floor(rand() * blocks.length), 1))
  return blocks
}

/** Bounds of every kind: hourly off the grid by whole, fractional and 5-minute-grid offsets, daily in a half-hour zone, sub-hour, at points' own times. */
function boundSets(rand: () => number, held: SenmlRecord[]): number[][] {
  const hourly = bucketBoundaries(T0, T0 + DAYS * 86400, parseBucket('1h'), 'UTC')
  const sets = [1, 150, 299.5, 1799, 1800, 3599.999].map((shift) => hourly.map((b) => b + shift))
  sets.push(bucketBoundaries(T0 + 1234, T0 + DAYS * 86400, parseBucket('1d'), 'Asia/Kolkata'))
  sets.push(bucketBoundaries(T0 + 86400 + 61, T0 + 86400 + 6 * HOUR, parseBucket('7m'), 'UTC'))
  sets.push(bucketBoundaries(T0 - 3 * HOUR + 17, T0 + DAYS * 86400 + 5 * HOUR, parseBucket('3h'), 'UTC'))
  const times = held.filter((r) => r.n === 'a' && typeof r.v === 'number').map((r) => r.t).sort((x, y) => x - y)
  const atPoints = [...new Set(Array.from({ length: 40 }, () => times[Math.floor(rand() * times.length)]!))].sort((x, y) => x - y)
  sets.push(atPoints)
  return sets
}

/** Each bucket's count, sum, min, max and standard deviation of 'a' from every value held. */
function truth(held: SenmlRecord[], bounds: number[]): { count: number; sum: number; min: number | null; max: number | null; sd: number }[] {
  return bounds.slice(1).map((hi, i) => {
    const lo = bounds[i]!
    const values = held.filter((r) => r.n === 'a' && typeof r.v === 'number' && r.t >= lo && r.t < hi).map((r) => r.v!)
    const sum = values.reduce((a, v) => a + v, 0)
    const sd = Math.sqrt(values.reduce((a, v) => a + (v - sum / values.length) ** 2, 0) / (values.length - 1))
    return { count: values.length, sum, min: values.length ? Math.min(...values) : null, max: values.length ? Math.max(...values) : null, sd }
  })
}

/** Checks every bound set's aggregates against every value held, asked with min and max and without; counts the sets the cells answered. */
function check(view: View, held: SenmlRecord[], rand: () => number, what: string): number {
  const series = view.seriesNamed(['a']).filter((s) => s.type === 'number')
  const reader = new CellReader(view.db, [series[0]!.id])
  let fast = 0
  for (const bounds of boundSets(rand, held)) {
    if (edgeStats(view.db, reader, series[0]!.id, bounds)) fast++
    const got = aggregate(view.db, series, bounds, ['count', 'sum', 'min', 'max'])
    const sums = aggregate(view.db, series, bounds, ['count', 'sum', 'mean', 'sd'])
    truth(held, bounds).forEach((want, i) => {
      const where = `${what}: bucket ${i} [${bounds[i]}, ${bounds[i + 1]})`
      const close = (x: number | null | undefined, y: number) => Math.abs((x ?? 0) - y) <= 1e-9 * Math.max(1, Math.abs(y), want.count * 100)
      for (const b of [got[i]!, sums[i]!]) {
        assert.equal(b.count, want.count, where)
        assert.ok(close(b.values!.sum, want.sum), `${where}: sum ${b.values!.sum} against ${want.sum}`)
      }
      assert.equal(got[i]!.values!.min, want.min, where)
      assert.equal(got[i]!.values!.max, want.max, where)
      if (want.count > 0) assert.ok(close(sums[i]!.values!.mean, want.sum / want.count), `${where}: mean`)
      if (want.count > 1) assert.ok(Math.abs(sums[i]!.values!.sd! - want.sd) <= 1e-6 * Math.max(1, want.sd), `${where}: sd ${sums[i]!.values!.sd} against ${want.sd}`)
    })
  }
  return fast
}

/** Both tables, their ids told by series name and type rather than by the series' id in this view. */
function edgeTables(view: View): unknown[] {
  const name = (series: number) => { const s = view.seriesById.get(series)!; return `${s.name}/${s.type}` }
  const hours = (view.db.prepare('SELECT id, cells FROM hourcells').raw().all() as [number, Buffer][]).map(([id, cells]) => [`${name(Math.floor(id / 2 ** 22))} ${id % 2 ** 22}`, cells])
  const cells = (view.db.prepare('SELECT id, pts FROM edgecells').raw().all() as [number, Buffer][]).map(([id, pts]) => [`${name(Math.floor(id / 2 ** 26))} ${Math.floor(id / 2 ** 22) % 16} ${id % 2 ** 22}`, pts])
  const sorted = (rows: unknown[][]) => rows.sort((x, y) => String(x[0]).localeCompare(String(y[0])))
  return [sorted(hours), sorted(cells)]
}

test('edges inside dense hours: the answers every raw value gives, from the cells, whatever the edges', () => {
  const rand = random(41)
  const held = records(rand)
  const view = tempView()
  apply(view, blocksOf(rand, held), () => 1 + Math.floor(rand() * 6))
  const fast = check(view, held, rand, 'after ingest')
  // The hourly, daily, sub-hour and 3-hour sets are answered from the cells; none falls back for want of them.
  assert.ok(fast >= 8, `${fast} of the bound sets took the cells`)
  assert.ok((view.db.prepare('SELECT count(*) FROM hourcells').pluck().get() as number) > 0)
  view.close()
})

test('the cells are the same bytes however the blocks were grouped, and after a deletion as a fresh view of what is left', () => {
  for (const seed of [51, 52]) {
    const rand = random(seed)
    const held = records(rand)
    const blocks = blocksOf(rand, held)
    const grouped = tempView()
    const single = tempView()
    apply(grouped, blocks, () => 1 + Math.floor(rand() * 30))
    apply(single, blocks, () => 1)
    assert.deepEqual(edgeTables(grouped), edgeTables(single), `seed ${seed}`)

    // A range deletion cutting dense hours, as a source makes one: its blocks go, the points it keeps come back.
    const from = T0 + 86400 + 1234.5
    const to = from + 7 * HOUR + 17
    const dropped = grouped.blocksInRange(from, to)
    const survivors = grouped.survivors(dropped, from, to)
    grouped.db.transaction(() => grouped.dropBlocks(dropped))()
    apply(grouped, [...survivors.values()], () => 1)
    const left = held.filter((r) => !(r.t >= from && r.t < to))
    check(grouped, left, rand, `seed ${seed}, after a deletion`)
    const fresh = tempView()
    apply(fresh, [left], () => 1)
    assert.deepEqual(edgeTables(grouped), edgeTables(fresh), `seed ${seed}: the deletion left other cells than a view of what is left`)
    for (const v of [grouped, single, fresh]) v.close()
  }
})

test('an hour becomes dense over several groups, and is kept from then on with every value it held', () => {
  const view = tempView()
  const at = (k: number): SenmlRecord => ({ n: 'a', t: T0 + 10 + k * 13.1, v: k % 17 })
  const held: SenmlRecord[] = []
  for (const [lo, hi] of [[0, 100], [100, DENSE - 1], [DENSE - 1, DENSE + 3], [DENSE + 3, 270]] as const) {
    const block = Array.from({ length: hi - lo }, (_, i) => at(lo + i))
    held.push(...block)
    apply(view, [block], () => 1)
    const kept = view.db.prepare('SELECT count(*) FROM hourcells').pluck().get()
    assert.equal(kept, held.length >= DENSE ? 1 : 0, `after ${held.length} values`)
  }
  const bounds = [T0 + 100.5, T0 + 1000, T0 + 2345.25, T0 + HOUR - 0.5]
  const series = view.seriesNamed(['a'])
  assert.ok(edgeStats(view.db, new CellReader(view.db, [series[0]!.id]), series[0]!.id, bounds))
  const got = aggregate(view.db, series, bounds, ['count', 'min', 'max'])
  truth(held, bounds).forEach((want, i) => assert.deepEqual([got[i]!.count, got[i]!.values!.min, got[i]!.values!.max], [want.count, want.min, want.max]))
  view.close()
})

test('a value at an edge\'s own microsecond that cannot be placed sends the aggregate the general way, with the right answer', () => {
  const view = tempView()
  // 1/3 of a second has no exact microsecond: at an edge there, the cells cannot say which side the value is on.
  const third = T0 + 100 + 1 / 3
  const block: SenmlRecord[] = Array.from({ length: DENSE + 10 }, (_, i) => ({ n: 'a', t: T0 + 5 + i * 10, v: i }))
  block.push({ n: 'a', t: third, v: -1 })
  apply(view, [block], () => 1)
  const series = view.seriesNamed(['a'])
  const reader = new CellReader(view.db, [series[0]!.id])
  const edge = third + 1e-9
  assert.equal(edgeStats(view.db, reader, series[0]!.id, [T0, edge, T0 + HOUR]), undefined)
  const [before, after] = aggregate(view.db, series, [T0, edge, T0 + HOUR], ['count', 'min'])
  assert.deepEqual([before!.count, before!.values!.min, after!.count], [...(() => {
    const left = block.filter((r) => r.t < edge)
    return [left.length, Math.min(...left.map((r) => r.v!)), block.length - left.length]
  })()])
  // An edge at a whole second splits exactly, from the cells.
  assert.ok(edgeStats(view.db, reader, series[0]!.id, [T0, T0 + 105, T0 + HOUR]))
  const [upTo] = aggregate(view.db, series, [T0, T0 + 105, T0 + HOUR], 'count')
  assert.equal(upTo!.count, block.filter((r) => r.t < T0 + 105).length)
  view.close()
})

test('past its memory budget for packed values the cells are not read: the general path answers', () => {
  const rand = random(61)
  const held = records(rand)
  const view = tempView()
  apply(view, blocksOf(rand, held), () => 4)
  const series = view.seriesNamed(['a']).filter((s) => s.type === 'number')
  const reader = new CellReader(view.db, [series[0]!.id])
  const bounds = bucketBoundaries(T0, T0 + DAYS * 86400, parseBucket('1h'), 'UTC').map((b) => b + 150)
  const fast = edgeStats(view.db, reader, series[0]!.id, bounds)
  assert.ok(fast, 'within the budget the cells answer')
  truth(held, bounds).forEach((want, i) => assert.deepEqual([fast[i]!.n, fast[i]!.n ? fast[i]!.min : null, fast[i]!.n ? fast[i]!.max : null], [want.count, want.min, want.max]))
  assert.equal(edgeStats(view.db, reader, series[0]!.id, bounds, 1000), undefined)
  view.close()
})

test('an hour of more than MAX_VALUES values is kept no longer, however its values came, and answers stay right', () => {
  const at = (k: number): SenmlRecord => ({ n: 'a', t: T0 + k * 0.09, v: (k % 1000) - 500 })
  const all = Array.from({ length: MAX_VALUES + 100 }, (_, k) => at(k))
  const kept = (v: View) => [v.db.prepare('SELECT count(*) FROM hourcells').pluck().get(), v.db.prepare('SELECT count(*) FROM edgecells').pluck().get()]
  const stepwise = tempView()
  apply(stepwise, [all.slice(0, 10_000)], () => 1)
  assert.deepEqual(kept(stepwise), [1, 3], 'kept while within the bounds: the hour, and the three cells 900 s of values fall in')
  apply(stepwise, [all.slice(10_000, 30_000), all.slice(30_000)], () => 1)
  assert.deepEqual(kept(stepwise), [0, 0], 'past MAX_VALUES nothing is kept')
  const whole = tempView()
  apply(whole, [all], () => 1)
  assert.deepEqual(kept(whole), [0, 0])
  const bounds = [T0 + 100.05, T0 + 1800, T0 + 3599.95]
  const series = stepwise.seriesNamed(['a'])
  const got = aggregate(stepwise.db, series, bounds, ['count', 'min', 'max'])
  truth(all, bounds).forEach((want, i) => assert.deepEqual([got[i]!.count, got[i]!.values!.min, got[i]!.values!.max], [want.count, want.min, want.max]))
  for (const v of [stepwise, whole]) v.close()
})

test('quantiles take the values where their edges cut dense hours from the cells: the same answers as from the raw points', () => {
  const rand = random(71)
  const held = records(rand)
  const view = tempView()
  apply(view, blocksOf(rand, held), () => 1 + Math.floor(rand() * 6))
  const series = view.seriesNamed(['a']).filter((s) => s.type === 'number')
  const id = series[0]!.id
  const reader = new CellReader(view.db, [id])
  let answered = 0
  let asked = 0
  const packed = (spans: readonly { lo: number; hi: number }[], indices: number[], each: (i: number, v: number) => void) => {
    const left = eachPackedValue(view.db, id, spans, indices, each)
    asked += indices.length
    answered += indices.length - left.length
    return left
  }
  for (const bounds of boundSets(rand, held)) {
    const buckets = bounds.slice(1).map((hi, i) => ({ lo: bounds[i]!, hi }))
    const fromCells = sketchAccumulators(reader, buckets, packed)
    const fromPoints = sketchAccumulators(reader, buckets)
    buckets.forEach((b, i) => {
      for (const q of [0, 0.5, 0.9, 0.99, 1]) assert.equal(fromCells[i]!.quantile(q), fromPoints[i]!.quantile(q), `[${b.lo}, ${b.hi}) q ${q}`)
    })
  }
  assert.ok(answered > asked / 2, `the cells answered ${answered} of ${asked} edge spans`)

  // A value at an edge's microsecond that cannot be placed leaves its span to the raw points.
  const third = T0 + 100 + 1 / 3
  const dense: SenmlRecord[] = Array.from({ length: DENSE + 10 }, (_, i) => ({ n: 'c', t: T0 + 5 + i * 10, v: i }))
  dense.push({ n: 'c', t: third, v: -1 })
  apply(view, [dense], () => 1)
  const c = view.seriesNamed(['c'])[0]!.id
  const spans = [{ lo: T0 + 60, hi: third + 1e-9 }, { lo: T0 + 60, hi: T0 + 105 }, { lo: T0 + 200, hi: T0 + 400 }]
  const values: number[][] = [[], [], []]
  const left = eachPackedValue(view.db, c, spans, [0, 1, 2], (i, v) => values[i]!.push(v))
  assert.deepEqual(left, [2, 0], 'a span across cells and one whose edge cannot be placed are left')
  assert.deepEqual(values[1], dense.filter((r) => r.t >= T0 + 60 && r.t < T0 + 105).map((r) => r.v))
  view.close()
})
