/**
 * Datasets end to end, on real sockets: simulated boxes seal their generalised records, the
 * leader keeps them, and at release only classes of at least k genuine records with l distinct
 * sensitive values come out. What is below k never reaches the market readable; forged and
 * replayed records are refused or rejected alone; the processor pays for every genuine answer.
 */
import { describe, test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { closeAndRelease as release, datasetAnswerOf, makeBox, postQuery, sendAnswer, startPair, type Box } from './boxes.ts'
import { register, spec } from './helpers.ts'
import type { DatasetAnswer, PublishedQuery, SharingLevel } from '../src/protocol/index.ts'
import type { DatasetValue } from '../src/star/index.ts'

const WEIGHT = 'LAST(LAST(Health.weight) PER 1d) DURING 2026-10-01 .. 2026-11-01'
const QUESTION = `SELECT Identity.age BAND 10, Identity.city, SENSITIVE ${WEIGHT} BAND 5 WHERE Identity.age > 17`
const SMALL_TOWN = 'Quedlinburg-only-three-of-us'

for (const storage of ['pglite', 'postgres'] as const) {
  describe(`datasets on ${storage}`, () => {
    let pair: Awaited<ReturnType<typeof startPair>>
    let key: string

    before(async () => {
      pair = await startPair(storage)
      key = await register(pair.running)
    })
    after(async () => pair.close())

    const post = (overrides: Record<string, unknown> = {}) => postQuery(pair, key, spec({ question: QUESTION, answer: 'dataset', bounds: {}, ...overrides }))
    const closeAndRelease = (id: string) => release(pair, key, id)

    test('only classes of k genuine records with l distinct sensitive values are released; the rest is counted, never shown', async () => {
      const query = await post()
      assert.equal(query.tasks, undefined, 'a dataset needs no aggregation task')
      const sent: DatasetAnswer[] = []
      const answer = async (level: SharingLevel, values: DatasetValue[] | null, box: Box = makeBox()) => {
        const a = datasetAnswerOf(box, query, level, values)
        sent.push(a)
        const res = await sendAnswer(pair.leaderUrl, a)
        assert.equal(res.status, 202, JSON.stringify(res.body))
        return a
      }
      // Six in their thirties in Aachen, of different weights: a class of 6 ≥ k = 5 with 6 ≥ l = 2 weights.
      const aachen = [[31, 61], [33, 72], [35, 81], [36, 66], [38, 90], [39, 77]]
      for (const [age, weight] of aachen) await answer('low', [age!, 'Aachen', weight!])
      // Three in a small town: below k, never readable by the market.
      for (const age of [44, 45, 47]) await answer('low', [age, SMALL_TOWN, 70])
      // Five in Bonn who all weigh the same: k is met, l is not.
      for (const age of [51, 52, 53, 54, 55]) await answer('low', [age, 'Bonn', 71])
      // Five more in their thirties in Aachen, at medium: their own class, where k is 10.
      for (const [age, weight] of aachen.slice(0, 5)) await answer('medium', [age! + 0.5, 'Aachen', weight! + 1])
      // Two who do not match send decoys.
      await answer('low', null)
      await answer('low', null)
      // One forges a point of the Aachen class: rejected alone at release, not paid.
      const genuine = sent[0]!.record
      const forgery = datasetAnswerOf(makeBox(), query, 'low', [32, 'Aachen', 100], (r) => ({ ...r, tag: genuine.tag, y: genuine.y }))
      assert.equal((await sendAnswer(pair.leaderUrl, forgery)).status, 202)

      // Refused at once: a replayed record under another box's name, a malformed one, a bad signature, a Prio3 report.
      const replay = datasetAnswerOf(makeBox(), query, 'low', [31, 'Aachen', 61], () => genuine)
      const replayed = await sendAnswer(pair.leaderUrl, replay)
      assert.equal(replayed.status, 400)
      assert.match(replayed.body.detail, /replayed/)
      const malformed = await sendAnswer(pair.leaderUrl, datasetAnswerOf(makeBox(), query, 'low', [31, 'Aachen', 61], (r) => ({ ...r, x: r.x.slice(0, 20) })))
      assert.equal(malformed.status, 400)
      assert.match(malformed.body.detail, /malformed\): x must be 32 bytes/)
      const badSignature = await sendAnswer(pair.leaderUrl, { ...datasetAnswerOf(makeBox(), query, 'low', [31, 'Aachen', 61]), signature: sent[1]!.signature })
      assert.equal(badSignature.status, 401)
      const report = await sendAnswer(pair.leaderUrl, { queryId: query.id, boxId: makeBox().boxId, privacyLevel: 'low', leader: 'AAAA', helper: 'AAAA', signature: sent[1]!.signature })
      assert.equal(report.status, 401)

      // What leaves the boxes never holds the small town's name, in any encoding the market could read.
      for (const text of [JSON.stringify(sent), ...sent.map((a) => Buffer.from(a.record.ciphertext, 'base64url').toString('latin1'))]) assert.ok(!text.includes('Quedlinburg'))

      const result = await closeAndRelease(query.id)
      assert.equal(result.state, 'released', result.message)
      assert.equal(result.statistic, undefined)
      assert.equal(result.parameters.mechanism, 'k-anonymity')
      const dataset = result.dataset
      assert.deepEqual(dataset.columns.map((c: { name: string }) => c.name), ['Identity.age BAND 10', 'Identity.city', `SENSITIVE ${WEIGHT} BAND 5`])
      assert.deepEqual(dataset.classes, [{ level: 'low', k: 5, l: 2, records: 6, values: [30, 'Aachen'] }])
      assert.deepEqual([...dataset.rows].sort((a: number[], b: number[]) => a[2]! - b[2]!), [[30, 'Aachen', 60], [30, 'Aachen', 65], [30, 'Aachen', 70], [30, 'Aachen', 75], [30, 'Aachen', 80], [30, 'Aachen', 90]])
      assert.equal(dataset.suppressed, 3 + 5 + 5 + 2)
      assert.equal(dataset.rejected, 1)
      assert.ok(!JSON.stringify(result).includes('Quedlinburg') && !JSON.stringify(result).includes('Bonn'))
      assert.equal(result.participants.total, 22)
      assert.deepEqual(result.payment, { owners: 21, paid: 21 * 100, refunded: (1000 - 21) * 100 })

      const csv = await pair.running.api('GET', `/api/v1/queries/${query.id}/result?format=csv`, { key })
      const lines = String(csv.body).trim().split('\n')
      assert.equal(lines[0], `Identity.age BAND 10,Identity.city,SENSITIVE ${WEIGHT} BAND 5`)
      assert.equal(lines.length, 7)
    })

    test('a dataset short of its minimum releases nothing, and a statistics query takes no records', async () => {
      const query = await post({ participants: { min: 10, max: 100 } })
      for (let i = 0; i < 6; i++) assert.equal((await sendAnswer(pair.leaderUrl, datasetAnswerOf(makeBox(), query, 'low', [30 + i, 'Aachen', 60 + i]))).status, 202)
      const result = await closeAndRelease(query.id)
      assert.equal(result.state, 'not_enough')
      assert.equal(result.dataset, undefined)

      const statistics = (await pair.running.api('GET', `/api/v1/feed?since=${(await pair.running.api('POST', '/api/v1/queries', { key, body: spec() })).body.seq - 1}&limit=1`)).body.queries[0] as PublishedQuery
      const wrongKind = await sendAnswer(pair.leaderUrl, datasetAnswerOf(makeBox(), { ...statistics, query: { select: [{ value: { attribute: 'Identity.age' }, band: 10 }] } }, 'low', [30]))
      assert.equal(wrongKind.status, 400)
      assert.match(wrongKind.body.detail, /asks for statistics/)
    })
  })
}
