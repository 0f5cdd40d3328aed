/**
 * Apple Health import at scale, in a process of its own so its peak RSS is its own: generates an
 * export.xml of BENCH_HEALTH_MB megabytes (default 1024), imports it through the HTTP upload,
 * and prints one JSON line with the figures.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { once } from 'node:events'
import { spawn } from 'node:child_process'
import { createBox, initHome } from '../src/index.ts'

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

initHome(path.join(dir, 'home'), { passphrase: 'benchmark passphrase' })
const box = createBox({ home: path.join(dir, 'home'), port: 0, logLevel: 'silent' })
await box.open()
const url = await box.listen()
let peak = process.memoryUsage().rss
let at = {}
const sampler = setInterval(() => { const m = process.memoryUsage(); if (m.rss > peak) { peak = m.rss; at = { heap: m.heapUsed >> 20, ext: m.external >> 20, ab: m.arrayBuffers >> 20, t: Math.round(performance.now() - start) } } }, 100)
const start = performance.now()
// The upload comes from another process, as from the CLI on the same machine.
const curl = spawn('curl', ['-sS', '-X', 'POST', '-T', file, '-H', `authorization: Bearer ${box.arbiter.ownerToken(3600).token}`, '-H', 'content-type: application/xml', '-w', '\\n%{http_code}', `${url}/api/v1/imports?name=export.xml`])
let reply = ''
curl.stdout.on('data', (d) => (reply += d))
await once(curl, 'exit')
const [body, code] = reply.trim().split('\n')
const res = { status: Number(code) }
const job = JSON.parse(body!) as { records: number; state: string }
const seconds = (performance.now() - start) / 1000
clearInterval(sampler)
await box.close()
fs.rmSync(dir, { recursive: true, force: true })
console.log(JSON.stringify({ status: res.status, state: job.state, bytes: size, sourceRecords: records, records: job.records, seconds, peakRss: peak, at }))
