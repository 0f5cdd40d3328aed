/**
 * A token limited to coarse detail gets whole cells of its grant's grid, anchored in the owner's
 * zone, whatever unit a request spells its buckets in: no hour leaks out of a daily grant across
 * a clock change, no single day out of two overlapping 2-day grids. Month and year buckets follow
 * the owner's calendar and may be granted too.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import path from 'node:path'
import { initHome } from '../src/index.ts'
import { PASSPHRASE, startBox, tempDir, type Running } from './helpers.ts'

const TZ = 'Europe/Berlin'
const HOUR = 3600
/** 2026-10-01T00:00 in Berlin (CEST); the clocks go back on 2026-10-25. */
const OCT_1 = Date.UTC(2026, 8, 30, 22) / 1000
const NOV_1 = Date.UTC(2026, 9, 31, 23) / 1000

let r: Running
const tokens: Record<string, string> = {}

before(async () => {
  const home = path.join(tempDir(), 'home')
  initHome(home, { passphrase: PASSPHRASE, timeZone: TZ })
  r = await startBox(home)
  assert.equal((await r.api('POST', '/api/v1/sources', { body: { id: 'energy', attributes: [{ name: 'kwh', technicalType: 'number', unit: 'kWh' }] } })).status, 201)
  const records = []
  for (let t = OCT_1 - 40 * 86400; t < NOV_1 + 40 * 86400; t += HOUR) records.push({ n: 'kwh', t, v: 1 })
  assert.equal((await r.api('POST', '/api/v1/sources/energy/records', { raw: JSON.stringify(records) })).status, 201)
  for (const granularity of ['1d', '2d', '1w', '1mo']) {
    const minted = await r.api('POST', '/api/v1/tokens', { body: { subject: 'app', name: `g${granularity}`, sources: ['energy'], ops: ['read'], granularity } })
    assert.equal(minted.status, 201, JSON.stringify(minted.body))
    tokens[granularity] = minted.body.token
  }
})
after(() => r.close())

function aggregate(token: string, q: Record<string, string | number>) {
  const query = new URLSearchParams(Object.entries({ fn: 'sum', tz: TZ, ...q }).map(([k, v]) => [k, String(v)]))
  return r.api('GET', `/api/v1/sources/energy/aggregate?${query}`, { token })
}

test('a daily grant: 24h buckets are local days, and none ends an hour into a day after the clocks go back', async () => {
  const days = await aggregate(tokens['1d']!, { bucket: '24h', from: OCT_1, to: NOV_1 })
  assert.equal(days.status, 200, JSON.stringify(days.body))
  assert.equal(days.body.buckets.length, 31)
  assert.deepEqual(days.body.buckets.map((b: { value: number }) => b.value).filter((v: number) => v !== 24), [25])
  // The attack: 24-hour steps from a local midnight, whose last step ends at 23:00 local after the change.
  const drifting = await aggregate(tokens['1d']!, { bucket: '24h', from: OCT_1, to: OCT_1 + 31 * 86400 })
  assert.equal(drifting.status, 403)
  assert.match(drifting.body.detail, /whole 1-day cells/)
  const weekInHours = await aggregate(tokens['1w']!, { bucket: '168h', from: NOV_1 - 5 * 7 * 86400 - HOUR, to: NOV_1 - HOUR })
  assert.equal(weekInHours.status, 403)
})

test('a 2-day grant is anchored: buckets of two days from any other midnight are refused', async () => {
  const anchored = await aggregate(tokens['2d']!, { bucket: '2d', from: '2026-10-02', to: '2026-10-12' })
  const shifted = await aggregate(tokens['2d']!, { bucket: '2d', from: '2026-10-03', to: '2026-10-13' })
  // One of two neighbouring midnights starts a cell of the anchored grid, the other does not.
  assert.deepEqual([anchored.status, shifted.status].sort(), [200, 403])
  const ok = anchored.status === 200 ? anchored : shifted
  assert.ok(ok.body.buckets.every((b: { end: number; start: number }) => b.end - b.start >= 2 * 86400 - HOUR))
})

test('month buckets in the owner\'s zone, from a monthly grant too; a month cut short is refused to it', async () => {
  const owner = await aggregate(r.token, { bucket: '1mo', from: '2026-09-01', to: '2026-12-01' })
  assert.equal(owner.status, 200, JSON.stringify(owner.body))
  assert.deepEqual(owner.body.buckets.map((b: { value: number }) => b.value), [30 * 24, 31 * 24 + 1, 30 * 24])
  assert.equal(owner.body.bucket, '1mo')
  const monthly = await aggregate(tokens['1mo']!, { bucket: '1mo', from: '2026-10-01', to: '2026-11-01' })
  assert.equal(monthly.status, 200)
  assert.equal(monthly.body.buckets[0].value, 31 * 24 + 1)
  assert.equal((await aggregate(tokens['1mo']!, { bucket: '1mo', from: '2026-10-02', to: '2026-11-01' })).status, 403)
  assert.equal((await aggregate(tokens['1mo']!, { bucket: '30d', from: '2026-10-01', to: '2026-10-31' })).status, 403)
})
