/**
 * A group's members. Each member signs, with its box's key, a statement of who it is in the group
 * — the keys it writes, stores file contents and connects with, and its name — and an admin adds
 * that statement to the group's log, which its own writer key signs. Every box checks both before
 * the member counts: a member's entry cannot be made up by an admin, nor slipped in by a member.
 */
import { Type, type Static } from '@sinclair/typebox'
import { sign, verifySignature, type KeyPair } from '../keys/index.ts'

export const Role = Type.Union([Type.Literal('admin'), Type.Literal('member')])
export type Role = Static<typeof Role>

const Hex = (bytes: number) => Type.String({ pattern: `^[0-9a-f]{${bytes * 2}}$` })

export const MemberName = Type.String({ minLength: 1, maxLength: 100, pattern: '^[^\\u0000-\\u001f\\u007f]*$' })

/** What a member signs. */
export const Statement = Type.Object({
  /** Its box's public key (its key on the backup network): invites to it are sealed to this key. */
  box: Hex(32),
  /** Its key on this group's network, which the allow-list admits. */
  peer: Hex(32),
  /** Its writer core in the group's base, and the core its files' contents go in. */
  writer: Hex(32),
  blobs: Hex(32),
  name: MemberName,
  signature: Hex(64),
}, { additionalProperties: false })
export type Statement = Static<typeof Statement>

export const Member = Type.Object({
  box: Type.String(), peer: Type.String(), writer: Type.String(), blobs: Type.String(), name: Type.String(), signature: Type.String(),
  role: Role,
  /** When it was added, by the adding admin's clock (epoch ms). */
  since: Type.Number(),
  /** The writer key of the admin who added it; none for the founder. */
  addedBy: Type.Union([Type.String(), Type.Null()]),
})
export type Member = Static<typeof Member>

function message(group: string, s: Omit<Statement, 'signature'>): Buffer {
  return Buffer.from(`coffer/v1/group-member\n${JSON.stringify([group, s.box, s.peer, s.writer, s.blobs, s.name])}`)
}

export function signStatement(group: string, s: Omit<Statement, 'signature' | 'box'>, box: KeyPair): Statement {
  const unsigned = { ...s, box: box.publicKey.toString('hex') }
  return { ...unsigned, signature: sign(message(group, unsigned), box).toString('hex') }
}

export function statementSigned(group: string, s: Statement): boolean {
  return verifySignature(Buffer.from(s.signature, 'hex'), message(group, s), Buffer.from(s.box, 'hex'))
}
