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

const HOUR = 3600
/** 2026-03-20T00:00Z: the data runs past Europe/Berlin's spring change (29 March) and New York's (8 March) is before. */
const T0 = Date.UTC(2026, 2, 20) / 1000
const DAYS = 14

/** A small seeded generator (mulberry32), so a failure can be replayed. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

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
  insert(view, [survivors])
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

test('a view laid out before rollups kept sketches is refused, so its source rebuilds it', () => {
  const view = tempView()
  const file = view.db.name
  view.db.prepare("UPDATE state SET value = 2 WHERE key = 'schema'").run()
  view.close()
  assert.throws(() => new View(file), /laid out for an older Coffer/)
})
