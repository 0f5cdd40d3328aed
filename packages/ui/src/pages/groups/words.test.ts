import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ApiError } from '@coffer/box/client'
import type { GroupView, MemberView, ReplicatorView } from './api.ts'
import { checkName, connectedWords, crumbs, davPath, driveProblem, joinPath, removable, replicatorConnectionWords, roleWords } from './words.ts'

const member = (over: Partial<MemberView> = {}): MemberView => ({
  name: 'Bea', role: 'member', you: false, connected: false, since: '2026-11-01T00:00:00.000Z', addedBy: 'Anna',
  box: 'bb'.repeat(32), writer: 'cc'.repeat(32), blobs: 'dd'.repeat(32), ...over,
})
const anna = member({ name: 'Anna', role: 'admin', you: true, addedBy: null, box: 'aa'.repeat(32), writer: 'ee'.repeat(32) })
/** A group as these words read it; what they do not read is left out. */
const group = (over: Partial<GroupView> = {}) => ({
  key: 'ff'.repeat(32), name: 'Household', address: '11'.repeat(32), epoch: 0, role: 'admin', removed: false, writable: true,
  joinedAt: '2026-11-01T00:00:00.000Z', members: [anna], conflicts: [], ...over,
}) as GroupView

test('the role says a removed box and one not let in yet apart from admins and members', () => {
  assert.equal(roleWords(group()), 'Admin')
  assert.equal(roleWords(group({ role: 'member' })), 'Member')
  assert.equal(roleWords(group({ role: null })), 'Not let in yet')
  assert.equal(roleWords(group({ role: null, removed: true })), 'Removed by an admin')
})

test('who is connected counts the other members only', () => {
  assert.equal(connectedWords(group()), 'No other member yet')
  assert.equal(connectedWords(group({ members: [anna, member()] })), '0 of 1 other member')
  assert.equal(connectedWords(group({ members: [anna, member({ connected: true }), member({ name: 'Cai' })] })), '1 of 2 other members')
})

test('only an admin still in the group may remove, and not themself', () => {
  assert.equal(removable(group(), member()), true)
  assert.equal(removable(group(), anna), false)
  assert.equal(removable(group({ role: 'member' }), member()), false)
  assert.equal(removable(group({ removed: true, role: null }), member()), false)
})

test('drive paths: folders from the top down, names joined, and each name encoded in a WebDAV URL', () => {
  assert.deepEqual(crumbs('/'), [{ name: 'Top folder', path: '/' }])
  assert.deepEqual(crumbs('/photos/2026'), [{ name: 'Top folder', path: '/' }, { name: 'photos', path: '/photos' }, { name: '2026', path: '/photos/2026' }])
  assert.equal(joinPath('/', 'a.txt'), '/a.txt')
  assert.equal(joinPath('/photos', 'a.txt'), '/photos/a.txt')
  assert.equal(davPath('ff', '/Grüße & co/50% #1?.txt'), '/ff/Gr%C3%BC%C3%9Fe%20%26%20co/50%25%20%231%3F.txt')
  assert.equal(davPath('ff', '/'), '/ff/')
})

test('a new name is checked as the drive checks it', () => {
  assert.equal(checkName('photos'), undefined)
  assert.match(checkName('  ') ?? '', /Give it a name/)
  assert.match(checkName('a/b') ?? '', /no “\/”/)
  assert.match(checkName('..') ?? '', /not names/)
  assert.match(checkName('a\u0007b') ?? '', /control characters/)
  assert.match(checkName('x'.repeat(256)) ?? '', /at most 255/)
})

test('a drive request refused with a bare status is said in words with what to do; a problem from the box is said as it is', () => {
  const bare = (status: number) => new ApiError(status, {}, 'x')
  assert.match(driveProblem(bare(404), 'download', 'a.txt'), /^“a\.txt” is not in the drive any more: .* Refresh the folder\.$/)
  assert.match(driveProblem(bare(405), 'mkdir', 'photos'), /exists already in this folder: pick another name/)
  assert.match(driveProblem(bare(405), 'upload', 'photos'), /is a folder: open it instead/)
  assert.match(driveProblem(bare(409), 'upload', 'a.txt'), /folder .* is not in the drive any more/)
  assert.match(driveProblem(bare(507), 'upload', 'a.txt'), /disk is full/)
  assert.match(driveProblem(bare(502), 'delete', 'a.txt'), /^Deleting “a\.txt” failed \(the drive answered 502\)\. Try again/)
  const problem = new ApiError(404, { type: 'https://coffer.dev/problems/not-found', title: 'Not found', status: 404, detail: 'This box is in no group "ff".' }, 'x')
  assert.equal(driveProblem(problem, 'download', 'a.txt'), 'This box is in no group "ff".')
})

test('a replicator not connected says whether it is only outside its sync windows', () => {
  const replicator = (over: Partial<ReplicatorView>) => ({ connected: false, inWindow: true, ...over }) as ReplicatorView
  assert.equal(replicatorConnectionWords(replicator({ connected: true })), 'Connected')
  assert.equal(replicatorConnectionWords(replicator({})), 'Not connected')
  assert.equal(replicatorConnectionWords(replicator({ inWindow: false })), 'Outside its sync windows')
})
