import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readPublicKey } from './invites.ts'

test('a box key is read as pasted, spaces and case aside, and anything else is refused', () => {
  assert.equal(readPublicKey(`  ${'AB'.repeat(16)}\n${'cd'.repeat(16)} `), 'ab'.repeat(16) + 'cd'.repeat(16))
  assert.equal(readPublicKey('ab'.repeat(31)), undefined)
  assert.equal(readPublicKey('zz'.repeat(32)), undefined)
})
