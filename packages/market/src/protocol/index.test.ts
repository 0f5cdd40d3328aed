import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { Value } from '@sinclair/typebox/value'
import { generateKeyPairSync, sign, verify, createPublicKey } from 'node:crypto'
import { Answer, DEFAULT_VOCABULARY, FeedPage, PublishedQuery, TaskDescription, answerSigningText, describeQuery, type QuerySpec } from './index.ts'
import { checkSpec } from '../query/index.ts'
import { createTask, generateAggregatorKeys } from '../aggregation/index.ts'

const here = path.dirname(fileURLToPath(import.meta.url))

test('a box can load the protocol without Node modules or the generated parser; the browser pages can bundle it', () => {
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
  // Only the schemas: the payout address check, with its Bitcoin library, is an entry of its own (@coffer/market/addresses).
  assert.deepEqual([...external].sort(), ['@sinclair/typebox'])
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

test('a statistics query carries one aggregation task per privacy class, and the protocol\'s schema is the aggregation\'s', async () => {
  const [leader, helper] = await Promise.all([generateAggregatorKeys(), generateAggregatorKeys()])
  const task = (partition: string) => createTask({
    queryId: 'q-1', partition, kind: 'count', window: { start: 0, end: 2_000_000_000 }, minReports: 5,
    leader: { url: 'https://leader.example/', hpkeConfig: leader.hpkeConfig }, helper: { url: 'https://helper.example/', hpkeConfig: helper.hpkeConfig },
  })
  const spec: QuerySpec = {
    question: 'SELECT COUNT(*)', purpose: 'How many answer.', price: { amount: 0, currency: 'sat' },
    deadline: '2026-12-01T00:00:00Z', participants: { min: 10, max: 100 }, bounds: {}, answer: 'statistics', retention: '30d',
  }
  const { query } = checkSpec(spec, DEFAULT_VOCABULARY, new Date('2026-11-01T00:00:00Z'))
  const published: PublishedQuery = {
    id: 'q-1', seq: 1, processor: { id: 'p-1', name: 'City of Aachen' }, spec, query, postedAt: '2026-11-01T00:00:00Z', deadline: spec.deadline,
    tasks: { low: task('low'), high: task('high') },
  }
  assert.ok(Value.Check(PublishedQuery, published))
  assert.ok(Value.Check(TaskDescription, published.tasks!.low))
  assert.ok(!Value.Check(PublishedQuery, { ...published, tasks: { dont_share: task('dont_share') } }), 'no task for "don\'t share"')
  assert.ok(!Value.Check(PublishedQuery, { ...published, tasks: { low: { ...task('low'), protocol: 'other' } } }))
})

function boxIdentity() {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519')
  // The raw 32-byte key is the last 32 bytes of its DER SubjectPublicKeyInfo.
  const boxId = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32).toString('hex')
  return { boxId, privateKey }
}

test('an answer carries two uploads, the level, the box\'s key and its Ed25519 signature over the signing text', () => {
  const { boxId, privateKey } = boxIdentity()
  const unsigned = { queryId: 'q-1', boxId, privacyLevel: 'medium' as const, leader: Buffer.from([1, 2, 250]).toString('base64url'), helper: Buffer.from([3, 4]).toString('base64url') }
  assert.equal(answerSigningText(unsigned), `coffer-market-answer-v1\nq-1\n${boxId}\nmedium\nAQL6\nAwQ`)
  const signature = sign(null, Buffer.from(answerSigningText(unsigned), 'utf8'), privateKey).toString('base64url')
  const answer: Answer = { ...unsigned, signature }
  assert.ok(Value.Check(Answer, answer))
  // How the market checks it: the raw key behind the DER SPKI prefix of an Ed25519 key.
  const key = createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.from(boxId, 'hex')]), format: 'der', type: 'spki' })
  assert.ok(verify(null, Buffer.from(answerSigningText(answer), 'utf8'), key, Buffer.from(signature, 'base64url')))
  assert.ok(!verify(null, Buffer.from(answerSigningText({ ...answer, privacyLevel: 'low' }), 'utf8'), key, Buffer.from(signature, 'base64url')), 'the level is signed')
  assert.ok(!Value.Check(Answer, { ...answer, privacyLevel: 'dont_share' }))
  assert.ok(!Value.Check(Answer, { ...answer, leader: 'not base64!' }))
  assert.ok(!Value.Check(Answer, { ...answer, boxId: boxId.toUpperCase() }), 'the box id is lowercase hex')
  assert.ok(!Value.Check(Answer, { ...answer, signature: signature.slice(1) }))
  assert.ok(!Value.Check(Answer, { queryId: 'q-1', boxId, report: 'AQL6', privacyLevel: 'medium' }))
})
