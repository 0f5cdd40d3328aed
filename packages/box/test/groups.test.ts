import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import HyperDHT from 'hyperdht'
import Hyperswarm from 'hyperswarm'
import { BoxKeys, createBox, initHome } from '../src/index.ts'
import { openCorestore } from '../src/store/index.ts'
import { Groups } from '../src/groups/index.ts'
import { replicatorIdentity } from '../src/backup/index.ts'
import { groupCommands } from '../src/cli/groups.ts'
import { Client } from '../src/cli/connect.ts'
import { Command } from 'commander'
import { PASSPHRASE, call, filesHolding, tempDir, until, within } from './helpers.ts'
import { blobKeyOf, captured, contentKeys, member, teardown, testnet } from './group-members.ts'

test('a box founds a group, invites another, and both write and read the drive', async (t) => {
  const later = teardown(t)
  const bootstrap = await testnet(later)
  const anna = await member(later, bootstrap)
  const bea = await member(later, bootstrap)
  const group = await anna.groups.create({ name: 'Household', as: 'Anna' })
  assert.equal(group.role, 'admin')
  assert.deepEqual(group.members.map((m) => m.name), ['Anna'])
  const { invite } = await anna.groups.invite(group.key, { publicKey: bea.groups.publicKey, name: 'Bea', role: 'member', expiresInSeconds: 600 })
  const joined = await within('the join', bea.groups.join({ code: invite }), 60_000)
  assert.equal(joined.key, group.key)
  assert.equal(joined.role, 'member')
  assert.deepEqual(joined.members.map((m) => m.name).sort(), ['Anna', 'Bea'])

  await anna.groups.drive(group.key).writeFile('/notes/shopping.txt', 'milk, eggs')
  const fromAnna = await until('Anna\'s file at Bea\'s', async () => (await bea.groups.drive(group.key).stat('/notes/shopping.txt')) ?? undefined)
  assert.equal(fromAnna.author, 'Anna')
  assert.equal((await bea.groups.drive(group.key).readFile('/notes/shopping.txt')).toString(), 'milk, eggs')
  await bea.groups.drive(group.key).writeFile('/notes/shopping.txt', 'milk, eggs, bread')
  await until('Bea\'s edit at Anna\'s', async () => (await anna.groups.drive(group.key).stat('/notes/shopping.txt'))?.author === 'Bea' || undefined)
  assert.equal((await anna.groups.drive(group.key).readFile('/notes/shopping.txt')).toString(), 'milk, eggs, bread')
  const history = await anna.groups.drive(group.key).history('/notes/shopping.txt')
  assert.deepEqual(history.map((h) => [h.action, h.author]), [['created', 'Anna'], ['edited', 'Bea']])

  // On disk the group holds ciphertext only: names and contents are encrypted with its content key.
  const marker = 'MARKER-group-4b1d'
  await anna.groups.drive(group.key).writeFile(`/${marker}.txt`, `${marker} in the contents`)
  await until('the marked file at Bea\'s', async () => (await bea.groups.drive(group.key).stat(`/${marker}.txt`)) ?? undefined)
  assert.equal((await bea.groups.drive(group.key).readFile(`/${marker}.txt`)).toString(), `${marker} in the contents`)
  for (const box of [anna, bea]) assert.deepEqual(filesHolding(path.join(box.dir, 'groups'), marker), [])
  // The control: the same storage unencrypted shows the marker to the same search.
  const clear = tempDir('coffer-clear-')
  const store = openCorestore(clear)
  const core = store.get({ name: 'clear' })
  await core.ready()
  await core.append(Buffer.from(`${marker} in the clear`))
  await store.close()
  assert.ok(filesHolding(clear, marker).length > 0)
})

/** What a member's drive holds, as every member must come to see it: each path, what is there, which version, and the bytes. */
async function snapshot(groups: Groups, key: string) {
  const drive = groups.drive(key)
  const entries = await drive.tree()
  return Promise.all(entries.map(async (e) => ({
    path: e.path, type: e.type, version: e.version, author: e.author, conflictOf: e.conflictOf,
    // A file deleted between the listing and the read (a change landing meanwhile) reads as missing: the caller polls again.
    text: e.type === 'file' ? await drive.readFile(e.path).then((b) => b.toString(), () => 'gone while read') : null,
  })))
}

test('three members edit the drive while one is offline; when it returns all converge, and its concurrent edit of a file is kept as a conflict', async (t) => {
  const later = teardown(t)
  const bootstrap = await testnet(later)
  // Where the offline member's box runs meanwhile: a network of its own, reaching nobody in the group.
  const elsewhere = await testnet(later)
  const anna = await member(later, bootstrap)
  const bea = await member(later, bootstrap)
  const cai = await member(later, bootstrap)
  const { key } = await anna.groups.create({ name: 'Allotment', as: 'Anna' })
  for (const [box, name] of [[bea, 'Bea'], [cai, 'Cai']] as const) {
    const { invite } = await anna.groups.invite(key, { publicKey: box.groups.publicKey, name, role: 'member', expiresInSeconds: 600 })
    await within(`${name} joining`, box.groups.join({ code: invite }), 60_000)
  }
  const drive = (box: { groups: Groups }) => box.groups.drive(key)

  await drive(anna).writeFile('/plan.txt', 'beans in row 1')
  await drive(anna).writeFile('/trash.txt', 'old seed list')
  await drive(bea).writeFile('/old-name.txt', 'rota')
  const before = await until('everyone to have the first files', async () => {
    const all = await Promise.all([anna, bea, cai].map((b) => snapshot(b.groups, key)))
    return all.every((s) => s.length === 3 && JSON.stringify(s) === JSON.stringify(all[0])) ? all[0] : undefined
  })
  assert.deepEqual(before.map((e) => e.path), ['/old-name.txt', '/plan.txt', '/trash.txt'])

  // Cai's box goes offline: it keeps running, on a network where no member is.
  await cai.stop()
  await cai.start(elsewhere)
  await drive(cai).writeFile('/plan.txt', 'potatoes in row 1')
  await drive(cai).writeFile('/cai.txt', 'written offline')

  await drive(anna).writeFile('/plan.txt', 'beans in row 1, peas in row 2')
  await drive(anna).remove('/trash.txt')
  await drive(bea).move('/old-name.txt', '/rota/watering.txt', { overwrite: false })
  await drive(bea).writeFile('/rota/weeding.txt', 'Bea: Mondays')
  await until('Anna and Bea to agree', async () => JSON.stringify(await snapshot(anna.groups, key)) === JSON.stringify(await snapshot(bea.groups, key)) || undefined)
  assert.equal((await snapshot(cai.groups, key)).find((e) => e.path === '/plan.txt')?.text, 'potatoes in row 1', 'Cai is offline: it has not seen Anna\'s edit')

  // Cai comes back online.
  await cai.stop()
  await cai.start()
  const converged = await until('all three to converge', async () => {
    const all = await Promise.all([anna, bea, cai].map((b) => snapshot(b.groups, key)))
    return all.every((s) => JSON.stringify(s) === JSON.stringify(all[0])) && all[0]!.some((e) => e.path === '/cai.txt') ? all[0] : undefined
  }, 60_000)

  const byPath = new Map(converged.map((e) => [e.path, e]))
  assert.deepEqual([...byPath.keys()].filter((p) => !p.includes('(conflict')), ['/cai.txt', '/plan.txt', '/rota', '/rota/watering.txt', '/rota/weeding.txt'])
  assert.equal(byPath.get('/rota/watering.txt')?.text, 'rota', 'the rename reached everyone')
  assert.ok(!byPath.has('/trash.txt') && !byPath.has('/old-name.txt'), 'the deletion and the rename\'s old name reached everyone')
  assert.equal(byPath.get('/cai.txt')?.author, 'Cai')

  // Both edits of the plan are kept: one at its path, the other beside it, named for who wrote it.
  const copies = converged.filter((e) => e.conflictOf === '/plan.txt')
  assert.equal(copies.length, 1)
  const texts = [byPath.get('/plan.txt')!.text, copies[0]!.text].sort()
  assert.deepEqual(texts, ['beans in row 1, peas in row 2', 'potatoes in row 1'])
  const authors = [byPath.get('/plan.txt')!.author, copies[0]!.author].sort()
  assert.deepEqual(authors, ['Anna', 'Cai'])
  assert.match(copies[0]!.path, new RegExp(`^/plan \\(conflict ${copies[0]!.author} \\d{4}-\\d\\d-\\d\\d \\d\\d\\.\\d\\d [0-9a-f]{8}\\)\\.txt$`))
  for (const box of [anna, bea, cai]) {
    const view = await box.groups.get(key)
    assert.deepEqual(view.conflicts.map((c) => [c.path, c.versions.map((v) => v.author).sort()]), [['/plan.txt', ['Anna', 'Cai']]])
    assert.ok(view.conflicts[0]!.versions.every((v) => !Number.isNaN(Date.parse(v.mtime))), 'each version says when it was written')
  }
  const history = await drive(bea).history('/plan.txt')
  assert.deepEqual(history.map((h) => h.action).sort(), ['conflict', 'created', 'edited'])

  // A member resolves the conflict by deleting the copy: one version is left, everywhere.
  await drive(bea).remove(copies[0]!.path)
  await until('the conflict to be resolved everywhere', async () => {
    const all = await Promise.all([anna, bea, cai].map(async (b) => (await b.groups.get(key)).conflicts.length))
    return all.every((n) => n === 0) || undefined
  })
  assert.equal((await drive(cai).readFile('/plan.txt')).toString(), byPath.get('/plan.txt')!.text)
})

test('an invite sealed to another box, an expired one and a spent one are refused; a member who leaves is dropped, and a stranger at the group\'s address gets no connection', async (t) => {
  const later = teardown(t)
  const bootstrap = await testnet(later)
  const anna = await member(later, bootstrap)
  const bea = await member(later, bootstrap)
  const cai = await member(later, bootstrap)
  const group = await anna.groups.create({ name: 'Choir', as: 'Anna' })

  const forBea = (await anna.groups.invite(group.key, { publicKey: bea.groups.publicKey, name: 'Bea', role: 'member', expiresInSeconds: 600 })).invite
  assert.ok(!forBea.includes(group.key) && !forBea.includes(bea.groups.publicKey), 'the code names nothing in the clear')
  await assert.rejects(cai.groups.join({ code: forBea }), /not made for this box/)

  const expiring = (await anna.groups.invite(group.key, { publicKey: cai.groups.publicKey, name: 'Cai', role: 'member', expiresInSeconds: 1 })).invite
  await new Promise((resolve) => setTimeout(resolve, 1100))
  await assert.rejects(cai.groups.join({ code: expiring }), /expired/)
  assert.deepEqual(await cai.groups.list(), [])

  await within('Bea joining', bea.groups.join({ code: forBea }), 60_000)
  await assert.rejects(bea.groups.join({ code: forBea }), /in "Choir" already/)
  await until('Anna to see Bea connected', async () => (await anna.groups.get(group.key)).members.find((m) => m.name === 'Bea')?.connected || undefined)

  // Bea leaves: Anna hears it, Bea's box keeps nothing of the group, and the spent invite does not let it back in.
  await bea.groups.leave(group.key)
  assert.deepEqual(await bea.groups.list(), [])
  assert.ok(!fs.existsSync(path.join(bea.dir, 'groups', group.key)), 'Bea\'s copy of the group is deleted')
  await until('Anna to hear Bea left', async () => (await anna.groups.get(group.key)).members.length === 1 || undefined)
  await assert.rejects(within('the second use', bea.groups.join({ code: forBea }), 60_000), /used already/)

  // A stranger who knows the group's address finds its member there, and is refused.
  const stranger = new Hyperswarm({ dht: new HyperDHT({ bootstrap, host: '127.0.0.1', firewalled: false }) })
  later(() => stranger.destroy())
  let connections = 0
  stranger.on('connection', (conn) => {
    connections++
    conn.on('error', () => {})
  })
  const stats = (stranger as unknown as { stats: { connects: { client: { attempted: number } } } }).stats.connects.client
  ;(stranger as unknown as { join(topic: Buffer): unknown }).join(Buffer.from(group.address, 'hex'))
  await until('the stranger to find the group\'s member and try it', () => stats.attempted > 0 || undefined)
  await new Promise((resolve) => setTimeout(resolve, 1000))
  assert.equal(connections, 0)
})

/** curl as a WebDAV client, as a user would run it; resolves with its status line's code, headers and body. */
function curl(args: string[]): Promise<{ status: number; headers: string; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const child = spawn('curl', ['-s', '-S', '-D', '-', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    const out: Buffer[] = []
    let err = ''
    child.stdout.on('data', (d: Buffer) => out.push(d))
    child.stderr.on('data', (d) => (err += d))
    child.on('error', reject)
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`curl ${args.join(' ')} exited with ${code}: ${err}`))
      const all = Buffer.concat(out)
      // The last header block ends at the last blank line before the body (a 100 Continue comes first on uploads).
      let at = 0
      let end = all.indexOf('\r\n\r\n')
      while (end !== -1 && /^HTTP\/[\d.]+ 100/.test(all.subarray(at, end).toString('latin1'))) {
        at = end + 4
        end = all.indexOf('\r\n\r\n', at)
      }
      const headers = all.subarray(at, end).toString('latin1')
      resolve({ status: Number(/^HTTP\/[\d.]+ (\d{3})/.exec(headers)?.[1]), headers, body: all.subarray(end + 4) })
    })
  })
}

test('the box serves a group\'s drive over WebDAV: a standard client lists, uploads, downloads, renames and deletes, with the owner\'s passphrase or token only', async (t) => {
  const later = teardown(t)
  const bootstrap = await testnet(later)
  const home = path.join(tempDir('coffer-dav-'), 'home')
  initHome(home, { passphrase: PASSPHRASE, timeZone: 'UTC' })
  const box = createBox({ home, port: 0, logLevel: 'silent', dhtBootstrap: bootstrap })
  await box.open()
  const groups = box.groups
  later(() => box.close())
  const url = await box.listen()
  const token = box.arbiter.ownerToken(600).token

  const created = await call(url, 'POST', '/api/v1/groups', { token, body: { name: 'Family photos', as: 'Anna' } })
  assert.equal(created.status, 201, JSON.stringify(created.body))
  const key: string = created.body.key
  const listed = await call(url, 'GET', '/api/v1/groups', { token })
  assert.equal(listed.body.boxKey, groups.publicKey)
  assert.deepEqual(listed.body.groups.map((g: { name: string }) => g.name), ['Family photos'])

  const dav = `${url}/dav/groups/${key}`
  const owner = ['-u', `anna:${PASSPHRASE}`]
  assert.equal((await curl([...owner, '-X', 'MKCOL', `${dav}/albums`])).status, 201)
  const dir = tempDir('coffer-dav-files-')
  const small = path.join(dir, 'note.txt')
  fs.writeFileSync(small, 'Grandma\'s birthday: the 12th')
  const big = path.join(dir, 'holiday.bin')
  fs.writeFileSync(big, randomBytes(6 * 1024 * 1024 + 123))
  assert.equal((await curl([...owner, '-T', small, `${dav}/albums/note.txt`])).status, 201)
  assert.equal((await curl([...owner, '-T', big, `${dav}/albums/holiday.bin`])).status, 201)

  const listing = await curl([...owner, '-X', 'PROPFIND', '-H', 'Depth: 1', `${dav}/albums/`])
  assert.equal(listing.status, 207)
  const xml = listing.body.toString()
  assert.match(xml, new RegExp(`<D:href>[^<]*/dav/groups/${key}/albums/note\\.txt</D:href>`, 'i'))
  assert.match(xml, /holiday\.bin/)
  assert.match(xml, new RegExp(`getcontentlength>${6 * 1024 * 1024 + 123}<`, 'i'))

  const downloaded = await curl([...owner, `${dav}/albums/holiday.bin`])
  assert.equal(downloaded.status, 200)
  assert.equal(createHash('sha256').update(downloaded.body).digest('hex'), createHash('sha256').update(fs.readFileSync(big)).digest('hex'))

  const moved = await curl([...owner, '-X', 'MOVE', '-H', `Destination: ${dav}/albums/birthdays.txt`, `${dav}/albums/note.txt`])
  assert.ok([201, 204].includes(moved.status), `MOVE answered ${moved.status}`)
  assert.equal((await curl([...owner, `${dav}/albums/note.txt`])).status, 404)
  assert.equal((await curl([...owner, `${dav}/albums/birthdays.txt`])).body.toString(), 'Grandma\'s birthday: the 12th')
  const deleted = await curl([...owner, '-X', 'DELETE', `${dav}/albums/holiday.bin`])
  assert.ok([200, 204].includes(deleted.status), `DELETE answered ${deleted.status}`)
  assert.equal((await curl([...owner, `${dav}/albums/holiday.bin`])).status, 404)
  assert.deepEqual((await groups.drive(key).tree()).map((e) => e.path), ['/albums', '/albums/birthdays.txt'])
  const history = await groups.drive(key).history('/albums/birthdays.txt')
  assert.deepEqual(history.map((h) => [h.action, h.other]), [['moved-in', '/albums/note.txt']])

  // Only the owner: wrong or missing credentials are refused and say how to authenticate; an owner token works too.
  const wrong = await curl(['-u', 'anna:not the passphrase', `${dav}/albums/birthdays.txt`])
  assert.equal(wrong.status, 401)
  assert.match(wrong.headers, /www-authenticate: Basic/i)
  assert.equal((await curl([`${dav}/albums/birthdays.txt`])).status, 401)
  assert.equal((await curl(['-H', 'Authorization: Bearer not-a-token', `${dav}/albums/birthdays.txt`])).status, 401)
  assert.equal((await curl(['-H', `Authorization: Bearer ${token}`, `${dav}/albums/birthdays.txt`])).status, 200)

  // The command line, over the same API.
  const program = new Command().exitOverride()
  groupCommands(program, () => new Client(url, token))
  const printed = await captured(() => program.parseAsync(['node', 'coffer', 'groups', 'show', 'Family photos']))
  assert.match(printed, /^Family photos {2}\([0-9a-f]{64}\)$/m)
  assert.match(printed, new RegExp(`drive: ${url}/dav/groups/${key}/`))
  assert.match(printed, /Anna \(you\) +admin/)
  const someBox = new BoxKeys(randomBytes(32)).backupPeer.publicKey.toString('hex')
  const invited = await captured(() => program.parseAsync(['node', 'coffer', 'groups', 'invite', key.slice(0, 8), someBox, '--name', 'Bea', '--expires', '2h']))
  assert.match(invited, /coffer groups join coffer-group:[A-Za-z0-9_-]+/)
  // A blind replicator, through the same commands: invited with a sealed code; listed once it has paired.
  const replicatorKey = replicatorIdentity(tempDir('coffer-dav-replicator-')).publicKey.toString('hex')
  const replicatorInvite = await captured(() => program.parseAsync(['node', 'coffer', 'groups', 'replicator', 'add', 'Family photos', replicatorKey, '--name', 'Co-op server']))
  assert.match(replicatorInvite, /coffer replicator accept coffer-group-replica:[A-Za-z0-9_-]+ --quota/)
  assert.match(await captured(() => program.parseAsync(['node', 'coffer', 'groups', 'replicator', 'list', 'Family photos'])), /No replicator yet/)
  assert.deepEqual((await call(url, 'GET', `/api/v1/groups/${key}/replicators`, { token })).body, { replicators: [] })
  const notAKey = await call(url, 'POST', `/api/v1/groups/${key}/invites`, { token, body: { publicKey: 'ff'.repeat(32), name: 'Nobody' } })
  assert.equal(notAKey.status, 400)
  assert.match(notAKey.body.detail, /not a box's key/)

  // Each request is in the audit log, refused or not.
  const audit = (await call(url, 'GET', '/api/v1/audit?limit=1000', { token })).body as { action: string; outcome: string; status: number; operation: string }[]
  const drives = audit.filter((e) => e.action.includes('/dav/groups/'))
  assert.ok(drives.some((e) => e.action === 'PUT /dav/groups/:group/*' && e.outcome === 'allow' && e.operation === 'write' && e.status === 201))
  assert.ok(drives.some((e) => e.action === 'DELETE /dav/groups/:group/*' && e.operation === 'delete'))
  assert.equal(drives.filter((e) => e.outcome === 'deny' && e.status === 401).length, 3)
})

test('removing a member moves the group to a new content key: the removed box is dropped at once, keeps what it had, and cannot read a file written afterwards with anything it holds', async (t) => {
  const later = teardown(t)
  const bootstrap = await testnet(later)
  const anna = await member(later, bootstrap)
  const bea = await member(later, bootstrap)
  const rex = await member(later, bootstrap)
  const { key } = await anna.groups.create({ name: 'Flat share', as: 'Anna' })
  for (const [box, name] of [[bea, 'Bea'], [rex, 'Rex']] as const) {
    const { invite } = await anna.groups.invite(key, { publicKey: box.groups.publicKey, name, role: 'member', expiresInSeconds: 600 })
    await within(`${name} joining`, box.groups.join({ code: invite }), 60_000)
  }
  await anna.groups.drive(key).writeFile('/before.txt', 'MARKER-before-removal')
  await until('everyone to have the first file', async () => {
    for (const box of [bea, rex]) if (!(await box.groups.drive(key).stat('/before.txt'))) return undefined
    return true
  })

  const removed = await anna.groups.remove(key, rex.groups.publicKey)
  assert.equal(removed.epoch, 1)
  assert.ok(!removed.members.some((m) => m.name === 'Rex'))
  // Bea moves to the new epoch by itself: it opens its sealed key and is added back.
  await until('Bea to be back in the new epoch', async () => {
    const view = await bea.groups.get(key)
    return view.epoch === 1 && view.writable && view.role === 'member' || undefined
  }, 30_000)
  await until('Rex to know it was removed', async () => (await rex.groups.get(key)).removed || undefined)
  await until('Rex to be cut off', async () => (await rex.groups.get(key)).members.every((m) => !m.connected) && !(await anna.groups.get(key)).members.some((m) => m.box === rex.groups.publicKey) || undefined)

  const marker = 'MARKER-after-removal'
  await anna.groups.drive(key).writeFile('/after.txt', marker)
  await bea.groups.drive(key).writeFile('/from-bea.txt', 'Bea writes in the new epoch')
  assert.equal((await until('Bea to read the new file', async () => (await bea.groups.drive(key).stat('/after.txt')) && (await bea.groups.drive(key).readFile('/after.txt')).toString())), marker)
  await until('Anna to read Bea\'s', async () => (await anna.groups.drive(key).stat('/from-bea.txt')) || undefined)
  // What was written before is carried over, still readable with the old key, by name.
  assert.equal((await bea.groups.drive(key).readFile('/before.txt')).toString(), 'MARKER-before-removal')
  assert.equal((await bea.groups.drive(key).stat('/before.txt'))?.author, 'Anna')
  // Rex keeps what it had, and gets nothing new.
  assert.equal((await rex.groups.drive(key).readFile('/before.txt')).toString(), 'MARKER-before-removal')
  await new Promise((resolve) => setTimeout(resolve, 1000))
  assert.equal(await rex.groups.drive(key).stat('/after.txt'), undefined)
  // ... and writes nothing more: it is told why.
  assert.equal((await rex.groups.get(key)).writable, false)
  await assert.rejects(rex.groups.drive(key).writeFile('/from-rex.txt', 'Rex, removed'), { status: 409, message: /removed from the group/ })

  // A box let in after the removal reads what was written before it and after; a member restarted is still in the new epoch.
  const dan = await member(later, bootstrap)
  await within('Dan joining', dan.groups.join({ code: (await anna.groups.invite(key, { publicKey: dan.groups.publicKey, name: 'Dan', role: 'member', expiresInSeconds: 600 })).invite }), 60_000)
  assert.equal((await until('Dan to read the old file', async () => (await dan.groups.drive(key).stat('/before.txt')) && (await dan.groups.drive(key).readFile('/before.txt')).toString())), 'MARKER-before-removal')
  assert.equal((await dan.groups.drive(key).readFile('/after.txt')).toString(), marker)
  await bea.stop()
  await bea.start()
  assert.equal((await bea.groups.get(key)).epoch, 1)
  assert.equal((await bea.groups.drive(key).readFile('/after.txt')).toString(), marker)
  await dan.stop()

  const annaBlobs = (await anna.groups.get(key)).members.find((m) => m.name === 'Anna')!.blobs
  const newBase = (await anna.groups.get(key)).epoch

  // With everything Rex's box holds, the file written afterwards does not open.
  const rexKeys = contentKeys(rex.home.paths.meta, key)
  assert.deepEqual(rexKeys.map((k) => k.epoch), [0])
  const annaKeys = contentKeys(anna.home.paths.meta, key)
  assert.equal(annaKeys.length, newBase + 1)
  for (const box of [anna, bea, rex]) await box.stop()
  const contents = async (dir: string, encryption: Buffer | null) => {
    const store = openCorestore(dir)
    const core = store.get({ key: Buffer.from(annaBlobs, 'hex'), ...(encryption ? { encryption: { key: encryption } } : {}) })
    await core.ready()
    const blocks: Buffer[] = []
    for (let i = 0; i < core.length; i++) blocks.push((await core.get(i, { wait: false }))!)
    const length = core.length
    await store.close()
    return { length, bytes: Buffer.concat(blocks) }
  }
  const annaStore = path.join(anna.dir, 'groups', key)
  for (const candidate of [...rexKeys.map((k) => blobKeyOf(k.content_key)), ...rexKeys.map((k) => Buffer.from(k.content_key, 'hex')), null]) {
    const { length, bytes } = await contents(annaStore, candidate)
    assert.ok(length > 0)
    assert.ok(!bytes.includes(marker), 'a key Rex holds opens the file written after its removal')
  }
  // The control: the new epoch's key opens it.
  assert.ok((await contents(annaStore, blobKeyOf(annaKeys.at(-1)!.content_key))).bytes.includes(marker))
  // And Rex's box received none of its blocks.
  assert.equal((await contents(path.join(rex.dir, 'groups', key), null)).length, 0)
})

test('a member offline while another is removed keeps what it wrote meanwhile: it moves to the new key when it returns, and its edits reach the new epoch', async (t) => {
  const later = teardown(t)
  const bootstrap = await testnet(later)
  const elsewhere = await testnet(later)
  const anna = await member(later, bootstrap)
  const bea = await member(later, bootstrap)
  const rex = await member(later, bootstrap)
  const { key } = await anna.groups.create({ name: 'Band', as: 'Anna' })
  for (const [box, name] of [[bea, 'Bea'], [rex, 'Rex']] as const) {
    const { invite } = await anna.groups.invite(key, { publicKey: box.groups.publicKey, name, role: 'member', expiresInSeconds: 600 })
    await within(`${name} joining`, box.groups.join({ code: invite }), 60_000)
  }
  await anna.groups.drive(key).writeFile('/setlist.txt', 'intro, verse')
  await until('Bea to have the set list', async () => (await bea.groups.drive(key).stat('/setlist.txt')) || undefined)

  // Bea is offline: it edits the set list and adds a file, in the epoch it knows.
  await bea.stop()
  await bea.start(elsewhere)
  await bea.groups.drive(key).writeFile('/setlist.txt', 'intro, verse, chorus')
  await bea.groups.drive(key).writeFile('/lyrics.txt', 'written offline')

  await anna.groups.remove(key, rex.groups.publicKey)
  await anna.groups.drive(key).writeFile('/after.txt', 'written in the new epoch')

  await bea.stop()
  await bea.start()
  await until('Bea to move to the new epoch', async () => {
    const view = await bea.groups.get(key)
    return view.epoch === 1 && view.writable || undefined
  }, 30_000)
  for (const box of [anna, bea]) {
    const texts = await until('Bea\'s offline edits in the new epoch', async () => {
      const drive = box.groups.drive(key)
      const [lyrics, setlist, after] = await Promise.all(['/lyrics.txt', '/setlist.txt', '/after.txt'].map((p) => drive.stat(p)))
      return lyrics && setlist?.author === 'Bea' && after ? Promise.all(['/lyrics.txt', '/setlist.txt', '/after.txt'].map(async (p) => (await drive.readFile(p)).toString())) : undefined
    }, 30_000)
    assert.deepEqual(texts, ['written offline', 'intro, verse, chorus', 'written in the new epoch'])
    assert.equal((await box.groups.get(key)).epoch, 1)
  }
  assert.equal(await rex.groups.drive(key).stat('/after.txt'), undefined)
  // A removed box may still delete its copy.
  await rex.groups.leave(key)
  assert.deepEqual(await rex.groups.list(), [])
})

test('the box that orders a group\'s log in its epoch cannot just leave: it is told to have another admin remove it, and once removed it leaves', async (t) => {
  const later = teardown(t)
  const bootstrap = await testnet(later)
  const anna = await member(later, bootstrap)
  const bea = await member(later, bootstrap)
  const { key } = await anna.groups.create({ name: 'Book club', as: 'Anna' })
  const { invite } = await anna.groups.invite(key, { publicKey: bea.groups.publicKey, name: 'Bea', role: 'admin', expiresInSeconds: 600 })
  await within('Bea joining', bea.groups.join({ code: invite }), 60_000)
  await until('Anna to see Bea', async () => (await anna.groups.get(key)).members.length === 2 || undefined)

  await assert.rejects(anna.groups.leave(key), { status: 409, message: /orders the group's log in its current epoch.*Ask another admin to remove it/ })
  assert.equal((await anna.groups.get(key)).members.length, 2, 'nothing changed')

  const removed = await within('Bea removing Anna', bea.groups.remove(key, anna.groups.publicKey), 60_000)
  assert.deepEqual(removed.members.map((m) => m.name), ['Bea'])
  await until('Anna to know it was removed', async () => (await anna.groups.get(key)).removed || undefined, 30_000)
  await anna.groups.leave(key)
  assert.deepEqual(await anna.groups.list(), [])
})
