/**
 * A group the box is still opening, or one moving to a new epoch after a removal, is waited for:
 * a request then answers once the group is ready, or 503 with Retry-After if it is not within the
 * bound — never 404 for a group the box knows, nor 500 from an epoch being closed under it.
 */
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import { createBox, initHome, openHome } from '../src/index.ts'
import { openMetaDb } from '../src/db/index.ts'
import { Groups } from '../src/groups/index.ts'
import { Unavailable } from '../src/errors/index.ts'
import { openCorestore } from '../src/store/index.ts'
import { PASSPHRASE, call, tempDir, until, within } from './helpers.ts'
import { member, startBox, teardown, testnet, type Bootstrap, type Later } from './group-members.ts'

/** A box's groups on a home of its own, opened again as a box starts: `open()` is not awaited, so requests meet the group still opening. */
function restartable(later: Later, bootstrap: Bootstrap) {
  const dir = path.join(tempDir('coffer-group-ready-'), 'home')
  initHome(dir, { passphrase: PASSPHRASE, timeZone: 'UTC' })
  const home = openHome(dir)
  const db = openMetaDb(home.paths.meta)
  let groups: Groups | undefined
  later(async () => {
    await groups?.close()
    db.close()
  })
  return {
    /** Where its groups' stores are, a folder per group. */
    stores: path.join(dir, 'groups'),
    get groups() { return groups! },
    /** Starts the box's groups; what `open()` answers is returned, not waited for. */
    start(readyMs?: number): Promise<void> {
      groups = new Groups({ db, keys: home.keys, dir: path.join(dir, 'groups'), bootstrap, ...(readyMs === undefined ? {} : { readyMs }) })
      return groups.open()
    },
    async stop() {
      await groups?.close()
      groups = undefined
    },
  }
}

/** Anna founds "Allotment" and lets Bea and Cai in. */
async function allotment(later: Later, bootstrap: Bootstrap, anna: { groups: Groups }) {
  const [bea, cai] = [await member(later, bootstrap), await member(later, bootstrap)]
  const { key } = await anna.groups.create({ name: 'Allotment', as: 'Anna' })
  for (const [box, name] of [[bea, 'Bea'], [cai, 'Cai']] as const) {
    const { invite } = await anna.groups.invite(key, { publicKey: box.groups.publicKey, name, role: 'member', expiresInSeconds: 600 })
    await within(`${name} joining`, box.groups.join({ code: invite }), 60_000)
  }
  await until('Anna to see both members', async () => (await anna.groups.get(key)).members.length === 3 || undefined)
  return { key, bea, cai }
}

/** Anna's box, stopped after founding "Allotment" and letting Bea and Cai in, to be started again by the test. */
async function stoppedAllotment(t: TestContext) {
  const later = teardown(t)
  const bootstrap = await testnet(later)
  const anna = restartable(later, bootstrap)
  await anna.start()
  const { key, cai } = await allotment(later, bootstrap, anna)
  await anna.stop()
  return { later, anna, key, cai }
}

test('right after the box starts, a request for a group it is still opening waits for it, and is not told the group is unknown', async (t) => {
  const { anna, key, cai } = await stoppedAllotment(t)

  const opening = anna.start()
  // Asked before the group is open: each waits for it.
  const [shown, removed] = await Promise.all([anna.groups.get(key), anna.groups.remove(key, cai.groups.publicKey)])
  await opening
  assert.deepEqual(shown.members.map((m) => m.name).sort(), ['Anna', 'Bea', 'Cai'])
  // Cai is out of the new epoch (Bea comes back to it once she has heard of it).
  assert.equal(removed.epoch, 1)
  assert.ok(!removed.members.some((m) => m.name === 'Cai'))
  // A group the box does not know is still unknown.
  await assert.rejects(anna.groups.get('0'.repeat(64)), { status: 404 })
})

test('with a tiny wait, a request for a group still opening is answered 503 with when to ask again, and once open it answers', async (t) => {
  const { anna, key } = await stoppedAllotment(t)

  const opening = anna.start(0)
  await assert.rejects(anna.groups.get(key), (err: unknown) => {
    assert.ok(err instanceof Unavailable)
    assert.equal(err.status, 503)
    assert.equal(err.extras.retryAfter, 5)
    assert.match(err.message, /"Allotment" is still being opened; try again in a few seconds/)
    return true
  })
  await opening
  assert.equal((await anna.groups.get(key)).members.length, 3)
})

/** Anna's "Allotment", with Anna's box started again while another process holds the group's store: the box cannot lock it, so the group fails to open. */
async function heldElsewhere(t: TestContext) {
  const { later, anna, key } = await stoppedAllotment(t)
  const holder = openCorestore(path.join(anna.stores, key))
  await holder.ready()
  // Closed at the end if the test has not let it go (its folder may be gone by then).
  later(() => holder.close().catch(() => {}))
  await anna.start(0)
  return { anna, key, holder }
}

test('a group that fails to open is opened again: meanwhile a request is told why and when the box tries next, and then the group answers', async (t) => {
  const { anna, key, holder } = await heldElsewhere(t)
  await assert.rejects(anna.groups.get(key), (err: unknown) => {
    assert.ok(err instanceof Unavailable)
    assert.match(err.message, /"Allotment" could not be opened \(.*lock.*\); the box tries again in 1 s/i)
    assert.equal(err.extras.retryAfter, 1)
    return true
  })
  await holder.close()
  const shown = await until('the group to open on a later try', () => anna.groups.get(key).catch(() => undefined), 30_000)
  assert.equal(shown.members.length, 3)
})

test('a group the box cannot open can still be left: it is dropped from this box, its files with it', async (t) => {
  const { anna, key } = await heldElsewhere(t)
  await assert.rejects(anna.groups.get(key), { status: 503, message: /leaving the group drops it from this box/ })
  assert.deepEqual(anna.groups.unopened().map((g) => [g.key, g.name]), [[key, 'Allotment']])
  assert.deepEqual(await anna.groups.leave(key), { left: key })
  assert.deepEqual(anna.groups.unopened(), [])
  await assert.rejects(anna.groups.get(key), { status: 404 })
  assert.ok(!fs.existsSync(path.join(anna.stores, key)), 'the group\'s files are deleted')
  assert.deepEqual(await anna.groups.list(), [])
})

test('a request made while a removal moves the group to a new epoch waits for the move, and answers the group as it is after it', async (t) => {
  const later = teardown(t)
  const bootstrap = await testnet(later)
  const anna = await member(later, bootstrap)
  const { key, cai } = await allotment(later, bootstrap, anna)
  await anna.groups.drive(key).writeFile('/before.txt', 'written before the removal')

  const removing = anna.groups.remove(key, cai.groups.publicKey)
  // Asked as the removal is under way: the old epoch is being left, the new one begun.
  const [shown, files] = await Promise.all([anna.groups.get(key), anna.groups.withDrive(key, (drive) => drive.list('/'))])
  assert.equal(shown.epoch, 1)
  assert.ok(!shown.members.some((m) => m.name === 'Cai'))
  assert.deepEqual(files.map((f) => f.path), ['/before.txt'])
  assert.equal((await removing).epoch, 1)
})

/** A WebDAV PUT whose body is sent later: the request is in flight until `finish`. */
function slowPut(url: string, token: string, file: string) {
  const req = http.request(`${url}${file}`, { method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain', 'transfer-encoding': 'chunked' } })
  const answered = new Promise<number>((resolve, reject) => {
    req.once('response', (res) => {
      res.resume()
      res.once('end', () => resolve(res.statusCode!))
    })
    req.once('error', reject)
  })
  req.flushHeaders()
  req.write('half of it, ')
  return { answered, finish: (rest: string) => req.end(rest) }
}

test('over HTTP: a group moving to a new epoch answers 503 with Retry-After once the wait runs out, and a write in flight as the removal began is kept and answered 201', async (t) => {
  const later = teardown(t)
  const bootstrap = await testnet(later)
  const home = path.join(tempDir('coffer-group-ready-box-'), 'home')
  initHome(home, { passphrase: PASSPHRASE, timeZone: 'UTC' })
  const box = createBox({ home, port: 0, logLevel: 'silent', dhtBootstrap: bootstrap, groupReadyMs: 0 })
  await box.open()
  const url = await box.listen()
  later(() => box.close())
  const token = box.arbiter.ownerToken(3600).token
  const { key, cai } = await allotment(later, bootstrap, box)
  const api = (method: string, route: string) => call(url, method, `/api/v1${route}`, { token })

  // A write holds the group; the removal begun meanwhile waits for it, and the group is between epochs until then.
  const put = slowPut(url, token, `/dav/groups/${key}/during.txt`)
  // The drive shows the file being written once the PUT is served (and so holds the group).
  await until('the write to be under way', async () => (await call(url, 'PROPFIND', `/dav/groups/${key}/during.txt`, { token, accept: '*/*' })).status === 207 || undefined)
  const removing = api('DELETE', `/groups/${key}/members/${cai.groups.publicKey}`)
  const refused = await until('a read to meet the group between epochs', async () => {
    const res = await api('GET', `/groups/${key}`)
    return res.status === 200 ? undefined : res
  })
  assert.equal(refused.status, 503, JSON.stringify(refused.body))
  assert.equal(refused.headers.get('retry-after'), '5')
  assert.equal(refused.body.type, 'https://coffer.dev/problems/unavailable')
  assert.equal(refused.body.title, 'Service unavailable')
  assert.equal(refused.body.retryAfter, 5)
  assert.match(refused.body.detail, /The group "Allotment" is moving to a new epoch after a removal; try again in a few seconds\./)
  const davRefused = await call(url, 'PROPFIND', `/dav/groups/${key}/`, { token, accept: '*/*' })
  assert.equal(davRefused.status, 503)
  assert.equal(davRefused.headers.get('retry-after'), '5')

  put.finish('and the rest')
  assert.equal(await put.answered, 201)
  assert.equal((await removing).status, 200)
  const after = await api('GET', `/groups/${key}`)
  assert.equal(after.status, 200)
  assert.equal(after.body.epoch, 1)
  const read = await call(url, 'GET', `/dav/groups/${key}/during.txt`, { token, accept: '*/*' })
  assert.equal(read.status, 200)
  assert.equal(String(read.body), 'half of it, and the rest')
})

test('from the command line: a group the box could not open is listed with why, and leaving it by its key drops it', async (t) => {
  const later = teardown(t)
  const bootstrap = await testnet(later)
  const box = await startBox(later, bootstrap)
  const key: string = (await box.api('POST', '/groups', { body: { name: 'Attic', as: 'Anna' } })).body.key
  await box.stop()
  const holder = openCorestore(path.join(box.home, 'groups', key))
  await holder.ready()
  later(() => holder.close().catch(() => {}))
  await box.start()

  const listed = await box.coffer('groups', 'list')
  assert.match(listed, new RegExp(`"Attic" \\(${key.slice(0, 8)}\\) could not be opened: .*lock.*\\. The box tries again in \\d+ s; \`coffer groups leave ${key.slice(0, 8)}\` drops it from this box\\.`, 'i'))
  assert.match(await box.coffer('groups', 'leave', key.slice(0, 8)), /Dropped "Attic" from this box\. It could not be opened, so its members were not told/)
  assert.match(await box.coffer('groups', 'list'), /No group yet/)
  assert.equal((await box.api('GET', `/groups/${key}`)).status, 404)
})
