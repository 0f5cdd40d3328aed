import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { BucketValue } from '@coffer/box'
import { fit, mercator, metres, places, tilesFor, type LatLon } from './geo.ts'

const HOUR = 3600

/** Hourly buckets of one coordinate, from (mean, min, max) per hour or null for an empty hour. */
function hourly(values: ([number, number, number] | null)[]): BucketValue[] {
  return values.map((v, i) => ({
    start: i * HOUR, end: (i + 1) * HOUR, count: v ? 60 : 0,
    value: v ? v[0] : null, values: { mean: v ? v[0] : null, min: v ? v[1] : null, max: v ? v[2] : null },
  }))
}
const still = (x: number): [number, number, number] => [x, x - 0.0002, x + 0.0002]
const moving = (x: number): [number, number, number] => [x, x - 0.01, x + 0.01]

test('hours spent still become places; moving hours and empty ones do not', () => {
  // Home (three hours, one of them 60 m away from the others), a walk, work (two hours), home again.
  const lat = hourly([still(52.52), still(52.5205), still(52.52), moving(52.53), still(52.54), still(52.54), null, still(52.52)])
  const lon = hourly([still(13.40), still(13.40), still(13.40), moving(13.41), still(13.42), still(13.42), null, still(13.40)])
  const found = places(lat, lon)
  assert.equal(found.length, 2)
  const [home, work] = found
  assert.equal(home!.hours, 4)
  assert.equal(home!.first, 0)
  assert.equal(home!.last, 8 * HOUR)
  assert.ok(metres([home!.lat, home!.lon], [52.52, 13.40]) < 30)
  assert.equal(work!.hours, 2)
  assert.ok(metres([work!.lat, work!.lon], [52.54, 13.42]) < 1)
})

test('metres agree with known distances', () => {
  // One degree of latitude is about 111.2 km; at 60° north a degree of longitude is half that.
  assert.ok(Math.abs(metres([0, 0], [1, 0]) - 111_195) < 10)
  assert.ok(Math.abs(metres([60, 0], [60, 1]) - 55_597) < 50)
})

test('Web Mercator puts known places on the tiles map servers use', () => {
  // At zoom 10, Berlin's Brandenburg Gate lies in tile x 550, y 335 (OpenStreetMap's tile numbering).
  const [x, y] = mercator([52.5163, 13.3777])
  assert.equal(Math.floor((x * 2 ** 10) / 256), 550)
  assert.equal(Math.floor((y * 2 ** 10) / 256), 335)
})

test('a frame fits the points and the tiles cover it exactly', () => {
  const pts: LatLon[] = [[52.50, 13.35], [52.53, 13.45]]
  const size = { width: 640, height: 360, pad: 16 }
  const exact = fit(pts, size, { wholeZoom: false, maxZoom: 19 })
  const whole = fit(pts, size, { wholeZoom: true, maxZoom: 19 })
  assert.equal(whole.zoom, Math.floor(exact.zoom))
  for (const frame of [exact, whole]) {
    for (const p of pts) {
      const [sx, sy] = frame.toScreen(p)
      assert.ok(sx >= size.pad - 1e-6 && sx <= size.width - size.pad + 1e-6 && sy >= size.pad - 1e-6 && sy <= size.height - size.pad + 1e-6, `${p} at ${sx},${sy}`)
    }
  }
  const tiles = tilesFor(whole, size, 'https://t.example/{z}/{x}/{y}.png')
  assert.ok(tiles.every((t) => t.href.startsWith(`https://t.example/${whole.zoom}/`)))
  // Together the tiles cover the frame, and none lies wholly outside it.
  assert.ok(Math.min(...tiles.map((t) => t.x)) <= 0 && Math.min(...tiles.map((t) => t.y)) <= 0)
  assert.ok(Math.max(...tiles.map((t) => t.x + 256)) >= size.width && Math.max(...tiles.map((t) => t.y + 256)) >= size.height)
  assert.ok(tiles.every((t) => t.x < size.width && t.y < size.height && t.x + 256 > 0 && t.y + 256 > 0))
  // One point alone still gets a frame, at the zoom limit.
  assert.equal(fit([[52.5, 13.4]], size, { wholeZoom: true, maxZoom: 18 }).zoom, 18)
})
