/**
 * Crash safety: a box is killed with SIGKILL in the middle of ingest, again and again.
 * After every restart each acknowledged record is there exactly once.
 *
 * Tamper evidence: the audit log is altered, deleted or rolled back while the box is stopped,
 * and verification says so.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import Database from 'better-sqlite3'
import { call, cli, newHome, startBox, startProcess, senml, tempDir, until } from './helpers.ts'
import { mintOwnerToken } from '../src/cli/client.ts'
import { openHome } from '../src/home/index.ts'
import { openCorestore } from '../src/store/index.ts'
import type { VerifyReport } from '../src/audit/index.ts'

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
    try {
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
      const before = acknowledged.size
      const writers = Array.from({ length: WRITERS }, writer)
      // Killed mid-ingest: once this round has had a write acknowledged (a loaded machine may take a while), then at a random moment.
      await until('a write acknowledged', () => acknowledged.size > before || undefined, 60_000)
      await sleep(Math.random() * 600)
      killed = true
      child.kill('SIGKILL')
      await Promise.all(writers)
      await new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve(null) : child.once('exit', resolve)))
    } finally {
      // A failed round must not leave its box running, or the test file never ends.
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    }
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
  await until('the import to store its first records', async () => {
    const job = await call(url, 'GET', `/api/v1/imports/${id}`, { token })
    return job.status === 200 && job.body.records > 0 ? true : undefined
  }, 60_000)
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

/** A box that answered a few requests, each audited, and was then stopped. */
async function audited(home = newHome()): Promise<string> {
  const r = await startBox(home)
  try {
    for (let i = 0; i < 6; i++) assert.equal((await r.api('GET', '/api/v1/sources')).status, 200)
  } finally {
    await r.close()
  }
  return home
}

/** Starts the box on the home, as after a tampering, and verifies its audit log. */
async function verifyAfterRestart(home: string): Promise<VerifyReport> {
  const r = await startBox(home)
  try {
    return await r.box.audit.verify()
  } finally {
    await r.close()
  }
}

interface TreeNode { index: number; size: number; hash: Buffer }

/** hypercore-storage's reads and writes of a core's blocks and tree nodes, as they lie in RocksDB. */
interface RawStorage {
  read(): { getBlock(index: number): Promise<Buffer | null>; getTreeNode(index: number): Promise<TreeNode | null>; tryFlush(): void }
  write(): { putBlock(index: number, data: Buffer): void; putTreeNode(node: TreeNode): void; flush(): Promise<unknown> }
}

/**
 * Rewrites one stored block, or one Merkle tree node, of the audit log with a byte flipped.
 * It goes through hypercore's own storage, so RocksDB checksums the new bytes as its own and
 * reads them back without complaint: only the log's signed Merkle tree can tell. (Flipping a
 * byte in RocksDB's files instead is caught by RocksDB's checksums, or lands in its manifest,
 * before the audit log's own check is ever reached.)
 */
async function flipStored(home: string, at: { block: number } | { treeNode: number }): Promise<void> {
  const { keys, paths } = openHome(home)
  const store = openCorestore(path.join(paths.audit, 'log'))
  const core = store.get({ keyPair: keys.auditLog.keyPair, encryption: { key: keys.auditLog.encryptionKey } })
  try {
    await core.ready()
    const storage = (core as unknown as { core: { storage: RawStorage } }).core.storage
    const read = storage.read()
    const stored = 'block' in at ? read.getBlock(at.block) : read.getTreeNode(at.treeNode)
    read.tryFlush()
    const found = await stored
    assert.ok(found, `the audit log holds ${JSON.stringify(at)}`)
    const write = storage.write()
    if (Buffer.isBuffer(found)) {
      const bytes = Buffer.from(found)
      bytes[bytes.length >> 1]! ^= 0x20
      write.putBlock((at as { block: number }).block, bytes)
    } else {
      const hash = Buffer.from(found.hash)
      hash[0]! ^= 0x20
      write.putTreeNode({ ...found, hash })
    }
    await write.flush()
  } finally {
    await core.close()
    await store.close()
  }
}

test('audit: a block or a tree node rewritten on disk is refused by the Merkle check itself', { timeout: 120_000 }, async () => {
  // Tree node 0 is the hash of block 0; it is no root of the tree, so the checkpoints' tree hash cannot see it.
  for (const at of [{ block: 3 }, { treeNode: 0 }]) {
    const home = await audited()
    await flipStored(home, at)
    const report = await verifyAfterRestart(home)
    assert.equal(report.ok, false, JSON.stringify(at))
    assert.equal(report.problems.length, 1, report.problems.join(' | '))
    assert.match(report.problems[0]!, /^Entry \d+ does not match the signed Merkle tree \(INVALID_CHECKSUM\): the log's storage has been altered\.$/)
  }
})

test('audit: deleting the whole audit folder while the box is stopped is reported, and stays reported', { timeout: 120_000 }, async () => {
  const home = await audited()
  fs.rmSync(path.join(home, 'audit'), { recursive: true })
  const verified = await cli(['--home', home, 'audit', 'verify'])
  assert.equal(verified.code, 3, verified.stdout + verified.stderr)
  assert.match(verified.stdout, /AUDIT LOG DAMAGED/)
  assert.match(verified.stdout, /The log is empty, but the checkpoint anchored in box\.db was made when it held \d+ entries: the log has been deleted or replaced\./)

  // What was found is kept in box.db as well: deleting the folder again, evidence and all, does not clear it.
  fs.rmSync(path.join(home, 'audit'), { recursive: true })
  const report = await verifyAfterRestart(home)
  assert.equal(report.ok, false)
  assert.match(report.problems.join(' '), /the log has been deleted or replaced/)
})

test('audit: a log rolled back to an earlier copy of itself is reported', { timeout: 120_000 }, async () => {
  const home = await audited()
  const audit = path.join(home, 'audit')
  const earlier = path.join(tempDir(), 'audit')
  fs.cpSync(audit, earlier, { recursive: true })
  await audited(home)
  // The earlier copy goes back whole, with the checkpoint it had then, but for the storage
  // engine's device file, which refuses a folder copied from elsewhere: a new one is made.
  fs.rmSync(audit, { recursive: true })
  fs.cpSync(earlier, audit, { recursive: true, filter: (from) => path.basename(from) !== 'CORESTORE' })
  const report = await verifyAfterRestart(home)
  assert.equal(report.ok, false)
  assert.match(report.problems.join(' '), /The log holds \d+ entries but the checkpoint anchored in box\.db was made at \d+: entries are missing \(the log was truncated or rolled back\)\./)
})

test('audit: a box.db restored from before the latest entries still verifies; an anchor edited in box.db does not', { timeout: 120_000 }, async () => {
  const home = await audited()
  const file = path.join(home, 'box.db')
  const backup = path.join(tempDir(), 'box.db')
  fs.copyFileSync(file, backup)
  await audited(home)
  fs.copyFileSync(backup, file)
  for (const journal of ['-wal', '-shm']) fs.rmSync(file + journal, { force: true })
  const restored = await verifyAfterRestart(home)
  assert.deepEqual(restored.problems, [])
  assert.equal(restored.ok, true)

  const db = new Database(file)
  db.prepare('UPDATE audit_anchor SET length = length - 1').run()
  db.close()
  const edited = await verifyAfterRestart(home)
  assert.equal(edited.ok, false)
  assert.match(edited.problems.join(' '), /The signature on the checkpoint anchored in box\.db does not match the box identity\./)
})
