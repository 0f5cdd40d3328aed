/** SenML through the API: what a pack says comes back from queries, base-only records included. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import Database from 'better-sqlite3'
import { newHome, senml, startBox } from './helpers.ts'

const T0 = 1_767_225_600 // 2026-01-01T00:00:00Z

test('update time (ut) is kept and returned by records and latest, also after a view is rebuilt from an older one', async () => {
  const home = newHome()
  let r = await startBox(home)
  try {
    await r.api('POST', '/api/v1/sources', { body: { id: 'meter' } })
    const pack = [
      { bn: 'meter:', bt: T0, bu: 'W' },
      { n: 'power', v: 100, ut: 60 },
      { n: 'power', t: 60, v: 120, ut: 60 },
      { n: 'energy', t: 60, s: 5000, ut: 300 },
      { n: 'state', t: 120, vs: 'on' },
    ]
    const put = await r.api('POST', '/api/v1/sources/meter/records', { raw: senml(pack) })
    assert.equal(put.status, 201, JSON.stringify(put.body))
    assert.equal(put.body.stored, 4, 'the record of base fields alone is applied, not stored')
    const expected = [
      { n: 'meter:power', u: 'W', t: T0, v: 100, ut: 60 },
      { n: 'meter:power', u: 'W', t: T0 + 60, v: 120, ut: 60 },
      { n: 'meter:energy', u: 'W', t: T0 + 60, s: 5000, ut: 300 },
      { n: 'meter:state', u: 'W', t: T0 + 120, vs: 'on' },
    ]
    assert.deepEqual((await r.api('GET', '/api/v1/sources/meter/records?from=0')).body, expected)
    assert.deepEqual((await r.api('GET', '/api/v1/sources/meter/latest')).body, expected.slice(1))
    // A deletion that splits the block keeps the survivors' ut.
    assert.equal((await r.api('DELETE', `/api/v1/sources/meter/records?from=${T0}&to=${T0 + 1}`)).status, 200)
    assert.deepEqual((await r.api('GET', '/api/v1/sources/meter/records?from=0')).body, expected.slice(1))

    // A view written before ut was kept has no column for it: it is thrown away and rebuilt from the log.
    const viewFile = r.box.store.get('meter').viewFile
    await r.close()
    const old = new Database(viewFile)
    old.exec("ALTER TABLE points DROP COLUMN ut; ALTER TABLE latest DROP COLUMN ut; DELETE FROM state WHERE key = 'schema'")
    old.close()
    r = await startBox(home)
    assert.deepEqual((await r.api('GET', '/api/v1/sources/meter/records?from=0')).body, expected.slice(1))
    assert.deepEqual((await r.api('GET', '/api/v1/sources/meter/latest')).body, expected.slice(1))
  } finally {
    await r.close()
  }
})
