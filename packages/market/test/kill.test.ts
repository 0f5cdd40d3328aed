/**
 * A leader process killed (SIGKILL) while answers arrive loses no answer it accepted and counts
 * none twice: another process on the same PostgreSQL takes over, boxes whose answer got no
 * reply send it again (and hear 409 when it had been kept), and the released result counts
 * every box once. Runs the built CLI.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createMarket } from '../src/index.ts'
import { createTempDatabase } from './postgres.ts'
import { call, OPERATOR_TOKEN, register, spec, startProcess, stopProcess } from './helpers.ts'
import { answerOf, HELPER_TOKEN, makeBox, sendAnswer, VERIFY_KEY } from './boxes.ts'
import pg from 'pg'

test('a leader killed while answers arrive loses none it accepted and counts none twice', async () => {
  const helperDb = await createTempDatabase()
  const leaderDb = await createTempDatabase()
  const helper = createMarket({ database: helperDb.url, port: 0, logLevel: 'silent', aggregation: { role: 'helper', leaderToken: HELPER_TOKEN, verifyKey: VERIFY_KEY } })
  await helper.open()
  const helperUrl = await helper.listen()
  const args = ['--database', leaderDb.url, '--role', 'leader', '--helper-url', helperUrl, '--helper-token', HELPER_TOKEN, '--verify-key', VERIFY_KEY, '--release-poll', '60000', '--operator-token', OPERATOR_TOKEN]
  const first = await startProcess(args)
  let second: Awaited<ReturnType<typeof startProcess>> | undefined
  try {
    const key = await register({ api: (method, route, opts) => call(first.url, method, route, opts) })
    const posted = await call(first.url, 'POST', '/api/v1/queries', { key, body: spec() })
    assert.equal(posted.status, 201)
    const query = (await call(first.url, 'GET', `/api/v1/feed?since=${posted.body.seq - 1}&limit=1`)).body.queries[0]

    const N = 60
    const boxes = Array.from({ length: N }, () => makeBox())
    const answers = await Promise.all(boxes.map((box, i) => answerOf(box, query, (['low', 'medium', 'high'] as const)[i % 3]!, 20 + i)))
    const accepted = new Set<number>()
    const send = async (url: string, i: number) => {
      try {
        return (await sendAnswer(url, answers[i]!)).status
      } catch {
        return 0 // no reply: the connection died with the process
      }
    }
    // Eight boxes at a time; the process is killed once a third of them have been accepted.
    let next = 0
    let killed = false
    await Promise.all(Array.from({ length: 8 }, async () => {
      while (next < N) {
        const i = next++
        const status = await send(first.url, i)
        if (status === 202) accepted.add(i)
        if (!killed && accepted.size >= N / 3) {
          killed = true
          first.child.kill('SIGKILL')
        }
      }
    }))
    assert.ok(killed)
    const acceptedByFirst = new Set(accepted)

    second = await startProcess(args)
    const retried: Record<number, number> = {}
    for (let i = 0; i < N; i++) {
      if (accepted.has(i)) continue
      const status = await send(second.url, i)
      retried[status] = (retried[status] ?? 0) + 1
      assert.ok(status === 202 || status === 409, `box ${i}: ${status}`)
    }
    // Every box accepted before the kill is in the database, once.
    const client = new pg.Client({ connectionString: leaderDb.url })
    await client.connect()
    const rows = (await client.query('SELECT box_id FROM answers WHERE query_id = $1', [query.id])).rows.map((r) => r.box_id as string)
    await client.end()
    assert.equal(rows.length, N)
    assert.equal(new Set(rows).size, N)
    for (const i of acceptedByFirst) assert.ok(rows.includes(boxes[i]!.boxId), `box ${i}, accepted before the kill, is kept`)
    for (const i of acceptedByFirst) assert.equal(await send(second.url, i), 409, 'and answering again is refused')

    assert.equal((await call(second.url, 'POST', `/api/v1/queries/${query.id}/close`, { key })).status, 200)
    let result
    for (let attempt = 0; attempt < 300; attempt++) {
      result = (await call(second.url, 'GET', `/api/v1/queries/${query.id}/result`, { key })).body
      if (result.state !== 'pending') break
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    assert.equal(result.state, 'released')
    assert.equal(result.participants.total, N)
    assert.equal(result.classes.reduce((s: number, c: any) => s + c.reports, 0), N, 'each answer counted once')
  } finally {
    if (second) assert.equal(await stopProcess(second.child), 0)
    if (first.child.exitCode === null && first.child.signalCode === null) first.child.kill('SIGKILL')
    await helper.close()
    await helperDb.drop()
    await leaderDb.drop()
  }
})
