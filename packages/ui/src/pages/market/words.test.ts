import { test } from 'node:test'
import assert from 'node:assert/strict'
import { PRIVACY_PARAMETERS, type Rational } from '@coffer/market/privacy'
import { LEVELS, LEVEL_ORDER, describeRule, earnedWords, logicalTypesOf, payoutState, protection, retentionWords, sat, sharing, stateWords, strictestLevel, waitingFirst, whatLeaves } from './words.ts'
import type { QueryDetail } from './api.ts'

const fraction = (r: Rational) => r.den === 1n ? `${r.num}` : `${r.num}/${r.den}`

test('each level says the numbers of the market\'s privacy table', () => {
  for (const level of LEVEL_ORDER) {
    const table = PRIVACY_PARAMETERS[level]
    const said = sharing(level)
    if (!table.shares) {
      assert.equal(said, null, level)
      continue
    }
    assert.ok(said, level)
    assert.equal(said.epsilon, fraction(table.epsilon), `${level} ε`)
    assert.equal(said.monthly, fraction(table.monthlyBudget), `${level} monthly budget`)
    assert.equal(said.answersPerMonth, Number((table.monthlyBudget.num * table.epsilon.den) / (table.monthlyBudget.den * table.epsilon.num)), `${level} answers a month`)
    assert.deepEqual([said.k, said.l], [table.k, table.l], `${level} k, l`)
  }
  assert.deepEqual(Object.keys(LEVELS).sort(), Object.keys(PRIVACY_PARAMETERS).sort())
})

const query = (over: Partial<QueryDetail> & { select?: QueryDetail['published']['query']['select']; where?: QueryDetail['published']['query']['where'] } = {}): QueryDetail => {
  const { select, where, ...rest } = over
  return {
    market: 'm', id: 'q1', seq: 1, state: 'waiting', decidedBy: null, decidedAt: null, reason: null, receivedAt: 0, spent: null, answeredAt: null, earned: null, description: 'your steps',
    published: {
      id: 'q1', seq: 1, processor: { id: 'p1', name: 'Study' }, postedAt: '2026-11-01T00:00:00Z', deadline: '2026-12-01T00:00:00Z',
      query: { select: select ?? [{ aggregate: 'avg', value: { attribute: 'Activity.steps' } }], ...(where ? { where } : {}) },
      spec: {
        question: 'x', purpose: 'A study', price: { amount: 5, currency: 'sat' }, deadline: '2026-12-01T00:00:00Z',
        participants: { min: 10, max: 100 }, bounds: { 'Activity.steps': { lo: 0, hi: 30000 } }, answer: 'statistics', retention: '30d',
      },
    },
    ...rest,
  }
}

test('a query\'s kinds of data come from what it asks and what it asks it of', () => {
  const q = query({ where: [[{ value: { attribute: 'Identity.age' }, op: '>', literal: 30 }], [{ value: { attribute: 'Activity.distance' }, op: '>', literal: 1 }]] })
  assert.deepEqual(logicalTypesOf(q.published.query), ['Activity', 'Identity'])
  assert.equal(strictestLevel({ Activity: 'low', Identity: 'high' }, ['Activity', 'Identity']), 'high')
  assert.equal(strictestLevel({ Activity: 'low' }, ['Activity', 'Identity']), 'dont_share')
  assert.match(protection(q, { Activity: 'low' }), /^You do not share Identity:/)
  assert.match(protection(q, { Activity: 'low', Identity: 'medium' }), /at medium privacy, your level for Activity and Identity: noise with ε = 1\/2 per answer, taken from a monthly budget \(Activity's 5 and Identity's 2\)/)
})

test('what leaves: two encrypted shares of a clipped value, or nothing', () => {
  assert.match(whatLeaves(query()), /^Two encrypted shares of your value, clipped to Activity\.steps between 0 and 30,000, one for each/)
  assert.match(whatLeaves(query({ state: 'answered' })), /^Sent: two encrypted shares/)
  assert.equal(whatLeaves(query({ state: 'cannot' })), 'Nothing: your box cannot answer it.')
  assert.equal(whatLeaves(query({ state: 'declined' })), 'Nothing: you declined it.')
})

test('states, rules and retention read as sentences', () => {
  assert.equal(stateWords({ state: 'answered', reason: 'answered at level high', decidedBy: 'owner' }), 'answered at level high')
  assert.equal(stateWords({ state: 'accepted', reason: 'rule 2', decidedBy: 'rule' }), 'accepted by your rule 2')
  assert.equal(stateWords({ state: 'cannot', reason: 'it asks for Identity', decidedBy: 'level' }), 'cannot be answered (it asks for Identity)')
  assert.equal(describeRule({ action: 'decline' }), 'Decline every query.')
  assert.equal(describeRule({ action: 'accept', logicalTypes: ['Activity', 'Health'], minPrice: 0, levels: ['medium', 'high'], processors: ['p1'] }),
    'Accept queries only about Activity or Health, paying at least 0 sat, where your level is medium or high, from p1.')
  assert.deepEqual(['30d', '1w', '6mo', '1y'].map(retentionWords), ['30 days', '1 week', '6 months', '1 year'])
  const waiting = query({ id: 'b' })
  assert.deepEqual(waitingFirst([query({ id: 'a', state: 'answered' }), waiting]).map((q) => q.id), ['b', 'a'])
})

test('what an answered query earned, or why it has not yet; payouts in the owner\'s words', () => {
  assert.equal(earnedWords(query({ state: 'waiting' })), null)
  assert.equal(earnedWords(query({ state: 'answered' })), 'Nothing yet: the market pays once it releases the result, if the query reaches its minimum.')
  assert.equal(earnedWords(query({ state: 'answered', earned: { sat: 1250, at: '2026-11-20T10:00:00.000Z' } })), '1,250 sat, paid into your balance on 2026-11-20')
  assert.equal(sat(100_000), '100,000 sat')
  assert.deepEqual(['signed', 'broadcast', 'confirmed', 'failed'].map((s) => payoutState(s as 'signed')), [
    'made, not sent yet', 'sent, waiting for confirmation', 'confirmed: paid', 'refused by the network; back in your balance',
  ])
})
