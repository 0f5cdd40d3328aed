/**
 * Statistics answers end to end, on real sockets: a leader market and a helper market, each with
 * its own storage, and simulated boxes that sign and send Prio3 answers. The released result
 * matches the exact value within its stated error bars; refused answers spoil nothing; a query
 * below its minimum releases nothing; and both aggregators noise what they release.
 */
import { describe, test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { answerOf, closeAndRelease as release, makeBox, postQuery, sendAnswer, startPair } from './boxes.ts'
import { cli, register, spec } from './helpers.ts'
import type { PublishedQuery, SharingLevel } from '../src/protocol/index.ts'

const LEVELS: SharingLevel[] = ['low', 'medium', 'high']

for (const storage of ['pglite', 'postgres'] as const) {
  describe(`statistics answers on ${storage}`, () => {
    let pair: Awaited<ReturnType<typeof startPair>>
    let key: string

    before(async () => {
      pair = await startPair(storage)
      key = await register(pair.running)
    })
    after(async () => pair.close())

    const post = (overrides: Record<string, unknown>) => postQuery(pair, key, spec(overrides))

    /** Every box answers at its level (boxes cycle through the levels); resolves to each answer's status. */
    const answerAll = async (query: PublishedQuery, values: (number | boolean | null)[], levels: SharingLevel[] = LEVELS) => {
      const boxes = values.map(() => makeBox())
      const statuses: number[] = []
      for (let i = 0; i < values.length; i++) {
        const res = await sendAnswer(pair.leaderUrl, await answerOf(boxes[i]!, query, levels[i % levels.length]!, values[i]!))
        statuses.push(res.status)
      }
      return { boxes, statuses }
    }

    const closeAndRelease = (id: string) => release(pair, key, id)

    /** Within five standard deviations of the noise: a genuine result fails this about once in a thousand runs. */
    const near = (actual: number, exact: number, sd: number, what: string) => assert.ok(Math.abs(actual - exact) <= 5 * sd + 1e-9, `${what}: ${actual} vs exact ${exact}, sd ${sd}`)

    test('a mean over three privacy classes is released within its error bars, with each class\'s ε', async () => {
      const query = await post({})
      assert.deepEqual(Object.keys(query.tasks!).sort(), ['high', 'low', 'medium'])
      assert.equal(query.tasks!.low!.kind, 'mean')
      const ages = Array.from({ length: 30 }, (_, i) => (i % 6 === 5 ? null : 20 + ((i * 17) % 60)))
      const { statuses } = await answerAll(query, ages)
      assert.ok(statuses.every((s) => s === 202), statuses.join())
      const followed = await pair.running.api('GET', `/api/v1/queries/${query.id}`, { key })
      assert.deepEqual(followed.body.participation.levels, { low: 10, medium: 10, high: 10 })
      const pending = await pair.running.api('GET', `/api/v1/queries/${query.id}/result`, { key })
      assert.equal(pending.body.state, 'pending')

      const result = await closeAndRelease(query.id)
      const matched = ages.filter((a): a is number => a !== null)
      const exact = matched.reduce((s, a) => s + a, 0) / matched.length
      assert.equal(result.state, 'released')
      assert.deepEqual(result.participants, { total: 30, low: 10, medium: 10, high: 10 })
      near(result.value, exact, result.standardDeviation, 'mean')
      assert.ok(result.value >= 0 && result.value <= 120, 'a mean is clipped to the bounds')
      assert.deepEqual(result.interval95, [result.value - result.halfWidth95, result.value + result.halfWidth95])
      assert.deepEqual(result.classes.map((c: any) => [c.level, c.epsilon, c.reports]), [['low', '1', 10], ['medium', '1/2', 10], ['high', '1/10', 10]])
      for (const c of result.classes) {
        assert.ok(c.noise.leader && c.noise.helper, 'both aggregators state their noise')
        assert.equal(c.noise.leader.epsilon, c.epsilon)
      }
      const csv = await pair.running.api('GET', `/api/v1/queries/${query.id}/result?format=csv`, { key })
      assert.match(csv.headers.get('content-type')!, /^text\/csv/)
      const lines = csv.body.trim().split('\n')
      assert.equal(lines[0], 'query_id,state,class,epsilon,participants,bucket_from,bucket_to,value,standard_deviation,ci95_low,ci95_high')
      assert.equal(lines.length, 5)
      assert.equal(Number(lines[1].split(',')[7]), result.value)

      // The same through the CLI, as a processor reads it.
      const env = { COFFER_MARKET_URL: pair.leaderUrl, COFFER_MARKET_KEY: key }
      const shown = await cli(['query', 'result', query.id], env)
      assert.equal(shown.code, 0, shown.stderr)
      assert.match(shown.stdout, new RegExp(`Query ${query.id}: released`))
      assert.match(shown.stdout, /participants: 30 \(low 10, medium 10, high 10\)/)
      assert.match(shown.stdout, /class medium {2}ε 1\/2, 10 reports/)
      const csvOut = await cli(['query', 'result', query.id, '--csv'], env)
      assert.equal(csvOut.stdout, csv.body)
    })

    test('count, sum and histogram are released within their error bars', async () => {
      const count = await post({ question: 'SELECT COUNT(*) WHERE Identity.age >= 65', bounds: {} })
      const flags = Array.from({ length: 20 }, (_, i) => i % 3 === 0)
      await answerAll(count, flags, ['low'])
      const counted = await closeAndRelease(count.id)
      near(counted.value, flags.filter(Boolean).length, counted.standardDeviation, 'count')

      const sum = await post({ question: 'SELECT SUM(Identity.age)', bounds: { 'Identity.age': { lo: 0, hi: 100 } } })
      const ages = Array.from({ length: 20 }, (_, i) => (i * 37) % 130) // some above 100: clipped
      await answerAll(sum, ages, ['low', 'medium'])
      const summed = await closeAndRelease(sum.id)
      near(summed.value, ages.reduce((s, a) => s + Math.min(a, 100), 0), summed.standardDeviation, 'sum')

      const histogram = await post({ question: 'SELECT HISTOGRAM(Identity.age, [0, 30, 60, 120])', answer: 'histogram', bounds: {} })
      const values = Array.from({ length: 24 }, (_, i) => (i % 8 === 7 ? null : (i * 13) % 140))
      await answerAll(histogram, values, ['low'])
      const hist = await closeAndRelease(histogram.id)
      const exact = [0, 0, 0]
      for (const v of values) if (v !== null) exact[v < 30 ? 0 : v < 60 ? 1 : 2]!++
      assert.deepEqual(hist.statistic.buckets, [{ from: 0, to: 30 }, { from: 30, to: 60 }, { from: 60, to: 120 }])
      hist.value.forEach((v: number, i: number) => near(v, exact[i]!, hist.standardDeviation, `bucket ${i}`))
      assert.equal(hist.interval95.length, 3)
    })

    test('a query whose minimum is not reached by its deadline releases nothing', async () => {
      const query = await post({ participants: { min: 10, max: 100 } })
      await answerAll(query, [30, 40, 50, 60, 70])
      // The deadline passes (moved in the database rather than waited for); the release loop finds it.
      await pair.leader.db.query("UPDATE queries SET deadline = now() - interval '1 second' WHERE id = $1", [query.id])
      assert.equal(await pair.leader.releaseDue(), 1)
      const result = (await pair.running.api('GET', `/api/v1/queries/${query.id}/result`, { key })).body
      assert.equal(result.state, 'not_enough')
      assert.equal(result.participants.total, 5)
      assert.equal(result.value, undefined)
      assert.deepEqual(result.classes, [])
      assert.match(result.message, /fewer than the 10/)
      const late = await sendAnswer(pair.leaderUrl, await answerOf(makeBox(), query, 'low', 33))
      assert.equal(late.status, 409, 'after the deadline')
    })

    test('forged, replayed, malformed, repeated and late answers are refused, and the others still count', async () => {
      const query = await post({})
      const boxes = Array.from({ length: 12 }, () => makeBox())
      const good = await Promise.all(boxes.map((b, i) => answerOf(b, query, 'low', 30 + i)))
      for (const a of good.slice(0, 6)) assert.equal((await sendAnswer(pair.leaderUrl, a)).status, 202)

      const intruder = makeBox()
      const forged = { ...good[6]!, privacyLevel: 'high' as const } // the level changed after signing
      assert.equal((await sendAnswer(pair.leaderUrl, forged)).status, 401)
      const stolen = await answerOf(intruder, query, 'low', 99)
      assert.equal((await sendAnswer(pair.leaderUrl, { ...stolen, boxId: boxes[7]!.boxId })).status, 401, 'signed by another key than boxId')
      // The same report sent again under a key of its own: signed properly, but its report id is spent.
      const replay = { ...(await answerOf(intruder, query, 'low', 1)), leader: good[0]!.leader, helper: good[0]!.helper }
      const { answerSigningText } = await import('../src/protocol/index.ts')
      const { sign } = await import('node:crypto')
      replay.signature = sign(null, Buffer.from(answerSigningText(replay), 'utf8'), intruder.privateKey).toString('base64url')
      const replayed = await sendAnswer(pair.leaderUrl, replay)
      assert.equal(replayed.status, 400)
      assert.match(replayed.body.detail, /replayed/)
      // A tampered ciphertext, signed by its box: the seal does not open.
      const tamperedLeader = Buffer.from(good[8]!.leader, 'base64url')
      tamperedLeader[tamperedLeader.length - 1]! ^= 1
      const tampered = { ...good[8]!, leader: tamperedLeader.toString('base64url') }
      tampered.signature = sign(null, Buffer.from(answerSigningText(tampered), 'utf8'), boxes[8]!.privateKey).toString('base64url')
      const refused = await sendAnswer(pair.leaderUrl, tampered)
      assert.equal(refused.status, 400)
      assert.match(refused.body.detail, /undecryptable/)
      const malformed = await pair.running.api('POST', `/api/v1/queries/${query.id}/answers`, { raw: '{"queryId": "x", "leader": 5}' })
      assert.equal(malformed.status, 400)
      assert.equal((await pair.running.api('POST', `/api/v1/queries/${query.id}/answers`, { raw: 'not json' })).status, 400)
      const again = await sendAnswer(pair.leaderUrl, await answerOf(boxes[0]!, query, 'medium', 31))
      assert.equal(again.status, 409, 'a second answer from one box')

      for (const a of good.slice(6, 10)) assert.equal((await sendAnswer(pair.leaderUrl, a)).status, 202, 'the genuine answers still go through')
      const result = await closeAndRelease(query.id)
      assert.equal((await sendAnswer(pair.leaderUrl, good[10]!)).status, 409, 'after close')
      assert.equal(result.state, 'released')
      assert.equal(result.participants.total, 10)
      assert.deepEqual(result.classes.map((c: any) => c.reports), [10])
      const exact = good.slice(0, 10).reduce((s, _, i) => s + 30 + i, 0) / 10
      near(result.value, exact, result.standardDeviation, 'mean')
    })

    test('boxes answering all at once fill a query to its most and no further; the others hear it is full', async () => {
      const query = await post({ participants: { min: 10, max: 12 } })
      const boxes = Array.from({ length: 20 }, () => makeBox())
      const answers = await Promise.all(boxes.map((box, i) => answerOf(box, query, LEVELS[i % LEVELS.length]!, 30 + i)))
      const replies = await Promise.all(answers.map((answer) => sendAnswer(pair.leaderUrl, answer)))
      assert.equal(replies.filter((r) => r.status === 202).length, 12, replies.map((r) => r.status).join())
      const refused = replies.filter((r) => r.status !== 202)
      assert.equal(refused.length, 8)
      for (const r of refused) assert.match(r.body.detail, /has all the 12 participants/)
      const result = await closeAndRelease(query.id)
      assert.equal(result.participants.total, 12)
      assert.equal(result.classes.reduce((sum: number, c: { reports: number }) => sum + c.reports, 0), 12)
    })

    test('the differencing attack: both aggregators noise, so two queries one participant apart do not show that participant', async () => {
      const bounds = { 'Identity.age': { lo: 0, hi: 100 } }
      const question = 'SELECT SUM(Identity.age)'
      const [q1, q2, q3] = [await post({ question, bounds }), await post({ question, bounds }), await post({ question, bounds })]
      const crowd = Array.from({ length: 10 }, () => makeBox())
      const ages = crowd.map((_, i) => 20 + 5 * i)
      const target = makeBox()
      for (const [i, box] of crowd.entries()) {
        for (const q of [q1, q2, q3]) assert.equal((await sendAnswer(pair.leaderUrl, await answerOf(box, q!, 'high', ages[i]!))).status, 202)
      }
      assert.equal((await sendAnswer(pair.leaderUrl, await answerOf(target, q2!, 'high', 77))).status, 202)
      const [r1, r2, r3] = [await closeAndRelease(q1!.id), await closeAndRelease(q2!.id), await closeAndRelease(q3!.id)]
      assert.equal(r2.participants.total, r1.participants.total + 1)
      for (const r of [r1, r2, r3]) {
        const noise = r.classes[0].noise
        // Each aggregator adds the full noise for ε on its own (scale 100 / 0.1 = 1000): the result keeps its ε if either is honest.
        assert.deepEqual([noise.leader.scales, noise.helper.scales], [['1000'], ['1000']])
        assert.ok(r.standardDeviation > 100, 'the noise is wider than the range one person\'s value can take')
      }
      assert.notEqual(r2.value - r1.value, 77, 'the difference is not the participant\'s value')
      assert.notEqual(r1.value, r3.value, 'the same answers released twice come back differently noised')
    })
  })
}
