import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { openHome } from '../src/index.ts'
import { openMetaDb } from '../src/db/index.ts'
import { Store } from '../src/store/index.ts'
import { senml, until } from './helpers.ts'
import { flat, type TestBox } from './group-members.ts'

type Point = { n: string; t: number; v?: number }

const t0 = Date.UTC(2026, 10, 4, 8) / 1000

/** Readings of the meter, one a second from `from`. */
const readings = (from: number, count: number) => Array.from({ length: count }, (_, i) => ({ n: 'power', u: 'W', v: from - t0 + i, t: from + i }))

/** Works on the store of a stopped box, as the box would: its log changes while the group sees nothing. */
async function whileStopped(box: TestBox, work: (store: Store) => Promise<void>): Promise<void> {
  const home = openHome(box.home)
  const db = openMetaDb(home.paths.meta)
  const store = new Store({ db, keys: home.keys, logsDir: home.paths.logs, viewsDir: home.paths.views })
  try {
    await store.open()
    await work(store)
  } finally {
    await store.close()
    db.close()
  }
}

/** Anna's group "Flat", with Bea in it, and Anna's meter shared with it, holding `first` already. */
async function sharedMeter(t: TestContext, first: unknown[]): Promise<{ anna: TestBox; bea: TestBox; key: string; copy: string }> {
  const { anna, bea, key } = await flat(t)
  assert.equal((await anna.api('POST', '/sources', { body: { id: 'meter', logicalType: 'energy' } })).status, 201)
  assert.equal((await anna.api('POST', '/sources/meter/records', { raw: senml(first) })).status, 201)
  assert.equal((await anna.api('POST', `/groups/${key}/sources`, { body: { source: 'meter', apps: 'raw' } })).status, 201)
  const copy = await until('Bea\'s copy of the meter', async () => ((await bea.api('GET', `/groups/${key}/sources`)).body.sources as { id: string; records: number | null }[]).find((s) => s.records === first.length), 60_000)
  return { anna, bea, key, copy: copy.id }
}

async function points(box: TestBox, source: string): Promise<string[]> {
  const res = await box.api('GET', `/sources/${source}/records?limit=100000`)
  assert.equal(res.status, 200, JSON.stringify(res.body))
  return (res.body as Point[]).map((p) => `${p.t} ${p.n} ${p.v}`).sort()
}

/** Waits until Bea's copy holds what Anna's meter does, point for point, and still does after a pause: nothing deleted stays, nothing arrives twice. */
async function same(anna: TestBox, bea: TestBox, copy: string, what: string): Promise<string[]> {
  const expected = await points(anna, 'meter')
  await until(what, async () => JSON.stringify(await points(bea, copy)) === JSON.stringify(expected) || undefined, 60_000)
  await new Promise((resolve) => setTimeout(resolve, 1500))
  assert.deepEqual(await points(bea, copy), expected)
  return expected
}

/** Waits until Anna's box has sent its meter's whole log to the group. */
async function sent(anna: TestBox, key: string): Promise<void> {
  const end: number = (await anna.api('GET', '/sources/meter')).body.logLength
  const file = path.join(anna.home, 'groups', key, 'sent.json')
  await until('Anna\'s box to send the meter\'s log', () => {
    const at = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')).meter : undefined
    return at?.next === end && at.pending === undefined || undefined
  }, 30_000)
}

test('a range deleted on the sharer\'s box leaves the members\' copies, exactly: the points it keeps are not sent twice, a member away catches up to the same, and a deletion of records not yet sent sends what it keeps', async (t) => {
  // Two batches, two log blocks: a deletion across both drops both and keeps their outer points.
  const { anna, bea, key, copy } = await sharedMeter(t, readings(t0, 10))
  assert.equal((await anna.api('POST', '/sources/meter/records', { raw: senml(readings(t0 + 100, 10)) })).status, 201)
  await until('the second batch at Bea\'s', async () => (await bea.api('GET', `/sources/${copy}`)).body.points === 20 || undefined, 30_000)

  const deleted = await anna.api('DELETE', `/sources/meter/records?from=${t0 + 5}&to=${t0 + 105}`)
  assert.equal(deleted.status, 200, JSON.stringify(deleted.body))
  assert.equal(deleted.body.deleted, 10)
  const kept = await same(anna, bea, copy, 'Bea\'s copy to lose the deleted range')
  assert.deepEqual(kept.map((p) => Number(p.split(' ')[0]) - t0).sort((a, b) => a - b), [0, 1, 2, 3, 4, 105, 106, 107, 108, 109])
  // Bea's box filed it as the group's deletion; the copy stays read-only for her.
  const audit = (await bea.api('GET', '/audit?limit=1000')).body as { subject: string; source: string | null; outcome: string; operation: string; records: number }[]
  assert.ok(audit.some((e) => e.subject.startsWith('group:') && e.source === copy && e.operation === 'delete' && e.outcome === 'allow' && e.records === 10), JSON.stringify(audit.filter((e) => e.source === copy)))
  assert.equal((await bea.api('DELETE', `/sources/${copy}/records?from=0&to=${t0 + 3600}`)).status, 403)

  // Bea is away. A batch reaches the group; then, with Anna's box stopped, a batch it never sent,
  // a deletion across both (one block sent, one not), a block a deletion clears before it is sent
  // with more than a shared block's worth of records after it, and a deletion of records never sent.
  await bea.stop()
  assert.equal((await anna.api('POST', '/sources/meter/records', { raw: senml(readings(t0 + 200, 10)) })).status, 201)
  await sent(anna, key)
  await anna.stop()
  await whileStopped(anna, async (store) => {
    const meter = store.get('meter')
    await meter.appendRecords(readings(t0 + 300, 10))
    await meter.appendRecords(readings(t0 + 400, 10))
    await meter.appendRecords(readings(t0 + 1000, 1200))
    assert.equal((await meter.deleteRange(t0 + 205, t0 + 305)).count, 10)
    assert.equal((await meter.deleteRange(t0 + 400, t0 + 405)).count, 5)
    await meter.appendRecords(readings(t0 + 500, 10))
    assert.equal((await meter.deleteRange(t0 + 502, t0 + 504)).count, 2)
  })
  await anna.start()
  // And live, with Bea still away: a deletion carried after records the group already has.
  assert.equal((await anna.api('DELETE', `/sources/meter/records?from=${t0 + 1000}&to=${t0 + 1100}`)).status, 200)
  await sent(anna, key)

  await bea.start()
  const caught = await same(anna, bea, copy, 'Bea\'s copy to catch up with what Anna\'s meter holds')
  assert.equal(caught.length, 10 + 5 + 5 + 5 + 1100 + 8)

  // Anna deletes the meter itself: Bea's copy is emptied and the share stops; Bea may then delete her copy.
  assert.equal((await anna.api('DELETE', '/sources/meter')).status, 200)
  await until('Bea\'s copy to be emptied', async () => (await bea.api('GET', `/sources/${copy}`)).body.points === 0 || undefined, 30_000)
  const shares = await until('Bea to hear the share stop', async () => {
    const s = ((await bea.api('GET', `/groups/${key}/sources`)).body.sources as { id: string; stopped: string | null }[]).find((s) => s.id === copy)
    return s?.stopped ? s : undefined
  }, 30_000)
  assert.ok(shares.stopped)
  assert.equal((await bea.api('DELETE', `/sources/${copy}`)).status, 200)
})
