import { test } from 'node:test'
import assert from 'node:assert/strict'
import { newMacaroon } from 'macaroon'
import { Arbiter, windowOf } from './index.ts'
import { Forbidden, Unauthorized } from '../errors/index.ts'
import { openMetaDb } from '../db/index.ts'

const ROOT = Buffer.alloc(32, 7)

function arbiter() {
  return new Arbiter(openMetaDb(':memory:'), ROOT)
}

function tokenWith(caveats: string[], rootKey = ROOT): string {
  const m = newMacaroon({ identifier: 'test', rootKey })
  for (const c of caveats) m.addFirstPartyCaveat(c)
  return Buffer.from(JSON.stringify(m.exportJSON())).toString('base64url')
}

const BASE = ['coffer = 1', 'subject = app:test', 'grant = owner@1', 'sources = a,b', 'ops = read']

test('a minted token carries its grant scope', () => {
  const a = arbiter()
  const grant = a.createGrant({ subject: 'app:climate', description: 'climate', sources: ['temp'], ops: ['read'], windows: [{ from: { ago: 30 * 86400 } }], granularity: 3600 })
  const scope = a.authenticate(a.mint(grant.id, { ttlSeconds: 60 }).token)
  assert.equal(scope.subject, 'app:climate')
  assert.deepEqual(scope.sources, ['temp'])
  assert.equal(scope.granularity, 3600)
  const now = 1_800_000_000
  assert.deepEqual(windowOf(scope, now), { from: now - 30 * 86400, to: Infinity })
  assert.throws(() => a.authorize(scope, { op: 'read', source: 'temp', granularity: 0 }, now), Forbidden)
  assert.throws(() => a.authorize(scope, { op: 'read', source: 'temp', granularity: 3600, from: now - 31 * 86400 }, now), Forbidden)
  assert.throws(() => a.authorize(scope, { op: 'write', source: 'temp' }, now), Forbidden)
  assert.throws(() => a.authorize(scope, { op: 'read', source: 'other' }, now), Forbidden)
  a.authorize(scope, { op: 'read', source: 'temp', granularity: 86400, from: now - 86400, to: now }, now)
})

test('tokens fail closed: missing, malformed, foreign key, unknown or malformed caveat, missing caveat', () => {
  const a = arbiter()
  for (const token of [undefined, '', 'x', '!!!', tokenWith(BASE, Buffer.alloc(32, 8)), tokenWith([...BASE, 'colour = blue']),
    tokenWith([...BASE, 'ops = fly']), tokenWith([...BASE, 'window = yesterday..']), tokenWith(BASE.slice(1)), tokenWith(BASE.filter((c) => !c.startsWith('grant'))),
    tokenWith([...BASE, 'expires = 1'])]) {
    assert.throws(() => a.authenticate(token), Unauthorized, String(token).slice(0, 40))
  }
  a.authenticate(tokenWith(BASE))
  // Right after a genuine token, one that differs from it in a character is verified afresh, and refused.
  const genuine = a.ownerToken(60).token
  a.authenticate(genuine)
  const altered = genuine.slice(0, -8) + (genuine.at(-8) === 'A' ? 'B' : 'A') + genuine.slice(-7)
  assert.throws(() => a.authenticate(altered), Unauthorized)
  assert.equal(a.authenticate(genuine).subject, 'owner')
})

test('a minted token with a caveat widened fails, whether it keeps its signature or is signed with another key', () => {
  const a = arbiter()
  const grant = a.createGrant({ subject: 'app:narrow', description: 'narrow', sources: ['temp'], ops: ['read'], windows: [], granularity: 3600 })
  const genuine = JSON.parse(Buffer.from(a.mint(grant.id).token, 'base64url').toString('utf8')) as { c: { i: string }[] }
  const widened = genuine.c.map(({ i }) => (i.startsWith('sources = ') ? 'sources = *' : i))
  assert.notDeepEqual(widened, genuine.c.map(({ i }) => i), 'the token names its sources')
  // Signed with the root key the widened caveats are accepted, so what the others lack is only a true signature.
  assert.equal(a.authenticate(tokenWith(widened)).sources, '*')
  const keptSignature = Buffer.from(JSON.stringify({ ...genuine, c: widened.map((i) => ({ i })) })).toString('base64url')
  assert.throws(() => a.authenticate(keptSignature), Unauthorized)
  assert.throws(() => a.authenticate(tokenWith(widened, Buffer.alloc(32, 8))), Unauthorized)
})

test('appended caveats only narrow a token', () => {
  const a = arbiter()
  const scope = a.authenticate(tokenWith([...BASE, 'sources = b,c', 'ops = read,write', 'granularity = 60s', 'granularity = raw', 'window = 100..200', 'window = 150..']))
  assert.deepEqual(scope.sources, ['b'])
  assert.deepEqual(scope.ops, ['read'])
  assert.equal(scope.granularity, 60)
  assert.deepEqual(windowOf(scope), { from: 150, to: 200 })
})

test('revoking a grant, or rotating the owner grant, kills its tokens', () => {
  const a = arbiter()
  const grant = a.createGrant({ subject: 'device:phone', description: '', sources: ['loc'], ops: ['write'], windows: [], granularity: 0 })
  const token = a.mint(grant.id).token
  a.authenticate(token)
  a.revoke(grant.id)
  assert.throws(() => a.authenticate(token), /revoked/)
  assert.throws(() => a.mint(grant.id), /revoked/)
  const owner = a.ownerToken(60).token
  a.revoke('owner')
  assert.throws(() => a.authenticate(owner), /revoked/)
  a.authenticate(a.ownerToken(60).token)
})

test('expired tokens are refused', () => {
  const a = arbiter()
  const { token, expires } = a.ownerToken(60)
  a.authenticate(token, expires! - 1)
  assert.throws(() => a.authenticate(token, expires!), /expired/)
})

test('grants persist across restarts', () => {
  const db = openMetaDb(':memory:')
  const grant = new Arbiter(db, ROOT).createGrant({ subject: 'app:x', description: 'x', sources: '*', ops: ['read'], windows: [], granularity: 0 })
  const again = new Arbiter(db, ROOT)
  assert.deepEqual(again.grant(grant.id), grant)
  assert.throws(() => again.authenticate(tokenWith(BASE, Buffer.alloc(32, 1))), Unauthorized)
})
