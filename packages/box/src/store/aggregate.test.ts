/**
 * Aggregates answered from rollups, sketches and raw edges against a scan of every raw value,
 * on the same random data: clustered and sparse times, ties, negatives and zeros, two series
 * under one name, late blocks merging into rollup rows already written, deletions; buckets with
 * edges anywhere, in zones with half- and quarter-hour offsets and across DST changes.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { SenmlRecord } from '../senml/index.ts'
import { View } from './view.ts'
import { aggregate, type AggregateFn } from './aggregate.ts'
import { bucketBoundaries, parseBucket } from './buckets.ts'
import { SKETCH_RELATIVE_ERROR } from './sketch.ts'
import { InvalidInput } from '../errors/index.ts'
import { seededRandom as random } from '../demo/random.ts'

const HOUR = 3600
/** 2026-03-20T00:00Z: the data runs past Europe/Berlin's spring change (29 March) and New York's (8 March) is before. */
const T0 = Date.UTC(2026, 2, 20) / 1000
const DAYS = 14

function tempView(): View {
  return new View(path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-aggregate-')), 'view.sqlite'))
}

let applied = 0
function insert(view: View, blocks: SenmlRecord[][]): void {
  view.db.transaction(() => {
    view.insertBlocks(blocks.map((records) => ({ index: applied++, records })))
    view.setApplied(applied)
  })()
}

/** Bursts of points seconds apart, sparse stretches and empty hours; values with ties, zeros, negatives and a wide range. */
function randomRecords(rand: () => number, count: number): SenmlRecord[] {
  const records: SenmlRecord[] = []
  let t = T0 + rand() * 100
  while (records.length < count) {
    const mode = rand()
    const gap = mode < 0.7 ? rand() * 4 : mode < 0.95 ? rand() * 600 : rand() * 4 * HOUR
    t += gap
    if (t >= T0 + DAYS * 86400) t = T0 + rand() * DAYS * 86400
    const kind = rand()
    const v = kind < 0.3 ? Math.floor(rand() * 4) : kind < 0.4 ? -rand() * 50 : kind < 0.45 ? 0 : kind < 0.5 ? rand() * 1e6 : kind < 0.55 ? rand() * 1e-3 : 20 + rand() * 5
    const unit = rand() < 0.2 ? 'B' : 'A'
    // A record carrying only a sum is a point without a value: counted nowhere.
    records.push(rand() < 0.01 ? { n: 'x', u: unit, t, s: 1 } : { n: 'x', u: unit, t, v })
  }
  return records
}

/** Consecutive blocks of random sizes, in time order, then a few late blocks whose points fall among the earlier ones. */
function blocksOf(rand: () => number, records: SenmlRecord[]): SenmlRecord[][] {
  const inOrder = [...records].sort((a, b) => a.t - b.t)
  const late = inOrder.filter(() => rand() < 0.05)
  const lateSet = new Set(late)
  const rest = inOrder.filter((r) => !lateSet.has(r))
  const blocks: SenmlRecord[][] = []
  for (let i = 0; i < rest.length;) {
    const size = rand() < 0.3 ? 1 + Math.floor(rand() * 3) : 1 + Math.floor(rand() * 800)
    blocks.push(rest.slice(i, i + size))
    i += size
  }
  for (let i = 0; i < late.length; i += 200) blocks.push(late.slice(i, i + 200))
  return blocks
}

/** The raw scan every answer is checked against: each bucket's values, in time order, from the records themselves. */
function rawBuckets(records: SenmlRecord[], bounds: number[]): number[][] {
  const withValues = records.filter((r) => r.v !== undefined).sort((a, b) => a.t - b.t)
  const out: number[][] = bounds.slice(1).map(() => [])
  let i = 0
  for (const r of withValues) {
    while (i + 1 < bounds.length && r.t >= bounds[i + 1]!) i++
    if (i + 1 < bounds.length && r.t >= bounds[i]!) out[i]!.push(r.v!)
  }
  return out
}

function exactQuantile(values: number[], q: number): number {
  const s = [...values].sort((a, b) => a - b)
  const h = q * (s.length - 1)
  const lo = Math.floor(h)
  return lo + 1 < s.length ? s[lo]! + (h - lo) * (s[lo + 1]! - s[lo]!) : s[lo]!
}

function close(actual: number | null | undefined, expected: number, tolerance: number, what: string): void {
  assert.ok(actual !== null && actual !== undefined && Math.abs(actual - expected) <= tolerance * Math.max(1, Math.abs(expected)), `${what}: ${actual} vs ${expected}`)
}

const STATS: AggregateFn[] = ['count', 'sum', 'min', 'max', 'mean', 'sd']

/** Every stats function of every bucket equals the raw scan's: counts, minima and maxima exactly, sums within rounding. */
function checkStats(view: View, records: SenmlRecord[], bounds: number[], what: string, name = 'x'): void {
  const answers = aggregate(view.db, view.seriesNamed([name]), bounds, STATS)
  const raw = rawBuckets(records.filter((r) => r.n === name), bounds)
  answers.forEach((b, i) => {
    const values = raw[i]!
    const where = `${what}, bucket ${i} [${b.start}, ${b.end})`
    assert.equal(b.count, values.length, `${where}: count`)
    if (values.length === 0) {
      assert.equal(b.values!.mean, null, where)
      return
    }
    const sum = values.reduce((a, v) => a + v, 0)
    const mean = sum / values.length
    const scale = values.reduce((a, v) => a + Math.abs(v), 0)
    assert.equal(b.values!.min, Math.min(...values), `${where}: min`)
    assert.equal(b.values!.max, Math.max(...values), `${where}: max`)
    close(b.values!.sum, sum, 1e-9 * Math.max(1, scale / Math.max(1, Math.abs(sum))), `${where}: sum`)
    close(b.values!.mean, mean, 1e-9 * Math.max(1, scale / values.length / Math.max(1, Math.abs(mean))), `${where}: mean`)
    if (values.length > 1) {
      const sd = Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (values.length - 1))
      const squares = values.reduce((a, v) => a + v * v, 0)
      // sd comes from sums of squares, whose rounding grows with the values' size against their spread.
      close(b.values!.sd, sd, 1e-7 * Math.max(1, squares / values.length / Math.max(1e-9, sd * sd)), `${where}: sd`)
    }
  })
}

/** Bucket edges of many kinds over the data: off the hour and 5-minute grids by seconds and fractions, in offset zones, across DST. */
function boundsToCheck(rand: () => number): { what: string; bounds: number[] }[] {
  const span = (from: number, to: number, bucket: string, tz: string) => bucketBoundaries(from, to, parseBucket(bucket), tz)
  const end = T0 + DAYS * 86400
  const cases = [
    { what: 'hourly, on the grid', bounds: span(T0, end, '1h', 'UTC') },
    { what: 'hourly, from one second past the hour', bounds: span(T0, end, '1h', 'UTC').map((b) => b + 1) },
    { what: 'hourly, from 150 s past the hour', bounds: span(T0, end, '1h', 'UTC').map((b) => b + 150) },
    { what: 'hourly, from 59 min 59.5 s past the hour', bounds: span(T0, end, '1h', 'UTC').map((b) => b + 3599.5) },
    { what: 'hourly in Asia/Kolkata (+5:30), off the grid', bounds: span(T0 + 1234.5, end - 77, '1h', 'Asia/Kolkata') },
    { what: 'hourly in Asia/Kathmandu (+5:45)', bounds: span(T0 + 17, end, '1h', 'Asia/Kathmandu') },
    { what: 'daily in Europe/Berlin across the spring change', bounds: span(T0 + 3 * HOUR + 7, end - 1, '1d', 'Europe/Berlin') },
    { what: 'daily in America/St_Johns (-3:30 / -2:30)', bounds: span(T0, end, '1d', 'America/St_Johns') },
    { what: 'weekly in Europe/Berlin', bounds: span(T0 - 86400, end, '1w', 'Europe/Berlin') },
    { what: '7-minute buckets over a day, from a random second', bounds: span(T0 + 86400 + Math.floor(rand() * 3600), T0 + 2 * 86400, '7m', 'UTC') },
    { what: '2-minute buckets over two hours', bounds: span(T0 + 5 * HOUR + 13, T0 + 7 * HOUR, '2m', 'UTC') },
    { what: 'one bucket over everything', bounds: [T0 - 10, end + 10] },
  ]
  for (let k = 0; k < 6; k++) {
    const from = T0 + rand() * DAYS * 86400 * 0.8
    const to = from + rand() * DAYS * 86400 * 0.3 + 1
    cases.push({ what: `random range ${k}, 3h buckets in Europe/Berlin`, bounds: span(from, to, '3h', 'Europe/Berlin') })
  }
  return cases
}

test('count, sum, min, max, mean and sd equal a raw scan whatever the bucket edges', () => {
  const rand = random(1)
  const view = tempView()
  const records = randomRecords(rand, 60_000)
  insert(view, blocksOf(rand, records))
  for (const { what, bounds } of boundsToCheck(rand)) checkStats(view, records, bounds, what)
  view.close()
})

test('min and max stay exact where cut cells hold the extreme or ties: a rising counter and a two-valued sensor', () => {
  const rand = random(2)
  const view = tempView()
  const records: SenmlRecord[] = []
  for (let t = T0, total = 0; t < T0 + 3 * 86400; t += 1 + rand() * 20) records.push({ n: 'counter', t, v: (total += rand() < 0.5 ? 0 : 1) })
  for (let t = T0 + 0.5; t < T0 + 3 * 86400; t += 7) records.push({ n: 'state', t, v: rand() < 0.5 ? 0 : 1 })
  insert(view, blocksOf(rand, records))
  const hourly = bucketBoundaries(T0, T0 + 3 * 86400, parseBucket('1h'), 'UTC')
  for (const name of ['counter', 'state']) {
    for (const shift of [1, 90, 299, 1800, 3599]) checkStats(view, records, hourly.map((b) => b + shift), `${name}, hourly + ${shift} s`, name)
  }
  view.close()
})

test('aggregates stay right after a deletion rebuilds the rollups, and with no series at all', () => {
  const rand = random(3)
  const view = tempView()
  let records = randomRecords(rand, 20_000)
  insert(view, blocksOf(rand, records))
  // Drop a few whole blocks, as a range deletion does, and keep what they held outside the range.
  const from = T0 + 3 * 86400 + 1111
  const to = from + 86400 + 2222
  const blocks = view.blocksInRange(from, to)
  const survivors = view.survivors(blocks, from, to)
  view.db.transaction(() => view.dropBlocks(blocks))()
  insert(view, [...survivors.values()])
  records = records.filter((r) => r.t < from || r.t >= to)
  for (const { what, bounds } of boundsToCheck(rand)) checkStats(view, records, bounds, `after a deletion: ${what}`)
  for (const fn of ['exact_median', 'median'] as const) {
    const median = aggregate(view.db, view.seriesNamed(['x']), [from - 7200, to + 7200], fn)[0]!
    close(median.value, exactQuantile(rawBuckets(records, [from - 7200, to + 7200])[0]!, 0.5), fn === 'median' ? SKETCH_RELATIVE_ERROR : 0, fn)
  }
  assert.deepEqual(aggregate(view.db, [], [T0, T0 + 60, T0 + 120], ['count', 'median']).map((b) => [b.count, b.value]), [[0, 0], [0, 0]])
  view.close()
})

test('quantiles from sketches are within their stated error; exact ones equal the raw scan; small ranges are exact', () => {
  const rand = random(4)
  const view = tempView()
  const records = randomRecords(rand, 80_000)
  insert(view, blocksOf(rand, records))
  const series = view.seriesNamed(['x'])
  const quantiles = { median: 0.5, p90: 0.9, p99: 0.99 } as const
  let sketched = 0
  for (const { what, bounds } of boundsToCheck(rand)) {
    const raw = rawBuckets(records, bounds)
    const total = raw.reduce((n, v) => n + v.length, 0)
    // Asked together with an exact one, every quantile is read exactly; so the two kinds are asked apart.
    const answers = aggregate(view.db, series, bounds, ['median', 'p90', 'p99'])
    const exact = aggregate(view.db, series, bounds, ['exact_median', 'exact_p90', 'exact_p99'])
    answers.forEach((b, i) => {
      const values = [...raw[i]!].sort((x, y) => x - y)
      const where = `${what}, bucket ${i}`
      assert.equal(exact[i]!.error, undefined)
      if (values.length === 0) return assert.equal(b.values!.median, null, where)
      if (b.error) sketched++
      for (const [fn, q] of Object.entries(quantiles)) {
        assert.equal(exact[i]!.values![`exact_${fn}` as AggregateFn], exactQuantile(values, q), `${where}: exact_${fn}`)
        const approx = b.values![fn as AggregateFn]!
        if (!b.error) {
          assert.equal(approx, exactQuantile(values, q), `${where}: ${fn} without a stated error is exact`)
          continue
        }
        assert.deepEqual(b.error, { relative: SKETCH_RELATIVE_ERROR })
        // DDSketch answers for the value at rank floor(q (n - 1)), within its relative error.
        const truth = values[Math.floor(q * (values.length - 1))]!
        assert.ok(Math.abs(approx - truth) <= SKETCH_RELATIVE_ERROR * Math.abs(truth) * (1 + 1e-9), `${where}: ${fn} ${approx} vs ${truth}`)
      }
    })
    if (total <= 20_000) assert.ok(answers.every((b) => b.error === undefined), `${what}: ${total} points are answered exactly`)
  }
  assert.ok(sketched > 100, `${sketched} buckets were answered from sketches`)
  const year = aggregate(view.db, series, [T0 - 86400, T0 + (DAYS + 1) * 86400], 'median')[0]!
  assert.deepEqual(year.error, { relative: SKETCH_RELATIVE_ERROR }, 'a range of 80,000 points is answered from sketches')
  assert.throws(() => aggregate(view.db, series, [T0, T0 + DAYS * 86400], 'exact_median', 50_000),
    (err: unknown) => err instanceof InvalidInput && err.status === 400 && /exact_median read every point.*more than the 50,000/.test(err.message))
  view.close()
})

/**
 * Series of every density in one view: a sparse one (a reading every 5–50 minutes, so no cell of
 * its own reaches ROLLUP_MIN_POINTS), a bursty one (empty hours, hours of a few points either side
 * of the threshold, hours of hundreds), text notes that fill some hours by themselves (cells rolled
 * for them hold no numeric row), and one name in two units, one sparse and one dense.
 */
function mixedRecords(rand: () => number): SenmlRecord[] {
  const records: SenmlRecord[] = []
  const end = T0 + DAYS * 86400
  const value = () => (rand() < 0.3 ? Math.floor(rand() * 4) : rand() < 0.1 ? -rand() * 50 : 20 + rand() * 5)
  for (let t = T0 + rand() * 600; t < end; t += 300 + rand() * 2700) {
    records.push({ n: 'sparse', t, v: value() })
    if (rand() < 0.5) records.push({ n: 'mix', u: 'a', t: t + rand() * 60, v: value() })
  }
  for (let h = T0; h < end; h += HOUR) {
    const mode = rand()
    const count = mode < 0.35 ? 0 : mode < 0.65 ? 5 + Math.floor(rand() * 5) : mode < 0.9 ? Math.floor(rand() * 40) : 300 + Math.floor(rand() * 1200)
    for (let i = 0; i < count; i++) records.push({ n: 'bursty', u: 'W', t: h + rand() * HOUR, v: value() })
    if (rand() < 0.3) for (let i = 0; i < count; i++) records.push({ n: 'mix', u: 'b', t: h + rand() * HOUR, v: value() })
    if (rand() < 0.2) for (let i = 0; i < 30; i++) records.push({ n: 'note', t: h + rand() * HOUR, vs: 'text' })
  }
  return records
}

function checkQuantiles(view: View, records: SenmlRecord[], bounds: number[], what: string, name: string): void {
  const raw = rawBuckets(records.filter((r) => r.n === name), bounds)
  const answers = aggregate(view.db, view.seriesNamed([name]), bounds, ['median', 'p90', 'p99'])
  const exact = aggregate(view.db, view.seriesNamed([name]), bounds, ['exact_median', 'exact_p90', 'exact_p99'])
  answers.forEach((b, i) => {
    const values = [...raw[i]!].sort((x, y) => x - y)
    const where = `${what}, bucket ${i}`
    if (values.length === 0) return assert.equal(b.values!.median, null, where)
    for (const [fn, q] of Object.entries({ median: 0.5, p90: 0.9, p99: 0.99 })) {
      assert.equal(exact[i]!.values![`exact_${fn}` as AggregateFn], exactQuantile(values, q), `${where}: exact_${fn}`)
      const approx = b.values![fn as AggregateFn]!
      if (!b.error) assert.equal(approx, exactQuantile(values, q), `${where}: ${fn}`)
      else {
        const truth = values[Math.floor(q * (values.length - 1))]!
        assert.ok(Math.abs(approx - truth) <= SKETCH_RELATIVE_ERROR * Math.abs(truth) * (1 + 1e-9), `${where}: ${fn} ${approx} vs ${truth}`)
      }
    }
  })
}

test('sparse cells keep no rollups and are read raw: every density, alone and together, equals a raw scan', () => {
  const rand = random(5)
  const view = tempView()
  let records = mixedRecords(rand)
  insert(view, blocksOf(rand, records))
  const cases = boundsToCheck(rand)
  for (const name of ['sparse', 'bursty', 'mix']) {
    for (const { what, bounds } of cases) checkStats(view, records, bounds, `${name}: ${what}`, name)
  }
  for (const name of ['sparse', 'mix']) {
    for (const { what, bounds } of cases.slice(0, 8)) checkQuantiles(view, records, bounds, `${name}: ${what}`, name)
  }
  // The sparse series has rows only in cells that other series fill; alone, it has none at all.
  const rows = (v: View, name: string) => v.db.prepare('SELECT count(*) FROM rollups WHERE series IN (SELECT id FROM series WHERE name = ?)').pluck().get(name) as number
  const sparseRows = rows(view, 'sparse')
  assert.ok(rows(view, 'bursty') > 100, `${rows(view, 'bursty')} rows of the bursty series`)
  assert.ok(sparseRows < records.filter((r) => r.n === 'sparse').length / 2, `${sparseRows} rows of the sparse series`)
  const alone = tempView()
  const sparse = records.filter((r) => r.n === 'sparse')
  insert(alone, blocksOf(rand, sparse))
  assert.equal(rows(alone, 'sparse'), 0)
  for (const { what, bounds } of cases) checkStats(alone, sparse, bounds, `sparse alone: ${what}`, 'sparse')
  checkQuantiles(alone, sparse, [T0, T0 + DAYS * 86400], 'sparse alone, one bucket', 'sparse')
  alone.close()
  // Quantiles from sketches where the rows are: a range of the bursty series with more points than are read exactly.
  const whole = aggregate(view.db, view.seriesNamed(['bursty']), [T0, T0 + DAYS * 86400], 'median')[0]!
  assert.ok(whole.count > 20_000, `${whole.count} points`)
  assert.deepEqual(whole.error, { relative: SKETCH_RELATIVE_ERROR })
  checkQuantiles(view, records, [T0, T0 + DAYS * 86400], 'the whole bursty series', 'bursty')

  // A deletion: cells keep their rows or their raw points as they were, and answers stay right.
  const from = T0 + 2 * 86400 + 1234
  const to = from + 3 * 86400 + 777
  const blocks = view.blocksInRange(from, to)
  const survivors = view.survivors(blocks, from, to)
  view.db.transaction(() => view.dropBlocks(blocks))()
  insert(view, [...survivors.values()])
  records = records.filter((r) => r.t < from || r.t >= to)
  for (const name of ['sparse', 'bursty', 'mix']) {
    for (const { what, bounds } of cases.slice(0, 8)) checkStats(view, records, bounds, `after a deletion, ${name}: ${what}`, name)
  }
  checkQuantiles(view, records, [T0, T0 + DAYS * 86400], 'the whole bursty series after a deletion', 'bursty')
  view.close()
})

test('edges anywhere in a minute or a 5-minute cell, on dense, sparse and gappy series, alone and together, equal a raw scan', () => {
  const rand = random(7)
  const view = tempView()
  const records: SenmlRecord[] = []
  const end = T0 + 2 * 86400
  // A point every 0.5–3 s, but none in one hour of every five and none in minutes 2 and 7 of every hour.
  for (let t = T0 + rand(); t < end; t += 0.5 + rand() * 2.5) {
    const minute = Math.floor((t - T0) / 60) % 60
    if (Math.floor((t - T0) / HOUR) % 5 === 3 || minute === 2 || minute === 7) continue
    const v = rand() < 0.1 ? 7 : 20 + Math.sin(t / 900) * 3 + rand()
    records.push({ n: 'dense', u: 'a', t, v }, { n: 'solo', t, v })
  }
  // The same name in another unit, a reading every 20–100 s: its minutes hold one value or none.
  for (let t = T0 + rand() * 30; t < end; t += 20 + rand() * 80) records.push({ n: 'dense', u: 'b', t, v: -rand() * 100 })
  insert(view, blocksOf(rand, records))
  const hourly = bucketBoundaries(T0, end, parseBucket('1h'), 'UTC')
  const shifts = [0.25, 1, 30, 59, 60, 61, 90, 119.5, 120, 150, 179, 180, 240, 299, 300, 301, 421, 1799, 3540, 3599.5]
  for (const shift of shifts) {
    checkStats(view, records, hourly.map((b) => b + shift), `two series, hourly + ${shift} s`, 'dense')
    checkStats(view, records, hourly.map((b) => b + shift), `one dense series, hourly + ${shift} s`, 'solo')
  }
  const span = (from: number, to: number, bucket: string) => bucketBoundaries(from, to, parseBucket(bucket), 'UTC')
  for (const [from, bucket] of [[T0 + 3 * HOUR + 17.5, '90s'], [T0 + 7 * HOUR + 1, '2m'], [T0 + 9 * HOUR + 45, '10m'], [T0 + 3 * HOUR - 130, '1m']] as const) {
    for (const name of ['dense', 'solo']) checkStats(view, records, span(from, from + 2 * HOUR, bucket), `${name}, ${bucket} buckets from ${from - T0} s`, name)
  }
  view.close()
})

test('a long stretch of sparse cells, more points than are read exactly, gives quantiles from its raw values', () => {
  const view = tempView()
  const rand = random(6)
  // Five readings an hour for 210 days: no cell is rolled, and 25,200 points are more than a quantile reads exactly.
  const records: SenmlRecord[] = []
  for (let t = T0; t < T0 + 210 * 86400; t += 720) records.push({ n: 'x', t: t + rand() * 700, v: rand() * 100 - 10 })
  insert(view, blocksOf(rand, records))
  assert.equal(view.db.prepare('SELECT count(*) FROM rolled').pluck().get(), 0)
  for (const bounds of [[T0, T0 + 210 * 86400], bucketBoundaries(T0, T0 + 210 * 86400, parseBucket('1w'), 'Europe/Berlin')]) {
    checkStats(view, records, bounds, `${bounds.length - 1} buckets`)
    checkQuantiles(view, records, bounds, `${bounds.length - 1} buckets`, 'x')
  }
  view.close()
})

test('a view laid out before rollups kept sketches is refused, so its source rebuilds it', () => {
  const view = tempView()
  const file = view.db.name
  view.db.prepare("UPDATE state SET value = 2 WHERE key = 'schema'").run()
  view.close()
  assert.throws(() => new View(file), /laid out for an older Coffer/)
})
