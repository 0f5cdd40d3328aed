import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { openDatabase, migrate, type Database } from './index.ts'
import { MIGRATIONS } from './migrations.ts'
import { createTempDatabase } from '../../test/postgres.ts'

const LATEST = MIGRATIONS.at(-1)!.version

async function versions(db: Database): Promise<number[]> {
  return (await db.query<{ version: number }>('SELECT version FROM market_migrations ORDER BY version')).map((r) => Number(r.version))
}

test('PGlite: migrations applied once, state kept on disk across opens, one process per data directory', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-market-db-'))
  try {
    const first = await openDatabase({ dataDir: dir })
    assert.equal(first.kind, 'pglite')
    assert.deepEqual(await versions(first), MIGRATIONS.map((m) => m.version))
    await first.query("INSERT INTO processors (id, name, key_hash) VALUES ('p1', 'Lab', 'h1')")
    await assert.rejects(openDatabase({ dataDir: dir }), { status: 503, message: /Another market process/ })
    await first.close()

    const again = await openDatabase({ dataDir: dir })
    assert.deepEqual(await versions(again), MIGRATIONS.map((m) => m.version))
    assert.deepEqual(await again.query('SELECT name FROM processors'), [{ name: 'Lab' }])
    assert.deepEqual(await migrate(again, MIGRATIONS), [], 'nothing left to apply')
    await again.close()
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

test('PGlite: a transaction that throws leaves nothing behind', async () => {
  const db = await openDatabase({})
  try {
    await assert.rejects(db.transaction(async (tx) => {
      await tx.query("INSERT INTO processors (id, name, key_hash) VALUES ('p1', 'Lab', 'h1')")
      throw new Error('changed my mind')
    }), /changed my mind/)
    assert.deepEqual(await db.query('SELECT id FROM processors'), [])
  } finally {
    await db.close()
  }
})

test('PostgreSQL: several openers of one database at once apply each migration exactly once', async () => {
  const temp = await createTempDatabase()
  try {
    const dbs = await Promise.all(Array.from({ length: 4 }, () => openDatabase({ url: temp.url })))
    for (const db of dbs) assert.deepEqual(await versions(db), MIGRATIONS.map((m) => m.version))
    const extra = { version: LATEST + 1, name: 'a later column', statements: ['ALTER TABLE processors ADD COLUMN note text'] }
    const applied = await Promise.all(dbs.map((db) => migrate(db, [...MIGRATIONS, extra])))
    assert.equal(applied.filter((a) => a.length === 1).length, 1, 'one opener applies the new migration, the others find it done')
    await Promise.all(dbs.map((db) => db.close()))
  } finally {
    await temp.drop()
  }
})

test('PostgreSQL: a transaction that throws leaves nothing behind; NOTIFY reaches a listener', async () => {
  const temp = await createTempDatabase()
  const db = await openDatabase({ url: temp.url })
  try {
    await assert.rejects(db.transaction(async (tx) => {
      await tx.query("INSERT INTO processors (id, name, key_hash) VALUES ('p1', 'Lab', 'h1')")
      throw new Error('changed my mind')
    }), /changed my mind/)
    assert.deepEqual(await db.query('SELECT id FROM processors'), [])
    const heard = new Promise<string>((resolve) => void db.listen('market_test', resolve))
    // The listener connects asynchronously; notify until it hears.
    const timer = setInterval(() => void db.query("SELECT pg_notify('market_test', 'hello')"), 50)
    assert.equal(await heard, 'hello')
    clearInterval(timer)
  } finally {
    await db.close()
    await temp.drop()
  }
})

test('PostgreSQL: an unreachable server is a clear 503', async () => {
  await assert.rejects(openDatabase({ url: 'postgres://postgres:secret@127.0.0.1:1/none' }), (err: Error & { status?: number }) => {
    assert.equal(err.status, 503)
    assert.match(err.message, /Cannot reach PostgreSQL/)
    assert.doesNotMatch(err.message, /secret/)
    return true
  })
})
