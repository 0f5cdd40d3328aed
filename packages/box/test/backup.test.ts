import { test } from 'node:test'
import assert from 'node:assert/strict'
import path from 'node:path'
import { spawn, type ChildProcess } from 'node:child_process'
import createTestnet from 'hyperdht/testnet.js'
import HyperDHT from 'hyperdht'
import Hyperswarm from 'hyperswarm'
import { createBox, initHome } from '../src/index.ts'
import { Replicator, restoreFromReplica, type ReplicaView } from '../src/backup/index.ts'
import { BIN, PASSPHRASE, backupTestnet, call, cli, filesHolding, senml, startBox, tempDir, until, within } from './helpers.ts'

test('a blind replicator pairs by a sealed invite, holds no plaintext, follows deletions, and with the 24 words restores the same records and audit log', async (t) => {
  const bootstrap = await backupTestnet(t)

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
  const replica = await until('the replica to pair and catch up', synced, 30_000)
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

/** A process of the CLI left running, as a user starts it. */
function running(args: string[], env: Record<string, string>, ready: RegExp): Promise<{ child: ChildProcess; match: RegExpExecArray }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, COFFER_LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout!.on('data', (d) => {
      out += d
      const match = ready.exec(out)
      if (match) resolve({ child, match })
    })
    child.stderr!.on('data', (d) => (err += d))
    child.on('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}: ${err}`)))
  })
}

function killed(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    child.once('exit', () => resolve())
    child.kill('SIGKILL')
  })
}

test('from the command line: a replicator and a box pair, replication survives kill -9 of either mid-sync, and a stranger reaches neither', async (t) => {
  const testnet = await createTestnet(3)
  t.after(() => testnet.destroy())
  const env = { COFFER_DHT_BOOTSTRAP: testnet.bootstrap.map((b) => `${b.host}:${b.port}`).join(',') }
  const home = path.join(tempDir(), 'home')
  initHome(home, { passphrase: PASSPHRASE, timeZone: 'UTC' })
  const repDir = tempDir('coffer-replicator-')
  const children: ChildProcess[] = []
  t.after(() => Promise.all(children.map(killed)))
  const startReplicator = async () => {
    const { child } = await running(['replicator', '--dir', repDir, 'start'], env, /serving/)
    children.push(child)
    return child
  }
  const startBox = async () => {
    const { child, match } = await running(['--home', home, 'start', '--port', '0'], env, /listening on (http:\/\/\S+)/)
    children.push(child)
    return { child, url: match[1]! }
  }

  const repKey = (await cli(['replicator', '--dir', repDir, 'id'], env)).stdout.trim()
  assert.match(repKey, /^[0-9a-f]{64}$/)
  let replicator = await startReplicator()
  let box = await startBox()
  const token = (await cli(['--home', home, 'token', 'owner', '--expires', '1h'], env)).stdout.trim()
  const api = (method: string, route: string, opts: { body?: unknown; raw?: string } = {}) => call(box.url, method, route, { ...opts, token })
  assert.equal((await api('POST', '/api/v1/sources', { body: { id: 'steps', kind: 'timeseries', logicalType: 'activity' } })).status, 201)
  const write = async (from: number, batches: number) => {
    for (let b = 0; b < batches; b++) {
      const records = Array.from({ length: 500 }, (_, i) => ({ n: 'steps', t: 1_700_000_000 + (from + b) * 500 * 60 + i * 60, v: i }))
      assert.equal((await api('POST', '/api/v1/sources/steps/records', { raw: senml(records) })).status, 201)
    }
  }
  await write(0, 200)

  const invite = await cli(['--home', home, 'backup', 'invite', repKey, '--name', 'co-op'], env)
  assert.equal(invite.code, 0, invite.stderr)
  const code = /coffer-invite:\S+/.exec(invite.stdout)![0]
  const accepted = await cli(['replicator', '--dir', repDir, 'accept', code, '--quota', '1GiB'], env)
  assert.equal(accepted.code, 0, accepted.stderr)
  assert.match(accepted.stdout, /Paired with "co-op"/)

  const list = async () => JSON.parse((await cli(['--home', home, 'backup', 'list', '--json'], env)).stdout) as { replicas: ReplicaView[] }
  const heldSteps = (r: ReplicaView | undefined) => r?.health?.cores.find((c) => c.log === 'source:steps')?.heldBlocks ?? 0
  // Killed as soon as it holds part of the log, then started again: it carries on from what it has.
  await until('the replica to hold part of the log', async () => heldSteps((await list()).replicas[0]) > 0 ? true : undefined, 30_000)
  await killed(replicator)
  replicator = await startReplicator()
  await write(200, 50)
  // The box killed while it sends, then started again.
  await killed(box.child)
  box = await startBox()
  await write(250, 20)
  const inSync = await until('the replica to catch up after both were killed', async () => {
    const r = (await list()).replicas[0]
    return r?.state === 'paired' && r.health?.behindBlocks === 0 && heldSteps(r) >= 271 && (r.health.check?.blocks ?? 0) > 0 ? r : undefined
  }, 60_000)
  assert.equal(inSync.health!.check!.failed, 0)
  assert.equal(inSync.stale, false)

  const status = await cli(['replicator', '--dir', repDir, 'status', '--json'], env)
  const [owner] = JSON.parse(status.stdout) as { name: string; state: string; cores: number; usedBytes: number }[]
  assert.equal(owner!.name, 'co-op')
  assert.equal(owner!.state, 'active')
  assert.equal(owner!.cores, 3)
  assert.ok(owner!.usedBytes > 0)

  // A stranger who knows both keys is refused by both firewalls: no connection ever opens.
  const strangerDht = new HyperDHT({ bootstrap: testnet.bootstrap, host: '127.0.0.1', firewalled: false })
  const stranger = new Hyperswarm({ dht: strangerDht })
  t.after(async () => {
    await stranger.destroy()
    await strangerDht.destroy()
  })
  let connections = 0
  stranger.on('connection', (conn) => {
    connections++
    conn.on('error', () => {})
  })
  // The control: an open peer on the same network, which the stranger does reach in the same time.
  const openDht = new HyperDHT({ bootstrap: testnet.bootstrap, host: '127.0.0.1', firewalled: false })
  const open = new Hyperswarm({ dht: openDht })
  t.after(async () => {
    await open.destroy()
    await openDht.destroy()
  })
  open.on('connection', (conn) => conn.on('error', () => {}))
  await open.listen()
  const boxKey = (await list() as unknown as { boxKey: string }).boxKey
  stranger.joinPeer(Buffer.from(repKey, 'hex'))
  stranger.joinPeer(Buffer.from(boxKey, 'hex'))
  stranger.joinPeer(open.keyPair.publicKey)
  await until('the stranger to reach the open peer', () => connections > 0 ? true : undefined, 10_000)
  await new Promise((resolve) => setTimeout(resolve, 2000))
  assert.equal(connections, 1)

  // Removed: it is dropped and refused from then on.
  const removed = await cli(['--home', home, 'backup', 'remove', 'co-op'], env)
  assert.equal(removed.code, 0, removed.stderr)
  assert.deepEqual((await list()).replicas, [])
})

test('a replica refuses blocks beyond its quota, keeps to its upload limit and sync windows, and drops the log of a deleted source', async (t) => {
  const bootstrap = await backupTestnet(t)
  const owner = await startBox()
  t.after(() => owner.close())
  for (const id of ['small', 'big']) assert.equal((await owner.api('POST', '/api/v1/sources', { body: { id, kind: 'timeseries', logicalType: 'health' } })).status, 201)
  assert.equal((await owner.api('POST', '/api/v1/sources/small/records', { raw: senml([{ n: 'x', t: 1_700_000_000, v: 1 }]) })).status, 201)
  const filler = 'x'.repeat(200)
  for (let b = 0; b < 8; b++) {
    const records = Array.from({ length: 1000 }, (_, i) => ({ n: 'note', t: 1_700_000_000 + b * 100_000 + i, vs: `${filler}${b}-${i}` }))
    assert.equal((await owner.api('POST', '/api/v1/sources/big/records', { raw: senml(records) })).status, 201)
  }
  const pair = async (name: string, quotaBytes: number, settings: Record<string, unknown> = {}) => {
    const replicator = new Replicator({ dir: tempDir('coffer-replicator-'), bootstrap })
    await replicator.open()
    t.after(() => replicator.close())
    const { body } = await owner.api('POST', '/api/v1/backup/replicas', { body: { publicKey: replicator.publicKey, name } })
    if (Object.keys(settings).length > 0) assert.equal((await owner.api('PATCH', `/api/v1/backup/replicas/${body.replica.id}`, { body: settings })).status, 200)
    replicator.accept(body.invite, { quotaBytes })
    return { replicator, id: body.replica.id as string }
  }
  const view = async (id: string) => (await owner.api('GET', `/api/v1/backup/replicas/${id}`)).body as ReplicaView

  // A small quota: the replica stops taking blocks and says so; the owner sees why.
  const tight = await pair('tight', 256 * 1024)
  const full = await until('the tight replica to report its quota full', async () => {
    const r = await view(tight.id)
    return r.health?.overQuota ? r : undefined
  }, 30_000)
  assert.ok(full.health!.behindBlocks > 0)
  assert.ok(full.stale)
  assert.match(full.problems.join(' '), /quota is full/)

  // An upload limit of 256 KiB/s: the big log (about 2 MiB on the wire) cannot arrive in under 4 s.
  const started = Date.now()
  const slow = await pair('slow', 1e9, { uploadBytesPerSecond: 256 * 1024 })
  const synced = await until('the limited replica to catch up', async () => {
    const r = await view(slow.id)
    return r.health && r.health.behindBlocks === 0 ? r : undefined
  }, 60_000)
  assert.ok(Date.now() - started >= 4000, `synced in ${Date.now() - started} ms despite the limit`)
  assert.ok(synced.traffic.sentBytes > 0)

  // Outside its windows the box drops it; back in, it reconnects.
  const now = new Date()
  const hhmm = (d: Date) => d.toISOString().slice(11, 16)
  const closedWindow = `${hhmm(new Date(now.getTime() + 2 * 3600_000))}-${hhmm(new Date(now.getTime() + 3 * 3600_000))}`
  const outside = await owner.api('PATCH', `/api/v1/backup/replicas/${slow.id}`, { body: { windows: [closedWindow] } })
  assert.equal(outside.body.inWindow, false)
  await until('the replica to be dropped outside its window', async () => (await view(slow.id)).connected ? undefined : true)
  await owner.api('PATCH', `/api/v1/backup/replicas/${slow.id}`, { body: { windows: [] } })
  await until('the replica to reconnect', async () => (await view(slow.id)).connected ? true : undefined)

  // A deleted source's log is dropped by the replica.
  assert.equal((await owner.api('DELETE', '/api/v1/sources/small')).status, 200)
  await until('the replica to drop the deleted source\'s log', () => slow.replicator.owners()[0]!.cores === 3 ? true : undefined)
  const after = await until('a report without the deleted log', async () => {
    const r = await view(slow.id)
    return r.health?.cores.every((c) => c.log !== 'source:small') ? r : undefined
  })
  assert.deepEqual(after.health!.cores.map((c) => c.log).sort(), ['audit', 'registry', 'source:big'])
})
