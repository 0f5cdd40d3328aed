/** `coffer-market` as a user runs it, in its own process, against a market on a real socket. */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { cli, spec, startMarket, tempDir, type Running } from './helpers.ts'

let m: Running
let dir: string
before(async () => {
  m = await startMarket('postgres')
  dir = tempDir()
})
after(async () => {
  await m.close()
  fs.rmSync(dir, { recursive: true, force: true })
})

test('register, validate, post, list, show, cancel', async () => {
  const reg = await cli(['processor', 'register', '--name', 'RWTH Aachen', '--contact', 'research@example.org', '--market', m.url])
  assert.equal(reg.code, 0, reg.stderr)
  const key = /cmk_[A-Za-z0-9_-]+/.exec(reg.stdout)![0]
  assert.match(reg.stdout, /shown only now/)
  const env = { COFFER_MARKET_URL: m.url, COFFER_MARKET_KEY: key }

  const file = path.join(dir, 'spec.json')
  fs.writeFileSync(file, JSON.stringify(spec()))
  const valid = await cli(['query', 'validate', file], env)
  assert.equal(valid.code, 0, valid.stderr)
  assert.match(valid.stdout, /Valid\. The question reads:\n {2}SELECT AVG\(Identity\.age\) WHERE Identity\.city = aachen/)

  const posted = await cli(['query', 'post', '-'], env, JSON.stringify(spec()))
  assert.equal(posted.code, 0, posted.stderr)
  const id = /Posted query ([0-9a-f-]{36})/.exec(posted.stdout)![1]!

  const list = await cli(['query', 'list'], env)
  assert.match(list.stdout, new RegExp(`${id}\\s+1\\s+open`))
  const show = await cli(['query', 'show', id, '--json'], env)
  assert.deepEqual(JSON.parse(show.stdout).participation, { accepted: 0, declined: 0, answered: 0, levels: { low: 0, medium: 0, high: 0 } })
  const plain = await cli(['query', 'show', id], env)
  assert.match(plain.stdout, /purpose: +How old the people of Aachen are/)

  const cancel = await cli(['query', 'cancel', id, '--key', key, '--market', m.url])
  assert.match(cancel.stdout, /is cancelled/)
  const again = await cli(['query', 'cancel', id], env)
  assert.equal(again.code, 1)
  assert.match(again.stderr, /^error: Conflict: Query .* is already cancelled/)
})

test('an invalid spec says where; a file that is not JSON says what a spec is', async () => {
  const bad = await cli(['query', 'validate', '-', '--market', m.url], {}, JSON.stringify(spec({ question: 'SELECT AVG(Identity.age WHERE Identity.city = aachen' })))
  assert.equal(bad.code, 1)
  assert.match(bad.stdout, /\/question \(line 1, column 25\): Expected/)
  const posted = await cli(['query', 'post', '-', '--market', m.url, '--key', 'cmk_x'], {}, 'SELECT COUNT(*)')
  assert.equal(posted.code, 1)
  assert.match(posted.stderr, /Standard input is not JSON .* A query spec is a JSON object/)
  const missing = await cli(['query', 'post', path.join(dir, 'nope.json'), '--market', m.url, '--key', 'cmk_x'])
  assert.match(missing.stderr, /Cannot read .*nope\.json: ENOENT/)
})

test('without a key, with a wrong one, or with no market there, the error says what to do', async () => {
  const none = await cli(['query', 'list', '--market', m.url])
  assert.equal(none.code, 1)
  assert.match(none.stderr, /needs a processor API key: pass --key KEY or set COFFER_MARKET_KEY/)
  const wrong = await cli(['query', 'list', '--market', m.url, '--key', 'cmk_wrong'])
  assert.equal(wrong.code, 1)
  assert.match(wrong.stderr, /^error: Unauthorized: This market does not know that API key/)
  const away = await cli(['query', 'list', '--market', 'http://127.0.0.1:1', '--key', 'cmk_x'])
  assert.equal(away.code, 1)
  assert.match(away.stderr, /Cannot reach the market at http:\/\/127\.0\.0\.1:1 .*coffer-market serve/)
})
