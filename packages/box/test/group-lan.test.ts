/**
 * LAN invites between whole boxes on one machine: they meet over UDP multicast on this machine's
 * interface (multicast datagrams loop back to every socket joined to the group) and join over a
 * DHT testnet. Each test takes a port of its own (COFFER_LAN_PORT), so nothing else on the link is heard.
 */
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import dgram from 'node:dgram'
import { LAN_ADDRESS } from '../src/groups/lan.ts'
import { makeInvite } from '../src/groups/invite.ts'
import { cli, until, within } from './helpers.ts'
import { startBox, teardown, testnet } from './group-members.ts'

type Box = Awaited<ReturnType<typeof startBox>>

/** A LAN port for this test alone, named in COFFER_LAN_PORT while it runs: boxes started meanwhile use it. */
function lanPort(t: TestContext, env: Record<string, string> = {}): number {
  const port = 40_000 + Math.floor(Math.random() * 20_000)
  const set = { COFFER_LAN_PORT: String(port), ...env }
  for (const [name, value] of Object.entries(set)) process.env[name] = value
  t.after(() => {
    for (const name of Object.keys(set)) delete process.env[name]
  })
  return port
}

/** The command line in a process of its own, as the owner runs it, against a running box. */
function coffer(box: Box, ...args: string[]) {
  return cli(['--home', box.home, ...args], { COFFER_URL: box.url, COFFER_TOKEN: box.token })
}

/** Sends datagrams to the LAN group as any machine on the link could. */
async function lanSender(port: number) {
  const socket = dgram.createSocket({ type: 'udp4', reuseAddr: true })
  await new Promise<void>((resolve) => socket.bind(0, resolve))
  socket.setMulticastLoopback(true)
  return {
    send: (data: string | Buffer) => new Promise<void>((resolve, reject) => socket.send(data, port, LAN_ADDRESS, (err) => (err ? reject(err) : resolve()))),
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  }
}

const asking = async (box: Box) => (await box.api('GET', '/groups/lan/ask')).body

test('a box asks to join on the LAN; the admin\'s box sees it by fingerprint and invites it; it joins and sees the drive', async (t) => {
  lanPort(t)
  const later = teardown(t)
  const bootstrap = await testnet(later)
  const anna = await startBox(later, bootstrap)
  const bea = await startBox(later, bootstrap)
  await anna.coffer('groups', 'create', 'Household', '--as', 'Anna')
  const { body: { groups: [group] } } = await anna.api('GET', '/groups')

  const beaSide = coffer(bea, 'groups', 'join', '--lan', '--as', 'Bea', '--wait', '60', '--yes')
  const annaSide = await coffer(anna, 'groups', 'invite', 'Household', '--lan', '--yes', '--wait', '30')
  assert.equal(annaSide.code, 0, annaSide.stderr)
  const joined = await within('Bea\'s join', beaSide, 90_000)
  assert.equal(joined.code, 0, joined.stderr)

  // Both screens show Bea's fingerprint, and both show Anna's.
  const beaFingerprint = /This box's fingerprint: ([0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4})/.exec(joined.stdout)?.[1]
  assert.ok(beaFingerprint, joined.stdout)
  assert.match(annaSide.stdout, new RegExp(`${beaFingerprint}\\s+Bea`))
  assert.match(annaSide.stdout, new RegExp(`Invited Bea \\(${beaFingerprint}\\) to "Household"`))
  const annaFingerprint = /Their box has the invite\. It shows your fingerprint ([0-9A-F-]{14})/.exec(annaSide.stdout)?.[1]
  assert.ok(annaFingerprint, annaSide.stdout)
  assert.match(joined.stdout, new RegExp(`Invited to "Household" as Bea \\(member\\), until .*, by the admin whose fingerprint is ${annaFingerprint}\\.`))
  assert.match(joined.stdout, /Joined "Household" with 1 other member\./)

  const { body: members } = await bea.api('GET', `/groups/${group.key}/members`)
  assert.deepEqual(members.members.map((m: { name: string; role: string }) => [m.name, m.role]).sort(), [['Anna', 'admin'], ['Bea', 'member']])
  const put = await fetch(`${anna.url}/dav/groups/${group.key}/welcome.txt`, { method: 'PUT', headers: { authorization: `Bearer ${anna.token}` }, body: 'hello Bea' })
  assert.equal(put.status, 201)
  const seen = await until('Anna\'s file in Bea\'s drive', async () => {
    const { body } = await bea.api('GET', `/groups/${group.key}/files`)
    return body.entries?.find((e: { name: string }) => e.name === 'welcome.txt')
  }, 30_000)
  assert.equal(seen.author, 'Anna')
  const read = await fetch(`${bea.url}/dav/groups/${group.key}/welcome.txt`, { headers: { authorization: `Bearer ${bea.token}` } })
  assert.equal(await read.text(), 'hello Bea')
  assert.equal((await asking(bea)).asking, false, 'once joined, the box no longer asks')
})

test('with two boxes asking, the admin picks one with --to; the other ignores the invite sealed to the first, and one re-addressed to it', async (t) => {
  const port = lanPort(t)
  const later = teardown(t)
  const bootstrap = await testnet(later)
  const anna = await startBox(later, bootstrap)
  const bea = await startBox(later, bootstrap)
  const cai = await startBox(later, bootstrap)
  await anna.coffer('groups', 'create', 'Allotment', '--as', 'Anna')
  const { body: { groups: [group] } } = await anna.api('GET', '/groups')
  const { body: beaAsks } = await bea.api('POST', '/groups/lan/ask', { body: { as: 'Bea', wait: 60 } })
  const { body: caiAsks } = await cai.api('POST', '/groups/lan/ask', { body: { as: 'Cai', wait: 60 } })
  assert.notEqual(beaAsks.fingerprint, caiAsks.fingerprint)

  const unsure = await coffer(anna, 'groups', 'invite', 'Allotment', '--lan', '--yes', '--wait', '20')
  assert.equal(unsure.code, 1)
  assert.match(unsure.stderr, /Several boxes are asking nearby: pick one by the fingerprint its owner's screen shows, with --to/)
  assert.match(unsure.stdout, new RegExp(`${beaAsks.fingerprint}\\s+Bea`))
  assert.match(unsure.stdout, new RegExp(`${caiAsks.fingerprint}\\s+Cai`))
  assert.equal((await anna.api('GET', `/groups/${group.key}`)).body.members.length, 1, 'nothing was invited')

  const picked = await coffer(anna, 'groups', 'invite', 'Allotment', '--lan', '--to', caiAsks.fingerprint.toLowerCase().replaceAll('-', ''), '--name', 'Cai the gardener')
  assert.equal(picked.code, 0, picked.stderr)
  assert.match(picked.stdout, new RegExp(`Invited Cai the gardener \\(${caiAsks.fingerprint}\\)`))
  const offer = await until('the invite at Cai\'s', async () => (await asking(cai)).offers[0])
  assert.equal(offer.groupName, 'Allotment')
  assert.equal(offer.as, 'Cai the gardener')

  // The invite sealed to Cai reached Bea's socket too: Bea's box opens nothing, and says nothing of it.
  // The same code re-addressed to Bea, as someone on the link could send it, is refused.
  const code = (await anna.api('POST', `/groups/${group.key}/invites/lan`, { body: { to: caiAsks.fingerprint, name: 'Cai again', expiresIn: '10m' } })).body.invite
  const lan = await lanSender(port)
  later(() => lan.close())
  await lan.send(JSON.stringify({ v: 1, t: 'invite', to: beaAsks.boxKey, code }))
  const refused = await until('Bea\'s box to refuse the re-addressed invite', async () => (await asking(bea)).refused[0])
  assert.match(refused.reason, /An invite arrived and was refused: This invite was not made for this box/)
  const bea2 = await asking(bea)
  assert.deepEqual(bea2.offers, [])
  assert.equal(bea2.refused.length, 1, 'the invites sealed to Cai and addressed to Cai are not Bea\'s to report')

  const { status, body: joined } = await cai.api('POST', '/groups/lan/join', { body: { offer: offer.id } })
  assert.equal(status, 201, JSON.stringify(joined))
  assert.deepEqual(joined.members.map((m: { name: string }) => m.name).sort(), ['Anna', 'Cai'])
  assert.equal(joined.members.find((m: { you: boolean }) => m.you).name, 'Cai', 'it joins under the name it asked as')
})

test('an expired, a reused, a malformed and an oversized LAN invite change nothing, and the asking box says why', async (t) => {
  const port = lanPort(t)
  const later = teardown(t)
  const bootstrap = await testnet(later)
  const anna = await startBox(later, bootstrap)
  const bea = await startBox(later, bootstrap)
  await anna.coffer('groups', 'create', 'Club', '--as', 'Anna')
  const { body: { groups: [group] } } = await anna.api('GET', '/groups')
  const { body: ask } = await bea.api('POST', '/groups/lan/ask', { body: { wait: 60 } })
  const lan = await lanSender(port)
  later(() => lan.close())

  // An invite sealed to Bea's box that expired a minute ago, sent as a box on the link would.
  const { code: expired } = makeInvite({
    group: group.key, name: 'Club', admin: '11'.repeat(32), epoch: 0, role: 'member', as: 'Bea', expiresAt: Date.now() - 60_000,
  }, Buffer.from(ask.boxKey, 'hex'))
  await lan.send(JSON.stringify({ v: 1, t: 'invite', to: ask.boxKey, code: expired }))
  await lan.send('{"v":1,"t":"invite"')
  await lan.send(Buffer.alloc(9000, 'x'))
  await lan.send(JSON.stringify({ v: 1, t: 'invite', to: ask.boxKey, code: expired, extra: true }))
  const reasons = await until('four refusals', async () => {
    const { refused } = await asking(bea)
    return refused.length >= 4 ? refused.map((r: { reason: string }) => r.reason) : undefined
  })
  assert.match(reasons.find((r: string) => /expired/.test(r)) ?? '', /An invite arrived and was refused: This invite expired at .*: ask the admin for a new one\./)
  assert.ok(reasons.some((r: string) => /was not JSON: ignored/.test(r)), reasons.join('\n'))
  assert.ok(reasons.some((r: string) => /A datagram of 9000 bytes .* was more than 8192: ignored/.test(r)), reasons.join('\n'))
  assert.ok(reasons.some((r: string) => /was no message this version of Coffer knows: ignored/.test(r)), reasons.join('\n'))
  assert.deepEqual((await asking(bea)).offers, [])
  assert.deepEqual((await bea.api('GET', '/groups')).body.groups, [])

  // A real invite over the LAN, used once: the same code arriving again is refused, and so is the offer's id.
  const { body: sent } = await anna.api('POST', `/groups/${group.key}/invites/lan`, { body: { to: ask.fingerprint, name: 'Bea' } })
  assert.equal(sent.arrived, true)
  const offer = await until('the invite at Bea\'s', async () => (await asking(bea)).offers[0])
  assert.equal(offer.adminFingerprint, sent.adminFingerprint)
  assert.equal((await bea.api('POST', '/groups/lan/join', { body: { offer: offer.id } })).status, 201)
  await bea.api('POST', '/groups/lan/ask', { body: { wait: 60 } })
  await lan.send(JSON.stringify({ v: 1, t: 'invite', to: ask.boxKey, code: sent.invite }))
  const again = await until('the reused invite refused', async () => (await asking(bea)).refused[0])
  assert.match(again.reason, /An invite this box used already arrived again: ignored/)
  const { status, body } = await bea.api('POST', '/groups/lan/join', { body: { offer: offer.id } })
  assert.equal(status, 404)
  assert.match(body.detail, /This box used that invite already/)
  assert.equal((await bea.api('GET', '/groups')).body.groups.length, 1)
})

test('without a usable network interface both LAN commands say so and point to the invite code', async (t) => {
  lanPort(t, { COFFER_LAN_INTERFACE: 'nosuch0' })
  const later = teardown(t)
  const bootstrap = await testnet(later)
  const anna = await startBox(later, bootstrap)
  await anna.coffer('groups', 'create', 'Household', '--as', 'Anna')

  const { status, body } = await anna.api('POST', '/groups/lan/ask', { body: { as: 'Anna' } })
  assert.equal(status, 503)
  assert.equal(body.title, 'No local network')
  const join = await coffer(anna, 'groups', 'join', '--lan')
  const invite = await coffer(anna, 'groups', 'invite', 'Household', '--lan')
  for (const run of [join, invite]) {
    assert.equal(run.code, 1)
    assert.match(run.stderr, /This box cannot reach boxes nearby by multicast: it has no network interface "nosuch0" with an IPv4 address \(COFFER_LAN_INTERFACE\)\. Invite with a code instead: on the invited box `coffer groups list` prints its key; the admin runs `coffer groups invite GROUP KEY --name NAME`/)
  }
})
