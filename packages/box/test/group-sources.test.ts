import { test } from 'node:test'
import assert from 'node:assert/strict'
import path from 'node:path'
import { createHmac } from 'node:crypto'
import { openHome } from '../src/index.ts'
import { openCorestore } from '../src/store/index.ts'
import { Replicator } from '../src/backup/index.ts'
import { filesHolding, senml, tempDir, until, within } from './helpers.ts'
import { contentKeys, startBox, teardown, testnet } from './group-members.ts'

type Member = Awaited<ReturnType<typeof startBox>>

interface Shared { source: string; id: string; sharedBy: string; you: boolean; records: number | null; stopped: string | null; rules: { apps: string; finest: number; gateway: boolean; market: boolean } }

async function shared(box: Member, key: string): Promise<Shared[]> {
  const res = await box.api('GET', `/groups/${key}/sources`)
  assert.equal(res.status, 200, JSON.stringify(res.body))
  return res.body.sources
}

test('a member shares a source with its group: every member\'s box holds a read-only copy, live, that its apps may be granted under the sharer\'s rules; a removed member gets nothing new and opens nothing shared afterwards with any key it holds, the replicator holds ciphertext only, and stopping stops it', async (t) => {
  const later = teardown(t)
  const bootstrap = await testnet(later)
  const anna = await startBox(later, bootstrap)
  const bea = await startBox(later, bootstrap)
  const rex = await startBox(later, bootstrap)

  const created = await anna.api('POST', '/groups', { body: { name: 'Household', as: 'Anna' } })
  assert.equal(created.status, 201)
  const key: string = created.body.key
  for (const [box, name] of [[bea, 'Bea'], [rex, 'Rex']] as const) {
    const boxKey = (await box.api('GET', '/groups')).body.boxKey
    const { invite } = (await anna.api('POST', `/groups/${key}/invites`, { body: { publicKey: boxKey, name } })).body
    const joined = await within(`${name} joining`, box.api('POST', '/groups/join', { body: { code: invite } }), 60_000)
    assert.equal(joined.status, 201, JSON.stringify(joined.body))
  }

  // Anna's energy meter, with a reading in it before it is shared.
  assert.equal((await anna.api('POST', '/sources', { body: { id: 'energy', logicalType: 'energy', description: 'The flat\'s meter' } })).status, 201)
  const marker = 'MARKER-meter-7c2e'
  const t0 = Date.UTC(2026, 10, 2, 10) / 1000
  const written = await anna.api('POST', '/sources/energy/records', { raw: senml([{ n: 'power', u: 'W', v: 410, t: t0 }, { n: 'note', vs: `${marker} first reading`, t: t0 }]) })
  assert.equal(written.status, 201, JSON.stringify(written.body))

  const said = await anna.coffer('groups', 'sources', 'share', 'Household', 'energy', '--apps', 'raw')
  assert.match(said, /Shared "energy" with "Household"/)
  assert.match(said, /apps may read raw points; may not leave through the gateway; may not answer a data market/)

  // Bea's box holds a copy with what the meter had, marked as the group's, with who shares it.
  const copy = await until('Bea\'s copy of the meter', async () => (await shared(bea, key)).find((s) => s.source === 'energy' && s.records === 2), 60_000)
  assert.equal(copy.sharedBy, 'Anna')
  assert.equal(copy.you, false)
  assert.match(copy.id, /^group\.[0-9a-f]{8}\.energy$/)
  const summary = (await bea.api('GET', `/sources/${copy.id}`)).body
  assert.equal(summary.logicalType, 'energy')
  assert.match(summary.description, /^Held by the group "Household", shared by Anna: The flat's meter$/)
  const records = (await bea.api('GET', `/sources/${copy.id}/records`)).body
  assert.deepEqual(records.map((r: { n: string; v?: number; vs?: string }) => r.v ?? r.vs).sort(), [410, `${marker} first reading`].sort())
  assert.match(await bea.coffer('groups', 'show', 'Household'), new RegExp(`energy +Anna +${copy.id.replaceAll('.', '\\.')} +2 +live`))
  assert.equal((await shared(anna, key)).find((s) => s.source === 'energy')?.you, true)

  // A new reading reaches Bea's copy as it arrives.
  await anna.api('POST', '/sources/energy/records', { raw: senml([{ n: 'power', u: 'W', v: 520, t: t0 + 600 }]) })
  await until('the new reading at Bea\'s', async () => (await bea.api('GET', `/sources/${copy.id}/latest?name=power`)).body[0]?.v === 520 || undefined, 30_000)

  // The copy is read-only, for the owner too: appending, deleting a range and deleting it are refused, saying why.
  const append = await bea.api('POST', `/sources/${copy.id}/records`, { raw: senml([{ n: 'power', v: 1, t: t0 }]) })
  assert.equal(append.status, 403)
  assert.match(append.body.detail, /held by the group "Household", shared by Anna: it is read-only on this box/)
  const range = await bea.api('DELETE', `/sources/${copy.id}/records?from=0&to=${t0 + 3600}`)
  assert.equal(range.status, 403)
  assert.match(range.body.detail, /read-only/)
  const remove = await bea.api('DELETE', `/sources/${copy.id}`)
  assert.equal(remove.status, 403)
  assert.match(remove.body.detail, /kept while it is shared/)
  const driver = await bea.api('POST', '/tokens', { body: { subject: 'driver', name: 'meter', sources: [copy.id] } })
  assert.equal(driver.status, 403)
  assert.match(driver.body.detail, /read-only/)

  // An app on Bea's box is granted the copy like any source, and reads it within the rules.
  const granted = await bea.api('POST', '/tokens', { body: { subject: 'app', name: 'dashboard', sources: [copy.id] } })
  assert.equal(granted.status, 201, JSON.stringify(granted.body))
  const app = granted.body.token as string
  assert.equal((await bea.api('GET', `/sources/${copy.id}/records`, { token: app })).status, 200)
  const hourly = `/sources/${copy.id}/aggregate?fn=mean&bucket=1h&from=${t0}&to=${t0 + 7200}&name=power`

  // Anna narrows the rules to hourly aggregates: Bea's box refuses the app's raw reads from when it hears it, naming the rule.
  assert.match(await anna.coffer('groups', 'sources', 'rules', 'Household', 'energy', '--apps', 'aggregates', '--finest', '1h'), /apps may read 1-hour aggregates or coarser/)
  const raw = await until('the rule at Bea\'s', async () => {
    const res = await bea.api('GET', `/sources/${copy.id}/records`, { token: app })
    return res.status === 403 ? res : undefined
  }, 30_000)
  assert.match(raw.body.detail, /under the rule apps=aggregates: apps may read 1-hour buckets or coarser; raw points were asked for/)
  const mean = await bea.api('GET', hourly, { token: app })
  assert.equal(mean.status, 200, JSON.stringify(mean.body))
  assert.deepEqual(mean.body.buckets.map((b: { value: number }) => b.value), [465, null])
  const rawGrant = await bea.api('POST', '/tokens', { body: { subject: 'app', name: 'raw-reader', sources: [copy.id] } })
  assert.equal(rawGrant.status, 403)
  assert.match(rawGrant.body.detail, /rule apps=aggregates/)
  assert.equal((await bea.api('POST', '/tokens', { body: { subject: 'app', name: 'daily', sources: [copy.id], granularity: '1d' } })).status, 201)
  // Every refusal is in Bea's audit log, with the rule; the copy's records came in as the group's writes.
  const audit = (await bea.api('GET', '/audit?limit=1000')).body as { subject: string; source: string | null; outcome: string; reason: string | null; operation: string }[]
  assert.ok(audit.some((e) => e.subject === 'app:dashboard' && e.outcome === 'deny' && /rule apps=aggregates/.test(e.reason ?? '')))
  assert.ok(audit.some((e) => e.subject.startsWith('group:') && e.source === copy.id && e.operation === 'write' && e.outcome === 'allow'))

  // A blind replicator holds the group's cores, the meter's among them.
  const replicatorDir = tempDir('coffer-group-sources-replicator-')
  const replicator = new Replicator({ dir: replicatorDir, bootstrap })
  await replicator.open()
  later(() => replicator.close())
  const { invite } = (await anna.api('POST', `/groups/${key}/replicators`, { body: { publicKey: replicator.publicKey, name: 'Co-op server' } })).body
  replicator.accept(invite, { quotaBytes: 2 ** 30 })

  // Rex is removed: the group moves to a new key, and a reading shared afterwards reaches Bea, not Rex.
  const rexKey = (await rex.api('GET', '/groups')).body.boxKey
  const rexCopy = (await shared(rex, key)).find((s) => s.source === 'energy')!
  await until('Rex\'s copy to have the second reading', async () => (await shared(rex, key)).find((s) => s.source === 'energy')?.records === 3 || undefined, 30_000)
  assert.equal((await anna.api('DELETE', `/groups/${key}/members/${rexKey}`)).status, 200)
  await until('Bea in the new epoch', async () => {
    const g = (await bea.api('GET', `/groups/${key}`)).body
    return g.epoch === 1 && g.writable && g.role === 'member' || undefined
  }, 30_000)
  const after = 'MARKER-after-removal-91d0'
  await anna.api('POST', '/sources/energy/records', { raw: senml([{ n: 'note', vs: after, t: t0 + 1200 }, { n: 'power', u: 'W', v: 300, t: t0 + 1200 }]) })
  await until('the reading shared after the removal at Bea\'s', async () => (await shared(bea, key)).find((s) => s.source === 'energy')?.records === 5 || undefined, 30_000)
  await new Promise((resolve) => setTimeout(resolve, 1500))
  assert.equal((await rex.api('GET', `/sources/${rexCopy.id}`)).body.points, 3, 'Rex keeps what it had and gets nothing new')
  assert.deepEqual(filesHolding(path.join(rex.home, 'groups'), after), [])

  const synced = await until('the replicator to hold everything Anna holds', async () => {
    const r = (await anna.api('GET', `/groups/${key}/replicators`)).body.replicators[0]
    return r?.holds && r.holds.behindBlocks === 0 && r.lastSynced && Date.parse(r.lastSynced) > Date.now() - 60_000 ? r : undefined
  }, 60_000)
  assert.ok(synced.holds.cores > 0)
  for (const needle of [marker, after]) assert.deepEqual(filesHolding(replicatorDir, needle), [], `${needle} on the replicator's disk`)

  // Anna stops sharing: a new reading reaches no one; Bea keeps what she has, and may now delete her copy.
  assert.match(await anna.coffer('groups', 'sources', 'stop', 'Household', 'energy'), /what they already hold stays with them/)
  const stopped = await until('Bea to hear sharing stopped', async () => (await shared(bea, key)).find((s) => s.source === 'energy' && s.stopped !== null), 30_000)
  assert.equal(stopped.records, 5)
  await anna.api('POST', '/sources/energy/records', { raw: senml([{ n: 'power', u: 'W', v: 999, t: t0 + 1800 }]) })
  await new Promise((resolve) => setTimeout(resolve, 1500))
  assert.equal((await bea.api('GET', `/sources/${copy.id}`)).body.points, 5)
  assert.match(await bea.coffer('groups', 'sources', 'list', 'Household'), /stopped/)
  assert.equal((await bea.api('DELETE', `/sources/${copy.id}`)).status, 200)

  // With every key Rex's box holds, the meter's core written after the removal does not open; the new epoch's key opens it.
  const rexKeys = contentKeys(openHome(rex.home).paths.meta, key)
  assert.deepEqual(rexKeys.map((k) => k.epoch), [0])
  const annaKeys = contentKeys(openHome(anna.home).paths.meta, key)
  assert.deepEqual(annaKeys.map((k) => k.epoch), [0, 1])
  await anna.stop()
  const derived = (contentKey: string, context: string) => createHmac('sha256', Buffer.from(contentKey, 'hex')).update(context).digest()
  const held = async (encryption: Buffer | null) => {
    const store = openCorestore(path.join(anna.home, 'groups', key))
    try {
      // A member's cores in an epoch begun by a removal are named by the epoch and its content key.
      const core = store.get({ name: `share/1-${derived(annaKeys[1]!.content_key, 'coffer/v1/group-epoch-cores').toString('hex').slice(0, 32)}/energy`, ...(encryption ? { encryption: { key: encryption } } : {}) })
      await core.ready()
      const blocks: Buffer[] = []
      for (let i = 0; i < core.length; i++) blocks.push((await core.get(i, { wait: false }))!)
      return { length: core.length, bytes: Buffer.concat(blocks) }
    } finally {
      await store.close()
    }
  }
  const rexHolds = rexKeys.flatMap((k) => [Buffer.from(k.content_key, 'hex'), derived(k.content_key, 'coffer/v1/group-shares'), derived(k.content_key, 'coffer/v1/group-blobs')])
  for (const candidate of [...rexHolds, null]) {
    const { length, bytes } = await held(candidate)
    assert.ok(length > 0)
    assert.ok(!bytes.includes(after), 'a key Rex holds opens the meter\'s records shared after its removal')
  }
  assert.ok((await held(derived(annaKeys[1]!.content_key, 'coffer/v1/group-shares'))).bytes.includes(after))
})
