import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import Database from 'better-sqlite3'
import { DatabaseTooNew, SCHEMA_VERSION, openMetaDb } from './index.ts'
import { createBox } from '../box.ts'
import { initHome } from '../home/index.ts'

function newHome(): string {
  const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-db-')), 'home')
  initHome(dir, { passphrase: 'correct horse battery staple', timeZone: 'UTC' })
  return dir
}

function userVersion(file: string): number {
  const db = new Database(file, { readonly: true })
  try {
    return db.pragma('user_version', { simple: true }) as number
  } finally {
    db.close()
  }
}

const TABLES = ['app_views', 'apps', 'audit_anchor', 'audit_damage', 'csv_profiles', 'drivers', 'exports', 'exports_by_app', 'grants', 'group_epochs',
  'group_invites', 'group_invites_by_group', 'groups', 'held_shares', 'imports', 'market_queries', 'market_queries_by_state', 'market_settings', 'markets',
  'recovery_splits', 'replica_clears', 'replicas', 'sources']

test('a new box.db gets every table at the latest version', () => {
  const db = openMetaDb(':memory:')
  const names = db.prepare("SELECT name FROM sqlite_master WHERE type IN ('table', 'index') AND name NOT LIKE 'sqlite_%' ORDER BY name").pluck().all()
  assert.deepEqual(names, TABLES)
  assert.equal(db.pragma('user_version', { simple: true }), SCHEMA_VERSION)
  db.close()
})

test('a home written before box.db carried a version opens with its data, and is then at the latest version', async () => {
  const home = newHome()
  const first = createBox({ home, logLevel: 'silent' })
  await first.open()
  await first.store.add({ id: 'kitchen', kind: 'timeseries', logicalType: 'environment', description: 'Kitchen climate' })
  const grant = first.arbiter.createGrant({ subject: 'device:thermo', description: 'The kitchen thermometer', sources: ['kitchen'], ops: ['write'], windows: [], granularity: 0 })
  await first.close()

  // Releases before migrations made exactly these tables and left user_version at 0.
  const file = path.join(home, 'box.db')
  const old = new Database(file)
  old.pragma('user_version = 0')
  old.close()

  const again = createBox({ home, logLevel: 'silent' })
  await again.open()
  try {
    assert.deepEqual(again.store.list().map((s) => s.id), ['kitchen'])
    assert.deepEqual(again.arbiter.grant(grant.id), grant)
  } finally {
    await again.close()
  }
  assert.equal(userVersion(file), SCHEMA_VERSION)
})

test('a box.db from a newer Coffer is refused and left as it was', () => {
  const home = newHome()
  const file = path.join(home, 'box.db')
  openMetaDb(file).close()
  const newer = new Database(file)
  newer.pragma(`user_version = ${SCHEMA_VERSION + 1}`)
  newer.close()

  assert.throws(() => openMetaDb(file), (err: unknown) => err instanceof DatabaseTooNew &&
    err.message.includes(`schema version ${SCHEMA_VERSION + 1}, and this Coffer knows versions up to ${SCHEMA_VERSION}. A newer Coffer has opened this home`))
  assert.throws(() => createBox({ home, logLevel: 'silent' }), DatabaseTooNew)
  assert.equal(userVersion(file), SCHEMA_VERSION + 1)
})
