/**
 * Pairing a replica: the box makes an invite sealed to the replica's public key, so only that
 * replica can read it (nothing in it is usable by whoever carries the code), and keeps only the
 * hash of its secret. The replica, having opened it, dials the box and says the secret once; the
 * box then knows the replica by its key, and the invite is spent. An expired or spent invite is
 * refused at both ends.
 *
 * A device's invite (the owner's other machine, a full replica) is the same, under its own prefix,
 * and carries besides the root seed and the box's time zone: what the device needs to serve as the
 * box. Sealed to the device's key, the seed is readable by that device alone.
 */
import { createHash, randomBytes } from 'node:crypto'
import { Type } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import { InvalidInput } from '../errors/index.ts'
import { openSealed, sealTo, type KeyPair } from '../keys/index.ts'

const PREFIX = 'coffer-invite:'
const DEVICE_PREFIX = 'coffer-device-invite:'

const Fields = {
  v: Type.Literal(1),
  /** The box's key on the backup network: whom to dial. */
  box: Type.String({ pattern: '^[0-9a-f]{64}$' }),
  secret: Type.String({ pattern: '^[0-9a-f]{64}$' }),
  expiresAt: Type.Number(),
  /** What the owner called the replica, for the replica's operator to see whose box this is. */
  name: Type.String({ maxLength: 100 }),
}
const Invite = Type.Object(Fields, { additionalProperties: false })
export interface Invite { v: 1; box: string; secret: string; expiresAt: number; name: string }

const DeviceInvite = Type.Object({
  ...Fields,
  /** The root seed, hex: the 24 words' entropy, from which the device derives every key of the box. */
  seed: Type.String({ pattern: '^[0-9a-f]{64}$' }),
  timeZone: Type.String({ maxLength: 100 }),
}, { additionalProperties: false })
export interface DeviceInvite extends Invite { seed: string; timeZone: string }

export function hashSecret(secret: string): string {
  return createHash('sha256').update(Buffer.from(secret, 'hex')).digest('hex')
}

/** An invite for a blind replicator or, given `device`, for the owner's other device. */
export function makeInvite(opts: { box: Buffer; replica: Buffer; expiresAt: number; name: string; device?: { seed: Buffer; timeZone: string } }): { code: string; secretHash: string } {
  const invite: Invite = { v: 1, box: opts.box.toString('hex'), secret: randomBytes(32).toString('hex'), expiresAt: opts.expiresAt, name: opts.name }
  const plain = Buffer.from(JSON.stringify(opts.device ? { ...invite, seed: opts.device.seed.toString('hex'), timeZone: opts.device.timeZone } satisfies DeviceInvite : invite))
  try {
    const sealed = sealTo(plain, opts.replica)
    return { code: (opts.device ? DEVICE_PREFIX : PREFIX) + sealed.toString('base64url'), secretHash: hashSecret(invite.secret) }
  } finally {
    plain.fill(0)
  }
}

/** Opens a replicator's invite sealed to this key pair; refuses one that is not, is altered, is a device's, or has expired. */
export function openInvite(code: string, keyPair: KeyPair, now = Date.now()): Invite {
  const text = code.trim()
  if (text.startsWith(DEVICE_PREFIX)) throw new InvalidInput('This is an invite for the owner\'s own device, not for a replicator: accept it on that device with `coffer device accept`.')
  if (!text.startsWith(PREFIX)) throw new InvalidInput(`An invite code starts with "${PREFIX}": copy the whole code the box owner gave you.`)
  return opened(text.slice(PREFIX.length), keyPair, now, Invite, 'replicator')
}

/** Opens a device's invite sealed to this device's key pair; refuses one that is not, is altered, is a replicator's, or has expired. */
export function openDeviceInvite(code: string, keyPair: KeyPair, now = Date.now()): DeviceInvite {
  const text = code.trim()
  if (text.startsWith(PREFIX)) throw new InvalidInput('This is an invite for a blind replicator, not for a device: run `coffer replicator accept` with it, or ask the owner for a device invite (`coffer backup invite --device`).')
  if (!text.startsWith(DEVICE_PREFIX)) throw new InvalidInput(`A device invite code starts with "${DEVICE_PREFIX}": copy the whole code the box printed.`)
  return opened(text.slice(DEVICE_PREFIX.length), keyPair, now, DeviceInvite, 'device')
}

function opened<T extends Invite>(body: string, keyPair: KeyPair, now: number, schema: typeof Invite | typeof DeviceInvite, what: 'replicator' | 'device'): T {
  const plain = openSealed(Buffer.from(body, 'base64url'), keyPair)
  if (!plain) throw new InvalidInput(`This invite was not made for this ${what} (or it was altered): ask the owner for an invite to this ${what}'s key.`)
  let invite: unknown
  try {
    invite = JSON.parse(plain.toString('utf8'))
  } catch {
    invite = undefined
  } finally {
    plain.fill(0)
  }
  if (!Value.Check(schema, invite)) throw new InvalidInput('This invite is not one this version of Coffer can read.')
  if (invite.expiresAt <= now) throw new InvalidInput(`This invite expired at ${new Date(invite.expiresAt).toISOString()}: ask the owner for a new one.`)
  return invite as T
}
