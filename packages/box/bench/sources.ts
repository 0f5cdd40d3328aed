/**
 * What sources cost to hold: writes BENCH_SOURCES sources (default 1,000) of BENCH_SOURCE_POINTS
 * points (10,000) into a box and closes it, then starts that box with `coffer start`, as a user
 * does, and reads from the kernel how long it took to listen, its resident set and open files when
 * idle, and its resident set after one query to every source (an exact median over all of that
 * source's points, so each query reads its whole view).
 *
 * The baseline, in the same run, is the same measures for a box of 10 such sources. It carries
 * everything but the sources (Node, the box's modules, the audit log, the corestore), so the
 * difference is what the other 990 cost — the figure the store's design is about. Raw better-sqlite3
 * opening the 1,000 view files would only measure holding every view open, which the store no
 * longer does.
 *
 * Prints one JSON line; run alone, after `npm run build`, with `node --import tsx packages/box/bench/sources.ts`.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { once } from 'node:events'
import { spawn, spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

// The built box, as `coffer start` runs it.
const built = (file: string) => new URL(`../dist/${file}`, import.meta.url).href
const { createBox, initHome } = await import(built('index.js')) as typeof import('../src/index.ts')

const SOURCES = Number(process.env.BENCH_SOURCES ?? 1000)
const POINTS = Number(process.env.BENCH_SOURCE_POINTS ?? 10_000)
const BASELINE_SOURCES = 10
const T0 = 1_735_689_600 // 2025-01-01T00:00:00Z
const STEP = 60
const PASSPHRASE = 'benchmark passphrase'
const bin = fileURLToPath(new URL('../bin/coffer.js', import.meta.url))
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-bench-sources-'))

/** A home holding `count` sources of POINTS points each, written a few sources at a time, as drivers do. */
async function writeHome(count: number): Promise<string> {
  const home = path.join(dir, `home-${count}`)
  initHome(home, { passphrase: PASSPHRASE, timeZone: 'UTC' })
  const box = createBox({ home, logLevel: 'silent' })
  await box.open()
  const started = performance.now()
  const write = async (s: number) => {
    const id = `sensor-${String(s).padStart(4, '0')}`
    await box.store.add({ id, logicalType: 'environment' })
    const source = box.store.get(id)
    const batches = []
    for (let first = 0; first < POINTS; first += 1000) {
      batches.push(source.appendRecords(Array.from({ length: Math.min(1000, POINTS - first) }, (_, i) => ({ n: 'temperature', u: 'Cel', t: T0 + (first + i) * STEP, v: 20 + Math.sin((s + first + i) / 300) * 3 }))))
    }
    await Promise.all(batches)
  }
  for (let s = 0; s < count; s += 8) {
    await Promise.all(Array.from({ length: Math.min(8, count - s) }, (_, k) => write(s + k)))
    if (s % 200 === 0) console.error(`  ${s.toLocaleString('en')} of ${count.toLocaleString('en')} sources written, ${((performance.now() - started) / 1000).toFixed(0)} s`)
  }
  await box.close()
  return home
}

interface Measures { sources: number; startMs: number; startCpuMs: number; idleRss: number; idleFiles: number; touchedRss: number; touchedFiles: number; peakRss: number; firstQueryMs: number; againQueryMs: number }

/** Starts the box on `home` in a process of its own, queries every source once, and reads the process's figures. */
async function measure(home: string, count: number): Promise<Measures> {
  const env = { ...process.env, COFFER_PASSPHRASE: PASSPHRASE, COFFER_LOG_LEVEL: 'warn' }
  const token = spawnSync(process.execPath, [bin, '--home', home, 'token', 'owner'], { env, encoding: 'utf8' }).stdout.trim()
  const started = performance.now()
  const box = spawn(process.execPath, [bin, '--home', home, 'start', '--port', '0'], { env, stdio: ['ignore', 'pipe', 'inherit'] })
  let banner = ''
  const url = await new Promise<string>((resolve, reject) => {
    box.stdout.on('data', (d) => {
      banner += d
      const m = /listening on (http:\/\/\S+)/.exec(banner)
      if (m) resolve(m[1]!)
    })
    box.on('exit', (code) => reject(new Error(`the box exited with ${code}`)))
  })
  const startMs = performance.now() - started
  // CPU time to listening, which the machine's other load does not stretch as it does the wall clock.
  const startCpuMs = cpuMs(box.pid!)
  await new Promise((resolve) => setTimeout(resolve, 2000))
  const idleRss = status(box.pid!, 'VmRSS')
  const idleFiles = openFiles(box.pid!)

  const headers = { authorization: `Bearer ${token}` }
  const list = await (await fetch(`${url}/api/v1/sources`, { headers })).json() as { id: string; points: number }[]
  if (list.length !== count || list.some((s) => s.points !== POINTS)) throw new Error(`the box lists ${list.length} sources, not ${count} of ${POINTS} points each`)
  const query = async (id: string) => {
    const t = performance.now()
    const res = await fetch(`${url}/api/v1/sources/${id}/aggregate?fn=exact_median&bucket=1w&from=${T0}&to=${T0 + POINTS * STEP}&tz=UTC`, { headers })
    if (!res.ok) throw new Error(`${res.status} ${await res.text()}`)
    await res.arrayBuffer()
    return performance.now() - t
  }
  const first: number[] = []
  for (const { id } of list) first.push(await query(id))
  const touchedRss = status(box.pid!, 'VmRSS')
  const touchedFiles = openFiles(box.pid!)
  // The same query again on the sources queried last, still open: what the first query's opening cost, by difference.
  const again: number[] = []
  for (const { id } of list.slice(-BASELINE_SOURCES)) again.push(await query(id))
  const peakRss = status(box.pid!, 'VmHWM')
  box.kill('SIGTERM')
  await once(box, 'exit')
  return { sources: list.length, startMs, startCpuMs, idleRss, idleFiles, touchedRss, touchedFiles, peakRss, firstQueryMs: p50(first), againQueryMs: p50(again) }
}

function p50(samples: number[]): number {
  const s = [...samples].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]!
}

/** A figure from a process's /proc status, in bytes. */
function status(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const line = fs.readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith(field))!
  return Number(/(\d+) kB/.exec(line)![1]) * 1024
}

/** A process's user and system CPU time so far, from /proc/<pid>/stat (in clock ticks of 10 ms). */
function cpuMs(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  return (Number(fields[11]) + Number(fields[12])) * 10
}

function openFiles(pid: number): number {
  return fs.readdirSync(`/proc/${pid}/fd`).length
}

console.error(`writing ${SOURCES.toLocaleString('en')} sources of ${POINTS.toLocaleString('en')} points, and ${BASELINE_SOURCES} for the baseline`)
const many = await writeHome(SOURCES)
const few = await writeHome(BASELINE_SOURCES)
console.error('starting each box and querying every source')
const ours = await measure(many, SOURCES)
const baseline = await measure(few, BASELINE_SOURCES)
fs.rmSync(dir, { recursive: true, force: true })
console.log(JSON.stringify({ points: POINTS, ours, baseline }))
