/** The monthly statement end to end: a real box, real requests, then the statement over HTTP and from the CLI. */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { spawn } from 'node:child_process'
import { startBox, call, senml, tempDir, BIN, type Running } from './helpers.ts'
import { monthOf } from '../src/statement/index.ts'

let r: Running
let month: string
const ZONE = 'UTC'

before(async () => {
  r = await startBox()
  await r.api('POST', '/api/v1/sources', { body: { id: 'steps', logicalType: 'activity' } })
  await r.api('POST', '/api/v1/sources', { body: { id: 'heart-rate', logicalType: 'health' } })
  const now = Math.floor(Date.now() / 1000)
  const ingest = await r.api('POST', '/api/v1/sources/steps/records', { raw: senml([{ bn: 'steps', bt: now - 120, v: 100 }, { t: 60, v: 120 }, { t: 120, v: 90 }]) })
  assert.equal(ingest.status, 201)

  const app = await r.api('POST', '/api/v1/tokens', { body: { subject: 'app', name: 'fitness', sources: ['steps'], ops: ['read'] } })
  assert.equal(app.status, 201)
  const read = await r.api('GET', '/api/v1/sources/steps/records?from=0', { token: app.body.token })
  assert.equal(read.status, 200)
  assert.equal(read.body.length, 3)
  assert.equal((await r.api('GET', '/api/v1/sources/heart-rate/records?from=0', { token: app.body.token })).status, 403)
  assert.equal((await r.api('GET', '/api/v1/statement', { token: app.body.token })).status, 403)

  const watch = await r.api('POST', '/api/v1/tokens', { body: { subject: 'device', name: 'watch', sources: ['heart-rate'], ops: ['write'] } })
  assert.equal((await r.api('POST', '/api/v1/sources/heart-rate/records', { raw: senml([{ n: 'hr', v: 61 }, { n: 'hr', v: 64 }]), token: watch.body.token })).status, 201)
  assert.equal((await r.api('GET', '/api/v1/sources', { token: null })).status, 401)
  month = monthOf(Math.floor(Date.now() / 1000), ZONE)
})
after(() => r.close())

test('GET /statement as JSON adds up who did what this month, and says the log verified', async () => {
  const res = await r.api('GET', `/api/v1/statement?month=${month}&tz=${ZONE}&format=json`)
  assert.equal(res.status, 200)
  assert.match(res.headers.get('content-type')!, /^application\/json/)
  const s = res.body
  assert.equal(s.month, month)
  assert.equal(s.timeZone, ZONE)
  assert.deepEqual(s.audit.problems, [])
  assert.equal(s.audit.ok, true)
  assert.deepEqual(s.subjects.map((x: any) => x.subject), ['app:fitness', 'device:watch', 'owner', 'anonymous'])
  const [fitness, watch, owner, anonymous] = s.subjects
  assert.deepEqual(fitness.reads.map((x: any) => [x.source, x.requests, x.records, x.finestGranularity, x.denials]), [
    ['heart-rate', 0, 0, null, 1],
    ['steps', 1, 3, 0, 0],
  ])
  assert.equal(fitness.admin.denials, 1)
  assert.deepEqual(watch.writes.map((x: any) => [x.source, x.records]), [['heart-rate', 2]])
  assert.deepEqual(owner.writes.map((x: any) => [x.source, x.records]), [['steps', 3]])
  assert.ok(owner.admin.requests >= 4)
  assert.equal(anonymous.totals.denials, 1)
  assert.equal(s.totals.recordsRead, 3)
})

test('GET /statement as HTML and PDF, with their content types; a bad month is a 400 naming the form', async () => {
  const html = await r.api('GET', `/api/v1/statement?month=${month}&tz=${ZONE}`)
  assert.equal(html.status, 200)
  assert.equal(html.headers.get('content-type'), 'text/html; charset=utf-8')
  assert.match(html.body, /<html lang="en">/)
  assert.match(html.body, /App fitness read 3 records from steps, at raw detail \(every single point\), in 1 request\./)
  assert.match(html.body, /App fitness was refused 1 time reading heart-rate\./)
  assert.match(html.body, /Device watch wrote 2 records/)
  assert.match(html.body, /The audit log verified/)

  const pdf = await fetch(`${r.url}/api/v1/statement?month=${month}&tz=${ZONE}&format=pdf`, { headers: { authorization: `Bearer ${r.token}` } })
  assert.equal(pdf.status, 200)
  assert.equal(pdf.headers.get('content-type'), 'application/pdf')
  assert.equal(pdf.headers.get('content-disposition'), `attachment; filename="coffer-statement-${month}.pdf"`)
  assert.equal(Buffer.from(await pdf.arrayBuffer()).subarray(0, 5).toString('latin1'), '%PDF-')

  const bad = await r.api('GET', '/api/v1/statement?month=2026-13')
  assert.equal(bad.status, 400)
  assert.match(bad.headers.get('content-type')!, /application\/problem\+json/)
  assert.match(bad.body.detail, /YYYY-MM/)
  assert.equal(bad.body.field, 'month')
  assert.equal((await call(r.url, 'GET', '/api/v1/statement?format=xml', { token: r.token })).status, 400)
})

/** The CLI in its own process, in a folder of its own so its default file name can be checked. */
function coffer(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, '--home', r.box.home.dir, ...args], { cwd, env: { ...process.env, COFFER_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }))
  })
}

test('coffer statement writes HTML to coffer-statement-YYYY-MM.html here, and PDF or JSON on request', { timeout: 300_000 }, async () => {
  const dir = tempDir()
  const html = await coffer(['statement', '--month', month, '--tz', ZONE], dir)
  assert.equal(html.code, 0, html.stderr)
  const file = path.join(fs.realpathSync(dir), `coffer-statement-${month}.html`)
  assert.match(html.stdout, new RegExp(`Wrote the statement for ${month} to ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`))
  assert.match(fs.readFileSync(file, 'utf8'), /App fitness read 3 records from steps/)

  const pdf = await coffer(['statement', '--month', month, '--tz', ZONE, '--format', 'pdf', '--out', 'march.pdf'], dir)
  assert.equal(pdf.code, 0, pdf.stderr)
  assert.equal(fs.readFileSync(path.join(dir, 'march.pdf')).subarray(0, 5).toString('latin1'), '%PDF-')

  const json = await coffer(['statement', '--tz', ZONE, '--format', 'json', '--out', '-'], dir)
  assert.equal(json.code, 0, json.stderr)
  const statement = JSON.parse(json.stdout)
  assert.equal(statement.month, month, 'without --month, the current month')
  assert.equal(statement.audit.ok, true)

  const bad = await coffer(['statement', '--month', 'nov'], dir)
  assert.equal(bad.code, 1)
  assert.match(bad.stderr, /YYYY-MM, e\.g\. 2026-11/)
})
