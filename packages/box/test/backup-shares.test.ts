import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { initHome, openHome } from '../src/index.ts'
import { Replicator } from '../src/backup/index.ts'
import { PASSPHRASE, backupTestnet, cli, startBox, tempDir, until, type Running } from './helpers.ts'

/** Invites a running replicator, has its operator accept, and waits until the box says it is paired. */
async function pair(owner: Running, replicator: Replicator, name: string): Promise<string> {
  const invited = await owner.api('POST', '/api/v1/backup/replicas', { body: { publicKey: replicator.publicKey, name, expiresIn: '10m' } })
  assert.equal(invited.status, 200, JSON.stringify(invited.body))
  replicator.accept(invited.body.invite, { quotaBytes: 64 * 2 ** 20 })
  const id: string = invited.body.replica.id
  await until(`${name} to pair`, async () => (await owner.api('GET', `/api/v1/backup/replicas/${id}`)).body.state === 'paired' ? true : undefined, 30_000)
  return id
}

async function replicatorCli(replicator: Replicator, args: string[]) {
  const run = await cli(['replicator', '--dir', replicator.dir, 'shares', ...args])
  assert.equal(run.code, 0, run.stderr)
  return run.stdout
}

const heldOn = async (replicator: Replicator) => JSON.parse(await replicatorCli(replicator, ['list', '--json'])) as { key: string; owner: string; version: number; index: number; label: string }[]

test('a share of the seed goes to a friend\'s blind replicator over the paired connection; t−1 released shares do not recover the box, t do; a new split retires the old share there; an unpaired replicator gets none', async (t) => {
  const bootstrap = await backupTestnet(t)
  const homeDir = path.join(tempDir(), 'home')
  initHome(homeDir, { passphrase: PASSPHRASE, timeZone: 'UTC' })
  const owner = await startBox(homeDir)
  t.after(() => owner.close())
  const identity = owner.box.home.config.identity

  const replicators = ['anna', 'ben', 'stranger'].map((name) => new Replicator({ dir: tempDir(`coffer-replicator-${name}-`), bootstrap }))
  for (const r of replicators) {
    await r.open()
    t.after(() => r.close())
  }
  const [anna, ben, stranger] = replicators as [Replicator, Replicator, Replicator]
  await pair(owner, anna, 'anna-nas')
  await pair(owner, ben, 'Ben\'s Pi')
  // Invited, but its operator never accepted: not paired.
  assert.equal((await owner.api('POST', '/api/v1/backup/replicas', { body: { publicKey: stranger.publicKey, name: 'stranger', expiresIn: '10m' } })).status, 200)

  const split = (friends: unknown[]) => owner.api('POST', '/api/v1/recovery/split', { body: { passphrase: PASSPHRASE, threshold: 2, friends } })
  const unpaired = await split([{ replica: 'anna-nas' }, { replica: 'stranger' }])
  assert.equal(unpaired.status, 400)
  assert.match(unpaired.body.detail, /"stranger" has not paired yet/)
  const unnamed = await split([{ replica: 'anna-nas' }, { replica: 'Ben\'s Pi' }])
  assert.equal(unnamed.status, 400, 'a replica\'s name that cannot name the friend asks for one')
  assert.match(unnamed.body.detail, /Give the friend who runs the replica "Ben's Pi" a name/)
  assert.equal((await owner.api('GET', '/api/v1/recovery/split')).body, null, 'a refused split leaves nothing behind')

  const first = await split([{ replica: 'anna-nas' }, { name: 'ben', replica: 'Ben\'s Pi' }])
  assert.equal(first.status, 200, JSON.stringify(first.body))
  assert.deepEqual(first.body.shares, [], 'no file to hand over: both go through replicas')
  assert.deepEqual(first.body.friends.map((f: any) => [f.name, f.identity, f.replica.name]), [['anna-nas', anna.publicKey, 'anna-nas'], ['ben', ben.publicKey, 'Ben\'s Pi']])
  const v1: number = first.body.version

  // The box says, per share, when its replica holds it.
  const delivered = await until('both shares to be delivered', async () => {
    const { body } = await owner.api('GET', '/api/v1/recovery/split')
    return body.friends.every((f: any) => f.deliveredAt !== null) ? body : undefined
  }, 30_000)
  assert.deepEqual(delivered.friends.map((f: any) => f.problem), [null, null])
  const listed = await cli(['--home', homeDir, 'backup', 'shares', 'list'], { COFFER_URL: owner.url, COFFER_TOKEN: owner.token })
  assert.equal(listed.code, 0, listed.stderr)
  assert.match(listed.stdout, /1\s+anna-nas\s+[0-9a-f]{12}…\s+delivered to replica "anna-nas"/)
  assert.match(listed.stdout, /2\s+ben\s+[0-9a-f]{12}…\s+delivered to replica "Ben's Pi"/)

  const annaHolds = await heldOn(anna)
  assert.deepEqual(annaHolds.map((h) => [h.key, h.owner, h.version, h.index, h.label]), [[owner.box.backup.publicKey, identity, v1, 1, 'anna-nas']])
  assert.deepEqual((await heldOn(ben)).map((h) => [h.owner, h.version, h.index]), [[identity, v1, 2]])
  assert.deepEqual(await heldOn(stranger), [])
  // Held sealed: nothing of the share is on the replicator's disk in the clear.
  assert.ok(!fs.readFileSync(path.join(anna.dir, 'replicator.db')).includes(Buffer.from('"share":')), 'the share is kept sealed')

  // The machine is lost. On a new one: a recovery code, and the friends release their shares to it from their replicators.
  const newHome = path.join(tempDir(), 'recovered')
  const request = await cli(['--home', newHome, 'backup', 'recover', 'request'])
  assert.equal(request.code, 0, request.stderr)
  const code = /^ {2}([0-9a-f]{64})$/m.exec(request.stdout)![1]!
  const fromAnna = path.join(tempDir(), 'from-anna.json')
  const fromBen = path.join(tempDir(), 'from-ben.json')
  assert.match(await replicatorCli(anna, ['release', owner.box.backup.publicKey.slice(0, 16), '--to', code, '--out', fromAnna]), /Wrote share 1 of anna-nas's seed/)
  assert.match(await replicatorCli(anna, ['list']), new RegExp(`to ${code.slice(0, 12)}…`))

  const recover = (files: string[]) => cli(['--home', newHome, 'backup', 'recover', ...files], { COFFER_PASSPHRASE: 'a new machine, a new passphrase' })
  const short = await recover([fromAnna])
  assert.notEqual(short.code, 0)
  assert.match(short.stderr, /1 of 2 shares: ask one more friend/)
  assert.equal(fs.existsSync(path.join(newHome, 'config.json')), false, 'no home from fewer than the threshold')

  assert.match(await replicatorCli(ben, ['release', 'Ben\'s Pi', '--to', code, '--out', fromBen]), /Wrote share 2/)
  const recovered = await recover([fromAnna, fromBen])
  assert.equal(recovered.code, 0, recovered.stderr)
  assert.match(recovered.stdout, new RegExp(`Recovered box ${identity} .* from 2 of its 2 shares \\(split version ${v1}\\), released by anna-nas, ben\\.`))
  assert.equal(openHome(newHome).config.identity, identity)

  // A new split: Anna's replicator gets the new share in place of the old; Ben is now a file friend, and his replicator drops the old one.
  const benBox = path.join(tempDir(), 'ben-box')
  initHome(benBox, { passphrase: PASSPHRASE, timeZone: 'UTC' })
  const sharesDir = path.join(tempDir(), 'shares')
  const second = await cli(['--home', homeDir, 'backup', 'shares', 'split', '--threshold', '2', '--replica', 'anna-nas', '--friend', `ben=${openHome(benBox).config.identity}`, '--out', sharesDir],
    { COFFER_URL: owner.url, COFFER_TOKEN: owner.token, COFFER_PASSPHRASE: PASSPHRASE })
  assert.equal(second.code, 0, second.stderr)
  const v2 = Number(/^Split your seed \(version (\d+)\)/.exec(second.stdout)![1])
  assert.ok(v2 > v1)
  assert.match(second.stdout, /anna-nas\s+[0-9a-f]{12}…\s+waiting for replica "anna-nas" to connect|anna-nas\s+[0-9a-f]{12}…\s+delivered/)
  assert.deepEqual(fs.readdirSync(sharesDir), ['ben.coffer-share.json'], 'the file friend\'s share is handed over as a file')
  await until('Anna\'s replicator to hold the new split\'s share', async () => (await heldOn(anna))[0]?.version === v2 ? true : undefined, 30_000)
  await until('Ben\'s replicator to drop the old split\'s share', async () => (await heldOn(ben)).length === 0 ? true : undefined, 30_000)
  const now = await until('the new share to be delivered', async () => {
    const { body } = await owner.api('GET', '/api/v1/recovery/split')
    return body.friends.find((f: any) => f.name === 'anna-nas').deliveredAt !== null ? body : undefined
  }, 30_000)
  assert.deepEqual(now.friends.map((f: any) => [f.name, f.replica?.name ?? null, f.deliveredAt]), [['ben', null, null], ['anna-nas', 'anna-nas', now.friends[1].deliveredAt]])
  assert.deepEqual(await heldOn(stranger), [], 'the unpaired replicator never got a share')
})
