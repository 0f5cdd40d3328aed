import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { openHome } from '../src/index.ts'
import { openMetaDb } from '../src/db/index.ts'
import { Store, openCorestore } from '../src/store/index.ts'
import type { SenmlRecord } from '../src/senml/index.ts'
import { senml, until } from './helpers.ts'
import { flat, type TestBox } from './group-members.ts'

type Point = { n: string; t: number; v?: number; vs?: string }

const t0 = Date.UTC(2026, 10, 3, 8) / 1000

/** Appends batches to a source of a stopped box, as its store does: in its log, which the group has not seen. */
async function appendStopped(box: TestBox, source: string, batches: SenmlRecord[][]): Promise<void> {
  const home = openHome(box.home)
  const db = openMetaDb(home.paths.meta)
  const store = new Store({ db, keys: home.keys, logsDir: home.paths.logs, viewsDir: home.paths.views })
  try {
    await store.open()
    for (const batch of batches) await store.get(source).appendRecords(batch)
  } finally {
    await store.close()
    db.close()
  }
}

/** The length and key of a stopped box's core for a source it shares in epoch 0. */
async function sharedCore(box: TestBox, group: string, source: string): Promise<{ key: string; length: number }> {
  const store = openCorestore(path.join(box.home, 'groups', group))
  try {
    const core = store.get({ name: `share/0/${source}` })
    await core.ready()
    return { key: core.key!.toString('hex'), length: core.length }
  } finally {
    await store.close()
  }
}

async function points(box: TestBox, source: string): Promise<string[]> {
  const res = await box.api('GET', `/sources/${source}/records?limit=100000`)
  assert.equal(res.status, 200, JSON.stringify(res.body))
  return (res.body as Point[]).map((p) => `${p.t} ${p.n} ${p.v ?? p.vs}`).sort()
}

test('a shared source\'s copies catch up once the sharer\'s box is back: what it wrote as it was stopped, while stopped, while the member was away, and the batch its group core took just before it died, each reach the member\'s copy exactly once, and so does what it wrote while it did not share', async (t) => {
  const { anna, bea, key } = await flat(t)

  assert.equal((await anna.api('POST', '/sources', { body: { id: 'meter', logicalType: 'energy', description: 'The flat\'s meter' } })).status, 201)
  await anna.api('POST', '/sources/meter/records', { raw: senml([{ n: 'power', u: 'W', v: 1, t: t0 }, { n: 'note', vs: 'before sharing', t: t0 }]) })
  assert.match(await anna.coffer('groups', 'sources', 'share', 'Flat', 'meter', '--apps', 'raw'), /Shared "meter"/)
  const copy = await until('Bea\'s copy', async () => ((await bea.api('GET', `/groups/${key}/sources`)).body.sources as { id: string; records: number | null }[]).find((s) => s.records === 2), 60_000)

  // Anna's box writes five batches at once and is stopped as soon as they are saved: some may not have reached the group.
  const burst = Array.from({ length: 5 }, (_, i) => anna.api('POST', '/sources/meter/records', { raw: senml([{ n: 'power', u: 'W', v: 10 + i, t: t0 + 60 * (i + 1) }]) }))
  for (const written of await Promise.all(burst)) assert.equal(written.status, 201)
  await anna.stop()
  // Bea is away from here on.
  await bea.stop()

  // A batch saved while Anna's box was stopped is sent when it starts again, in one append to the group's core.
  const sentFile = path.join(anna.home, 'groups', key, 'sent.json')
  const before = JSON.parse(fs.readFileSync(sentFile, 'utf8')).meter as { generation: number; next: number }
  const core = await sharedCore(anna, key, 'meter')
  await appendStopped(anna, 'meter', [[{ n: 'note', vs: 'saved as the box died', t: t0 + 600 }]])
  await anna.start()
  const end: number = (await anna.api('GET', '/sources/meter')).body.logLength
  await until('Anna\'s box to send what it saved', () => {
    const sent = JSON.parse(fs.readFileSync(sentFile, 'utf8')).meter
    return sent.next === end && sent.pending === undefined || undefined
  }, 30_000)
  await anna.stop()
  assert.equal((await sharedCore(anna, key, 'meter')).length, core.length + 1)
  // As the box leaves it when it dies after the group's core took that append and before it noted so.
  fs.writeFileSync(sentFile, JSON.stringify({ meter: { generation: before.generation, next: before.next, pending: { core: core.key, length: core.length, next: end } } }))

  // More while it is stopped: a batch bigger than a shared block, and small ones.
  const big = Array.from({ length: 2500 }, (_, i) => ({ n: 'power', u: 'W', v: 1000 + i, t: t0 + 3600 + i }))
  await appendStopped(anna, 'meter', [big, [{ n: 'power', u: 'W', v: 7, t: t0 + 7200 }], [{ n: 'note', vs: 'while stopped', t: t0 + 7200 }]])
  await anna.start()
  // And once it runs again, while Bea is still away.
  assert.equal((await anna.api('POST', '/sources/meter/records', { raw: senml([{ n: 'power', u: 'W', v: 8, t: t0 + 7260 }]) })).status, 201)

  await bea.start()
  const expected = await points(anna, 'meter')
  assert.equal(expected.length, 2 + 5 + 1 + 2500 + 2 + 1)
  await until('Bea\'s copy to hold as many points as Anna\'s meter', async () => (await bea.api('GET', `/sources/${copy.id}`)).body.points >= expected.length || undefined, 60_000)
  // Nothing more arrives after a pause: every point once.
  await new Promise((resolve) => setTimeout(resolve, 1500))
  assert.deepEqual(await points(bea, copy.id), expected)

  // Shared again after a stop, the meter sends what was written in between, and only that.
  assert.match(await anna.coffer('groups', 'sources', 'stop', 'Flat', 'meter'), /Stopped sharing/)
  await until('Bea to hear sharing stopped', async () => ((await bea.api('GET', `/groups/${key}/sources`)).body.sources as { stopped: string | null }[])[0]?.stopped !== null || undefined, 30_000)
  assert.equal((await anna.api('POST', '/sources/meter/records', { raw: senml([{ n: 'note', vs: 'while not shared', t: t0 + 7320 }]) })).status, 201)
  assert.match(await anna.coffer('groups', 'sources', 'share', 'Flat', 'meter', '--apps', 'raw'), /Shared "meter"/)
  const all = await points(anna, 'meter')
  await until('the note written while not shared at Bea\'s', async () => (await bea.api('GET', `/sources/${copy.id}`)).body.points >= all.length || undefined, 30_000)
  await new Promise((resolve) => setTimeout(resolve, 1500))
  assert.deepEqual(await points(bea, copy.id), all)
})

test('a source deleted on the sharer\'s box while shared does not keep the group\'s other shares from sending', async (t) => {
  const { anna, bea, key } = await flat(t)
  for (const id of ['boiler', 'meter']) {
    assert.equal((await anna.api('POST', '/sources', { body: { id, logicalType: 'energy' } })).status, 201)
    await anna.api('POST', `/sources/${id}/records`, { raw: senml([{ n: 'power', u: 'W', v: 1, t: t0 }]) })
    assert.equal((await anna.api('POST', `/groups/${key}/sources`, { body: { source: id } })).status, 201)
  }
  const copies = async () => ((await bea.api('GET', `/groups/${key}/sources`)).body.sources as { id: string; records: number }[])
  await until('both copies at Bea\'s box', async () => (await copies()).filter((s) => s.records === 1).length === 2 || undefined, 30_000)

  assert.equal((await anna.api('DELETE', '/sources/boiler')).status, 200)
  // Anna's box starts again, so it takes up its shares from the group's log, the deleted one among them.
  await anna.stop()
  await anna.start()
  await anna.api('POST', '/sources/meter/records', { raw: senml([{ n: 'power', u: 'W', v: 2, t: t0 + 60 }]) })
  await until('the meter\'s new reading at Bea\'s box', async () => (await copies()).find((s) => s.id.endsWith('.meter'))?.records === 2 || undefined, 30_000)
})
