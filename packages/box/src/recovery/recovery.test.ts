/**
 * Social recovery through its public door, on real homes: an owner's box and its friends' boxes
 * each with their own seed, box.db, audit log and owner token, the operations run through the
 * operation layer as any caller runs them, and the recovery made in a new, empty folder.
 */
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import pino from 'pino'
import type { TSchema } from '@sinclair/typebox'
import { initHome, openHome, type Home } from '../home/index.ts'
import { openMetaDb } from '../db/index.ts'
import { AuditLog } from '../audit/index.ts'
import { Arbiter } from '../arbiter/index.ts'
import { Operations, type Operation } from '../operations/index.ts'
import { sealTo, sign } from '../keys/index.ts'
import { CofferError } from '../errors/index.ts'
import {
  BadShare, NotEnoughShares, NotForThisKey, RECOVERY_KEY_FILE, WrongPassphrase, recoverHome, recoveryOperations, requestRecovery,
  type HeldShare, type RecoveryOperations,
} from './index.ts'

const PASSPHRASE = 'correct horse battery staple'
const NEW_PASSPHRASE = 'a new machine, a new passphrase'
const ROOT = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-recovery-'))

interface TestBox {
  home: Home
  identity: string
  recovery: RecoveryOperations
  audit: AuditLog
  close(): Promise<void>
  call<O extends TSchema>(op: Operation<TSchema, O>, input: unknown): Promise<any>
}

const open: TestBox[] = []
after(async () => {
  for (const box of open) await box.close()
  fs.rmSync(ROOT, { recursive: true, force: true })
})

let boxes = 0
async function newBox(): Promise<TestBox> {
  const dir = path.join(ROOT, `box-${++boxes}`)
  initHome(dir, { passphrase: PASSPHRASE, timeZone: 'UTC' })
  const home = openHome(dir)
  const db = openMetaDb(home.paths.meta)
  const audit = new AuditLog(home.paths.audit, home.keys, db)
  await audit.open()
  const arbiter = new Arbiter(db, home.keys.macaroonRootKey)
  const ops = new Operations({ arbiter, audit, logger: pino({ level: 'silent' }) })
  const { token } = arbiter.ownerToken(3600)
  const box: TestBox = {
    home, identity: home.config.identity, recovery: recoveryOperations({ home, db }), audit,
    close: async () => {
      await audit.close()
      db.close()
    },
    call: (op, input) => ops.call(op, structuredClone(input), { token, action: `TEST ${op.name}` }),
  }
  open.push(box)
  return box
}

function newFolder(): string {
  return path.join(ROOT, `recovering-${++boxes}`)
}

/** Splits the owner's seed among friends; answers each friend's share file, in friend order. */
async function split(owner: TestBox, threshold: number, friends: TestBox[]): Promise<string[]> {
  const made = await owner.call(owner.recovery.split, {
    passphrase: PASSPHRASE, threshold, friends: friends.map((f, i) => ({ name: `friend-${i + 1}`, identity: f.identity })),
  })
  return made.shares.map((s: { file: string }) => s.file)
}

async function release(friend: TestBox, owner: TestBox, code: string): Promise<{ name: string; text: string }> {
  const { file } = await friend.call(friend.recovery.release, { owner: owner.identity, to: code, passphrase: PASSPHRASE })
  return { name: `from-${friend.identity.slice(0, 6)}.json`, text: file }
}

function rejectsWith(promise: Promise<unknown>, type: new (...args: never[]) => CofferError, message?: RegExp): Promise<void> {
  return assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof type, `expected ${type.name}, got ${String(err)}`)
    if (message) assert.match(err.message, message)
    return true
  })
}

const asked = () => {
  let times = 0
  return { passphrase: async () => { times++; return NEW_PASSPHRASE }, get times() { return times } }
}

test('each share is sealed to one friend: that friend\'s box holds it, another box cannot open it even when told it is its own', async () => {
  const [owner, alice, bob] = [await newBox(), await newBox(), await newBox()]
  const [forAlice, forBob] = await split(owner, 2, [alice, bob])
  const seed = fs.readFileSync(owner.home.paths.seed)
  for (const file of [forAlice!, forBob!]) {
    assert.ok(!file.includes(seed.toString('hex')) && !file.includes(seed.toString('base64')))
    assert.equal(JSON.parse(file).format, 'coffer-recovery-share')
    // Small enough for a QR code at its lowest error correction (2,953 bytes at most).
    assert.ok(file.length < 1200, `a share file is ${file.length} bytes`)
  }

  const held: HeldShare = await alice.call(alice.recovery.hold, { share: forAlice, label: 'Olga' })
  assert.deepEqual({ ...held, receivedAt: 0 }, {
    owner: owner.identity, version: held.version, index: 1, threshold: 2, count: 2, label: 'Olga', receivedAt: 0, releasedTo: null, releasedAt: null,
  })
  assert.deepEqual(await alice.call(alice.recovery.held, {}), [held])

  await rejectsWith(bob.call(bob.recovery.hold, { share: forAlice }), NotForThisKey, /sealed to the box [0-9a-f]{12}…, not to this one/)
  // Naming Bob as the recipient does not make it his: the seal opens only with Alice's key.
  const readdressed = JSON.stringify({ ...JSON.parse(forAlice!), for: bob.identity })
  await rejectsWith(bob.call(bob.recovery.hold, { share: readdressed }), BadShare, /does not open with the key it names/)
  assert.deepEqual(await bob.call(bob.recovery.held, {}), [])
  // The owner's box keeps the split, not the shares.
  const latest = await owner.call(owner.recovery.latestSplit, {})
  const byFile = { replica: null, deliveredAt: null, problem: null }
  assert.deepEqual(latest.friends, [{ name: 'friend-1', identity: alice.identity, ...byFile }, { name: 'friend-2', identity: bob.identity, ...byFile }])
  assert.equal(latest.threshold, 2)
})

test('a share altered on the way, or sealed by anyone but signed by another key, is refused', async () => {
  const [owner, alice, bob, mallory] = [await newBox(), await newBox(), await newBox(), await newBox()]
  const [forAlice] = await split(owner, 2, [alice, bob])
  const envelope = JSON.parse(forAlice!)
  const sealed = Buffer.from(envelope.sealed, 'base64')
  sealed[sealed.length - 5]! ^= 0x01
  await rejectsWith(alice.call(alice.recovery.hold, { share: JSON.stringify({ ...envelope, sealed: sealed.toString('base64') }) }), BadShare, /altered/)

  // Anyone can seal to Alice's public key: a share claiming the owner but signed by Mallory is
  // built here as the format is documented (the signature over the context line and the payload,
  // then the payload) and refused for its signature.
  const [forMallorysFriend] = await split(mallory, 2, [alice, bob])
  const mallorysPayload = JSON.parse((await openedPayloadOf(alice, forMallorysFriend!)))
  const forged = { ...mallorysPayload, owner: owner.identity, threshold: 2 }
  const body = Buffer.from(JSON.stringify(forged))
  const signature = sign(Buffer.concat([Buffer.from('coffer/v1/recovery-share\n'), body]), mallory.home.keys.identity)
  const forgedFile = JSON.stringify({ format: 'coffer-recovery-share', version: 1, for: alice.identity, sealed: sealTo(Buffer.concat([signature, body]), Buffer.from(alice.identity, 'hex')).toString('base64') })
  await rejectsWith(alice.call(alice.recovery.hold, { share: forgedFile }), BadShare, /not signed by the box it names/)

  await rejectsWith(alice.call(alice.recovery.hold, { share: '{"format":"something-else"}' }), BadShare, /not a recovery share/)
  await rejectsWith(alice.call(alice.recovery.hold, { share: 'not json' }), BadShare, /not a recovery share/)
  // A refusal is a decision like any other: on the record, with its reason.
  const entries = await alice.audit.list({ limit: 10 })
  assert.ok(entries.some((e) => e.action === 'TEST recovery.hold' && e.status === 422 && /not signed/.test(e.reason ?? '')))
  assert.deepEqual((await alice.call(alice.recovery.held, {})).map((h: HeldShare) => h.owner), [mallory.identity])
})

/** What a friend's box sees inside a share sealed to it: read the way a friend's box reads it, by holding it and releasing it to a key the test holds. */
async function openedPayloadOf(friend: TestBox, file: string): Promise<string> {
  const held: HeldShare = await friend.call(friend.recovery.hold, { share: file })
  const folder = newFolder()
  const { code } = requestRecovery(folder)
  const { file: released } = await friend.call(friend.recovery.release, { owner: held.owner, to: code, passphrase: PASSPHRASE })
  const { secretKey, publicKey } = JSON.parse(fs.readFileSync(path.join(folder, RECOVERY_KEY_FILE), 'utf8'))
  const { openSealed } = await import('../keys/index.ts')
  const signed = openSealed(Buffer.from(JSON.parse(released).sealed, 'base64'), { publicKey: Buffer.from(publicKey, 'hex'), secretKey: Buffer.from(secretKey, 'hex') })!
  return signed.subarray(64).toString('utf8')
}

test('t − 1 shares are refused without a guess; t shares rebuild the same seed and identity in a new home', async () => {
  const owner = await newBox()
  const friends = [await newBox(), await newBox(), await newBox(), await newBox()]
  const files = await split(owner, 3, friends)
  for (const [i, friend] of friends.entries()) await friend.call(friend.recovery.hold, { share: files[i] })

  const folder = newFolder()
  const request = requestRecovery(folder)
  assert.equal(request.created, true)
  assert.equal(fs.statSync(request.file).mode & 0o777, 0o600)
  assert.equal(fs.statSync(folder).mode & 0o777, 0o700)
  // Asking again answers the same code: friends may have released to it already.
  assert.deepEqual(requestRecovery(folder), { ...request, created: false })

  const released = [await release(friends[0]!, owner, request.code), await release(friends[2]!, owner, request.code)]
  const prompt = asked()
  await rejectsWith(recoverHome(folder, released, prompt.passphrase), NotEnoughShares, /^2 of 3 shares: ask one more friend\./)
  // The same share twice is still one share.
  await rejectsWith(recoverHome(folder, [...released, released[0]!], prompt.passphrase), NotEnoughShares, /^2 of 3 shares/)
  await rejectsWith(recoverHome(folder, released.slice(0, 1), prompt.passphrase), NotEnoughShares, /^1 of 3 shares: ask 2 more friends\./)
  assert.equal(prompt.times, 0)
  assert.ok(!fs.existsSync(path.join(folder, 'config.json')))

  // A share released to another recovery code does not open here.
  const elsewhere = requestRecovery(newFolder())
  const misdirected = await release(friends[3]!, owner, elsewhere.code)
  await rejectsWith(recoverHome(folder, [...released, misdirected], prompt.passphrase), NotForThisKey, /released to the recovery code/)

  const third = await release(friends[3]!, owner, request.code)
  const recovered = await recoverHome(folder, [...released, third], prompt.passphrase)
  assert.equal(prompt.times, 1)
  assert.equal(recovered.identity, owner.identity)
  assert.deepEqual([recovered.threshold, recovered.count, recovered.holders], [3, 4, ['friend-1', 'friend-3', 'friend-4']])
  const home = openHome(folder)
  assert.deepEqual(fs.readFileSync(home.paths.seed), fs.readFileSync(owner.home.paths.seed))
  assert.equal(home.config.identity, owner.identity)
  assert.ok(!fs.existsSync(path.join(folder, RECOVERY_KEY_FILE)), 'the one-time key is gone once used')
  // The home is made with the passphrase given then, as `coffer init --recover` makes it.
  const { checkPassphrase } = await import('../keys/index.ts')
  assert.ok(checkPassphrase(home.config.passphraseHash, NEW_PASSPHRASE))
  await rejectsWith(recoverHome(folder, [...released, third], prompt.passphrase), CofferError, /already holds a box/)
})

test('splitting again retires the old shares: a friend\'s box keeps the newest and refuses the older; shares of two splits do not combine', async () => {
  const [owner, alice, bob] = [await newBox(), await newBox(), await newBox()]
  const [aliceV1, bobV1] = await split(owner, 2, [alice, bob])
  const v1: HeldShare = await alice.call(alice.recovery.hold, { share: aliceV1 })
  await bob.call(bob.recovery.hold, { share: bobV1 })

  const [aliceV2] = await split(owner, 2, [alice, bob])
  const v2: HeldShare = await alice.call(alice.recovery.hold, { share: aliceV2 })
  assert.ok(v2.version > v1.version, `${v2.version} > ${v1.version}`)
  assert.equal((await owner.call(owner.recovery.latestSplit, {})).version, v2.version)
  // Holding the same share again changes nothing; the older one is refused.
  assert.deepEqual(await alice.call(alice.recovery.hold, { share: aliceV2 }), v2)
  await rejectsWith(alice.call(alice.recovery.hold, { share: aliceV1 }), CofferError, new RegExp(`older split \\(version ${v1.version}\\).*\\(version ${v2.version}\\)`))
  assert.deepEqual((await alice.call(alice.recovery.held, {})).map((h: HeldShare) => h.version), [v2.version])

  // Bob's box still holds version 1: with Alice's version 2 it is two splits, and nothing is made.
  const folder = newFolder()
  const { code } = requestRecovery(folder)
  const prompt = asked()
  await rejectsWith(recoverHome(folder, [await release(alice, owner, code), await release(bob, owner, code)], prompt.passphrase), BadShare,
    new RegExp(`2 different splits \\(versions ${v1.version}, ${v2.version}\\)`))
  assert.equal(prompt.times, 0)
  assert.ok(!fs.existsSync(path.join(folder, 'config.json')))
})

test('the seed, or a share of it, leaves a box only for the owner passphrase; each refusal is audited', async () => {
  const [owner, alice, bob] = [await newBox(), await newBox(), await newBox()]
  const friends = [{ name: 'alice', identity: alice.identity }, { name: 'bob', identity: bob.identity }]
  await rejectsWith(owner.call(owner.recovery.split, { passphrase: 'not the passphrase', threshold: 2, friends }), WrongPassphrase)
  assert.equal(await owner.call(owner.recovery.latestSplit, {}), null)
  await rejectsWith(owner.call(owner.recovery.paperKey, { passphrase: 'not the passphrase', format: 'words' }), WrongPassphrase)

  const [forAlice] = await split(owner, 2, [alice, bob])
  await alice.call(alice.recovery.hold, { share: forAlice })
  const { code } = requestRecovery(newFolder())
  await rejectsWith(alice.call(alice.recovery.release, { owner: owner.identity, to: code, passphrase: 'not the passphrase' }), WrongPassphrase)
  assert.equal((await alice.call(alice.recovery.held, {}))[0].releasedAt, null)
  await rejectsWith(alice.call(alice.recovery.release, { owner: bob.identity, to: code, passphrase: PASSPHRASE }), CofferError, /holds no share for/)

  const denials = await owner.audit.list({ outcome: 'deny' })
  assert.deepEqual(denials.map((e) => [e.action, e.status]).sort(), [['TEST recovery.paperKey', 403], ['TEST recovery.split', 403]])
  assert.ok(denials.every((e) => !JSON.stringify(e).includes('not the passphrase')), 'the passphrase tried is not logged')

  // A split's friends are distinct boxes, none of them this one, and at least as many as the threshold.
  const bad = [
    [{ threshold: 3, friends }, /threshold of 3 needs at least 3 friends/],
    [{ threshold: 2, friends: [friends[0], { name: 'ALICE', identity: bob.identity }] }, /Two friends are called ALICE/],
    [{ threshold: 2, friends: [friends[0], { name: 'again', identity: alice.identity }] }, /same box identity as another friend/],
    [{ threshold: 2, friends: [friends[0], { name: 'me', identity: owner.identity }] }, /this box's own/],
    [{ threshold: 2, friends: [friends[0], { name: 'nobody', identity: '00'.repeat(32) }] }, /is not a box identity/],
  ] as const
  for (const [input, message] of bad) await rejectsWith(owner.call(owner.recovery.split, { passphrase: PASSPHRASE, ...input }), CofferError, message)
})
