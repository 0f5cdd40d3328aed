/**
 * Crash safety: a box is killed with SIGKILL in the middle of ingest, again and again.
 * After every restart each acknowledged record is there exactly once.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import crypto from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { call, newHome, startProcess, senml } from './helpers.ts'
import { mintOwnerToken } from '../src/cli/client.ts'
import { openHome } from '../src/home/index.ts'

const ROUNDS = 6
const WRITERS = 4
const BATCH = 200
const T0 = 1_767_225_600

test('SIGKILL mid-ingest loses no acknowledged record and doubles none', { timeout: 180_000 }, async () => {
  const home = newHome()
  const token = mintOwnerToken(openHome(home), 3600).token
  const acknowledged = new Set<number>()
  let next = 0
  for (let round = 0; round < ROUNDS; round++) {
    const { child, url } = await startProcess(home)
    if (round === 0) assert.equal((await call(url, 'POST', '/api/v1/sources', { token, body: { id: 'crash' } })).status, 201)
    else await verify(url, token, acknowledged)
    let killed = false
    const writer = async () => {
      while (!killed) {
        const first = next
        next += BATCH
        const pack = Array.from({ length: BATCH }, (_, i) => ({ n: 'seq', t: T0 + first + i, v: first + i }))
        try {
          const res = await call(url, 'POST', '/api/v1/sources/crash/records', { token, raw: senml(pack) })
          if (res.status === 201) for (let i = 0; i < BATCH; i++) acknowledged.add(first + i)
        } catch {
          return // the connection died with the box
        }
      }
    }
    const writers = Array.from({ length: WRITERS }, writer)
    await sleep(150 + Math.random() * 600)
    killed = true
    child.kill('SIGKILL')
    await Promise.all(writers)
    await new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve(null) : child.once('exit', resolve)))
  }
  const { child, url } = await startProcess(home)
  try {
    await verify(url, token, acknowledged)
  } finally {
    child.kill('SIGTERM')
  }
})

async function verify(url: string, token: string, acknowledged: Set<number>): Promise<void> {
  const seen = new Map<number, number>()
  let from = T0
  for (;;) {
    const res = await call(url, 'GET', `/api/v1/sources/crash/records?from=${from}&limit=100000`, { token })
    const records = res.body as { t: number; v: number }[]
    for (const r of records) seen.set(r.v, (seen.get(r.v) ?? 0) + 1)
    if (records.length < 100000) break
    from = records.at(-1)!.t + 1
  }
  const doubled = [...seen].filter(([, n]) => n > 1)
  assert.deepEqual(doubled, [], 'no record is stored twice')
  const missing = [...acknowledged].filter((v) => !seen.has(v))
  assert.deepEqual(missing.slice(0, 10), [], `${missing.length} acknowledged records are missing`)
  assert.ok(acknowledged.size > 0)
}

test('a box killed mid-import keeps nothing of that import after restart', { timeout: 120_000 }, async () => {
  const home = newHome()
  const token = mintOwnerToken(openHome(home), 3600).token
  const points = Array.from({ length: 150_000 }, (_, i) => `<trkpt lat="52.5" lon="13.4"><ele>${i % 100}</ele><time>${new Date(Date.UTC(2025, 0, 1) + i * 1000).toISOString()}</time></trkpt>`)
  const gpx = `<?xml version="1.0"?>\n<gpx version="1.1" creator="t"><trk><trkseg>\n${points.join('\n')}\n</trkseg></trk></gpx>\n`
  let { child, url } = await startProcess(home)
  const id = crypto.randomUUID()
  const upload = fetch(`${url}/api/v1/imports?id=${id}&source=big`, { method: 'POST', body: gpx, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' } }).catch(() => undefined)
  for (;;) {
    const job = await call(url, 'GET', `/api/v1/imports/${id}`, { token })
    if (job.status === 200 && job.body.records > 0) break
    await sleep(20)
  }
  child.kill('SIGKILL')
  await upload
  await new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve(null) : child.once('exit', resolve)))
  ;({ child, url } = await startProcess(home))
  try {
    const source = await call(url, 'GET', '/api/v1/sources/big', { token })
    assert.equal(source.body.points, 0)
    const again = await call(url, 'POST', '/api/v1/imports?source=big', { token, raw: gpx, type: 'application/octet-stream' })
    assert.equal(again.body.state, 'done', 'the same file imports in full afterwards')
    assert.equal(again.body.records, 450_000)
  } finally {
    child.kill('SIGTERM')
  }
})
