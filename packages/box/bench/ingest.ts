/**
 * HTTP SenML ingest into a running box against PostgreSQL's COPY of the same points, in
 * alternating rounds of the same length. The box is `coffer start` in a process of its own, as a
 * user runs it, and the load comes from this process, as PostgreSQL's client does for COPY: each
 * side's server has the machine's cores to share with its own client only.
 *
 * Both sides get batches of 1,000 points over 4 connections: the box a SenML JSON body per request
 * (parsed, token-checked, appended to the signed log and applied to the view, audited, then
 * answered), PostgreSQL one COPY per batch into a table of (name, unit, time, value), each its own
 * transaction; and, reported beside it, one COPY per connection streaming batch after batch. PostgreSQL is the local server (PGHOST, PGPORT, PGUSER, PGDATABASE; by default
 * 127.0.0.1:5432, database `test`); without one the COPY rounds are left out and said to be.
 *
 * Run after `npm run build`: `node --import tsx packages/box/bench/ingest.ts [rounds] [seconds]`.
 * Prints one JSON line.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { pipeline } from 'node:stream/promises'
import { Readable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import pg from 'pg'
import { from as copyFrom } from 'pg-copy-streams'

const BIN = fileURLToPath(new URL('../bin/coffer.js', import.meta.url))
const ROUNDS = Number(process.argv[2] ?? 3)
const SECONDS = Number(process.argv[3] ?? 8)
const CONNECTIONS = 4
const BATCH = 1000
const T0 = 1_735_689_600 // 2025-01-01T00:00:00Z

const p50 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const load = () => Number(os.loadavg()[0]!.toFixed(2))
const value = (i: number) => 20 + Math.sin(i / 500) * 3

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-bench-ingest-'))
const env: NodeJS.ProcessEnv = { ...process.env, COFFER_HOME: path.join(dir, 'home'), COFFER_PASSPHRASE: 'benchmark passphrase', COFFER_LOG_LEVEL: 'warn' }
delete env.COFFER_URL
delete env.COFFER_TOKEN

function coffer(...args: string[]): string {
  const r = spawnSync(process.execPath, [BIN, ...args], { env, encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`coffer ${args.join(' ')} failed: ${r.stderr}`)
  return r.stdout.trim()
}

coffer('init')
const port = 17_000 + Math.floor(Math.random() * 20_000)
const box = spawn(process.execPath, [BIN, 'start', '--port', String(port)], { env, stdio: ['ignore', 'ignore', 'inherit'] })
const url = `http://127.0.0.1:${port}`
for (let i = 0; ; i++) {
  const status = await fetch(`${url}/api/v1/status`).then((r) => r.status, () => undefined)
  if (status === 401) break
  if (i > 300) throw new Error('the box did not start')
  await new Promise((resolve) => setTimeout(resolve, 50))
}
coffer('sources', 'add', 'ingest', '--type', 'environment')
const token = coffer('token', 'owner', '--expires', '1h')

// Each body differs only in its base time, so making the next costs the client almost nothing.
const records = JSON.stringify(Array.from({ length: BATCH }, (_, i) => ({ n: 'temperature', u: 'Cel', t: i, v: value(i) }))).slice(2)
let sent = 0
async function boxRound(): Promise<number> {
  const result = await autocannon({
    url: `${url}/api/v1/sources/ingest/records`, method: 'POST', duration: SECONDS, connections: CONNECTIONS,
    headers: { 'content-type': 'application/senml+json', authorization: `Bearer ${token}` },
    requests: [{ setupRequest: (req: object) => ({ ...req, body: `[{"bt":${T0 + BATCH * sent++},${records}` }) }],
  })
  if (result.errors + result.non2xx > 0) throw new Error(`the box refused requests: ${JSON.stringify(result.statusCodeStats)}, ${result.errors} errors`)
  return result.requests.average * BATCH
}

async function postgres(): Promise<pg.Pool | undefined> {
  const pool = new pg.Pool({ host: process.env.PGHOST ?? '127.0.0.1', port: Number(process.env.PGPORT ?? 5432), database: process.env.PGDATABASE ?? 'test', user: process.env.PGUSER ?? os.userInfo().username, max: CONNECTIONS })
  try {
    await pool.query('CREATE TABLE IF NOT EXISTS coffer_bench_ingest (name text NOT NULL, unit text NOT NULL, t double precision NOT NULL, v double precision NOT NULL)')
    await pool.query('TRUNCATE coffer_bench_ingest')
    return pool
  } catch (err) {
    console.error(`PostgreSQL is not reachable (${(err as Error).message}): the COPY baseline is left out`)
    await pool.end().catch(() => undefined)
    return undefined
  }
}

let copied = 0
function copyText(): string {
  const base = T0 + BATCH * copied++
  let text = ''
  for (let i = 0; i < BATCH; i++) text += `temperature\tCel\t${base + i}\t${value(i)}\n`
  return text
}

/**
 * Rows a second COPY stores over the same connections: one COPY (and commit) per batch, as the box
 * stores one per request, or (`stream`) one COPY per connection carrying batch after batch.
 */
async function copyRound(pool: pg.Pool, stream: boolean): Promise<number> {
  const until = performance.now() + SECONDS * 1000
  let rows = 0
  const batches = function* () {
    do {
      rows += BATCH
      yield copyText()
    } while (stream && performance.now() < until)
  }
  const worker = async () => {
    const client = await pool.connect()
    try {
      while (performance.now() < until) await pipeline(Readable.from(batches()), client.query(copyFrom('COPY coffer_bench_ingest FROM STDIN')))
    } finally {
      client.release()
    }
  }
  const t = performance.now()
  await Promise.all(Array.from({ length: CONNECTIONS }, worker))
  return rows / ((performance.now() - t) / 1000)
}

const loadBefore = load()
const pool = await postgres()
const ours: number[] = []
const copy: number[] = []
const streamed: number[] = []
for (let round = 0; round < ROUNDS; round++) {
  ours.push(await boxRound())
  if (pool) copy.push(await copyRound(pool, false))
  if (pool) streamed.push(await copyRound(pool, true))
  console.error(`  round ${round + 1}: box ${Math.round(ours.at(-1)!)} rec/s${pool ? `, COPY per batch ${Math.round(copy.at(-1)!)} rows/s, one COPY a connection ${Math.round(streamed.at(-1)!)} rows/s` : ''}`)
}
await pool?.query('DROP TABLE coffer_bench_ingest')
await pool?.end()
box.kill('SIGINT')
await once(box, 'exit')
fs.rmSync(dir, { recursive: true, force: true })

console.log(JSON.stringify({
  boxRecordsPerSecond: Math.round(p50(ours)),
  copyRowsPerSecond: pool ? Math.round(p50(copy)) : null, streamedCopyRowsPerSecond: pool ? Math.round(p50(streamed)) : null,
  // Each round against the COPY rounds beside it, so a machine that slows down between rounds moves neither.
  ratio: pool ? Number(p50(ours.map((r, i) => r / copy[i]!)).toFixed(2)) : null,
  ratioToStreamed: pool ? Number(p50(ours.map((r, i) => r / streamed[i]!)).toFixed(2)) : null,
  rounds: ROUNDS, seconds: SECONDS, loadAverage: [loadBefore, load()],
}))
