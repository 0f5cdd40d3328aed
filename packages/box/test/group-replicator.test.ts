import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import HyperDHT from 'hyperdht'
import Hyperswarm from 'hyperswarm'
import { openCorestore } from '../src/store/index.ts'
import { Groups } from '../src/groups/index.ts'
import { Replicator } from '../src/backup/index.ts'
import { call, filesHolding, tempDir, until } from './helpers.ts'
import { allotment, startBox, teardown, testnet } from './group-members.ts'

test('a group\'s blind replicator pairs by a sealed invite, follows the group to a new key, serves a member that comes back while every other is offline, holds no plaintext, and admits neither a removed member nor a stranger', async (t) => {
  const later = teardown(t)
  const replicatorDir = tempDir('coffer-group-replicator-')
  const { bootstrap, anna, bea, cai, replicator, key } = await allotment(later, replicatorDir)
  await anna.groups.drive(key).writeFile('/before.txt', 'written before the replicator came')

  // The invite is sealed to the replicator: another cannot open it, and it pairs once.
  const { invite } = await anna.groups.inviteReplicator(key, { publicKey: replicator.publicKey, name: 'Co-op server', expiresInSeconds: 600 })
  assert.ok(!invite.includes(key), 'the code names nothing in the clear')
  const other = new Replicator({ dir: tempDir('coffer-other-replicator-'), bootstrap })
  assert.throws(() => other.accept(invite, { quotaBytes: 2 ** 30 }), /not made for this replicator/)
  assert.deepEqual(replicator.accept(invite, { quotaBytes: 2 ** 30 }), { owner: key, name: 'group "Allotment"' })
  assert.throws(() => replicator.accept(invite, { quotaBytes: 2 ** 30 }), /used already/)

  const synced = (box: { groups: Groups }, after = 0) => async () => {
    const view = await box.groups.get(key)
    const r = view.replicators[0]
    return r?.connected && r.holds && r.holds.behindBlocks === 0 && r.lastSynced && Date.parse(r.lastSynced) > after ? r : undefined
  }
  const paired = await until('the replicator to pair and catch up with Anna', synced(anna), 60_000)
  assert.equal(paired.name, 'Co-op server')
  assert.equal(paired.box, replicator.publicKey)
  assert.ok(paired.holds!.cores > 0 && paired.holds!.blocks > 0)
  for (const box of [bea, cai]) await until('every member to list the replicator', async () => (await box.groups.get(key)).replicators.some((r) => r.box === replicator.publicKey) || undefined)
  assert.deepEqual(replicator.owners().map((o) => [o.kind, o.key, o.state]), [['group', key, 'active']])

  // Removing Bea moves the group to a new key; the replicator follows, and no longer admits Bea.
  await anna.groups.remove(key, bea.groups.publicKey)
  await until('Cai to be back in the new epoch', async () => {
    const view = await cai.groups.get(key)
    return view.epoch === 1 && view.writable && view.role === 'member' || undefined
  }, 30_000)
  await until('the replicator to drop Bea', () => !replicator.groupConnections(key).includes(bea.peer(key)) || undefined)

  // Everyone but Anna goes offline; she writes in the new epoch, and the replicator takes it all.
  await cai.stop()
  const marker = { name: `MARKER-name-${randomBytes(4).toString('hex')}`, content: `MARKER-content-${randomBytes(4).toString('hex')}` }
  const written = Date.now()
  await anna.groups.drive(key).writeFile(`/plans/${marker.name}.txt`, `${marker.content}: beans in row 1`)
  await anna.groups.drive(key).writeFile('/plans/big.bin', randomBytes(2 * 2 ** 20))
  await until('the replicator to hold Anna\'s writes', synced(anna, written), 60_000)
  await anna.stop()

  // Cai comes back while no other member is online: the replicator alone serves it.
  await cai.start()
  const text = await until('Cai to get Anna\'s file from the replicator', async () => {
    const drive = cai.groups.drive(key)
    return (await drive.stat(`/plans/${marker.name}.txt`)) && (await drive.stat('/plans/big.bin')) ? (await drive.readFile(`/plans/${marker.name}.txt`)).toString() : undefined
  }, 60_000)
  assert.equal(text, `${marker.content}: beans in row 1`)
  assert.equal((await cai.groups.drive(key).readFile('/plans/big.bin')).length, 2 * 2 ** 20)
  assert.equal((await cai.groups.drive(key).readFile('/before.txt')).toString(), 'written before the replicator came')
  assert.deepEqual(replicator.groupConnections(key), [cai.peer(key)], 'Cai\'s only peer was the replicator')

  // The replicator's disk holds neither a file's name nor its contents.
  assert.ok(replicator.owners()[0]!.usedBytes > 2 * 2 ** 20, 'the replicator holds the group\'s blocks')
  for (const needle of [marker.name, marker.content]) assert.deepEqual(filesHolding(replicatorDir, needle), [], `${needle} on the replicator's disk`)
  const clear = tempDir('coffer-clear-')
  const store = openCorestore(clear)
  const core = store.get({ name: 'clear' })
  await core.ready()
  await core.append(Buffer.from(`${marker.content} in the clear`))
  await store.close()
  assert.ok(filesHolding(clear, marker.content).length > 0, 'the search finds plaintext where there is some')

  // Bea, removed, still knows the replicator and dials it; a stranger finds it at the group's address. Neither gets a connection.
  const replicatorPeer = (await cai.groups.get(key)).replicators[0]!.peer
  const stranger = new Hyperswarm({ dht: new HyperDHT({ bootstrap, host: '127.0.0.1', firewalled: false }) })
  later(() => stranger.destroy())
  let strangerConnections = 0
  stranger.on('connection', (conn) => {
    strangerConnections++
    conn.on('error', () => {})
  })
  stranger.joinPeer(Buffer.from(replicatorPeer, 'hex'))
  ;(stranger as unknown as { join(topic: Buffer): unknown }).join(Buffer.from((await cai.groups.get(key)).address, 'hex'))
  const stats = (stranger as unknown as { stats: { connects: { client: { attempted: number } } } }).stats.connects.client
  await until('the stranger to try', () => stats.attempted > 0 || undefined)
  await new Promise((resolve) => setTimeout(resolve, 2000))
  assert.equal(strangerConnections, 0)
  assert.ok(!replicator.groupConnections(key).includes(bea.peer(key)), 'the removed member is refused')
  assert.equal((await bea.groups.get(key)).replicators.find((r) => r.peer === replicatorPeer)?.connected, false)
})

test('a member syncs with a group\'s replicator only inside the sync windows it set: outside them the replicator is dropped and refused, and inside them it catches up', async (t) => {
  const later = teardown(t)
  const bootstrap = await testnet(later)
  const anna = await startBox(later, bootstrap)
  const replicator = new Replicator({ dir: tempDir('coffer-group-window-replicator-'), bootstrap })
  await replicator.open()
  later(() => replicator.close())
  const key: string = (await anna.api('POST', '/groups', { body: { name: 'Allotment', as: 'Anna' } })).body.key
  const { invite } = (await anna.api('POST', `/groups/${key}/replicators`, { body: { publicKey: replicator.publicKey, name: 'Co-op server' } })).body
  replicator.accept(invite, { quotaBytes: 2 ** 30 })
  const view = async () => (await anna.api('GET', `/groups/${key}/replicators`)).body.replicators[0] as { connected: boolean; inWindow: boolean; windows: string[]; holds: { behindBlocks: number } | null; lastSynced: string | null }
  await until('the replicator to pair and connect', async () => (await view())?.connected || undefined, 60_000)
  assert.deepEqual((await view()).windows, [])

  // A window that opens in two hours (the box's time zone is UTC): the replicator is dropped at once, and refused while it redials.
  const hhmm = (offsetHours: number) => new Date(Date.now() + offsetHours * 3600_000).toISOString().slice(11, 16)
  const said = await anna.coffer('groups', 'replicator', 'set', 'Allotment', 'Co-op server', '--window', `${hhmm(2)}-${hhmm(3)}`)
  assert.match(said, new RegExp(`"Co-op server": syncs in ${hhmm(2)}-${hhmm(3)} \\(outside its windows now`))
  const outside = await until('the replicator to be dropped outside its window', async () => {
    const r = await view()
    return !r.connected && replicator.groupConnections(key).length === 0 ? r : undefined
  })
  assert.equal(outside.inWindow, false)
  assert.deepEqual(outside.windows, [`${hhmm(2)}-${hhmm(3)}`])
  const written = Date.now()
  const put = await call(anna.url, 'PUT', `/dav/groups/${key}/while-closed.txt`, { raw: 'written outside the window', type: 'text/plain', token: anna.token })
  assert.equal(put.status, 201)
  await new Promise((resolve) => setTimeout(resolve, 3000))
  assert.deepEqual(replicator.groupConnections(key), [], 'the replicator redials, and is refused')
  assert.match(await anna.coffer('groups', 'replicator', 'list', 'Allotment'), /Co-op server +outside window/)

  // A window around now: it is admitted again, and takes what was written meanwhile.
  await anna.api('PATCH', `/groups/${key}/replicators/${replicator.publicKey}`, { body: { windows: [`${hhmm(-1)}-${hhmm(1)}`] } })
  const inside = await until('the replicator to reconnect and catch up inside its window', async () => {
    const r = await view()
    return r.connected && r.holds?.behindBlocks === 0 && r.lastSynced && Date.parse(r.lastSynced) > written ? r : undefined
  }, 60_000)
  assert.equal(inside.inWindow, true)
  assert.match(await anna.coffer('groups', 'replicator', 'list', 'Allotment'), /Co-op server +yes +\d\d:\d\d-\d\d:\d\d/)
})
