import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { Value } from '@sinclair/typebox/value'
import { Answer, DEFAULT_VOCABULARY, FeedPage, PublishedQuery, describeQuery, type QuerySpec } from './index.ts'
import { checkSpec } from '../query/index.ts'

const here = path.dirname(fileURLToPath(import.meta.url))

test('a box can load the protocol without Node modules or the generated parser', () => {
  const seen = new Set<string>()
  const external = new Set<string>()
  const visit = (file: string) => {
    if (seen.has(file)) return
    seen.add(file)
    for (const [, spec] of fs.readFileSync(file, 'utf8').matchAll(/^(?:import|export)[^'"]*from '([^']+)'/gm)) {
      if (spec!.startsWith('.')) visit(path.resolve(path.dirname(file), spec!))
      else external.add(spec!)
    }
  }
  visit(path.join(here, 'index.ts'))
  assert.deepEqual([...external], ['@sinclair/typebox'])
  assert.ok(![...seen].some((f) => f.endsWith('.js')), [...seen].join(', '))
  assert.ok(seen.size > 3, 'the walk followed the imports')
})

test('a published query as the market sends it validates, and reads in plain words', () => {
  const spec: QuerySpec = {
    question: 'SELECT COUNT(*) WHERE Identity.age >= 65', purpose: 'How many older people answer.', price: { amount: 0, currency: 'sat' },
    deadline: '2026-12-01T00:00:00Z', participants: { min: 10, max: 100 }, bounds: {}, answer: 'statistics', retention: '30d',
  }
  const { query, problems } = checkSpec(spec, DEFAULT_VOCABULARY, new Date('2026-11-01T00:00:00Z'))
  assert.deepEqual(problems, [])
  const published: PublishedQuery = {
    id: 'q-1', seq: 1, processor: { id: 'p-1', name: 'City of Aachen' }, spec, query, postedAt: '2026-11-01T00:00:00Z', deadline: spec.deadline,
  }
  const page: FeedPage = { queries: [published], next: 1 }
  assert.ok(Value.Check(FeedPage, page))
  assert.ok(!Value.Check(FeedPage, { queries: [{ ...published, seq: 0 }], next: 1 }), 'sequence numbers start at 1')
  assert.ok(!Value.Check(FeedPage, { queries: [{ ...published, postedAt: 'yesterday' }], next: 1 }), 'instants are RFC 3339')
  assert.equal(describeQuery(page.queries[0]!.query, DEFAULT_VOCABULARY), 'whether you answer, counted over everyone who does, if you are at least 65')
})

test('an answer carries report bytes and the level it was given at, never "don\'t share"', () => {
  const answer: Answer = { queryId: 'q-1', boxId: 'b-1', report: Buffer.from([1, 2, 250]).toString('base64url'), privacyLevel: 'medium' }
  assert.ok(Value.Check(Answer, answer))
  assert.ok(!Value.Check(Answer, { ...answer, privacyLevel: 'dont_share' }))
  assert.ok(!Value.Check(Answer, { ...answer, report: 'not base64!' }))
})
