import { test } from 'node:test'
import assert from 'node:assert/strict'
import { DEFAULT_SETTINGS } from '../../../../box/src/backup/index.ts'
import type { ReplicaView } from './api.ts'
import { acceptCommand, checkWords, connectionWords, logName, readLimit, readStaleHours, readSync, readWindows, settingsText, syncWords, unsettled } from './words.ts'

const replica = (over: Partial<ReplicaView> = {}): ReplicaView => ({
  id: 'r1', name: 'Anna’s NAS', kind: 'blind', publicKey: 'ab'.repeat(32), state: 'paired', createdAt: '2026-11-01T00:00:00.000Z',
  pairedAt: '2026-11-01T00:01:00.000Z', inviteExpiresAt: null, settings: DEFAULT_SETTINGS, connected: true, inWindow: true,
  lastSeen: '2026-11-01T00:02:00.000Z', stale: false, problems: [], health: null, traffic: { sentBytes: 0, receivedBytes: 0 },
  ...over,
})
const health = (behindBlocks: number, behindBytes: number, check: { blocks: number; failed: number } | null = { blocks: 8, failed: 0 }): ReplicaView['health'] => ({
  reportedAt: '2026-11-01T00:02:00.000Z', quotaBytes: 1024 ** 3, usedBytes: 1024 ** 2, overQuota: false, behindBlocks, behindBytes, cores: [],
  check: check && { at: '2026-11-01T00:02:00.000Z', ...check },
})

test('sync windows are read as the box takes them, and a mistake is named', () => {
  assert.deepEqual(readWindows(''), { value: [] })
  assert.deepEqual(readWindows(' 22:00-06:00, 12:30–13:00 '), { value: ['22:00-06:00', '12:30-13:00'] })
  assert.match(readWindows('22:00-06:00, 9-17').error ?? '', /“9-17” is not a sync window/)
  assert.match(readWindows('24:00-01:00').error ?? '', /not a sync window/)
  assert.match(readWindows('03:00-03:00').error ?? '', /would never sync/)
})

test('a replica\'s sync reads its windows and both limits together, or names the first mistake', () => {
  assert.deepEqual(readSync({ windows: '22:00-06:00', upload: '512', download: '' }), { value: { windows: ['22:00-06:00'], uploadBytesPerSecond: 512 * 1024, downloadBytesPerSecond: 0 } })
  assert.match(readSync({ windows: '9-17', upload: 'fast', download: '' }).error ?? '', /“9-17” is not a sync window/)
  assert.match(readSync({ windows: '', upload: '1', download: '-1' }).error ?? '', /download limit/)
})

test('limits are KB per second, empty for none; flagging takes at least a minute', () => {
  assert.deepEqual(readLimit('', 'upload'), { value: 0 })
  assert.deepEqual(readLimit('0', 'upload'), { value: 0 })
  assert.deepEqual(readLimit('512', 'upload'), { value: 512 * 1024 })
  assert.match(readLimit('-1', 'download').error ?? '', /download limit/)
  assert.match(readLimit('fast', 'upload').error ?? '', /upload limit/)
  assert.deepEqual(readStaleHours('24'), { value: 86400 })
  assert.deepEqual(readStaleHours('0.5'), { value: 1800 })
  assert.ok(readStaleHours('0.01').error)
  assert.ok(readStaleHours('').error)
  // What the form shows reads back to the same settings.
  const shown = settingsText({ windows: ['22:00-06:00'], uploadBytesPerSecond: 256 * 1024, downloadBytesPerSecond: 0, staleAfterSeconds: 7200 })
  assert.deepEqual(shown, { windows: '22:00-06:00', upload: '256', download: '', stale: '2' })
  assert.deepEqual([readWindows(shown.windows).value, readLimit(shown.upload, 'upload').value, readLimit(shown.download, 'download').value, readStaleHours(shown.stale).value], [['22:00-06:00'], 256 * 1024, 0, 7200])
})

test('a replica is in sync, behind by blocks and bytes, or not yet known', () => {
  assert.deepEqual(syncWords(replica({ state: 'invited', pairedAt: null })), { text: 'Not paired yet', tone: 'unknown' })
  assert.deepEqual(syncWords(replica()), { text: 'No health report yet', tone: 'unknown' })
  assert.deepEqual(syncWords(replica({ health: health(0, 0) })), { text: 'In sync', tone: 'ok' })
  assert.deepEqual(syncWords(replica({ health: health(1, 512) })), { text: 'Behind by 1 block (512 B)', tone: 'behind' })
  assert.deepEqual(syncWords(replica({ health: health(1200, 3 * 1024 ** 2) })), { text: 'Behind by 1,200 blocks (3.0 MB)', tone: 'behind' })
  assert.deepEqual(syncWords(replica({ health: health(8, 0) })), { text: 'Behind by 8 blocks', tone: 'behind' })
})

test('the connection says when a replica is outside its sync window, and the check how many blocks matched', () => {
  assert.equal(connectionWords(replica()), 'Connected')
  assert.equal(connectionWords(replica({ connected: false, inWindow: false })), 'Outside its sync window')
  assert.equal(connectionWords(replica({ connected: false })), 'Not connected')
  assert.match(connectionWords(replica({ connected: false, state: 'invited' })), /waiting for its operator to accept/)
  assert.equal(checkWords(null), 'Not checked yet')
  assert.equal(checkWords({ at: '', blocks: 0, failed: 0 }), 'Nothing to check yet')
  assert.equal(checkWords({ at: '', blocks: 8, failed: 0 }), '8 of 8 blocks matched')
  assert.equal(checkWords({ at: '', blocks: 8, failed: 3 }), '5 of 8 blocks matched')
})

test('the page follows a replica only while it pairs or catches up', () => {
  const soon = new Date(Date.now() + 60_000).toISOString()
  const gone = new Date(Date.now() - 60_000).toISOString()
  assert.equal(unsettled([]), false)
  assert.equal(unsettled([replica({ state: 'invited', inviteExpiresAt: soon, connected: false })]), true)
  assert.equal(unsettled([replica({ state: 'invited', inviteExpiresAt: gone, connected: false })]), false)
  assert.equal(unsettled([replica()]), true, 'connected, no report yet')
  assert.equal(unsettled([replica({ health: health(3, 100) })]), true)
  assert.equal(unsettled([replica({ health: health(0, 0, null) })]), true, 'in sync, not checked yet')
  assert.equal(unsettled([replica({ health: health(0, 0) })]), false)
  assert.equal(unsettled([replica({ connected: false, health: health(3, 100) })]), false, 'behind but away: nothing will change until it connects')
  assert.equal(unsettled([replica({ health: { ...health(3, 100)!, overQuota: true } })]), false, 'its quota is full: it takes no more')
})

test('logs are named as the owner knows them, and the operator\'s command carries the code', () => {
  assert.deepEqual(['source:diary', 'audit', 'registry'].map(logName), ['Source diary', 'Audit log', 'List of sources'])
  assert.equal(acceptCommand('coffer-invite:abc'), 'coffer replicator accept coffer-invite:abc --quota 10GiB')
})
