/**
 * Pairing a replica: the box makes an invite sealed to the replica's public key, so only that
 * replica can read it (nothing in it is usable by whoever carries the code), and keeps only the
 * hash of its secret. The replica, having opened it, dials the box and says the secret once; the
 * box then knows the replica by its key, and the invite is spent. An expired or spent invite is
 * refused at both ends.
 */
import { createHash, randomBytes } from 'node:crypto'
import { Type } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import { InvalidInput } from '../errors/index.ts'
import { openSealed, sealTo, type KeyPair } from '../keys/index.ts'

const PREFIX = 'coffer-invite:'

const Invite = Type.Object({
  v: Type.Literal(1),
  /** The box's key on the backup network: whom to dial. */
  box: Type.String({ pattern: '^[0-9a-f]{64}$' }),
  secret: Type.String({ pattern: '^[0-9a-f]{64}$' }),
  expiresAt: Type.Number(),
  /** What the owner called the replica, for the replica's operator to see whose box this is. */
  name: Type.String({ maxLength: 100 }),
}, { additionalProperties: false })
export interface Invite { v: 1; box: string; secret: string; expiresAt: number; name: string }

export function hashSecret(secret: string): string {
  return createHash('sha256').update(Buffer.from(secret, 'hex')).digest('hex')
}

export function makeInvite(opts: { box: Buffer; replica: Buffer; expiresAt: number; name: string }): { code: string; secretHash: string } {
  const invite: Invite = { v: 1, box: opts.box.toString('hex'), secret: randomBytes(32).toString('hex'), expiresAt: opts.expiresAt, name: opts.name }
  const sealed = sealTo(Buffer.from(JSON.stringify(invite)), opts.replica)
  return { code: PREFIX + sealed.toString('base64url'), secretHash: hashSecret(invite.secret) }
}

/** Opens an invite sealed to this key pair; refuses one that is not, is altered, or has expired. */
export function openInvite(code: string, keyPair: KeyPair, now = Date.now()): Invite {
  const text = code.trim()
  if (!text.startsWith(PREFIX)) throw new InvalidInput(`An invite code starts with "${PREFIX}": copy the whole code the box owner gave you.`)
  const opened = openSealed(Buffer.from(text.slice(PREFIX.length), 'base64url'), keyPair)
  if (!opened) throw new InvalidInput('This invite was not made for this replicator (or it was altered): ask the owner for an invite to this replicator\'s key.')
  let invite: unknown
  try {
    invite = JSON.parse(opened.toString('utf8'))
  } catch {
    invite = undefined
  }
  if (!Value.Check(Invite, invite)) throw new InvalidInput('This invite is not one this version of Coffer can read.')
  if (invite.expiresAt <= now) throw new InvalidInput(`This invite expired at ${new Date(invite.expiresAt).toISOString()}: ask the owner for a new one.`)
  return invite
}
