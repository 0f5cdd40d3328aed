/**
 * Two market processes on one PostgreSQL serve one market: a key registered through one works
 * on the other, a query posted through one is in the other's feed and event stream, and
 * concurrent posts through both get unique, gap-free sequence numbers. The processes hear of
 * each other's posts through PostgreSQL's NOTIFY, or through NATS, where a box subscribed to
 * the subject the market advertises hears of each query too. Runs the built CLI. A market told of
 * a NATS server it cannot reach does not start.
 */
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { connect } from 'nats'
import { createTempDatabase } from './postgres.ts'
import { call, fund, NATS_URL, OPERATOR_TOKEN, openStream, spec, startProcess, stopProcess, tempDir } from './helpers.ts'
import { createMarket, MarketError } from '../src/index.ts'

for (const announce of ['postgres', 'nats'] as const) test(`two market processes on one PostgreSQL serve the same market (announced through ${announce})`, async () => {
  const temp = await createTempDatabase()
  const subject = `coffer.test.${crypto.randomBytes(6).toString('hex')}`
  const args = ['--database', temp.url, '--operator-token', OPERATOR_TOKEN, ...(announce === 'nats' ? ['--nats', NATS_URL, '--nats-subject', subject] : [])]
  // Both start at once, so both run the migrations at once: the advisory lock makes them take turns.
  const [a, b] = await Promise.all([startProcess(args), startProcess(args)])
  const nc = announce === 'nats' ? await connect({ servers: NATS_URL }) : undefined
  try {
    const live = (await call(b.url, 'GET', '/api/v1/feed/live')).body
    assert.deepEqual(live, { stream: '/api/v1/feed/stream', nats: announce === 'nats' ? { servers: NATS_URL, subject } : null })
    // A box subscribed where the market says hears every query as it is published.
    const heard: any[] = []
    if (nc) nc.subscribe(live.nats!.subject, { callback: (_err, msg) => heard.push(msg.json()) })
    await nc?.flush()

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
    if (nc) {
      await nc.flush()
      assert.deepEqual(heard.map((e) => e.seq).sort((x, y) => x - y), all, 'a box on NATS heard every query, once')
      assert.deepEqual(heard.find((e) => e.seq === posted.body.seq), page.body.queries[0], 'as the feed has it')
    }
  } finally {
    await nc?.close()
    assert.equal(await stopProcess(a.child), 0, 'SIGTERM closes cleanly')
    assert.equal(await stopProcess(b.child), 0)
    await temp.drop()
  }
})


test('a market told of a NATS server it cannot reach refuses to start, and opens nothing', async () => {
  const dir = tempDir()
  try {
    const dataDir = path.join(dir, 'data')
    const market = createMarket({ dataDir, nats: { url: 'nats://user:secret@127.0.0.1:1' }, logLevel: 'silent' })
    await assert.rejects(market.open(), (err: unknown) => err instanceof MarketError && err.status === 503
      && /Cannot reach NATS at nats:\/\/127\.0\.0\.1:1/.test(err.message) && !err.message.includes('secret'))
    assert.equal(fs.existsSync(dataDir), false, 'the embedded database was not opened')
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})
