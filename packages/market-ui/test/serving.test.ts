/** How the market serves its pages: the page at its own paths, a strict policy, assets, and the API's 404s untouched. */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { startMarket, type Running } from '../../market/test/helpers.ts'
import { MARKET_PAGES_DIR } from '../../market/src/pages/index.ts'
import { assertBuilt } from './browser.ts'

let market: Running

before(async () => {
  assertBuilt()
  market = await startMarket('pglite')
})
after(() => market?.close())

test('/ and the pages\' own paths answer the page, with a policy that allows nothing from elsewhere and no inline code', async () => {
  for (const route of ['/', '/register', '/queries', '/queries/new', '/queries/4f0b6c52-4f7e-4a43-9f4a-2f0c3f6e1a2b']) {
    const res = await fetch(market.url + route)
    assert.equal(res.status, 200, route)
    assert.match(res.headers.get('content-type') ?? '', /text\/html/, route)
    assert.match(await res.text(), /<div id="root">/, route)
    const csp = res.headers.get('content-security-policy') ?? ''
    for (const directive of ["default-src 'self'", "script-src 'self';", "style-src 'self';", "connect-src 'self'", "frame-ancestors 'none'", "object-src 'none'"]) {
      assert.ok(csp.includes(directive), `${route}: ${directive} in ${csp}`)
    }
    assert.doesNotMatch(csp, /unsafe-(inline|eval)/, route)
    assert.equal(res.headers.get('cache-control'), 'no-cache', route)
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff', route)
  }
})

test('built assets are served as files with the same policy, cached for good; a missing one is a 404', async () => {
  const assets = fs.readdirSync(path.join(MARKET_PAGES_DIR, 'assets'))
  const script = assets.find((name) => name.endsWith('.js'))!
  const res = await fetch(`${market.url}/assets/${script}`)
  assert.equal(res.status, 200)
  assert.match(res.headers.get('content-type') ?? '', /javascript/)
  assert.match(res.headers.get('cache-control') ?? '', /immutable/)
  assert.match(res.headers.get('content-security-policy') ?? '', /script-src 'self'/)
  assert.equal((await fetch(`${market.url}/assets/nothing-here.js`)).status, 404)
})

test('the API keeps its own answers: unknown API paths are problem+json, not the page', async () => {
  const res = await fetch(`${market.url}/api/v1/nothing-here`)
  assert.equal(res.status, 404)
  assert.match(res.headers.get('content-type') ?? '', /application\/problem\+json/)
  const vocabulary = await fetch(`${market.url}/api/v1/vocabulary`)
  assert.equal(vocabulary.status, 200)
  assert.match(vocabulary.headers.get('content-type') ?? '', /json/)
})
