/**
 * The audit log on its own: entries committed together share a block, and still read back one by
 * one, in order, with their positions; logs written one bare entry per block (before blocks had a
 * `first`) read on and still verify; an altered block is named by its first entry.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type Database from 'better-sqlite3'
import { openMetaDb } from '../db/index.ts'
import { initHome, type Home } from '../home/index.ts'
import { sign } from '../keys/index.ts'
import { openCorestore } from '../store/index.ts'
import { AuditLog, auditEntry, type AuditEntry } from './index.ts'
import type { Decision } from '../operations/index.ts'

interface Opened { home: Home; db: Database.Database; dir: string }

function newHome(): Opened {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-audit-'))
  const { home } = initHome(path.join(dir, 'home'), { passphrase: 'correct horse battery staple' })
  return { home, db: openMetaDb(home.paths.meta), dir }
}

async function opened({ home, db }: Opened): Promise<AuditLog> {
  const log = new AuditLog(home.paths.audit, home.keys, db)
  await log.open()
  return log
}

const read = (n: number, time = 1_800_000_000 + n): AuditEntry => auditEntry({ time, subject: 'owner', operation: 'read', action: `GET /api/v1/sources/:source/latest #${n}`, outcome: 'allow', status: 200, source: 'http' })

/** The audit core's blocks as stored, through hypercore (decrypted), as a replica would be sent them. */
async function withCore<T>({ home }: Opened, use: (core: { length: number; append(blocks: Buffer[]): Promise<unknown>; get(i: number): Promise<Buffer>; treeHash(length: number): Promise<Buffer> }, raw: RawStorage) => Promise<T>): Promise<T> {
  const store = openCorestore(path.join(home.paths.audit, 'log'))
  const core = store.get({ keyPair: home.keys.auditLog.keyPair, encryption: { key: home.keys.auditLog.encryptionKey } })
  try {
    await core.ready()
    return await use(core as never, (core as unknown as { core: { storage: RawStorage } }).core.storage)
  } finally {
    await core.close()
    await store.close()
  }
}

/** hypercore-storage's reads and writes of a core's blocks, as they lie in RocksDB. */
interface RawStorage {
  read(): { getBlock(index: number): Promise<Buffer | null>; tryFlush(): void }
  write(): { putBlock(index: number, data: Buffer): void; flush(): Promise<unknown> }
}

test('entries committed together share one block, and read back one by one, in order, with their positions', async () => {
  const at = newHome()
  let log = await opened(at)
  try {
    // One at a time, as a quiet box writes them: a block each.
    for (let n = 0; n < 3; n++) await log.record(read(n))
    // Many at once, as a busy one does: fewer blocks than entries.
    await Promise.all(Array.from({ length: 200 }, (_, n) => log.record(read(3 + n))))
    assert.equal(log.length, 203)
    await log.close()
    assert.ok(await withCore(at, async (core) => core.length) < 20, 'the busy commit is packed')

    log = await opened(at)
    assert.equal(log.length, 203)
    const newest = await log.list({ limit: 203 })
    assert.deepEqual(newest.map((e) => e.seq), Array.from({ length: 203 }, (_, i) => 202 - i))
    assert.deepEqual(newest.map((e) => e.action), Array.from({ length: 203 }, (_, i) => `GET /api/v1/sources/:source/latest #${202 - i}`))
    const some: number[] = []
    for await (const e of log.between(1_800_000_000 + 100, 1_800_000_000 + 110)) some.push(e.seq)
    assert.deepEqual(some, [100, 101, 102, 103, 104, 105, 106, 107, 108, 109])
    assert.deepEqual(await log.verify(), { ok: true, length: 203, checkpointLength: 203, problems: [] })
  } finally {
    await log.close()
    at.db.close()
    fs.rmSync(at.dir, { recursive: true, force: true })
  }
})

test('a box.db restored from before the latest packed commits still verifies: the log extends its anchor', async () => {
  const at = newHome()
  let log = await opened(at)
  try {
    await Promise.all(Array.from({ length: 50 }, (_, n) => log.record(read(n))))
    await log.close()
    const anchor = at.db.prepare('SELECT * FROM audit_anchor').get() as Record<string, unknown>
    log = await opened(at)
    await Promise.all(Array.from({ length: 50 }, (_, n) => log.record(read(50 + n))))
    await log.close()
    at.db.prepare('INSERT OR REPLACE INTO audit_anchor (id, length, tree_hash, signature) VALUES (@id, @length, @tree_hash, @signature)').run(anchor)
    log = await opened(at)
    assert.deepEqual(await log.verify(), { ok: true, length: 100, checkpointLength: 100, problems: [] })
  } finally {
    await log.close()
    at.db.close()
    fs.rmSync(at.dir, { recursive: true, force: true })
  }
})

test('a log written one bare entry per block, with the checkpoint of the time, reads on and verifies', async () => {
  const at = newHome()
  // As the box wrote it before blocks had a `first`: a bare entry a block, a checkpoint counting blocks.
  await withCore(at, async (core) => {
    await core.append(Array.from({ length: 5 }, (_, n) => Buffer.from(JSON.stringify(read(n)))))
    const treeHash = await core.treeHash(5)
    const signature = sign(Buffer.concat([Buffer.from('coffer-audit-checkpoint:5:'), treeHash]), at.home.keys.identity).toString('hex')
    fs.writeFileSync(path.join(at.home.paths.audit, 'checkpoint.json'), JSON.stringify({ length: 5, treeHash: treeHash.toString('hex'), signature }))
    at.db.prepare('INSERT INTO audit_anchor (id, length, tree_hash, signature) VALUES (1, 5, ?, ?)').run(treeHash.toString('hex'), signature)
  })
  let log = await opened(at)
  try {
    assert.equal(log.length, 5)
    await Promise.all(Array.from({ length: 20 }, (_, n) => log.record(read(5 + n))))
    await log.close()
    log = await opened(at)
    assert.deepEqual((await log.list({ limit: 25 })).map((e) => e.seq), Array.from({ length: 25 }, (_, i) => 24 - i))
    assert.deepEqual(await log.verify(), { ok: true, length: 25, checkpointLength: 25, problems: [] })
  } finally {
    await log.close()
    at.db.close()
    fs.rmSync(at.dir, { recursive: true, force: true })
  }
})

test('a packed block altered on disk is refused by the Merkle check, and named by its first entry', async () => {
  const at = newHome()
  let log = await opened(at)
  try {
    for (let n = 0; n < 3; n++) await log.record(read(n))
    await Promise.all(Array.from({ length: 40 }, (_, n) => log.record(read(3 + n))))
    await log.record(read(43))
    await log.close()
    // Block 3 holds the busy commit, from entry 3 on; rewritten through hypercore's own storage, only the tree can tell.
    await withCore(at, async (_core, storage) => {
      const reading = storage.read()
      const stored = reading.getBlock(3)
      reading.tryFlush()
      const bytes = Buffer.from((await stored)!)
      bytes[bytes.length >> 1]! ^= 0x20
      const writing = storage.write()
      writing.putBlock(3, bytes)
      await writing.flush()
    })
    log = await opened(at)
    const report = await log.verify()
    assert.equal(report.ok, false)
    assert.deepEqual(report.problems, ["Entry 3 does not match the signed Merkle tree (INVALID_CHECKSUM): the log's storage has been altered."])
  } finally {
    await log.close()
    at.db.close()
    fs.rmSync(at.dir, { recursive: true, force: true })
  }
})

test('decisions filed and queued read back as the entries they describe, in the order filed', async () => {
  const at = newHome()
  const log = await opened(at)
  const owner = { subject: 'owner', grant: { id: 'owner', epoch: 3 }, sources: '*' as const, ops: ['read' as const], windows: [], granularity: 0 }
  const decisions: Decision[] = [
    { kind: 'read', action: 'GET /api/v1/sources/:source/latest', scope: owner, source: 'temp', records: 1, bytes: 53, granularity: 0, status: 200 },
    { kind: 'read', action: 'GET /api/v1/sources/:source/aggregate', scope: { ...owner, subject: 'app:daily', grant: { id: 'app-daily-1f', epoch: 1 } }, source: 'steps', records: 365, bytes: 9001, granularity: 86400, status: 200 },
    { kind: 'read', action: 'GET /api/v1/sources/:source/records', holder: { subject: 'device:phone', grant: 'phone-2' }, source: 'walk', records: 0, bytes: 0, status: 401, reason: 'The token has been revoked.' },
    { kind: 'login', action: 'POST /api/v1/login', subject: 'owner', source: null, records: 0, bytes: 0, status: 403, reason: 'A "quoted" reason\nover two lines, with ünïcödé and a \\ backslash \u2028' },
    { kind: 'write', action: 'POST /api/v1/sources/:source/records', source: 'tëmp "x"', records: 0, bytes: 0, status: 400, reason: 'input: bad' },
    { kind: 'observe', action: 'GET /api/v1/sources/:source/live', source: null, records: 0, bytes: 0, status: 500, reason: 'internal error' },
  ]
  const expected = (d: Decision) => ({
    subject: d.scope?.subject ?? d.holder?.subject ?? d.subject ?? 'anonymous',
    grant: d.scope?.grant.id ?? d.holder?.grant ?? null,
    source: d.source, operation: d.kind, action: d.action, records: d.records, bytes: d.bytes,
    outcome: d.status === 401 || d.status === 403 ? 'deny' : 'allow', status: d.status,
    ...(d.reason ? { reason: d.reason } : {}), ...(d.granularity !== undefined ? { granularity: d.granularity } : {}),
  })
  try {
    const before = Date.now() / 1000
    const failures: unknown[] = []
    for (const [i, d] of decisions.entries()) {
      if (i % 2 === 0) log.queue(d, (err) => failures.push(err))
      else await log.file(d)
    }
    await log.flush()
    const entries = (await log.list({ limit: 10 })).reverse()
    assert.deepEqual(entries.map(({ time: _time, seq: _seq, ...rest }) => rest), decisions.map(expected))
    assert.deepEqual(entries.map((e) => e.seq), [0, 1, 2, 3, 4, 5])
    assert.ok(entries.every((e) => e.time >= before && e.time <= Date.now() / 1000), 'timed when filed')
    assert.deepEqual(failures, [])
    assert.equal((await log.verify()).ok, true)
  } finally {
    await log.close()
    at.db.close()
    fs.rmSync(at.dir, { recursive: true, force: true })
  }
})

test('a backlog of more entries than a block holds goes in one commit, a thousand entries to a block', async () => {
  const at = newHome()
  let log = await opened(at)
  try {
    const decision = (n: number): Decision => ({ kind: 'read', action: `GET #${n}`, subject: 'owner', source: 'temp', records: n, bytes: 0, status: 200 })
    for (let n = 0; n < 2500; n++) log.queue(decision(n), (err) => assert.fail(err as Error))
    await log.flush()
    await log.close()
    assert.equal(await withCore(at, async (core) => core.length), 3)
    log = await opened(at)
    const entries = (await log.list({ limit: 3000 })).reverse()
    assert.deepEqual(entries.map((e) => [e.seq, e.records]), Array.from({ length: 2500 }, (_, n) => [n, n]))
    assert.equal((await log.verify()).ok, true)
  } finally {
    await log.close()
    at.db.close()
    fs.rmSync(at.dir, { recursive: true, force: true })
  }
})

test('blocks of objects, as written before strings were shared, read on beside rows; exports keep their extra fields', async () => {
  const at = newHome()
  // Two bare entries, then a block of two entry objects with its `first`, as earlier boxes wrote them.
  await withCore(at, async (core) => {
    await core.append([Buffer.from(JSON.stringify(read(0))), Buffer.from(JSON.stringify(read(1)))])
    await core.append([Buffer.from(JSON.stringify({ first: 2, entries: [read(2), { ...read(3), reason: 'kept', granularity: 3600 }] }))])
    const treeHash = await core.treeHash(3)
    const signature = sign(Buffer.concat([Buffer.from('coffer-audit-checkpoint:4:'), treeHash]), at.home.keys.identity).toString('hex')
    fs.writeFileSync(path.join(at.home.paths.audit, 'checkpoint.json'), JSON.stringify({ length: 4, blocks: 3, treeHash: treeHash.toString('hex'), signature }))
  })
  let log = await opened(at)
  const exported = auditEntry({
    subject: 'app:places', grant: 'app-places-1', operation: 'export', action: 'EXPORT https://example.org/in', outcome: 'deny', status: 502,
    reason: '', destination: 'https://example.org/in', sha256: 'ab'.repeat(32), preview: '{"n":"x"}',
  })
  try {
    assert.equal(log.length, 4)
    await log.record(exported)
    await Promise.all(Array.from({ length: 20 }, (_, n) => log.record(read(5 + n))))
    await log.close()
    log = await opened(at)
    const entries = (await log.list({ limit: 30 })).reverse()
    assert.deepEqual(entries.map(({ seq: _seq, ...entry }) => entry), [
      read(0), read(1), read(2), { ...read(3), reason: 'kept', granularity: 3600 }, exported, ...Array.from({ length: 20 }, (_, n) => read(5 + n)),
    ])
    assert.deepEqual(entries.map((e) => e.seq), Array.from({ length: 25 }, (_, i) => i))
    assert.deepEqual(await log.verify(), { ok: true, length: 25, checkpointLength: 25, problems: [] })
  } finally {
    await log.close()
    at.db.close()
    fs.rmSync(at.dir, { recursive: true, force: true })
  }
})

test('a read costs its block about 45 bytes: each string of a busy commit is written once', async () => {
  const at = newHome()
  const log = await opened(at)
  try {
    const owner = { subject: 'owner', grant: { id: 'owner', epoch: 1 }, sources: '*' as const, ops: ['read' as const], windows: [], granularity: 0 }
    for (let n = 0; n < 1000; n++) {
      log.queue({ kind: 'read', action: 'GET /api/v1/sources/:source/latest', scope: owner, source: `source-${n % 4}`, records: 1, bytes: 53, granularity: 0, status: 200 }, (err) => assert.fail(err as Error))
    }
    await log.flush()
    await log.close()
    const size = await withCore(at, async (core) => (await core.get(0)).length)
    assert.ok(size < 50_000, `${size} bytes for 1,000 reads`)
  } finally {
    at.db.close()
    fs.rmSync(at.dir, { recursive: true, force: true })
  }
})
