/**
 * The market at scale: 10,000 boxes answer one statistics query on one machine, end to end from
 * posting to a paid result.
 *
 *   posting → the query announced on NATS to every box subscribed (one subscription per box, a
 *   hundred boxes per connection) → each box builds its Prio3 report (the boxes' own work, done
 *   here in worker threads and timed apart: in reality it is spread over their machines) →
 *   the answers sent, 64 at a time over keep-alive HTTP, spread over the leader processes
 *   (several processes behind one URL) → the query closed and released with the helper → a
 *   payout run: one signed transaction per batch of 1,000 owners, sent to a stand-in node that
 *   checks and records them → the block mined → the next run confirms every payout: paid.
 *
 * Before posting, untimed: the processor's deposit, each box's signed payout address, the
 * wallet's coins, and every box subscribed. The leader(s) and the helper run as their own
 * `coffer-market serve` processes on PostgreSQL; their CPU is read from the operating system,
 * and so is that of the PostgreSQL backends serving their databases (sampled every 200 ms, so a
 * backend that ends between samples loses its last moments). The baseline, in the same run: the
 * same reports aggregated bare in the bench's process (both aggregators' work, one after the other,
 * no HTTP, no database, no noise).
 *
 * Run (after `npm run build --workspace packages/market`, with NATS and PostgreSQL running):
 *   node --import tsx packages/market/bench/scale.ts [boxes=10000] [runs=3] [leader processes=1]
 */
import crypto from 'node:crypto'
import fs from 'node:fs'
import http from 'node:http'
import os from 'node:os'
import { Worker } from 'node:worker_threads'
import pg from 'pg'
import { connect, type NatsConnection } from 'nats'
import { p2wpkh } from '@scure/btc-signer'
import { pubECDSA, randomPrivateKeyBytes } from '@scure/btc-signer/utils.js'
import { answerSigningText, type Answer, type PublishedQuery, type SharingLevel } from '../src/protocol/index.ts'
import { NETWORK_PARAMETERS } from '../src/protocol/addresses.ts'
import { newWalletKey } from '../src/index.ts'
import { Aggregator, deriveVerifyKey, unshard } from '../src/aggregation/index.ts'
import { ADMIN_URL, createTempDatabase } from '../test/postgres.ts'
import { call, NATS_URL, OPERATOR_TOKEN, register, spec, startProcess, stopProcess } from '../test/helpers.ts'
import { HELPER_TOKEN, makeBox, payoutAddressOf, VERIFY_KEY, type Box } from '../test/boxes.ts'
import { startFakeNode } from '../test/bitcoin.ts'

const N = Number(process.argv[2] ?? 10_000)
const RUNS = Number(process.argv[3] ?? 3)
const LEADERS = Number(process.argv[4] ?? 1)
const CONCURRENCY = 64
const BOXES_PER_CONNECTION = 100
const PRICE = 1000
const OWNERS_PER_PAYOUT = 1000
const LEVELS: SharingLevel[] = ['low', 'medium', 'high']
const TICK = 100 // CLK_TCK

const now = () => performance.now()
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

/** User + system CPU seconds of a process, from /proc. */
function cpuOf(pid: number): number | undefined {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
    return (Number(fields[11]) + Number(fields[12])) / TICK
  } catch {
    return undefined
  }
}

/** Samples the CPU of every PostgreSQL backend serving these databases, from start() to stop(). */
async function databaseCpu(names: string[]) {
  const client = new pg.Client({ connectionString: ADMIN_URL })
  await client.connect()
  const first = new Map<number, number>()
  const last = new Map<number, number>()
  let running = true
  const sample = async () => {
    const { rows } = await client.query('SELECT pid FROM pg_stat_activity WHERE datname = ANY($1::text[])', [names])
    for (const { pid } of rows) {
      const cpu = cpuOf(pid)
      if (cpu === undefined) continue
      if (!first.has(pid)) first.set(pid, 0)
      last.set(pid, cpu)
    }
  }
  // Backends alive when sampling starts count from then; those born later, from their birth.
  const { rows } = await client.query('SELECT pid FROM pg_stat_activity WHERE datname = ANY($1::text[])', [names])
  for (const { pid } of rows) {
    const cpu = cpuOf(pid)
    if (cpu !== undefined) first.set(pid, cpu)
  }
  const loop = (async () => {
    while (running) {
      await sample()
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
  })()
  return {
    async stop(): Promise<number> {
      await sample()
      running = false
      await loop
      await client.end()
      let total = 0
      for (const [pid, cpu] of last) total += cpu - (first.get(pid) ?? 0)
      return total
    },
  }
}

/** POSTs JSON over keep-alive connections, to one of several market processes. */
function poster(urls: string[]) {
  const agents = urls.map(() => new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY }))
  const send = (which: number, path: string, body: unknown) => new Promise<{ status: number; text: string }>((resolve, reject) => {
    const data = JSON.stringify(body)
    const req = http.request(new URL(path, urls[which % urls.length]), {
      method: 'POST', agent: agents[which % urls.length], headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) },
    }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (chunk) => (text += chunk))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }))
    })
    req.on('error', reject)
    req.end(data)
  })
  return { send, close: () => agents.forEach((a) => a.destroy()) }
}

async function inParallel(count: number, lanes: number, work: (i: number) => Promise<void>): Promise<void> {
  let next = 0
  await Promise.all(Array.from({ length: lanes }, async () => {
    while (next < count) await work(next++)
  }))
}

/** The boxes' reports, built in worker threads (one per core); resolves with them and the CPU they took. */
async function buildReports(query: PublishedQuery, values: (number | null)[]): Promise<{ reports: { leader: Uint8Array; helper: Uint8Array }[]; cpuMs: number }> {
  // A worker does not inherit the TypeScript loader: it registers it before loading its module.
  const source = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(new URL('./scale-reports.ts', import.meta.url).href)}) })`
  const workers = Array.from({ length: Math.max(1, os.availableParallelism()) }, () => new Worker(source, { eval: true }))
  const reports = new Array<{ leader: Uint8Array; helper: Uint8Array }>(values.length)
  let cpuMs = 0
  const CHUNK = 250
  let next = 0
  try {
    await Promise.all(workers.map(async (worker) => {
      while (next < values.length) {
        const from = next
        next += CHUNK
        // One task per privacy class: box i answers at LEVELS[i % 3].
        for (const [l, level] of LEVELS.entries()) {
          const idx = [] as number[]
          for (let i = from; i < Math.min(from + CHUNK, values.length); i++) if (i % LEVELS.length === l) idx.push(i)
          const done = new Promise<{ reports: { leader: Uint8Array; helper: Uint8Array }[]; cpuMs: number }>((resolve, reject) => {
            worker.once('message', (out) => {
              worker.off('error', reject)
              resolve(out)
            })
            worker.once('error', reject)
          })
          worker.postMessage({ task: query.tasks![level], values: idx.map((i) => values[i]) })
          const out = await done
          cpuMs += out.cpuMs
          out.reports.forEach((r, k) => (reports[idx[k]!] = r))
        }
      }
    }))
  } finally {
    await Promise.all(workers.map((w) => w.terminate()))
  }
  return { reports, cpuMs }
}

function signed(box: Box, query: PublishedQuery, level: SharingLevel, report: { leader: Uint8Array; helper: Uint8Array }): Answer {
  const unsigned = { queryId: query.id, boxId: box.boxId, privacyLevel: level, leader: Buffer.from(report.leader).toString('base64url'), helper: Buffer.from(report.helper).toString('base64url') }
  return { ...unsigned, signature: crypto.sign(null, Buffer.from(answerSigningText(unsigned), 'utf8'), box.privateKey).toString('base64url') }
}

/**
 * The baseline: the same reports aggregated bare in this process, one class after another: both
 * aggregators open and prepare every report, then verify and add them up; no HTTP, no database,
 * no noise. What the market adds to this is its own cost.
 */
async function bareAggregation(query: PublishedQuery, answers: Answer[], [leaderUrl, helperUrl]: string[]): Promise<number> {
  const keysOf = async (url: string, role: string) => {
    const client = new pg.Client({ connectionString: url })
    await client.connect()
    const { rows } = await client.query('SELECT hpke_config, private_key FROM aggregator_keys WHERE role = $1', [role])
    await client.end()
    return { hpkeConfig: rows[0].hpke_config as string, privateKey: rows[0].private_key as string }
  }
  const keys = { leader: await keysOf(leaderUrl!, 'leader'), helper: await keysOf(helperUrl!, 'helper') }
  const t0 = now()
  for (const [l, level] of LEVELS.entries()) {
    const task = query.tasks![level]!
    const verifyKey = deriveVerifyKey(task, VERIFY_KEY)
    const leader = new Aggregator({ role: 'leader', task, keys: keys.leader, verifyKey })
    const helper = new Aggregator({ role: 'helper', task, keys: keys.helper, verifyKey })
    for (let i = l; i < answers.length; i += LEVELS.length) {
      await leader.accept(Buffer.from(answers[i]!.leader, 'base64url'))
      await helper.accept(Buffer.from(answers[i]!.helper, 'base64url'))
    }
    const outcome = leader.finishPreparation(await helper.prepare(leader.startPreparation()))
    helper.commit(outcome.commit)
    unshard(task, leader.aggregateShare({ noise: null }), helper.aggregateShare({ noise: null }))
  }
  return now() - t0
}

async function run() {
  const node = await startFakeNode()
  const helperDb = await createTempDatabase()
  const leaderDb = await createTempDatabase()
  const subject = `coffer.bench.${crypto.randomBytes(6).toString('hex')}`
  const wallet = newWalletKey('regtest')
  const helper = await startProcess(['--database', helperDb.url, '--role', 'helper', '--leader-token', HELPER_TOKEN, '--verify-key', VERIFY_KEY])
  const args = [
    '--database', leaderDb.url, '--role', 'leader', '--helper-url', helper.url, '--helper-token', HELPER_TOKEN, '--verify-key', VERIFY_KEY,
    '--release-poll', '600000', '--operator-token', OPERATOR_TOKEN, '--nats', NATS_URL, '--nats-subject', subject,
    '--network', 'regtest', '--payout-threshold', String(PRICE), '--fee-rate', '1', '--payout-every', '0', '--wallet-key', wallet.key, '--bitcoin-rpc', node.url,
  ]
  const leaders: Awaited<ReturnType<typeof startProcess>>[] = []
  for (let i = 0; i < LEADERS; i++) leaders.push(await startProcess(args))
  const urls = leaders.map((l) => l.url)
  const http = poster(urls)
  const operator = (method: string, route: string, body?: unknown) => call(urls[0]!, method, route, { key: OPERATOR_TOKEN, ...(body === undefined ? {} : { body }) })
  let connections: NatsConnection[] = []
  try {
    // Untimed: the processor's money, the boxes with their payout addresses, the wallet's coins, the boxes subscribed.
    const key = await register({ api: (method, route, opts) => call(urls[0]!, method, route, opts) }, 'Bench', PRICE * N)
    const boxes = Array.from({ length: N }, () => makeBox())
    await inParallel(N, CONCURRENCY, async (i) => {
      const address = p2wpkh(pubECDSA(randomPrivateKeyBytes()), NETWORK_PARAMETERS.regtest).address!
      const res = await http.send(i, '/api/v1/owners/payout-address', payoutAddressOf(boxes[i]!, address))
      if (res.status !== 200) throw new Error(`payout address: ${res.status} ${res.text}`)
    })
    const walletAddress = (await operator('GET', '/api/v1/operator/wallet')).body.address
    for (let c = 0; c < Math.ceil(N / OWNERS_PER_PAYOUT); c++) {
      const added = await operator('POST', '/api/v1/operator/wallet/coins', node.fund(walletAddress, OWNERS_PER_PAYOUT * PRICE + 100_000))
      if (added.status !== 201) throw new Error(`coin: ${added.status}`)
    }
    const live = (await call(urls[0]!, 'GET', '/api/v1/feed/live')).body
    connections = await Promise.all(Array.from({ length: Math.ceil(N / BOXES_PER_CONNECTION) }, () => connect({ servers: live.nats.servers })))
    let heard = 0
    let announced: PublishedQuery | undefined
    let allHeard!: () => void
    const heardByAll = new Promise<void>((resolve) => (allHeard = resolve))
    for (let i = 0; i < N; i++) {
      connections[Math.floor(i / BOXES_PER_CONNECTION)]!.subscribe(live.nats.subject, {
        callback: (_err, msg) => {
          announced ??= msg.json<PublishedQuery>()
          if (++heard === N) allHeard()
        },
      })
    }
    await Promise.all(connections.map((c) => c.flush()))

    const pids = [...leaders.map((l) => l.child.pid!), helper.child.pid!]
    const cpu = () => pids.map((pid) => cpuOf(pid) ?? 0)
    const cpuSince = (before: number[]) => cpu().reduce((sum, c, i) => sum + c - before[i]!, 0)
    const database = await databaseCpu([new URL(leaderDb.url).pathname.slice(1), new URL(helperDb.url).pathname.slice(1)])
    const cpu0 = cpu()

    const t0 = now()
    const posted = await call(urls[0]!, 'POST', '/api/v1/queries', { key, body: spec({ price: { amount: PRICE, currency: 'sat' }, participants: { min: 10, max: N } }) })
    if (posted.status !== 201) throw new Error(`post: ${posted.status} ${JSON.stringify(posted.body)}`)
    await heardByAll
    const heardMs = now() - t0
    const query = announced!

    const tBuild = now()
    const values = boxes.map((_, i) => (i % 5 === 4 ? null : 18 + ((i * 37) % 70)))
    const { reports, cpuMs: buildCpuMs } = await buildReports(query, values)
    const answers = boxes.map((box, i) => signed(box, query, LEVELS[i % LEVELS.length]!, reports[i]!))
    const buildMs = now() - tBuild

    const cpuSend = cpu()
    const tSend = now()
    await inParallel(N, CONCURRENCY, async (i) => {
      const res = await http.send(i, `/api/v1/queries/${query.id}/answers`, answers[i])
      if (res.status !== 202) throw new Error(`answer: ${res.status} ${res.text}`)
    })
    const sendMs = now() - tSend
    const sendCpu = cpuSince(cpuSend)

    const cpuRelease = cpu()
    const tRelease = now()
    await call(urls[0]!, 'POST', `/api/v1/queries/${query.id}/close`, { key })
    let result
    for (;;) {
      result = (await call(urls[0]!, 'GET', `/api/v1/queries/${query.id}/result`, { key })).body
      if (result.state !== 'pending') break
      // A release that failed is tried again only at the next poll, ten minutes away: fail the run instead.
      if (now() - tRelease > 300_000) throw new Error('no result five minutes after closing: the leader\'s release failed (run it with COFFER_MARKET_LOG_LEVEL=warn)')
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    const releaseMs = now() - tRelease
    const releaseCpu = cpuSince(cpuRelease)
    if (result.state !== 'released' || result.participants.total !== N || result.payment?.owners !== N) throw new Error(`result: ${JSON.stringify(result).slice(0, 300)}`)

    const cpuPay = cpu()
    const nodeCpu0 = process.cpuUsage()
    const tPay = now()
    const made = (await operator('POST', '/api/v1/operator/payouts')).body
    node.mine()
    const confirmed = (await operator('POST', '/api/v1/operator/payouts')).body
    const payMs = now() - tPay
    const payCpu = cpuSince(cpuPay)
    // The stand-in node runs in this process: what it spent decoding and checking the transactions is the network's work.
    const nodeUsage = process.cpuUsage(nodeCpu0)
    const nodeCpu = (nodeUsage.user + nodeUsage.system) / 1e6
    const totalMs = now() - t0
    const marketCpu = cpuSince(cpu0)
    const dbCpu = await database.stop()

    const owners = made.made.reduce((sum: number, p: { owners: number }) => sum + p.owners, 0)
    if (owners !== N || confirmed.confirmed.length !== made.made.length) throw new Error(`payouts: ${owners} owners paid, ${confirmed.confirmed.length} of ${made.made.length} confirmed`)
    const check = (await operator('GET', '/api/v1/operator/ledger')).body
    if (!check.entriesBalance || !check.balancesMatchLines || check.total !== 0 || check.byKind.owner !== 0) throw new Error(`ledger: ${JSON.stringify(check)}`)
    const bareMs = await bareAggregation(query, answers, [leaderDb.url, helperDb.url])
    const perOwner = made.made.map((p: { vbytes: number; owners: number; feePerOwner: number }) => [p.vbytes / p.owners, p.feePerOwner])
    return {
      totalMs, marketMs: totalMs - buildMs, heardMs, buildMs, buildCpuMsPerBox: buildCpuMs / N, sendMs, releaseMs, payMs,
      payouts: made.made.length, vbytesPerOwner: median(perOwner.map((x: number[]) => x[0]!)),
      marketCpu, sendCpu, releaseCpu, payCpu, nodeCpu, dbCpu, bareMs,
    }
  } finally {
    await Promise.all(connections.map((c) => c.close()))
    http.close()
    for (const leader of leaders) await stopProcess(leader.child)
    await stopProcess(helper.child)
    await node.close()
    await helperDb.drop()
    await leaderDb.drop()
  }
}

const runs: Awaited<ReturnType<typeof run>>[] = []
for (let i = 0; i < RUNS; i++) {
  const load = os.loadavg()[0]!.toFixed(1)
  const r = await run()
  runs.push(r)
  console.log(`run ${i + 1} (load ${load} before): ${JSON.stringify(Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Math.round(v * 100) / 100])))}`)
}
const m = (k: keyof (typeof runs)[number]) => median(runs.map((r) => r[k]))
const s = (k: keyof (typeof runs)[number]) => `${(m(k) / 1000).toFixed(2)} s`
console.log(`\n${N} boxes, one mean query, PostgreSQL, NATS, ${LEADERS} leader process${LEADERS > 1 ? 'es' : ''}, median of ${RUNS} runs:`)
console.log(`  posting → paid (wall, without the boxes' report building): ${s('marketMs')}   (target ≤ 60 s)`)
console.log(`    announced to every box on NATS:     ${s('heardMs')}`)
console.log(`    answers sent and kept (${CONCURRENCY} at a time): ${s('sendMs')}   ${(N / (m('sendMs') / 1000)).toFixed(0)} answers/s`)
console.log(`    close → released result:            ${s('releaseMs')}`)
console.log(`    payout run → mined → confirmed:     ${s('payMs')}   (${m('payouts')} transactions, ${m('vbytesPerOwner').toFixed(1)} vbytes per owner; the stand-in node's checking ${m('nodeCpu').toFixed(1)} s CPU)`)
console.log(`  boxes building their reports (clients' cost, ${os.availableParallelism()} worker threads): ${s('buildMs')} wall, ${m('buildCpuMsPerBox').toFixed(1)} ms CPU per report`)
console.log(`  market CPU (leader${LEADERS > 1 ? 's' : ''} + helper): ${m('marketCpu').toFixed(1)} s: taking answers ${m('sendCpu').toFixed(1)} s (${(m('sendCpu') / N * 1000).toFixed(2)} ms each), release ${m('releaseCpu').toFixed(1)} s, payouts ${m('payCpu').toFixed(1)} s`)
console.log(`  database CPU (PostgreSQL backends): ${m('dbCpu').toFixed(1)} s`)
console.log(`  baseline, the same reports aggregated bare in one process: ${s('bareMs')} → the market's wall ${(m('marketMs') / m('bareMs')).toFixed(2)}×, its CPU ${(m('marketCpu') * 1000 / m('bareMs')).toFixed(2)}×`)
