/**
 * Apple Health import at scale, measured on the process a user runs: generates an export.xml of
 * BENCH_HEALTH_MB megabytes (default 1024), starts the box with `coffer start`, uploads the file
 * from another process as `coffer import` would, and reads the box process's peak resident set
 * (VmHWM) from the kernel. Prints one JSON line with the figures.
 *
 * The target is part of the bench, not of whoever reads its output: when the box's peak RSS is
 * over PEAK_RSS_LIMIT (256 MiB, issue "Performance without cliffs"), or the import did not
 * finish with every record, it says so on stderr and exits 1, so a regression cannot be
 * recorded as met. The JSON line is printed either way, with `met` false.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { once } from 'node:events'
import { spawn, spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const TARGET = Number(process.env.BENCH_HEALTH_MB ?? 1024) * 1024 * 1024
/** The most the box process may hold resident at its peak during the import, whatever the file's size. */
const PEAK_RSS_LIMIT = 256 * 1024 * 1024
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-bench-health-'))
const file = path.join(dir, 'export.xml')

const TYPES = [
  ['HKQuantityTypeIdentifierStepCount', 'count', 'iPhone'],
  ['HKQuantityTypeIdentifierHeartRate', 'count/min', 'Apple Watch'],
  ['HKQuantityTypeIdentifierActiveEnergyBurned', 'kcal', 'Apple Watch'],
  ['HKQuantityTypeIdentifierDistanceWalkingRunning', 'km', 'iPhone'],
] as const

function date(t: number): string {
  return new Date(t * 1000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' +0000')
}

const out = fs.createWriteStream(file)
out.write('<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE HealthData [\n<!ELEMENT HealthData (ExportDate,Me,(Record|Workout)*)>\n]>\n<HealthData locale="en_US">\n')
let written = 0
let records = 0
for (let t = 1_577_836_800; written < TARGET; t += 30) {
  const [type, unit, source] = TYPES[records % TYPES.length]!
  const line = ` <Record type="${type}" sourceName="Alice’s ${source}" sourceVersion="17.2" unit="${unit}" creationDate="${date(t + 60)}" startDate="${date(t)}" endDate="${date(t + 30)}" value="${(records % 97) + 1}"/>\n`
  written += line.length
  records++
  if (!out.write(line)) await once(out, 'drain')
}
out.end('</HealthData>\n')
await once(out, 'finish')
const size = fs.statSync(file).size

const home = path.join(dir, 'home')
const bin = fileURLToPath(new URL('../bin/coffer.js', import.meta.url))
const env = { ...process.env, COFFER_PASSPHRASE: 'benchmark passphrase', COFFER_LOG_LEVEL: 'warn' }
spawnSync(process.execPath, [bin, '--home', home, 'init'], { env, stdio: 'ignore' })
const box = spawn(process.execPath, [bin, '--home', home, 'start', '--port', '0'], { env, stdio: ['ignore', 'pipe', 'inherit'] })
let banner = ''
const url = await new Promise<string>((resolve) => box.stdout.on('data', (d) => {
  banner += d
  const m = /listening on (http:\/\/\S+)/.exec(banner)
  if (m) resolve(m[1]!)
}))
const token = spawnSync(process.execPath, [bin, '--home', home, 'token', 'owner'], { env, encoding: 'utf8' }).stdout.trim()
const idleRss = status('VmRSS')
const start = performance.now()
const curl = spawn('curl', ['-sS', '-X', 'POST', '-T', file, '-H', `authorization: Bearer ${token}`, '-H', 'content-type: application/xml', '-w', '\\n%{http_code}', `${url}/api/v1/imports?name=export.xml`])
let reply = ''
curl.stdout.on('data', (d) => (reply += d))
await once(curl, 'exit')
const seconds = (performance.now() - start) / 1000
const peakRss = status('VmHWM')
const [body, code] = reply.trim().split('\n')
const job = JSON.parse(body!) as { records: number; state: string }
box.kill('SIGTERM')
await once(box, 'exit')
fs.rmSync(dir, { recursive: true, force: true })
const MiB = 1024 * 1024
const failures: string[] = []
if (Number(code) !== 200 || job.state !== 'done') failures.push(`the import did not succeed: HTTP ${code}, state "${job.state}"`)
else if (job.records !== records) failures.push(`the import wrote ${job.records} records of the ${records} in the file`)
if (peakRss > PEAK_RSS_LIMIT) failures.push(`the box's peak RSS (VmHWM) was ${(peakRss / MiB).toFixed(1)} MiB, over the limit of ${PEAK_RSS_LIMIT / MiB} MiB`)
console.log(JSON.stringify({
  status: Number(code), state: job.state, bytes: size, sourceRecords: records, records: job.records, seconds, idleRss, peakRss,
  mibPerSecond: size / MiB / seconds, recordsPerSecond: job.records / seconds, peakRssLimit: PEAK_RSS_LIMIT, met: failures.length === 0,
}))
if (failures.length > 0) {
  console.error(`Apple Health bench FAILED: ${failures.join('; ')}.`)
  process.exit(1)
}
console.error(`Apple Health bench met: peak RSS ${(peakRss / MiB).toFixed(1)} MiB ≤ ${PEAK_RSS_LIMIT / MiB} MiB, ${(size / MiB / seconds).toFixed(1)} MiB/s, ${Math.round(job.records / seconds).toLocaleString('en')} records/s.`)

/** A figure from the box process's /proc status, in bytes. */
function status(field: 'VmRSS' | 'VmHWM'): number {
  const line = fs.readFileSync(`/proc/${box.pid}/status`, 'utf8').split('\n').find((l) => l.startsWith(field))!
  return Number(/(\d+) kB/.exec(line)![1]) * 1024
}
