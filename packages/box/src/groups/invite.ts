/**
 * Invites to a group. An admin's box makes one for one box, known by its public key, sealed to
 * that key: whoever carries the code (a message, a note, a QR code) can read nothing in it, and
 * only that box can use it. It names the group and the admin's key on the group's network, and
 * holds a secret the admin's box keeps only the hash of. The invitee's box says the secret once,
 * over a connection made under the key the invite was sealed to; the admin's box then admits it
 * and the invite is spent. An expired invite is refused at both ends, a spent one by the admin's.
 */
import { randomBytes } from 'node:crypto'
import { Type, type Static } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import { InvalidInput } from '../errors/index.ts'
import type { KeyPair } from '../keys/index.ts'
import { hashSecret, openCode, sealCode } from '../backup/index.ts'
import { Role } from './members.ts'

const PREFIX = 'coffer-group:'

const Hex = (bytes: number) => Type.String({ pattern: `^[0-9a-f]{${bytes * 2}}$` })

const GroupInvite = Type.Object({
  v: Type.Literal(1),
  /** The group's key. */
  group: Hex(32),
  name: Type.String({ maxLength: 100 }),
  /** The inviting admin's key on the group's network: whom to dial. */
  admin: Hex(32),
  /** The epoch of the group's content key the invite lets a box into. */
  epoch: Type.Integer({ minimum: 0 }),
  secret: Hex(32),
  role: Role,
  /** What the admin called the invitee, the name it joins under unless it picks another. */
  as: Type.String({ maxLength: 100 }),
  expiresAt: Type.Number(),
}, { additionalProperties: false })
export type GroupInvite = Static<typeof GroupInvite>
const checkInvite = TypeCompiler.Compile(GroupInvite)

export function makeInvite(invite: Omit<GroupInvite, 'v' | 'secret'>, invitee: Buffer): { code: string; secretHash: string } {
  const full: GroupInvite = { v: 1, ...invite, secret: randomBytes(32).toString('hex') }
  const code = sealCode(PREFIX, full, invitee, 'That is not a box\'s key: copy the whole key `coffer groups list` prints on the box to invite.')
  return { code, secretHash: hashSecret(full.secret) }
}

/** Opens an invite sealed to this box; refuses one sealed to another, altered, or expired. */
export function openInvite(code: string, box: KeyPair, now = Date.now()): GroupInvite {
  const text = code.trim()
  if (!text.startsWith(PREFIX)) throw new InvalidInput(`A group invite starts with "${PREFIX}": paste the whole code the group's admin gave you.`, { field: 'code' })
  return openCode(text.slice(PREFIX.length), box, (v): v is GroupInvite => checkInvite.Check(v), {
    notForYou: 'This invite was not made for this box (or it was altered): ask the admin for an invite to this box\'s key.', askWhom: 'the admin', field: 'code',
  }, now)
}
