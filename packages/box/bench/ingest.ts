/**
 * HTTP SenML ingest into a running box against PostgreSQL's COPY of the same points, in
 * alternating rounds of the same length. The box is `coffer start` in a process of its own, as a
 * user runs it, and the load comes from this process, as PostgreSQL's client does for COPY: each
 * side's server has the machine's cores to share with its own client only.
 *
 * The box gets a SenML JSON body of 1,000 points per request over 4 connections (parsed,
 * token-checked, appended to the signed log and applied to the view, audited, then answered).
 * PostgreSQL gets the same points into a table of (name, unit, time, value) three ways:
 *   copy      one COPY streaming every batch over one connection, committed at the end: how the
 *             performance issue measured COPY, and the target's baseline;
 *   batches   one COPY and commit per batch over 4 connections, as the box takes one request each;
 *   parallel  one streaming COPY per connection over 4 (reported).
 * PostgreSQL is the local server (PGHOST, PGPORT, PGUSER, PGDATABASE; by default 127.0.0.1:5432,
 * database `test`); without one the COPY rounds are left out and said to be.
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

type CopyWay = 'copy' | 'batches' | 'parallel'
const WAYS: CopyWay[] = ['copy', 'batches', 'parallel']

/** Rows a second PostgreSQL stores by `way` (see the top of the file). */
async function copyRound(pool: pg.Pool, way: CopyWay): Promise<number> {
  const until = performance.now() + SECONDS * 1000
  const stream = way !== 'batches'
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
  await Promise.all(Array.from({ length: way === 'copy' ? 1 : CONNECTIONS }, worker))
  return rows / ((performance.now() - t) / 1000)
}

const loadBefore = load()
const pool = await postgres()
const ours: number[] = []
const copies: Record<CopyWay, number[]> = { copy: [], batches: [], parallel: [] }
for (let round = 0; round < ROUNDS; round++) {
  ours.push(await boxRound())
  for (const way of pool ? WAYS : []) copies[way].push(await copyRound(pool!, way))
  console.error(`  round ${round + 1}: box ${Math.round(ours.at(-1)!)} rec/s${pool ? WAYS.map((way) => `, ${way} ${Math.round(copies[way].at(-1)!)} rows/s`).join('') : ''}`)
}
await pool?.query('DROP TABLE coffer_bench_ingest')
await pool?.end()
box.kill('SIGINT')
await once(box, 'exit')
fs.rmSync(dir, { recursive: true, force: true })

// Each round against the COPY rounds beside it, so a machine that slows down between rounds moves neither.
const against = (way: CopyWay) => pool ? { rowsPerSecond: Math.round(p50(copies[way])), ratio: Number(p50(ours.map((r, i) => r / copies[way][i]!)).toFixed(2)) } : null
console.log(JSON.stringify({
  boxRecordsPerSecond: Math.round(p50(ours)), copy: against('copy'), batches: against('batches'), parallel: against('parallel'),
  rounds: ROUNDS, seconds: SECONDS, loadAverage: [loadBefore, load()],
}))
