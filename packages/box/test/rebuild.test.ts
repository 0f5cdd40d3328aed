/** The log is the truth: a view deleted by hand is rebuilt at start and answers every query identically. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import { newHome, startBox, type Running } from './helpers.ts'
import { loadDemo } from '../src/demo/index.ts'

const NOW = 1_767_225_600 + 30 * 86400

async function answers(r: Running): Promise<unknown[]> {
  const from = NOW - 21 * 86400
  const queries = [
    '/api/v1/sources',
    '/api/v1/cat',
    '/api/v1/sources/location/latest',
    `/api/v1/sources/location/records?from=${from}&to=${from + 86400}&limit=5000`,
    `/api/v1/sources/heart-rate/records?order=desc&limit=300`,
    `/api/v1/sources/steps/aggregate?fn=sum&bucket=1d&from=${from}&to=${NOW}&tz=Europe/Berlin`,
    `/api/v1/sources/heart-rate/aggregate?fn=median&bucket=1h&from=${from}&to=${from + 3 * 86400}`,
    `/api/v1/sources/living-room/aggregate?fn=sd&bucket=5m&from=${from}&to=${from + 86400}`,
    `/api/v1/sources/location/aggregate?fn=mean&bucket=1w&from=${from}&to=${NOW}&name=lat`,
    '/api/v1/sources/notes/kv',
    '/api/v1/sources/notes/kv/a',
  ]
  return Promise.all(queries.map(async (q) => {
    const res = await r.api('GET', q)
    assert.equal(res.status, 200, q)
    // Sizes of SQLite files may differ after a rebuild; everything else must not.
    return JSON.parse(JSON.stringify(res.body), (k, v) => (k === 'bytes' ? undefined : v))
  }))
}

test('a deleted view is rebuilt from the log and answers identically', { timeout: 120_000 }, async () => {
  const home = newHome()
  let r = await startBox(home)
  await loadDemo(r.box, NOW)
  await r.api('DELETE', `/api/v1/sources/heart-rate/records?from=${NOW - 10 * 86400}&to=${NOW - 9 * 86400 + 1234}`)
  await r.api('POST', '/api/v1/sources', { body: { id: 'notes', kind: 'kv' } })
  await r.api('PUT', '/api/v1/sources/notes/kv/a', { body: { text: 'first' } })
  await r.api('PUT', '/api/v1/sources/notes/kv/a', { body: { text: 'second' } })
  await r.api('PUT', '/api/v1/sources/notes/kv/b', { body: 1 })
  await r.api('DELETE', '/api/v1/sources/notes/kv/b')
  const before = await answers(r)
  await r.close()

  const views = r.box.home.paths.views
  for (const f of fs.readdirSync(views)) fs.rmSync(`${views}/${f}`)
  r = await startBox(home)
  try {
    assert.ok(fs.readdirSync(views).length > 0, 'views were recreated')
    assert.deepEqual(await answers(r), before)
  } finally {
    await r.close()
  }

  // A view file overwritten with garbage is thrown away and rebuilt too.
  const location = fs.readdirSync(views).find((f) => f.startsWith('location.') && f.endsWith('.sqlite'))!
  fs.writeFileSync(`${views}/${location}`, Buffer.alloc(8192, 0x5a))
  r = await startBox(home)
  try {
    assert.deepEqual(await answers(r), before)
  } finally {
    await r.close()
  }
})
