/**
 * How market processes behind one URL hear of each other's posts, measured both ways: two
 * `coffer-market serve` processes on one PostgreSQL, announcing through PostgreSQL's NOTIFY or
 * through NATS. Boxes hold event streams on process B while a processor posts on process A:
 *
 * 1. latency: one post at a time, from sending the post to the event on every stream of B (and,
 *    for comparison, to the post's own answer);
 * 2. posting: queries posted 8 at a time through A and B together (a NOTIFY is sent at commit,
 *    under a lock every notifying transaction in the database takes in turn);
 * 3. the PostgreSQL backends' CPU over both (B reads the feed once per NOTIFY; a NATS message
 *    carries the entry, so B reads nothing).
 *
 * Run (after `npm run build --workspace packages/market`, with NATS and PostgreSQL running):
 *   node --import tsx packages/market/bench/fanout.ts [streams=200] [posts=200] [runs=3]
 */
import crypto from 'node:crypto'
import fs from 'node:fs'
import pg from 'pg'
import { createTempDatabase } from '../test/postgres.ts'
import { call, NATS_URL, openStream, register, spec, startProcess, stopProcess, type EventStream } from '../test/helpers.ts'

const STREAMS = Number(process.argv[2] ?? 200)
const POSTS = Number(process.argv[3] ?? 200)
const RUNS = Number(process.argv[4] ?? 3)
const CONCURRENCY = 8
const TICK = 100

const now = () => performance.now()
const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * q))]!

function cpuOf(pid: number): number {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
    return (Number(fields[11]) + Number(fields[12])) / TICK
  } catch {
    return 0
  }
}

async function backends(url: string): Promise<Map<number, number>> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  const { rows } = await client.query('SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()')
  await client.end()
  return new Map(rows.map(({ pid }) => [pid as number, cpuOf(pid)]))
}

async function run(announce: 'postgres' | 'nats') {
  const temp = await createTempDatabase()
  const args = ['--database', temp.url, '--operator-token', 'the operator of this test market', ...(announce === 'nats' ? ['--nats', NATS_URL, '--nats-subject', `coffer.bench.${crypto.randomBytes(6).toString('hex')}`] : [])]
  const [a, b] = [await startProcess(args), await startProcess(args)]
  const streams: EventStream[] = []
  try {
    const key = await register({ api: (method, route, opts) => call(a.url, method, route, opts) }, 'Bench', 100 * 1000 * (POSTS * 3))
    const body = spec({ participants: { min: 10, max: 1000 } })
    for (let i = 0; i < STREAMS; i++) streams.push(await openStream(`${b.url}/api/v1/feed/stream?since=0`))
    // Every stream is connected once it has the first query.
    await call(a.url, 'POST', '/api/v1/queries', { key, body })
    await Promise.all(streams.map((s) => s.take(1)))

    const before = await backends(temp.url)
    const latencies: number[] = []
    const answered: number[] = []
    for (let i = 0; i < POSTS; i++) {
      const t0 = now()
      const heard = Promise.all(streams.map((s) => s.take(1)))
      const posted = await call(a.url, 'POST', '/api/v1/queries', { key, body })
      if (posted.status !== 201) throw new Error(`post: ${posted.status}`)
      answered.push(now() - t0)
      await heard
      latencies.push(now() - t0)
    }
    let next = 0
    const t0 = now()
    await Promise.all(Array.from({ length: CONCURRENCY }, async (_, lane) => {
      while (next < POSTS) {
        next++
        const posted = await call(lane % 2 ? b.url : a.url, 'POST', '/api/v1/queries', { key, body })
        if (posted.status !== 201) throw new Error(`post: ${posted.status}`)
      }
    }))
    const postMs = now() - t0
    await Promise.all(streams.map((s) => s.take(POSTS)))
    const after = await backends(temp.url)
    const dbCpu = [...after].reduce((sum, [pid, c]) => sum + c - (before.get(pid) ?? 0), 0)
    return { postP50: quantile(answered, 0.5), p50: quantile(latencies, 0.5), p95: quantile(latencies, 0.95), postsPerSecond: POSTS / (postMs / 1000), dbCpu }
  } finally {
    for (const s of streams) s.close()
    await stopProcess(a.child)
    await stopProcess(b.child)
    await temp.drop()
  }
}

const results: Record<string, Awaited<ReturnType<typeof run>>[]> = { postgres: [], nats: [] }
for (let i = 0; i < RUNS; i++) {
  // Alternated, so a change in the machine's load falls on both.
  for (const announce of ['postgres', 'nats'] as const) {
    const r = await run(announce)
    results[announce]!.push(r)
    console.log(`run ${i + 1} ${announce}: ${JSON.stringify(Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Math.round(v * 100) / 100])))}`)
  }
}
console.log(`\n${STREAMS} event streams on process B, ${POSTS} posts on A (latency) and ${POSTS} through both, ${CONCURRENCY} at a time; medians of ${RUNS} runs:`)
for (const [announce, rs] of Object.entries(results)) {
  const m = (k: keyof (typeof rs)[number]) => quantile(rs.map((r) => r[k]), 0.5)
  console.log(`  ${announce.padEnd(8)}: the post answered in ${m('postP50').toFixed(1)} ms, every stream on the other process had it at p50 ${m('p50').toFixed(1)} ms, p95 ${m('p95').toFixed(1)} ms; ${m('postsPerSecond').toFixed(0)} posts/s; PostgreSQL backends ${m('dbCpu').toFixed(2)} s CPU`)
}
