/**
 * Two market processes on one PostgreSQL serve one market: a key registered through one works
 * on the other, a query posted through one is in the other's feed and event stream, and
 * concurrent posts through both get unique, gap-free sequence numbers. Runs the built CLI.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createTempDatabase } from './postgres.ts'
import { call, fund, OPERATOR_TOKEN, openStream, spec, startProcess, stopProcess } from './helpers.ts'

test('two market processes on one PostgreSQL serve the same market', async () => {
  const temp = await createTempDatabase()
  // Both start at once, so both run the migrations at once: the advisory lock makes them take turns.
  const [a, b] = await Promise.all([startProcess(['--database', temp.url, '--operator-token', OPERATOR_TOKEN]), startProcess(['--database', temp.url, '--operator-token', OPERATOR_TOKEN])])
  try {
    const reg = await call(a.url, 'POST', '/api/v1/processors', { body: { name: 'RWTH Aachen' } })
    const key = reg.body.key
    await fund({ api: (method, route, opts) => call(b.url, method, route, opts) }, reg.body.processor.id, 100_000_000)
    assert.equal((await call(b.url, 'GET', '/api/v1/processors/me', { key })).body.name, 'RWTH Aachen')

    const stream = await openStream(`${b.url}/api/v1/feed/stream?since=0`)
    const posted = await call(a.url, 'POST', '/api/v1/queries', { key, body: spec() })
    assert.equal(posted.status, 201)
    const [event] = await stream.take(1)
    stream.close()
    assert.equal(event!.data.id, posted.body.id, 'pushed by the other process')
    const page = await call(b.url, 'GET', '/api/v1/feed?since=0')
    assert.deepEqual(page.body.queries.map((q: any) => q.id), [posted.body.id])

    const N = 60
    const results = await Promise.all(Array.from({ length: N }, (_, i) => call(i % 2 ? a.url : b.url, 'POST', '/api/v1/queries', { key, body: spec() })))
    assert.ok(results.every((r) => r.status === 201))
    const seqs = results.map((r) => r.body.seq as number).sort((x, y) => x - y)
    assert.deepEqual(seqs, Array.from({ length: N }, (_, i) => posted.body.seq + 1 + i), 'unique and without gaps')

    const all: number[] = []
    let since = 0
    for (let page = 0; ; page++) {
      const p = (await call(page % 2 ? a.url : b.url, 'GET', `/api/v1/feed?since=${since}&limit=25`)).body
      all.push(...p.queries.map((q: any) => q.seq))
      if (p.next === since) break
      since = p.next
    }
    assert.deepEqual(all, [posted.body.seq, ...seqs], 'either process pages through the same feed')
  } finally {
    assert.equal(await stopProcess(a.child), 0, 'SIGTERM closes cleanly')
    assert.equal(await stopProcess(b.child), 0)
    await temp.drop()
  }
})

