/**
 * A box joining a real market service (embedded storage, a real socket): it reads the queries
 * published since the last one it holds, judges each by the owner's levels and rules, and keeps
 * the owner's decisions. A market that cannot be reached, or is not a market, changes nothing.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import crypto from 'node:crypto'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { createMarket, type Market } from '@coffer/market'
import { openMetaDb } from '../db/index.ts'
import { Membership, judge, logicalTypesOf, type MarketRule } from './index.ts'

let market: Market
let url: string
let key: string

async function api(method: string, route: string, body?: unknown, auth?: string): Promise<any> {
  const res = await fetch(url + route, {
    method, body: body === undefined ? undefined : JSON.stringify(body),
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...(auth ? { authorization: `Bearer ${auth}` } : {}) },
  })
  const answer = await res.json()
  if (!res.ok) throw new Error(`${method} ${route}: ${res.status} ${JSON.stringify(answer)}`)
  return answer
}

/** The mean of a person's daily step totals in October. */
const STEPS = 'MEAN(SUM(Activity.steps) PER 1d) DURING 2026-10-01 .. 2026-11-01'

function post(question: string, more: Record<string, unknown> = {}): Promise<{ id: string }> {
  const bounds = {
    ...(question.includes('(Identity.age)') ? { 'Identity.age': { lo: 0, hi: 120 } } : {}),
    ...(/(SUM|AVG)\(MEAN/.test(question) ? { 'Activity.steps': { lo: 0, hi: 50_000 } } : {}),
  }
  return api('POST', '/api/v1/queries', {
    question, purpose: 'Planning school places in Aachen.', price: { amount: 100, currency: 'sat' },
    deadline: new Date(Date.now() + 30 * 86_400_000).toISOString(), participants: { min: 10, max: 1000 },
    bounds, answer: 'statistics', retention: '90d', ...more,
  }, key)
}

before(async () => {
  market = createMarket({ port: 0, logLevel: 'silent' })
  await market.open()
  url = await market.listen()
  const registered = await api('POST', '/api/v1/processors', { name: 'RWTH Aachen', contact: 'research@example.org' })
  key = registered.key
  await market.payments.deposit({ processorId: registered.processor.id, amount: 10_000_000, reference: 'research budget' })
})

after(() => market?.close())

test('a box joins, catches up on what was published before, and reads only what is new after', async () => {
  const first = await post('SELECT AVG(Identity.age) WHERE Identity.city = aachen')
  const membership = new Membership({ db: openMetaDb(':memory:') })
  membership.levels = { Identity: 'medium', Activity: 'low' }
  const joined = await membership.join(`${url}/`)
  assert.equal(joined.url, url)
  assert.equal(membership.vocabulary(joined.id).types.some((t) => t.name === 'Activity'), true)
  assert.deepEqual(membership.queries().map((q) => [q.id, q.state]), [[first.id, 'waiting']])

  const second = await post(`SELECT SUM(${STEPS})`)
  assert.deepEqual(await membership.sync(joined.id), { received: 1 })
  assert.deepEqual(await membership.sync(joined.id), { received: 0 }, 'nothing is read twice')
  assert.deepEqual(membership.queries().map((q) => q.id).sort(), [first.id, second.id].sort())
  await assert.rejects(membership.join(url), /already joined/)
})

test('levels and rules decide as queries arrive; the owner decides the rest', async () => {
  const membership = new Membership({ db: openMetaDb(':memory:') })
  membership.levels = { Identity: 'dont_share', Activity: 'medium' }
  membership.rules = [{ action: 'accept', logicalTypes: ['Activity'], minPrice: 50 }, { action: 'decline', purposeIncludes: 'advertising' }]
  const steps = await post(`SELECT AVG(${STEPS})`)
  const ages = await post('SELECT COUNT(*) WHERE Identity.age > 30')
  const ads = await post(`SELECT SUM(${STEPS})`, { purpose: 'Advertising shoes.', price: { amount: 10, currency: 'sat' } })
  const cheap = await post(`SELECT SUM(${STEPS})`, { price: { amount: 10, currency: 'sat' } })
  await membership.join(url)
  const state = (id: string) => membership.query(id)
  assert.equal(state(steps.id).state, 'accepted')
  assert.equal(state(steps.id).reason, 'rule 1')
  assert.equal(state(ages.id).state, 'cannot')
  assert.match(state(ages.id).reason!, /Identity, which you do not share/)
  assert.equal(state(ads.id).state, 'declined')
  assert.equal(state(cheap.id).state, 'waiting')

  assert.equal(membership.decide(cheap.id, 'accept').state, 'accepted')
  assert.equal(membership.query(cheap.id).decidedBy, 'owner')
  assert.throws(() => membership.decide(ages.id, 'accept'), /cannot/)
  assert.throws(() => membership.decide('no-such-query', 'accept'), /No market query/)
  assert.throws(() => { membership.rules = [{ action: 'maybe' } as unknown as MarketRule] }, /not valid/)
  assert.equal(membership.rules.length, 2, 'a refused change leaves the rules as they were')

  // Changing levels or rules judges again what nobody decided; the owner's decision stands.
  membership.levels = { Identity: 'low', Activity: 'medium' }
  assert.equal(state(ages.id).state, 'waiting')
  membership.rules = [{ action: 'decline', minPrice: 1 }]
  assert.equal(state(ages.id).state, 'declined')
  assert.equal(state(steps.id).state, 'declined', 'a rule\'s decision follows the rules')
  assert.equal(state(cheap.id).state, 'accepted', 'the owner\'s own decision stands')
})

test('the owner\'s account is read in a request the box signs; a refused read keeps what was read before; leaving forgets it', async () => {
  const membership = new Membership({ db: openMetaDb(':memory:') })
  const joined = await membership.join(url)
  const { publicKey, privateKey } = crypto.generateKeyPairSync('ed25519')
  const boxId = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32).toString('hex')
  const reader = { boxId, sign: (text: string) => crypto.sign(null, Buffer.from(text), privateKey).toString('base64url') }
  assert.deepEqual(membership.payments(), [{ market: joined.id, payoutAddress: null, account: null, readAt: null, lastError: null }])
  const read = await membership.readAccount(joined.id, reader)
  assert.deepEqual([read.account?.boxId, read.account?.balance, read.account?.earnings, read.lastError], [boxId, 0, [], null])
  assert.equal(typeof read.readAt, 'number')

  const other = crypto.generateKeyPairSync('ed25519').privateKey
  await assert.rejects(membership.readAccount(joined.id, { boxId, sign: (text) => crypto.sign(null, Buffer.from(text), other).toString('base64url') }), /answered 401/)
  const kept = membership.payments(joined.id)[0]!
  assert.deepEqual([kept.account?.boxId, kept.readAt], [boxId, read.readAt], 'what was read before stays')
  assert.match(kept.lastError!, /answered 401/)

  // The payout address is held as a destination for the gateway only until the market has it.
  membership.notePayoutAddress(joined.id, 'bcrt1qexample')
  assert.deepEqual(membership.destinations(joined.id).map((d) => d.url), [`${url}/api/v1/owners/payout-address`])
  membership.settlePayoutAddress(joined.id, { delivered: true })
  assert.deepEqual(membership.destinations(joined.id), [])
  membership.leave(joined.id)
  assert.deepEqual(membership.payments(), [])
  await membership.join(url)
  assert.deepEqual(membership.payments(), [{ market: joined.id, payoutAddress: null, account: null, readAt: null, lastError: null }], 'joined again, it starts afresh')
})

test('an address that is not a market, or cannot be reached, is refused and nothing is joined', async () => {
  const membership = new Membership({ db: openMetaDb(':memory:') })
  const other = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"hello":"world"}'))
  await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve))
  try {
    await assert.rejects(membership.join(`http://127.0.0.1:${(other.address() as AddressInfo).port}`), /not a vocabulary/)
  } finally {
    other.close()
  }
  await assert.rejects(membership.join('http://127.0.0.1:1'), /could not be reached/)
  await assert.rejects(membership.join('ftp://example.org'), /http or https/)
  await assert.rejects(membership.join('not a url'), /not a URL/)
  assert.deepEqual(membership.list(), [])
})

test('a query\'s logical types come from what it selects and what it asks of the person', () => {
  const query = { select: [{ aggregate: 'count' as const }, { aggregate: 'avg' as const, value: { attribute: 'Health.weight' } }], where: [[{ value: { attribute: 'Identity.age' }, op: '>' as const, literal: 30 }]] }
  assert.deepEqual(logicalTypesOf(query), ['Health', 'Identity'])
  const facts = { logicalTypes: ['Health'], price: 5, purpose: 'x', processor: 'p', answer: 'statistics' as const }
  assert.deepEqual(judge(facts, { Health: 'medium' }, []), { decision: 'ask', by: 'owner' })
  assert.deepEqual(judge(facts, { Health: 'low' }, [{ action: 'accept', levels: ['low'] }]), { decision: 'accept', by: 'rule', rule: 0 })
  assert.deepEqual(judge(facts, { Health: 'high' }, [{ action: 'accept', levels: ['low'] }]), { decision: 'ask', by: 'owner' })
  assert.equal(judge(facts, {}, []).decision, 'cannot', 'a type the owner has not given a level is not shared')
})
