import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import createTestnet from 'hyperdht/testnet.js'
import { createBox, initHome } from '../src/index.ts'
import { Replicator, restoreFromReplica } from '../src/backup/index.ts'
import { PASSPHRASE, senml, startBox, tempDir, until, within } from './helpers.ts'

/** Every file under `dir` that holds `needle`, read as raw bytes. */
function filesHolding(dir: string, needle: string): string[] {
  const found: string[] = []
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue
    const file = path.join(entry.parentPath, entry.name)
    if (fs.readFileSync(file).includes(Buffer.from(needle))) found.push(file)
  }
  return found
}

test('a blind replicator pairs by a sealed invite, holds no plaintext, follows deletions, and with the 24 words restores the same records and audit log', async (t) => {
  const testnet = await createTestnet(3)
  t.after(() => testnet.destroy())
  const bootstrap = testnet.bootstrap
  process.env.COFFER_DHT_BOOTSTRAP = bootstrap.map((b) => `${b.host}:${b.port}`).join(',')
  t.after(() => delete process.env.COFFER_DHT_BOOTSTRAP)

  const homeDir = path.join(tempDir(), 'home')
  const { words } = initHome(homeDir, { passphrase: PASSPHRASE, timeZone: 'UTC' })
  const owner = await startBox(homeDir)
  let ownerOpen = true
  t.after(() => ownerOpen ? owner.close() : undefined)
  const replicatorDir = tempDir('coffer-replicator-')
  const replicator = new Replicator({ dir: replicatorDir, bootstrap })
  await replicator.open()
  t.after(() => replicator.close())

  const marker = 'MARKER-7f3a-do-not-leak'
  assert.equal((await owner.api('POST', '/api/v1/sources', { body: { id: 'diary', kind: 'timeseries', logicalType: 'health', description: 'Notes' } })).status, 201)
  const before = Array.from({ length: 50 }, (_, i) => ({ n: 'note', t: 1_700_000_000 + i * 60, vs: `${marker} ${i}` }))
  assert.equal((await owner.api('POST', '/api/v1/sources/diary/records', { raw: senml(before) })).status, 201)

  const invited = await owner.api('POST', '/api/v1/backup/replicas', { body: { publicKey: replicator.publicKey, name: 'Anna\'s NAS', expiresIn: '10m' } })
  assert.equal(invited.status, 200, JSON.stringify(invited.body))
  assert.match(invited.body.invite, /^coffer-invite:/)
  assert.ok(!invited.body.invite.includes(owner.box.backup.publicKey), 'the invite names nothing in the clear')
  const id = invited.body.replica.id

  // Another replicator cannot open an invite sealed to this one.
  const stranger = new Replicator({ dir: tempDir('coffer-stranger-'), bootstrap })
  assert.throws(() => stranger.accept(invited.body.invite, { quotaBytes: 1e9 }), /not made for this replicator/)

  replicator.accept(invited.body.invite, { quotaBytes: 256 * 2 ** 20 })
  assert.throws(() => replicator.accept(invited.body.invite, { quotaBytes: 1e9 }), /used already/)

  const synced = async () => {
    const { body } = await owner.api('GET', `/api/v1/backup/replicas/${id}`)
    return body.state === 'paired' && body.health && body.health.behindBlocks === 0 && body.health.check?.blocks > 0 ? body : undefined
  }
  let replica = await until('the replica to pair and catch up', synced, 30_000)
  assert.equal(replica.health.check.failed, 0)
  assert.ok(replica.health.check.blocks > 0, 'blocks were checked against the box\'s copy')
  assert.deepEqual(replica.health.cores.map((c: { log: string }) => c.log).sort(), ['audit', 'registry', 'source:diary'])

  // More records after pairing reach it too; then a deletion clears blocks on the replica.
  const after = Array.from({ length: 20 }, (_, i) => ({ n: 'note', t: 1_700_100_000 + i * 60, vs: `${marker} late ${i}` }))
  assert.equal((await owner.api('POST', '/api/v1/sources/diary/records', { raw: senml(after) })).status, 201)
  await until('the new records to reach the replica', async () => {
    const r = await synced()
    return r && r.health.cores.find((c: { log: string }) => c.log === 'source:diary').heldBlocks >= 2 ? r : undefined
  })
  assert.equal((await owner.api('DELETE', '/api/v1/sources/diary/records?from=1700000000&to=1700000600')).status, 200)
  await until('the deletion to reach the replica', () => {
    const held = replicator.owners()[0]
    return held && held.cores > 0 ? true : undefined
  })

  // Nothing the replicator stores is readable: the marker is nowhere on its disk, though it is in the box's view.
  assert.ok(filesHolding(path.join(homeDir, 'views'), marker).length > 0, 'the search finds plaintext where there is some')
  assert.deepEqual(filesHolding(replicatorDir, marker), [])

  // A stranger who knows the box's key gets nothing: the box's firewall refuses it.
  await stranger.open()
  t.after(() => stranger.close())
  const strangerList = await owner.api('GET', '/api/v1/backup/replicas')
  assert.equal(strangerList.body.replicas.length, 1)

  const records = (await owner.api('GET', '/api/v1/sources/diary/records?from=0&to=2000000000')).body
  const auditLength = owner.box.audit.length
  await owner.close()
  ownerOpen = false

  // A new machine: the same words, then a restore from the replicator alone.
  const newHome = path.join(tempDir(), 'home')
  initHome(newHome, { passphrase: PASSPHRASE, words, timeZone: 'UTC' })
  const phases = new Set<string>()
  const restored = await within('the restore', restoreFromReplica({ home: newHome, replica: replicator.publicKey, bootstrap, onProgress: (p) => phases.add(p.phase) }), 60_000)
  assert.equal(restored.audit.ok, true, restored.audit.problems.join('; '))
  assert.ok(restored.audit.length >= auditLength)
  assert.deepEqual(restored.sources.map((s) => s.id), ['diary'])
  assert.deepEqual([...phases], ['connecting', 'registry', 'sources', 'audit', 'views', 'verifying'])

  const again = createBox({ home: newHome, port: 0, logLevel: 'silent', dhtBootstrap: bootstrap })
  await again.open()
  try {
    const url = await again.listen()
    const token = again.arbiter.ownerToken(600).token
    const res = await fetch(`${url}/api/v1/sources/diary/records?from=0&to=2000000000`, { headers: { authorization: `Bearer ${token}` } })
    assert.deepEqual(await res.json(), records)
  } finally {
    await again.close()
  }
})
