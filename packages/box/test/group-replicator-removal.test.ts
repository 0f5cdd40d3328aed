import { test } from 'node:test'
import assert from 'node:assert/strict'
import HyperDHT from 'hyperdht'
import Hyperswarm from 'hyperswarm'
import { openCorestore } from '../src/store/index.ts'
import { FromGroupReplica, admissionsManifest, openWire, type GroupHealthReport, type ToGroupReplica } from '../src/backup/index.ts'
import { tempDir, until } from './helpers.ts'
import { allotment, teardown } from './group-members.ts'

test('a group\'s replicator that only a plain member reaches hears of a removal with no admin connected, drops and refuses the removed member, and takes no list a plain member makes up or brings back', async (t) => {
  const later = teardown(t)
  const { bootstrap, anna, bea, cai, replicator, key } = await allotment(later, tempDir('coffer-group-removal-replicator-'))
  const { invite } = await anna.groups.inviteReplicator(key, { publicKey: replicator.publicKey, name: 'Co-op server', expiresInSeconds: 600 })
  replicator.accept(invite, { quotaBytes: 2 ** 30 })
  const connected = () => replicator.groupConnections(key)
  await until('the replicator to pair and admit Bea and Cai', () => [bea, cai].every((b) => connected().includes(b.peer(key))) || undefined, 60_000)
  const replicatorPeer = (await anna.groups.get(key)).replicators[0]!.peer
  const before = [anna, bea, cai].map((b) => b.peer(key))

  // Anna, the only admin, keeps the replicator outside her sync windows: it is dropped, and refused, by her.
  const hhmm = (offsetHours: number) => new Date(Date.now() + offsetHours * 3600_000).toISOString().slice(11, 16)
  await anna.groups.configureReplicator(key, replicator.publicKey, { windows: [`${hhmm(2)}-${hhmm(3)}`] })
  await until('Anna to be off the replicator', () => !connected().includes(anna.peer(key)) || undefined)

  // She removes Bea; only Cai, a plain member, can tell the replicator.
  await anna.groups.remove(key, bea.groups.publicKey)
  await until('Cai to be in the new epoch', async () => (await cai.groups.get(key)).epoch === 1 || undefined, 30_000)
  await until('the replicator to drop Bea', () => !connected().includes(bea.peer(key)) || undefined, 30_000)
  assert.ok(!connected().includes(anna.peer(key)), 'no admin was connected to the replicator')
  await anna.stop()

  // Bea's box still knows the replicator and dials it: it is refused.
  await new Promise((resolve) => setTimeout(resolve, 2000))
  assert.ok(!connected().includes(bea.peer(key)), 'the removed member is refused')
  assert.equal((await bea.groups.get(key)).replicators.find((r) => r.peer === replicatorPeer)?.connected, false)

  // Cai's key, in other hands (or Cai's box gone bad): it says the list from before the removal, with itself as an admin, and
  // offers an admissions core of its own that lets Bea back in at a later epoch. The replicator holds the core like any other, and heeds neither.
  await cai.stop()
  const caiPeer = cai.home.keys.deriveKeyPair(`groups/${key}/peer`)
  const store = openCorestore(tempDir('coffer-rogue-'))
  later(() => store.close())
  const forged = store.get({ keyPair: caiPeer, manifest: admissionsManifest(caiPeer.publicKey.toString('hex')) })
  await forged.ready()
  await forged.append(Buffer.from(JSON.stringify({ v: 1, group: key, epoch: 5, peers: before.map((peer) => ({ peer, admin: true })), at: Date.now() })))
  const rogue = new Hyperswarm({ keyPair: caiPeer, dht: new HyperDHT({ bootstrap, host: '127.0.0.1', firewalled: false }) })
  later(() => rogue.destroy())
  const reports: GroupHealthReport[] = []
  rogue.on('connection', (conn) => {
    conn.on('error', () => {})
    ;(store as unknown as { replicate(stream: unknown): unknown }).replicate(conn)
    const wire = openWire<ToGroupReplica, FromGroupReplica>(conn, FromGroupReplica, (m) => {
      if (m.type === 'health') reports.push(m.report)
    })
    wire.send({ type: 'peers', peers: before.map((peer) => ({ peer, admin: true })) })
    wire.send({ type: 'cores', keys: [forged.key.toString('hex')] })
  })
  rogue.joinPeer(Buffer.from(replicatorPeer, 'hex'))
  await until('the replicator to hold the offered core', () => reports.some((r) => r.cores.some((c) => c.key === forged.key.toString('hex') && c.blocks === 1)) || undefined, 30_000)
  await new Promise((resolve) => setTimeout(resolve, 2000))
  assert.ok(!connected().includes(bea.peer(key)), 'the removed member is still refused')
  assert.equal((await bea.groups.get(key)).replicators.find((r) => r.peer === replicatorPeer)?.connected, false)
})
