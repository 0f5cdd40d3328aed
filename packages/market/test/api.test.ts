/** The market's HTTP API, end to end on a real socket, the same suite on PGlite and on PostgreSQL. */
import { describe, test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { startMarket, register, spec, openStream, type Running, type Storage } from './helpers.ts'

const PROBLEM = /^application\/problem\+json/

for (const storage of ['pglite', 'postgres'] as Storage[]) {
  describe(`market API on ${storage}`, () => {
    let m: Running
    let key: string
    let other: string

    before(async () => {
      m = await startMarket(storage)
      key = await register(m, 'RWTH Aachen')
      other = await register(m, 'City of Aachen')
    })
    after(() => m.close())

    const feed = async (since = 0, limit = 100) => (await m.api('GET', `/api/v1/feed?since=${since}&limit=${limit}`)).body

    test('registering answers the key once; only its hash is stored', async () => {
      const res = await m.api('POST', '/api/v1/processors', { body: { name: 'Lab', contact: 'lab@example.org' } })
      assert.equal(res.status, 201)
      assert.match(res.body.key, /^cmk_[A-Za-z0-9_-]{43}$/)
      const me = await m.api('GET', '/api/v1/processors/me', { key: res.body.key })
      assert.deepEqual(me.body, res.body.processor)
      const stored = await m.market.db.query<{ key_hash: string }>('SELECT key_hash FROM processors WHERE id = $1', [res.body.processor.id])
      assert.equal(stored.length, 1)
      assert.notEqual(stored[0]!.key_hash, res.body.key)
      assert.ok(!stored[0]!.key_hash.includes(res.body.key.slice(4)))
    })

    test('a missing, malformed or unknown key is a 401 problem, and nothing is posted', async () => {
      const before = (await feed()).queries.length
      for (const headers of [{}, { authorization: 'Basic abc' }, { authorization: 'Bearer cmk_not-a-key' }] as Record<string, string>[]) {
        const res = await m.api('POST', '/api/v1/queries', { body: spec(), headers })
        assert.equal(res.status, 401)
        assert.match(res.headers.get('content-type')!, PROBLEM)
        assert.equal(res.body.type, 'https://coffer.dev/problems/unauthorized')
        assert.equal(res.body.title, 'Unauthorized')
        assert.equal(typeof res.body.detail, 'string')
      }
      assert.equal((await m.api('GET', '/api/v1/queries', { key: 'cmk_wrong' })).status, 401)
      assert.equal((await feed()).queries.length, before)
    })

    test('registering needs a name', async () => {
      const res = await m.api('POST', '/api/v1/processors', { body: { name: '   ' } })
      assert.equal(res.status, 400)
      assert.match(res.headers.get('content-type')!, PROBLEM)
    })

    test('a query posted as text or as JSON is checked, numbered in order and published', async () => {
      const text = await m.api('POST', '/api/v1/queries', { key, body: spec() })
      assert.equal(text.status, 201, JSON.stringify(text.body))
      assert.equal(text.body.status, 'open')
      assert.equal(text.body.text, 'SELECT AVG(Identity.age) WHERE Identity.city = aachen')
      assert.deepEqual(text.body.spec.question, spec().question)

      const asJson = await m.api('POST', '/api/v1/queries', { key, body: spec({ question: text.body.query }) })
      assert.equal(asJson.status, 201, JSON.stringify(asJson.body))
      assert.equal(asJson.body.text, text.body.text)
      assert.ok(asJson.body.seq > text.body.seq)

      const page = await feed(text.body.seq - 1)
      assert.deepEqual(page.queries.map((q: any) => q.id), [text.body.id, asJson.body.id])
      assert.equal(page.queries[0].processor.name, 'RWTH Aachen')
      assert.deepEqual(page.queries[0].query, text.body.query)
      assert.equal(page.next, asJson.body.seq)
    })

    test('a malformed question is a 400 naming line and column; a wrong shape names its path; nothing is posted', async () => {
      const before = (await feed()).next
      const syntax = await m.api('POST', '/api/v1/queries', { key, body: spec({ question: 'SELECT AVG(Identity.age WHERE Identity.city = aachen' }) })
      assert.equal(syntax.status, 400)
      assert.match(syntax.headers.get('content-type')!, PROBLEM)
      assert.equal(syntax.body.field, '/question')
      assert.equal(syntax.body.problems[0].line, 1)
      assert.equal(syntax.body.problems[0].column, 25)
      assert.match(syntax.body.detail, /\/question at line 1, column 25/)

      const shape = await m.api('POST', '/api/v1/queries', { key, body: spec({ participants: { min: 'ten', max: 100 } }) })
      assert.equal(shape.status, 400)
      assert.ok(shape.body.problems.some((p: any) => p.path === '/participants/min'), JSON.stringify(shape.body))

      const unknown = await m.api('POST', '/api/v1/queries', { key, body: spec({ question: 'SELECT AVG(Identity.shoe_size)' }) })
      assert.equal(unknown.status, 400)
      assert.match(unknown.body.problems[0].path, /^\/question/)

      const notDnf = await m.api('POST', '/api/v1/queries', { key, body: spec({ question: 'SELECT COUNT(*) WHERE (Identity.city = aachen OR Identity.city = bonn) AND Identity.age > 30' }) })
      assert.equal(notDnf.status, 400)
      assert.equal(notDnf.body.problems[0].path, '/question')
      assert.equal(typeof notDnf.body.problems[0].offset, 'number')

      assert.equal((await feed()).next, before)
    })

    test('the validation endpoint answers the problems without posting', async () => {
      const before = (await feed()).next
      const bad = await m.api('POST', '/api/v1/queries/validate', { body: spec({ participants: { min: 50, max: 20 } }) })
      assert.equal(bad.status, 200)
      assert.equal(bad.body.valid, false)
      assert.deepEqual(bad.body.problems.map((p: any) => p.path), ['/participants/max'])
      const good = await m.api('POST', '/api/v1/queries/validate', { body: spec() })
      assert.deepEqual({ valid: good.body.valid, problems: good.body.problems, text: good.body.text }, { valid: true, problems: [], text: 'SELECT AVG(Identity.age) WHERE Identity.city = aachen' })
      assert.equal((await feed()).next, before)
    })

    test('a body that is not JSON, not JSON at all, or too large is refused with a problem', async () => {
      const broken = await m.api('POST', '/api/v1/queries', { key, raw: '{"question": ' })
      assert.equal(broken.status, 400)
      assert.match(broken.headers.get('content-type')!, PROBLEM)
      const plain = await m.api('POST', '/api/v1/queries', { key, raw: 'SELECT COUNT(*)', type: 'text/plain' })
      assert.equal(plain.status, 415)
      const huge = await m.api('POST', '/api/v1/queries', { key, body: spec({ purpose: 'x'.repeat(200_000) }) })
      assert.equal(huge.status, 413)
      assert.match(huge.headers.get('content-type')!, PROBLEM)
      for (const res of [broken, plain, huge]) assert.doesNotMatch(JSON.stringify(res.body), /at .*\.(ts|js):\d+/)
    })

    test('a processor lists and reads only its own queries; counts come with one', async () => {
      const mine = await m.api('POST', '/api/v1/queries', { key: other, body: spec({ purpose: 'Bus routes.' }) })
      const list = await m.api('GET', '/api/v1/queries', { key: other })
      assert.deepEqual(list.body.queries.map((q: any) => q.id), [mine.body.id])
      const rwth = await m.api('GET', '/api/v1/queries', { key })
      assert.ok(!rwth.body.queries.some((q: any) => q.id === mine.body.id))
      assert.ok(rwth.body.queries.length >= 2)
      assert.ok(rwth.body.queries.every((q: any, i: number, all: any[]) => i === 0 || all[i - 1].seq > q.seq), 'newest first')

      const one = await m.api('GET', `/api/v1/queries/${mine.body.id}`, { key: other })
      assert.equal(one.status, 200)
      assert.deepEqual(one.body.participation, { accepted: 0, declined: 0, answered: 0, levels: { low: 0, medium: 0, high: 0 } })
      await m.market.db.query("INSERT INTO participations (query_id, box, state) VALUES ($1, 'box-a', 'accepted'), ($1, 'box-b', 'accepted'), ($1, 'box-c', 'declined')", [mine.body.id])
      assert.deepEqual((await m.api('GET', `/api/v1/queries/${mine.body.id}`, { key: other })).body.participation, { accepted: 2, declined: 1, answered: 0, levels: { low: 0, medium: 0, high: 0 } })

      const theirs = await m.api('GET', `/api/v1/queries/${mine.body.id}`, { key })
      assert.equal(theirs.status, 404)
      assert.equal((await m.api('POST', `/api/v1/queries/${mine.body.id}/cancel`, { key })).status, 404)
      assert.equal((await m.api('GET', '/api/v1/queries/not-a-uuid', { key })).status, 400)
    })

    test('closing and cancelling end a query once; it leaves the feed and a box reading after it skips past', async () => {
      const a = (await m.api('POST', '/api/v1/queries', { key, body: spec() })).body
      const b = (await m.api('POST', '/api/v1/queries', { key, body: spec() })).body
      const closed = await m.api('POST', `/api/v1/queries/${a.id}/close`, { key })
      assert.equal(closed.status, 200)
      assert.equal(closed.body.status, 'closed')
      assert.ok(closed.body.endedAt)
      const again = await m.api('POST', `/api/v1/queries/${a.id}/cancel`, { key })
      assert.equal(again.status, 409)
      assert.match(again.headers.get('content-type')!, PROBLEM)
      assert.equal((await m.api('POST', `/api/v1/queries/${b.id}/cancel`, { key })).body.status, 'cancelled')
      const page = await feed(a.seq - 1)
      assert.deepEqual(page.queries, [])
      assert.equal(page.next, b.seq, 'the box need not ask about them again')
      assert.deepEqual((await m.api('GET', '/api/v1/queries?status=cancelled', { key })).body.queries.map((q: any) => q.id), [b.id])
    })

    test('an offline box catches up page by page from its last sequence number', async () => {
      const start = (await feed()).next
      const posted: number[] = []
      for (let i = 0; i < 7; i++) posted.push((await m.api('POST', '/api/v1/queries', { key, body: spec() })).body.seq)
      const seen: number[] = []
      let since = start
      for (let pages = 0; pages < 10; pages++) {
        const page = await feed(since, 3)
        assert.ok(page.queries.length <= 3)
        seen.push(...page.queries.map((q: any) => q.seq))
        if (page.next === since) break
        since = page.next
      }
      assert.deepEqual(seen, posted)
      assert.equal((await m.api('GET', '/api/v1/feed?limit=5000')).status, 400)
      assert.equal((await m.api('GET', '/api/v1/feed?since=-1')).status, 400)
    })

    test('the event stream pushes new queries while connected, and resumes from Last-Event-ID', async () => {
      const since = (await feed()).next
      const stream = await openStream(`${m.url}/api/v1/feed/stream?since=${since}`)
      try {
        const posted = (await m.api('POST', '/api/v1/queries', { key, body: spec() })).body
        const [event] = await stream.take(1)
        assert.equal(event!.event, 'query')
        assert.equal(event!.id, String(posted.seq))
        assert.equal(event!.data.id, posted.id)
        assert.equal(event!.data.text, posted.text)
      } finally {
        stream.close()
      }
      const second = (await m.api('POST', '/api/v1/queries', { key, body: spec() })).body
      const resumed = await openStream(`${m.url}/api/v1/feed/stream`, { 'last-event-id': String(second.seq - 1) })
      try {
        const [event] = await resumed.take(1)
        assert.equal(event!.data.id, second.id)
      } finally {
        resumed.close()
      }
    })

    test('the vocabulary and the OpenAPI document are published', async () => {
      const vocabulary = await m.api('GET', '/api/v1/vocabulary')
      assert.equal(vocabulary.status, 200)
      assert.ok(vocabulary.body.types.some((t: any) => t.name === 'Identity' && t.attributes.some((a: any) => a.name === 'age')))
      const privacy = await m.api('GET', '/api/v1/privacy')
      assert.deepEqual(privacy.body.levels.map((l: any) => [l.level, l.epsilon, l.k, l.l]), [['low', '1', 5, 2], ['medium', '1/2', 10, 3], ['high', '1/10', 20, 4], ['dont_share', undefined, undefined, undefined]])
      assert.match(privacy.body.whatTheMarketSees.datasets, /never the values of a class smaller than k/)
      const doc = await m.api('GET', '/api/v1/openapi.json')
      assert.equal(doc.body.info.title, 'Coffer market API')
      for (const route of ['/api/v1/queries', '/api/v1/queries/validate', '/api/v1/feed', '/api/v1/feed/stream', '/api/v1/processors']) assert.ok(doc.body.paths[route], route)
      assert.ok(doc.body.paths['/api/v1/queries'].post.requestBody, 'the posted spec is documented')
      const missing = await m.api('GET', '/api/v1/nothing')
      assert.equal(missing.status, 404)
      assert.match(missing.headers.get('content-type')!, PROBLEM)
    })
  })
}

test('PGlite: a market reopened on its data directory has its processors and queries, and numbers on', async () => {
  const first = await startMarket('pglite')
  const key = await register(first)
  const posted = (await first.api('POST', '/api/v1/queries', { key, body: spec() })).body
  await first.market.close()
  const again = await startMarket('pglite', first.where)
  try {
    const list = await again.api('GET', '/api/v1/queries', { key })
    assert.deepEqual(list.body.queries.map((q: any) => q.id), [posted.id])
    const next = (await again.api('POST', '/api/v1/queries', { key, body: spec() })).body
    assert.ok(next.seq > posted.seq)
  } finally {
    await again.market.close()
    await first.close().catch(() => undefined)
  }
})

test('a failing database is an error without a stack for the client', async () => {
  const m = await startMarket('postgres')
  try {
    const key = await register(m)
    await m.market.db.query('DROP TABLE participations')
    const posted = (await m.api('POST', '/api/v1/queries', { key, body: spec() })).body
    const res = await m.api('GET', `/api/v1/queries/${posted.id}`, { key })
    assert.equal(res.status, 500)
    assert.match(res.headers.get('content-type')!, PROBLEM)
    assert.equal(res.body.title, 'Internal error')
    assert.doesNotMatch(JSON.stringify(res.body), /participations|\.ts:|\.js:/)
  } finally {
    await m.close()
  }
})
