/** `coffer-market` as a user runs it, in its own process, against a market on a real socket. */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { cli, OPERATOR_TOKEN, spec, startMarket, tempDir, type Running } from './helpers.ts'

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

test('register, deposit, validate, post, list, show, cancel, and the account and ledger after', async () => {
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

  // A query escrows price × most participants (100 sat × 1,000): not before the processor has paid in.
  const broke = await cli(['query', 'post', '-'], env, JSON.stringify(spec()))
  assert.equal(broke.code, 1)
  assert.match(broke.stderr, /^error: Insufficient funds: Posting this query holds 100,000 sat in escrow \(100 sat × 1,000 participants at most\), and your balance is 0 sat\./)
  const processorId = /\(([0-9a-f-]{36})\)/.exec(reg.stdout)![1]!
  const deposit = ['deposit', '--processor', processorId, '--amount', '250000', '--reference', 'bank transfer 2026-11-03']
  const noToken = await cli(deposit, env)
  assert.equal(noToken.code, 1)
  assert.match(noToken.stderr, /operator's: pass --operator-token TOKEN or set COFFER_MARKET_OPERATOR_TOKEN/)
  const wrongToken = await cli([...deposit, '--operator-token', 'guess'], env)
  assert.match(wrongToken.stderr, /^error: Unauthorized: This is for the market's operator/)
  const paid = await cli(deposit, { ...env, COFFER_MARKET_OPERATOR_TOKEN: OPERATOR_TOKEN })
  assert.equal(paid.code, 0, paid.stderr)
  assert.equal(paid.stdout, `Recorded 250,000 sat for processor ${processorId} (bank transfer 2026-11-03); its balance is 250,000 sat.\n`)
  const again = await cli(deposit, { ...env, COFFER_MARKET_OPERATOR_TOKEN: OPERATOR_TOKEN })
  assert.match(again.stdout, /was recorded before; nothing changed\. The balance is 250,000 sat\./)

  const posted = await cli(['query', 'post', '-'], env, JSON.stringify(spec()))
  assert.equal(posted.code, 0, posted.stderr)
  const id = /Posted query ([0-9a-f-]{36})/.exec(posted.stdout)![1]!
  const account = await cli(['account'], env)
  assert.match(account.stdout, /^Balance: 150,000 sat {3}held in escrow for your queries: 100,000 sat\n/)
  assert.match(account.stdout, new RegExp(`escrow\\s+-100,000 sat\\s+${id}`))
  assert.match(account.stdout, /deposit\s+\+250,000 sat\s+-\s+bank transfer 2026-11-03/)

  const list = await cli(['query', 'list'], env)
  assert.match(list.stdout, new RegExp(`${id}\\s+1\\s+open`))
  const show = await cli(['query', 'show', id, '--json'], env)
  assert.deepEqual(JSON.parse(show.stdout).participation, { accepted: 0, declined: 0, answered: 0, levels: { low: 0, medium: 0, high: 0 } })
  const plain = await cli(['query', 'show', id], env)
  assert.match(plain.stdout, /purpose: +How old the people of Aachen are/)

  const cancel = await cli(['query', 'cancel', id, '--key', key, '--market', m.url])
  assert.match(cancel.stdout, /is cancelled/)
  const twice = await cli(['query', 'cancel', id], env)
  assert.equal(twice.code, 1)
  assert.match(twice.stderr, /^error: Conflict: Query .* is already cancelled/)
  // Withdrawn, it pays no one: the whole escrow is back.
  const refunded = JSON.parse((await cli(['account', '--json'], env)).stdout)
  assert.deepEqual([refunded.balance, refunded.escrowed, refunded.entries[0].kind, refunded.entries[0].amount], [250_000, 0, 'settlement', 100_000])

  const ledger = await cli(['ledger', '--operator-token', OPERATOR_TOKEN], env)
  assert.equal(ledger.code, 0, ledger.stderr)
  assert.match(ledger.stdout, /^The ledger balances: 3 entries\./)
  assert.match(ledger.stdout, /processor\s+250,000 sat\n/)
  assert.match(ledger.stdout, /deposits\s+-250,000 sat\n/)
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
