import { test } from 'node:test'
import assert from 'node:assert/strict'
import { reread } from './apply.ts'

const cutShort = () => Object.assign(new Error('SNAPSHOT_NOT_AVAILABLE: snapshot at index 14 not available'), { code: 'SNAPSHOT_NOT_AVAILABLE' })

test('a read of a group view cut short by autobase reordering it is made again until it succeeds', async () => {
  let tries = 0
  const value = await reread(async () => {
    if (++tries < 3) throw cutShort()
    return 'members'
  })
  assert.equal(value, 'members')
  assert.equal(tries, 3)
})

test('a read failing for any other reason fails at once, and one that keeps being cut short fails in the end', async () => {
  let tries = 0
  await assert.rejects(reread(async () => {
    tries++
    throw Object.assign(new Error('SESSION_CLOSED'), { code: 'SESSION_CLOSED' })
  }), /SESSION_CLOSED/)
  assert.equal(tries, 1)
  tries = 0
  await assert.rejects(reread(async () => {
    tries++
    throw cutShort()
  }), /SNAPSHOT_NOT_AVAILABLE/)
  assert.equal(tries, 8)
})
