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
 * Beside the rates, the CPU time each server spends per point (every thread, user and system, read
 * from /proc on Linux): what bounds a rate once the machine's cores are busy.
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

/** Clock ticks a second, in which /proc counts CPU time. */
const TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100

/** CPU seconds (user and system, every thread) each process `which` picks has used, by pid, from /proc; undefined where /proc cannot tell. */
function cpuSeconds(which: (pid: number, name: string) => boolean): Map<number, number> | undefined {
  if (!fs.existsSync('/proc/self/stat')) return undefined
  const used = new Map<number, number>()
  for (const entry of fs.readdirSync('/proc')) {
    const pid = Number(entry)
    if (!Number.isInteger(pid)) continue
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
      // The name is in parentheses and may hold spaces: the fields counted from after it.
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))
      if (!which(pid, name)) continue
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      used.set(pid, (Number(fields[11]) + Number(fields[12])) / TICKS)
    } catch {
      // The process ended meanwhile.
    }
  }
  return used
}

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
/** A round's points a second, and how many points it stored. */
interface Round { rate: number; points: number }

/** Runs a round, adding the CPU seconds the processes `which` picks used in it, per point, to `cpu`. */
async function timed(cpu: number[], which: (pid: number, name: string) => boolean, round: () => Promise<Round>): Promise<number> {
  const before = cpuSeconds(which)
  const { rate, points } = await round()
  const after = cpuSeconds(which)
  // Only what the processes alive at the end used: one that ended meanwhile (an idle connection's backend) takes its time with it.
  if (before && after) cpu.push([...after].reduce((sum, [pid, seconds]) => sum + seconds - (before.get(pid) ?? 0), 0) / points)
  return rate
}

async function boxRound(): Promise<Round> {
  const result = await autocannon({
    url: `${url}/api/v1/sources/ingest/records`, method: 'POST', duration: SECONDS, connections: CONNECTIONS,
    headers: { 'content-type': 'application/senml+json', authorization: `Bearer ${token}` },
    requests: [{ setupRequest: (req: object) => ({ ...req, body: `[{"bt":${T0 + BATCH * sent++},${records}` }) }],
  })
  if (result.errors + result.non2xx > 0) throw new Error(`the box refused requests: ${JSON.stringify(result.statusCodeStats)}, ${result.errors} errors`)
  return { rate: result.requests.average * BATCH, points: result.requests.total * BATCH }
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
async function copyRound(pool: pg.Pool, way: CopyWay): Promise<Round> {
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
  return { rate: rows / ((performance.now() - t) / 1000), points: rows }
}

const loadBefore = load()
const pool = await postgres()
const ours: number[] = []
const copies: Record<CopyWay, number[]> = { copy: [], batches: [], parallel: [] }
const cpu = { box: [] as number[], copy: [] as number[] }
for (let round = 0; round < ROUNDS; round++) {
  ours.push(await timed(cpu.box, (pid) => pid === box.pid, boxRound))
  // PostgreSQL's CPU is read around the one-COPY round, the target's baseline.
  for (const way of pool ? WAYS : []) copies[way].push(way === 'copy' ? await timed(cpu.copy, (_pid, name) => name === 'postgres', () => copyRound(pool!, way)) : (await copyRound(pool!, way)).rate)
  console.error(`  round ${round + 1}: box ${Math.round(ours.at(-1)!)} rec/s${pool ? WAYS.map((way) => `, ${way} ${Math.round(copies[way].at(-1)!)} rows/s`).join('') : ''}`)
}
await pool?.query('DROP TABLE coffer_bench_ingest')
await pool?.end()
box.kill('SIGINT')
await once(box, 'exit')
fs.rmSync(dir, { recursive: true, force: true })

const micros = (perPoint: number[]) => Number((p50(perPoint) * 1e6).toFixed(2))
// Each round against the COPY rounds beside it, so a machine that slows down between rounds moves neither.
const against = (way: CopyWay) => pool ? { rowsPerSecond: Math.round(p50(copies[way])), ratio: Number(p50(ours.map((r, i) => r / copies[way][i]!)).toFixed(2)) } : null
console.log(JSON.stringify({
  boxRecordsPerSecond: Math.round(p50(ours)), copy: against('copy'), batches: against('batches'), parallel: against('parallel'),
  cpuMicrosecondsPerPoint: cpu.box.length ? { box: micros(cpu.box), copy: cpu.copy.length ? micros(cpu.copy) : null } : null,
  rounds: ROUNDS, seconds: SECONDS, loadAverage: [loadBefore, load()],
}))
