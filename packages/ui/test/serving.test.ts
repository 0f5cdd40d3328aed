/** How the box serves the cockpit: the page, its paths, its assets, and a clear word when it is not built. */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import zlib from 'node:zlib'
import Fastify from 'fastify'
import { startBox, tempDir, type Running } from '../../box/test/helpers.ts'
import { COCKPIT_DIR, cockpitRoutes } from '../../box/src/api/cockpit.ts'

let box: Running

before(async () => {
  assert.ok(fs.existsSync(path.join(COCKPIT_DIR, 'index.html')), 'The cockpit is not built: run `npm run build` first (npm test does).')
  box = await startBox()
})
after(() => box?.close())

test('/ and any cockpit path answer the page, with a policy that allows nothing from elsewhere', async () => {
  for (const route of ['/', '/audit', '/sources/living-room']) {
    const res = await fetch(box.url + route)
    assert.equal(res.status, 200, route)
    assert.match(res.headers.get('content-type') ?? '', /text\/html/)
    assert.match(await res.text(), /<div id="root">/)
    const csp = res.headers.get('content-security-policy') ?? ''
    assert.match(csp, /default-src 'self'/, route)
    assert.match(csp, /connect-src 'self'/, route)
    assert.match(csp, /script-src 'self'(;|$)/, `${route}: scripts from the box only, and no eval`)
  }
})

test('a map tile server the owner sets is the one other origin the page may load images from', async () => {
  for (const [tiles, why] of [
    ['https://tiles.example.org/{z}/{x}.png', /\{y\}/],
    ['ftp://tiles.example.org/{z}/{x}/{y}.png', /http or https/],
    ['https://me:secret@tiles.example.org/{z}/{x}/{y}.png', /user name or password/],
    ["https://tiles.example.org/{z}/{x}/{y}.png' data:", /characters/],
  ] as const) {
    const res = await box.api('PUT', '/api/v1/settings/map', { body: { tiles } })
    assert.equal(res.status, 400, tiles)
    assert.match(res.body.detail, why)
  }
  assert.equal((await box.api('GET', '/api/v1/settings')).body.map, null, 'a refused setting changes nothing')
  const policy = async () => (await fetch(box.url + '/sources/x')).headers.get('content-security-policy') ?? ''
  assert.match(await policy(), /img-src 'self' data: blob:;/)

  const set = await box.api('PUT', '/api/v1/settings/map', { body: { tiles: 'https://tiles.example.org/{z}/{x}/{y}.png', attribution: '© Example contributors' } })
  assert.equal(set.status, 200)
  assert.deepEqual(set.body.map, { tiles: 'https://tiles.example.org/{z}/{x}/{y}.png', attribution: '© Example contributors' })
  assert.match(await policy(), /img-src 'self' data: blob: https:\/\/tiles\.example\.org;/)
  assert.match(await policy(), /connect-src 'self';/, 'tiles are images only: nothing may be sent there')
  const saved = JSON.parse(fs.readFileSync(box.box.home.paths.config, 'utf8'))
  assert.equal(saved.map.tiles, 'https://tiles.example.org/{z}/{x}/{y}.png', 'kept across restarts')

  assert.equal((await box.api('DELETE', '/api/v1/settings/map')).body.map, null)
  assert.match(await policy(), /img-src 'self' data: blob:;/)
  assert.equal((await box.api('PUT', '/api/v1/settings/map', { body: { tiles: 'https://tiles.example.org/{z}/{x}/{y}.png' }, token: null })).status, 401)
})

test('the first load stays within 300 KB of gzipped JavaScript; heavy pages load only when visited', async () => {
  const html = await (await fetch(box.url)).text()
  const scripts = [...html.matchAll(/<(?:script[^>]*src|link[^>]*rel="modulepreload"[^>]*href)="([^"]+\.js)"/g)].map((m) => m[1]!)
  assert.ok(scripts.length > 0)
  let gzipped = 0
  for (const src of scripts) gzipped += zlib.gzipSync(Buffer.from(await (await fetch(box.url + src)).arrayBuffer())).length
  assert.ok(gzipped <= 300 * 1024, `first load is ${Math.round(gzipped / 1024)} KB gzipped`)
  // Vega, for app views, is the largest thing the cockpit has: it must not be part of the first load.
  const first = (await Promise.all(scripts.map(async (src) => (await fetch(box.url + src)).text()))).join('')
  assert.doesNotMatch(first, /vega-lite/i)
})

test('built assets are served and cached; a missing file is a 404, not the page', async () => {
  const html = await (await fetch(box.url)).text()
  const script = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1]
  assert.ok(script, 'index.html loads a hashed script')
  const res = await fetch(box.url + script)
  assert.equal(res.status, 200)
  assert.match(res.headers.get('cache-control') ?? '', /immutable/)
  await res.arrayBuffer()
  const missing = await fetch(`${box.url}/assets/nothing-here.js`)
  assert.equal(missing.status, 404)
  await missing.arrayBuffer()
})

test('unknown API routes stay problem+json', async () => {
  const res = await box.api('GET', '/api/v1/no-such-route')
  assert.equal(res.status, 404)
  assert.match(res.headers.get('content-type') ?? '', /problem\+json/)
})

test('without a build, / says how to make one', async () => {
  const app = Fastify()
  cockpitRoutes(app, () => undefined, path.join(tempDir(), 'dist') + path.sep)
  const res = await app.inject({ method: 'GET', url: '/' })
  assert.equal(res.statusCode, 200)
  assert.match(res.body, /npm run build/)
  await app.close()
})
