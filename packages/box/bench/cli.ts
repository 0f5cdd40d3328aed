/**
 * The `coffer` command as a user meets it, each run a fresh process: a command that only talks to
 * a running box (`coffer sources list`) against the same request made by `curl` and by a bare
 * `node -e "fetch(…)"`; and `coffer start` to its first answer against a bare Fastify process
 * started the same way, after one start without a code cache that writes it (reported apart).
 * Prints one JSON line with the figures; run alone, after `npm run build`, with
 * `node --import tsx packages/box/bench/cli.ts [start] [command]` (both when neither is named).
 * The machine's load average is printed with them: on a busy machine only the ratios mean much.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import http from 'node:http'
import net from 'node:net'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'

const BIN = fileURLToPath(new URL('../bin/coffer.js', import.meta.url))
/** Where the built command and its code cache lie. */
const DIST = fileURLToPath(new URL('../dist/cli/', import.meta.url))
/** Where `fastify` resolves from, for the bare process. */
const PACKAGE = fileURLToPath(new URL('..', import.meta.url))
const COMMAND_RUNS = Number(process.env.BENCH_CLI_RUNS ?? 20)
const START_RUNS = Number(process.env.BENCH_START_RUNS ?? 7)
const named = process.argv.slice(2)
const runs = (part: string) => named.length === 0 || named.includes(part)
/** The one-minute load average, to print beside the figures. */
const load = () => Number(os.loadavg()[0]!.toFixed(2))
const loadBefore = load()

function p50(samples: number[]): number {
  const s = [...samples].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]!
}

async function freePort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as net.AddressInfo
  server.close()
  await once(server, 'close')
  return port
}

/** One GET on a fresh connection: the status code, or undefined while nothing listens. */
function statusOf(url: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    const req = http.get(url, { agent: false }, (res) => {
      res.resume()
      resolve(res.statusCode)
    })
    req.on('error', () => resolve(undefined))
  })
}

/** Spawns a server and polls `url` until it answers `expected`: milliseconds from spawn to that first answer. */
async function firstAnswer(start: () => ChildProcess, url: string, expected: number): Promise<number> {
  const t = performance.now()
  const child = start()
  let exited = false
  let stderr = ''
  child.once('exit', () => (exited = true))
  child.stderr?.on('data', (d) => (stderr += d))
  try {
    for (;;) {
      const status = await statusOf(url)
      if (status === expected) return performance.now() - t
      if (status !== undefined) throw new Error(`${url} answered ${status}, not ${expected}`)
      if (exited) throw new Error(`the server exited (${child.exitCode ?? child.signalCode}) before answering ${url}${stderr ? `: ${stderr}` : ''}`)
      if (performance.now() - t > 60_000) throw new Error(`no answer from ${url} after a minute`)
      await new Promise((resolve) => setTimeout(resolve, 2))
    }
  } finally {
    if (!exited) {
      child.kill('SIGTERM')
      await once(child, 'exit')
    }
  }
}

/** Milliseconds a command takes as a fresh process, from spawn to exit. */
function timedRun(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): number {
  const t = performance.now()
  const r = spawnSync(command, args, { env, encoding: 'utf8' })
  const ms = performance.now() - t
  if (r.status !== 0) throw new Error(`${command} ${args.join(' ')} exited ${r.status}: ${r.stderr}`)
  return ms
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-bench-cli-'))
const home = path.join(dir, 'home')
const env: NodeJS.ProcessEnv = { ...process.env, COFFER_HOME: home, COFFER_PASSPHRASE: 'benchmark passphrase', COFFER_LOG_LEVEL: 'warn' }
delete env.COFFER_URL
delete env.COFFER_TOKEN
timedRun(process.execPath, [BIN, 'init'], env)

// 1. `coffer start` to its first answer (401 on the status route: no token), against a bare Fastify
// process answering the same route, both spawned by node and polled the same way. Alternated, so
// both see the same machine; the first of each warms the file cache and is not counted.
const bare = [
  "import Fastify from 'fastify'",
  'const app = Fastify()',
  "app.get('/api/v1/status', async (_req, reply) => reply.code(401).send({ title: 'Unauthorized' }))",
  "await app.listen({ port: Number(process.argv[1]), host: '127.0.0.1' })",
].join('\n')
/**
 * `coffer start` as a user's first start: without a code cache, run until it has written one (see
 * bin/coffer.js). Milliseconds to its first answer; every start after it compiles from the cache.
 */
async function firstStart(): Promise<number> {
  for (const f of fs.readdirSync(DIST).filter((f) => /^box-\w+\.cjs\.cache/.test(f))) fs.rmSync(path.join(DIST, f))
  const port = await freePort()
  let said = ''
  const child = spawn(process.execPath, [BIN, 'start', '--port', String(port)], { env: { ...env, NODE_DEBUG: 'coffer' }, stdio: ['ignore', 'ignore', 'pipe'] })
  child.stderr!.on('data', (d) => (said += d))
  try {
    const t = performance.now()
    while ((await statusOf(`http://127.0.0.1:${port}/api/v1/status`)) !== 401) await new Promise((resolve) => setTimeout(resolve, 2))
    const ms = performance.now() - t
    while (!/wrote the code cache/.test(said)) {
      if (child.exitCode !== null || /cannot write the code cache/.test(said)) throw new Error(`no code cache was written: ${said}`)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    return ms
  } finally {
    child.kill('SIGTERM')
    await once(child, 'exit')
  }
}

const firstStartMs = runs('start') ? await firstStart() : undefined
const startMs: number[] = []
const bareMs: number[] = []
for (let i = 0; runs('start') && i <= START_RUNS; i++) {
  const port = await freePort()
  const ours = await firstAnswer(() => spawn(process.execPath, [BIN, 'start', '--port', String(port)], { env, stdio: ['ignore', 'ignore', 'pipe'] }), `http://127.0.0.1:${port}/api/v1/status`, 401)
  const barePort = await freePort()
  const base = await firstAnswer(() => spawn(process.execPath, ['--input-type=module', '-e', bare, String(barePort)], { cwd: PACKAGE, stdio: ['ignore', 'ignore', 'pipe'] }), `http://127.0.0.1:${barePort}/api/v1/status`, 401)
  if (i > 0) {
    startMs.push(ours)
    bareMs.push(base)
  }
}

// 2. A command that only talks to the box, against the same request from curl and from a bare node process.
const start = runs('start') ? {
  firstStartMs, startMs: p50(startMs), bareFastifyMs: p50(bareMs),
  // Each start against the bare process started beside it, so a machine that speeds up or slows down between pairs moves neither.
  startRatio: Number(p50(startMs.map((ms, i) => ms / bareMs[i]!)).toFixed(2)), startRuns: START_RUNS,
} : {}
if (!runs('command')) {
  console.log(JSON.stringify({ ...start, loadAverage: [loadBefore, load()] }))
  fs.rmSync(dir, { recursive: true, force: true })
  process.exit(0)
}
const port = await freePort()
const box = spawn(process.execPath, [BIN, 'start', '--port', String(port)], { env, stdio: 'ignore' })
try {
  const url = `http://127.0.0.1:${port}`
  while ((await statusOf(`${url}/api/v1/status`)) !== 401) await new Promise((resolve) => setTimeout(resolve, 20))
  timedRun(process.execPath, [BIN, 'sources', 'add', 'temperature', '--type', 'environment'], env)
  const token = spawnSync(process.execPath, [BIN, 'token', 'owner', '--expires', '1h'], { env, encoding: 'utf8' }).stdout.trim()
  const sources = `${url}/api/v1/sources`
  const fetchOnce = `const r = await fetch(${JSON.stringify(sources)}, { headers: { authorization: 'Bearer ' + process.env.TOKEN } }); if (!r.ok) process.exit(1); console.log(await r.text())`
  const hasCurl = spawnSync('curl', ['--version']).status === 0
  const command: number[] = []
  const curl: number[] = []
  const nodeFetch: number[] = []
  for (let i = 0; i <= COMMAND_RUNS; i++) {
    const ours = timedRun(process.execPath, [BIN, 'sources', 'list'], env)
    const viaCurl = hasCurl ? timedRun('curl', ['-sf', '-H', `authorization: Bearer ${token}`, sources]) : NaN
    const viaNode = timedRun(process.execPath, ['--input-type=module', '-e', fetchOnce], { ...process.env, TOKEN: token })
    if (i > 0) {
      command.push(ours)
      curl.push(viaCurl)
      nodeFetch.push(viaNode)
    }
  }
  console.log(JSON.stringify({
    commandMs: p50(command), commandMinMs: Math.min(...command), curlMs: hasCurl ? p50(curl) : null, nodeFetchMs: p50(nodeFetch), commandRuns: COMMAND_RUNS,
    ...start, loadAverage: [loadBefore, load()],
  }))
} finally {
  if (box.exitCode === null && box.signalCode === null) {
    box.kill('SIGTERM')
    await once(box, 'exit')
  }
  fs.rmSync(dir, { recursive: true, force: true })
}
