/**
 * Apple Health import at scale, measured on the process a user runs: generates an export.xml of
 * BENCH_HEALTH_MB megabytes (default 1024), starts the box with `coffer start`, uploads the file
 * from another process as `coffer import` would, and reads the box process's peak resident set
 * (VmHWM) from the kernel. Prints one JSON line with the figures.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { once } from 'node:events'
import { spawn, spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const TARGET = Number(process.env.BENCH_HEALTH_MB ?? 1024) * 1024 * 1024
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
console.log(JSON.stringify({ status: Number(code), state: job.state, bytes: size, sourceRecords: records, records: job.records, seconds, idleRss, peakRss }))

/** A figure from the box process's /proc status, in bytes. */
function status(field: 'VmRSS' | 'VmHWM'): number {
  const line = fs.readFileSync(`/proc/${box.pid}/status`, 'utf8').split('\n').find((l) => l.startsWith(field))!
  return Number(/(\d+) kB/.exec(line)![1]) * 1024
}
