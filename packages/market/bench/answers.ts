/**
 * 1,000 boxes answer one statistics query end to end on one machine: posting → every box builds,
 * signs and sends its answer → close → release (the leader with the helper over HTTP) → result.
 * The leader and the helper run as their own `coffer-market serve` processes (the built CLI),
 * each on its own database; their CPU time is read from the operating system, and so is that of
 * the PostgreSQL backends serving them. The boxes' own work (building reports) is timed apart:
 * it happens on a thousand machines in reality. The baseline, measured in the same run, is the
 * bare aggregation of the same 1,000 reports in one process (both aggregators' accept,
 * preparation and shares, no HTTP, no database).
 *
 * Run (after `npm run build --workspace packages/market`):
 *   node --import tsx packages/market/bench/answers.ts [boxes] [runs] [postgres|pglite]
 */
import fs from 'node:fs'
import path from 'node:path'
import pg from 'pg'
import { Aggregator, deriveVerifyKey, unshard, type TaskDescription } from '../src/aggregation/index.ts'
import type { Answer, PublishedQuery } from '../src/protocol/index.ts'
import { createTempDatabase } from '../test/postgres.ts'
import { call, OPERATOR_TOKEN, register, spec, startProcess, stopProcess, tempDir } from '../test/helpers.ts'
import { answerOf, HELPER_TOKEN, makeBox, sendAnswer, VERIFY_KEY } from '../test/boxes.ts'

const N = Number(process.argv[2] ?? 1000)
const RUNS = Number(process.argv[3] ?? 3)
const STORAGE = (process.argv[4] ?? 'postgres') as 'postgres' | 'pglite'
const CONCURRENCY = 16
const TICK = 100 // CLK_TCK

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const now = () => performance.now()

/** User + system CPU seconds of a process, from /proc. */
function cpuOf(pid: number): number {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
    return (Number(fields[11]) + Number(fields[12])) / TICK
  } catch {
    return 0
  }
}

/** CPU seconds of the PostgreSQL backends now connected to these databases (they live as long as the markets' pools). */
async function backendsCpu(urls: string[]): Promise<Map<number, number>> {
  const cpu = new Map<number, number>()
  for (const url of urls) {
    const client = new pg.Client({ connectionString: url })
    await client.connect()
    const { rows } = await client.query('SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()')
    await client.end()
    for (const { pid } of rows) cpu.set(pid, cpuOf(pid))
  }
  return cpu
}

async function bare(task: TaskDescription, reports: { leader: Uint8Array; helper: Uint8Array }[], keys: { leader: { hpkeConfig: string; privateKey: string }; helper: { hpkeConfig: string; privateKey: string } }) {
  const verifyKey = deriveVerifyKey(task, VERIFY_KEY)
  const t0 = now()
  const leader = new Aggregator({ role: 'leader', task, keys: keys.leader, verifyKey })
  const helper = new Aggregator({ role: 'helper', task, keys: keys.helper, verifyKey })
  for (const r of reports) {
    await leader.accept(r.leader)
    await helper.accept(r.helper)
  }
  const outcome = leader.finishPreparation(await helper.prepare(leader.startPreparation()))
  helper.commit(outcome.commit)
  unshard(task, leader.aggregateShare({ noise: null }), helper.aggregateShare({ noise: null }))
  return now() - t0
}

async function run() {
  const drops: (() => Promise<void>)[] = []
  const storage = async () => {
    if (STORAGE === 'postgres') {
      const temp = await createTempDatabase()
      drops.push(temp.drop)
      return { args: ['--database', temp.url], url: temp.url as string | undefined, dir: undefined as string | undefined }
    }
    const dir = tempDir()
    drops.push(async () => fs.rmSync(dir, { recursive: true, force: true }))
    return { args: ['--data', path.join(dir, 'data')], url: undefined, dir: path.join(dir, 'data') }
  }
  const helperStore = await storage()
  const leaderStore = await storage()
  const helper = await startProcess([...helperStore.args, '--role', 'helper', '--leader-token', HELPER_TOKEN, '--verify-key', VERIFY_KEY])
  const leader = await startProcess([...leaderStore.args, '--role', 'leader', '--helper-url', helper.url, '--helper-token', HELPER_TOKEN, '--verify-key', VERIFY_KEY, '--release-poll', '600000', '--operator-token', OPERATOR_TOKEN])
  try {
    // The query escrows price × N: the processor's deposit comes first.
    const key = await register({ api: (method, route, opts) => call(leader.url, method, route, opts) }, 'Bench', 100 * N)
    const boxes = Array.from({ length: N }, () => makeBox())
    const levels = ['low', 'medium', 'high'] as const
    const dbUrls = [helperStore.url, leaderStore.url].filter((u): u is string => u !== undefined)
    const dbBefore = dbUrls.length ? await backendsCpu(dbUrls) : new Map<number, number>()
    const cpu0 = { leader: cpuOf(leader.child.pid!), helper: cpuOf(helper.child.pid!) }

    const t0 = now()
    const posted = await call(leader.url, 'POST', '/api/v1/queries', { key, body: spec({ participants: { min: 10, max: N } }) })
    const query = (await call(leader.url, 'GET', `/api/v1/feed?since=${posted.body.seq - 1}&limit=1`)).body.queries[0] as PublishedQuery
    const tBuild = now()
    const answers: Answer[] = []
    for (let i = 0; i < N; i++) answers.push(await answerOf(boxes[i]!, query, levels[i % 3]!, i % 5 === 4 ? null : 18 + ((i * 37) % 70)))
    const buildMs = now() - tBuild
    const tSend = now()
    let next = 0
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      while (next < N) {
        const res = await sendAnswer(leader.url, answers[next++]!)
        if (res.status !== 202) throw new Error(`answer: ${res.status} ${JSON.stringify(res.body)}`)
      }
    }))
    const sendMs = now() - tSend
    const sendCpu = cpuOf(leader.child.pid!) - cpu0.leader
    const tRelease = now()
    await call(leader.url, 'POST', `/api/v1/queries/${query.id}/close`, { key })
    let result
    for (;;) {
      result = (await call(leader.url, 'GET', `/api/v1/queries/${query.id}/result`, { key })).body
      if (result.state !== 'pending') break
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    const releaseMs = now() - tRelease
    const totalMs = now() - t0
    if (result.state !== 'released' || result.participants.total !== N) throw new Error(`result: ${JSON.stringify(result).slice(0, 300)}`)
    const marketCpu = cpuOf(leader.child.pid!) - cpu0.leader + cpuOf(helper.child.pid!) - cpu0.helper
    let dbCpu = NaN
    if (dbUrls.length) {
      const after = await backendsCpu(dbUrls)
      dbCpu = [...after].reduce((sum, [pid, c]) => sum + c - (dbBefore.get(pid) ?? 0), 0)
    }

    // Baseline: the same reports (one class's worth per level), aggregated bare in this process.
    const keys = {
      leader: await keysOf(leaderStore, 'leader'),
      helper: await keysOf(helperStore, 'helper'),
    }
    let bareMs = 0
    for (const level of levels) {
      const task = query.tasks![level]!
      const reports = []
      for (let i = 0; i < N; i += 1) if (levels[i % 3] === level) reports.push({ leader: Buffer.from(answers[i]!.leader, 'base64url'), helper: Buffer.from(answers[i]!.helper, 'base64url') })
      if (keys.leader && keys.helper) bareMs += await bare(task, reports, keys as never)
    }
    return { totalMs, buildMs, sendMs, releaseMs, marketCpu, sendCpu, dbCpu, bareMs, marketMs: totalMs - buildMs }
  } finally {
    await stopProcess(leader.child)
    await stopProcess(helper.child)
    for (const drop of drops) await drop()
  }

  async function keysOf(store: { url?: string }, role: string) {
    if (!store.url) return undefined
    const client = new pg.Client({ connectionString: store.url })
    await client.connect()
    const { rows } = await client.query('SELECT hpke_config, private_key FROM aggregator_keys WHERE role = $1', [role])
    await client.end()
    return { hpkeConfig: rows[0].hpke_config as string, privateKey: rows[0].private_key as string }
  }
}


const runs: Awaited<ReturnType<typeof run>>[] = []
for (let i = 0; i < RUNS; i++) {
  const r = await run()
  runs.push(r)
  console.log(`run ${i + 1}: ${JSON.stringify(Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Math.round(v * (k.endsWith('Cpu') ? 100 : 1)) / (k.endsWith('Cpu') ? 100 : 1)])))}`)
}
const m = (k: keyof (typeof runs)[number]) => median(runs.map((r) => r[k]))
console.log(`\n${N} boxes, one mean query, ${STORAGE}, median of ${RUNS} runs:`)
console.log(`  posting → result (wall):            ${(m('totalMs') / 1000).toFixed(2)} s`)
console.log(`    boxes building reports (client):  ${(m('buildMs') / 1000).toFixed(2)} s`)
console.log(`    answers sent and accepted:        ${(m('sendMs') / 1000).toFixed(2)} s`)
console.log(`    close → released result:          ${(m('releaseMs') / 1000).toFixed(2)} s`)
console.log(`  market wall without the boxes:      ${(m('marketMs') / 1000).toFixed(2)} s`)
console.log(`  market CPU (leader + helper):       ${m('marketCpu').toFixed(2)} s, of which the leader taking answers ${m('sendCpu').toFixed(2)} s`)
console.log(`  database CPU (PostgreSQL backends): ${Number.isNaN(m('dbCpu')) ? 'in-process (PGlite)' : `${m('dbCpu').toFixed(2)} s`}`)
if (STORAGE === 'postgres') console.log(`  baseline, bare aggregation of the same reports: ${(m('bareMs') / 1000).toFixed(2)} s → market ${(m('marketMs') / m('bareMs')).toFixed(1)}×`)
