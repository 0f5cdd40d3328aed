import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { spawn, type ChildProcess } from 'node:child_process'
import { createBox, initHome } from '../src/index.ts'
import { DeviceStandby, Replicator, acceptDevice, deviceIdentity, deviceStatus, promoteDevice, type ReplicaView } from '../src/backup/index.ts'
import { openCorestore } from '../src/store/index.ts'
import { BIN, PASSPHRASE, backupTestnet, call, cli, senml, startBox, startProcess, tempDir, until, within } from './helpers.ts'

const DEVICE_PASSPHRASE = 'the laptop has its own'

test('the owner\'s other device pairs by a sealed invite carrying the seed, follows the box, and promoted serves the same records and a verified audit log', async (t) => {
  const bootstrap = await backupTestnet(t)

  const homeDir = path.join(tempDir(), 'home')
  initHome(homeDir, { passphrase: PASSPHRASE, timeZone: 'Europe/Berlin' })
  const owner = await startBox(homeDir)
  let ownerOpen = true
  t.after(() => ownerOpen ? owner.close() : undefined)

  assert.equal((await owner.api('POST', '/api/v1/sources', { body: { id: 'diary', kind: 'timeseries', logicalType: 'health', description: 'Notes' } })).status, 201)
  const before = Array.from({ length: 50 }, (_, i) => ({ n: 'note', t: 1_700_000_000 + i * 60, vs: `entry ${i}` }))
  assert.equal((await owner.api('POST', '/api/v1/sources/diary/records', { raw: senml(before) })).status, 201)

  const deviceDir = path.join(tempDir(), 'laptop')
  const deviceKey = deviceIdentity(deviceDir).publicKey.toString('hex')
  assert.equal(deviceIdentity(deviceDir).publicKey.toString('hex'), deviceKey, 'the device keeps its key')

  // The seed leaves the box only for the owner passphrase, not for an owner token alone.
  const body = { publicKey: deviceKey, name: 'Laptop', expiresIn: '10m' }
  const bare = await owner.api('POST', '/api/v1/backup/devices', { body })
  assert.equal(bare.status, 400)
  assert.match(bare.body.detail, /passphrase/)
  const wrong = await owner.api('POST', '/api/v1/backup/devices', { body: { ...body, passphrase: 'not the passphrase' } })
  assert.equal(wrong.status, 403)
  assert.equal(wrong.body.title, 'Wrong passphrase')
  assert.deepEqual((await owner.api('GET', '/api/v1/backup/replicas')).body.replicas, [], 'a refused invite leaves nothing behind')

  const invited = await owner.api('POST', '/api/v1/backup/devices', { body: { ...body, passphrase: PASSPHRASE } })
  assert.equal(invited.status, 200, JSON.stringify(invited.body))
  const code: string = invited.body.invite
  assert.match(code, /^coffer-device-invite:/)
  assert.equal(invited.body.replica.kind, 'device')
  assert.equal(invited.body.replica.state, 'invited')
  const id: string = invited.body.replica.id
  const seed = fs.readFileSync(path.join(homeDir, 'seed'))
  assert.ok(!Buffer.from(code).includes(seed.toString('hex')) && !code.includes(seed.toString('base64url')), 'the seed is not in the code in the clear')

  // Only that device opens it: not another device, not a blind replicator, not after it expires.
  const otherDevice = path.join(tempDir(), 'other')
  await assert.rejects(acceptDevice(otherDevice, code, async () => DEVICE_PASSPHRASE), /not made for this device/)
  assert.equal(fs.existsSync(path.join(otherDevice, 'standby', 'home')), false)
  const replicator = new Replicator({ dir: tempDir('coffer-replicator-'), bootstrap })
  assert.throws(() => replicator.accept(code, { quotaBytes: 1e9 }), /own device/)
  let asked = 0
  const counted = async () => {
    asked++
    return DEVICE_PASSPHRASE
  }
  await assert.rejects(acceptDevice(deviceDir, code, counted, Date.now() + 3600_000), /expired/)
  assert.equal(asked, 0, 'no passphrase is asked for an invite that is refused')

  const accepted = await acceptDevice(deviceDir, code, async () => DEVICE_PASSPHRASE)
  const boxIdentity = owner.box.home.config.identity
  assert.equal(accepted.identity, boxIdentity, 'the seed gives the device the box\'s own identity')
  assert.equal(accepted.name, 'Laptop')
  await assert.rejects(acceptDevice(deviceDir, code, async () => DEVICE_PASSPHRASE), /used already/)
  // Not a box until promoted: nothing can start on it and write logs under the box's keys.
  assert.equal(fs.existsSync(path.join(deviceDir, 'config.json')), false)
  await assert.rejects(promoteDevice({ home: deviceDir }), /not synced with the box yet/)

  const standby = new DeviceStandby({ home: deviceDir, bootstrap })
  await standby.open()
  let standbyOpen = true
  t.after(() => standbyOpen ? standby.close() : undefined)
  assert.equal(standby.publicKey, deviceKey)

  const view = async () => (await owner.api('GET', `/api/v1/backup/replicas/${id}`)).body as ReplicaView
  const caughtUp = (least: number) => async () => {
    const r = await view()
    const held = r.health?.cores.find((c) => c.log === 'source:diary')?.heldBlocks ?? 0
    return r.state === 'paired' && r.health?.behindBlocks === 0 && held >= least && (r.health.check?.blocks ?? 0) > 0 ? r : undefined
  }
  const paired = await until('the device to pair and catch up', caughtUp(1), 30_000)
  assert.equal(paired.kind, 'device')
  assert.equal(paired.health!.check!.failed, 0, 'blocks it holds match the box\'s own')
  assert.equal(paired.stale, false)
  assert.ok(paired.lastSeen)
  assert.deepEqual(paired.health!.cores.map((c) => c.log).sort(), ['audit', 'registry', 'source:diary'])

  // Records written while both run reach it too, and a second source's log with them.
  const after = Array.from({ length: 20 }, (_, i) => ({ n: 'note', t: 1_700_100_000 + i * 60, vs: `late entry ${i}` }))
  assert.equal((await owner.api('POST', '/api/v1/sources/diary/records', { raw: senml(after) })).status, 201)
  assert.equal((await owner.api('POST', '/api/v1/sources', { body: { id: 'steps', kind: 'timeseries', logicalType: 'activity' } })).status, 201)
  assert.equal((await owner.api('POST', '/api/v1/sources/steps/records', { raw: senml([{ n: 'steps', t: 1_700_000_000, v: 4200 }]) })).status, 201)
  await until('the new records to reach the device', async () => {
    const r = await caughtUp(2)()
    return r?.health?.cores.some((c) => c.log === 'source:steps' && c.heldBlocks > 0) ? r : undefined
  }, 30_000)
  const listed = (await owner.api('GET', '/api/v1/backup/replicas')).body.replicas as ReplicaView[]
  assert.deepEqual(listed.map((r) => [r.name, r.kind, r.state]), [['Laptop', 'device', 'paired']])
  const status = deviceStatus(deviceDir)
  assert.equal(status.state, 'active')
  assert.equal(status.identity, boxIdentity)
  assert.equal(status.cores, 4)
  assert.equal(status.running, true)
  await assert.rejects(promoteDevice({ home: deviceDir }), /still following the box/)

  // What the box served; then, asked without a request (each request is an audit entry), the device holds all of it.
  const records = {
    diary: (await owner.api('GET', '/api/v1/sources/diary/records?from=0&to=2000000000')).body,
    steps: (await owner.api('GET', '/api/v1/sources/steps/records?from=0&to=2000000000')).body,
  }
  assert.equal(records.diary.length, 70)
  const held = await until('the device to hold the box\'s last audit entries', async () => {
    const r = await owner.box.backup.get(id)
    return r.health?.behindBlocks === 0 ? r : undefined
  }, 30_000)
  const auditLength = owner.box.audit.length
  const boxKey = owner.box.backup.publicKey
  await owner.close()
  ownerOpen = false
  await standby.close()
  standbyOpen = false

  // The box stopped just after appending an audit entry the device had heard of but not received:
  // the device's copy knows the log's new length, and lacks its last block.
  const auditKey = held.health!.cores.find((c) => c.log === 'audit')!.key
  const copy = openCorestore(path.join(deviceDir, 'standby', 'owners', boxKey))
  const auditCopy = copy.get({ key: Buffer.from(auditKey, 'hex') })
  await auditCopy.ready()
  await auditCopy.clear(auditCopy.length - 1, auditCopy.length)
  await copy.close()

  const phases = new Set<string>()
  const promoted = await within('the promotion', promoteDevice({ home: deviceDir, onProgress: (p) => phases.add(p.phase) }), 60_000)
  assert.equal(promoted.audit.ok, true, promoted.audit.problems.join('; '))
  // The log ends at the last block the device held, signed anew with the box's key; the rest is verified.
  assert.deepEqual(promoted.missing, [{ log: 'audit', blocks: 1 }])
  assert.ok(promoted.audit.length < auditLength && promoted.audit.length > auditLength - 5, `${promoted.audit.length} audit entries, the box had ${auditLength}`)
  assert.equal(promoted.identity, boxIdentity)
  assert.deepEqual(promoted.sources.map((s) => s.id).sort(), ['diary', 'steps'])
  assert.deepEqual([...phases], ['connecting', 'registry', 'sources', 'audit', 'views', 'verifying'])
  assert.equal(fs.existsSync(path.join(deviceDir, 'standby')), false, 'the standby copy goes once the home stands in its place')
  await assert.rejects(promoteDevice({ home: deviceDir }), /is a box, not a standby/)

  const again = createBox({ home: deviceDir, port: 0, logLevel: 'silent', dhtBootstrap: bootstrap })
  await again.open()
  try {
    const url = await again.listen()
    assert.equal(again.home.config.timeZone, 'Europe/Berlin', 'the box\'s time zone came with the invite')
    // The device's own passphrase opens it; the old box's does not.
    assert.equal((await call(url, 'POST', '/api/v1/login', { body: { passphrase: PASSPHRASE } })).status, 401)
    const login = await call(url, 'POST', '/api/v1/login', { body: { passphrase: DEVICE_PASSPHRASE } })
    assert.equal(login.status, 200)
    const token = login.body.token as string
    for (const source of ['diary', 'steps'] as const) {
      assert.deepEqual((await call(url, 'GET', `/api/v1/sources/${source}/records?from=0&to=2000000000`, { token })).body, records[source])
    }
    const verified = await call(url, 'POST', '/api/v1/audit/verify', { token })
    assert.equal(verified.status, 200)
    assert.equal(verified.body.ok, true, JSON.stringify(verified.body))
  } finally {
    await again.close()
  }
})

/** A long-running command of the CLI, as a user leaves it running; resolves once it prints `ready`. */
function running(args: string[], ready: RegExp): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, COFFER_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout!.on('data', (d) => {
      out += d
      if (ready.test(out)) resolve(child)
    })
    child.stderr!.on('data', (d) => (err += d))
    child.on('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}: ${err}`)))
  })
}

function stopped(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    child.once('exit', () => resolve())
    child.kill(signal)
  })
}

test('from the command line: a device invite asks for the passphrase, the device follows the box, and once the box is killed the promoted device serves its records', async (t) => {
  await backupTestnet(t)
  const children: ChildProcess[] = []
  t.after(() => Promise.all(children.map((c) => stopped(c, 'SIGKILL'))))

  const home = path.join(tempDir(), 'home')
  initHome(home, { passphrase: PASSPHRASE, timeZone: 'UTC' })
  const box = await startProcess(home)
  children.push(box.child)
  const token = (await cli(['--home', home, 'token', 'owner', '--expires', '1h'])).stdout.trim()
  assert.equal((await call(box.url, 'POST', '/api/v1/sources', { token, body: { id: 'steps', kind: 'timeseries', logicalType: 'activity' } })).status, 201)
  const steps = Array.from({ length: 300 }, (_, i) => ({ n: 'steps', t: 1_700_000_000 + i * 60, v: i }))
  assert.equal((await call(box.url, 'POST', '/api/v1/sources/steps/records', { token, raw: senml(steps) })).status, 201)

  const device = path.join(tempDir(), 'laptop')
  const key = (await cli(['--home', device, 'device', 'id'])).stdout.trim()
  assert.match(key, /^[0-9a-f]{64}$/)

  const invite = (env: Record<string, string>) => cli(['--home', home, 'backup', 'invite', key, '--device', '--name', 'Laptop'], env)
  const unasked = await invite({})
  assert.equal(unasked.code, 1)
  assert.match(unasked.stderr, /COFFER_PASSPHRASE/, 'with no terminal to ask on, it says how to give the passphrase')
  const wrong = await invite({ COFFER_PASSPHRASE: 'not it at all' })
  assert.equal(wrong.code, 1)
  assert.match(wrong.stderr, /Wrong passphrase/)
  const invited = await invite({ COFFER_PASSPHRASE: PASSPHRASE })
  assert.equal(invited.code, 0, invited.stderr)
  const code = /coffer-device-invite:\S+/.exec(invited.stdout)![0]

  const accepted = await cli(['--home', device, 'device', 'accept', code], { COFFER_PASSPHRASE: DEVICE_PASSPHRASE })
  assert.equal(accepted.code, 0, accepted.stderr)
  assert.match(accepted.stdout, /standby of box [0-9a-f]{64} \(as "Laptop"\)/)
  const standby = await running(['--home', device, 'device', 'start'], /following box/)
  children.push(standby)

  const list = async () => JSON.parse((await cli(['--home', home, 'backup', 'list', '--json'])).stdout) as { replicas: ReplicaView[] }
  const laptop = await until('the device to catch up', async () => {
    const [r] = (await list()).replicas
    return r?.state === 'paired' && r.health?.behindBlocks === 0 && (r.health.check?.blocks ?? 0) > 0 ? r : undefined
  }, 60_000)
  assert.equal(laptop.kind, 'device')
  assert.equal(laptop.health!.check!.failed, 0)
  assert.match((await cli(['--home', home, 'backup', 'list'])).stdout, /Laptop\s+device\s+paired/)
  const status = JSON.parse((await cli(['--home', device, 'device', 'status', '--json'])).stdout) as { state: string; cores: number; running: boolean }
  assert.deepEqual([status.state, status.cores, status.running], ['active', 3, true])
  const early = await cli(['--home', device, 'device', 'promote'])
  assert.equal(early.code, 1)
  assert.match(early.stderr, /still following the box/)

  const records = (await call(box.url, 'GET', '/api/v1/sources/steps/records?from=0&to=2000000000', { token })).body
  assert.equal(records.length, 300)
  // The box is lost all at once; the device is stopped as its owner stops it.
  await stopped(box.child, 'SIGKILL')
  await stopped(standby, 'SIGTERM')

  const promoted = await cli(['--home', device, 'device', 'promote'])
  assert.equal(promoted.code, 0, promoted.stderr)
  assert.match(promoted.stdout, /Promoted: box [0-9a-f]{64}, 1 sources \(300 records\)/)
  assert.match(promoted.stdout, /Audit log verified: \d+ entries/)

  const served = await startProcess(device)
  children.push(served.child)
  const login = await call(served.url, 'POST', '/api/v1/login', { body: { passphrase: DEVICE_PASSPHRASE } })
  assert.equal(login.status, 200)
  assert.deepEqual((await call(served.url, 'GET', '/api/v1/sources/steps/records?from=0&to=2000000000', { token: login.body.token })).body, records)
  const verified = await call(served.url, 'POST', '/api/v1/audit/verify', { token: login.body.token })
  assert.equal(verified.body.ok, true, JSON.stringify(verified.body))
})
