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

/**
 * A JSON payload sealed to one public key, written as `prefix` and base64url: whoever carries the
 * code reads nothing in it. Throws InvalidInput(notAKey) when `to` is not a key one can seal to.
 * The plaintext is wiped once sealed (a device's carries the seed).
 */
export function sealCode(prefix: string, payload: object, to: Buffer, notAKey: string): string {
  const plain = Buffer.from(JSON.stringify(payload))
  try {
    return prefix + sealTo(plain, to).toString('base64url')
  } catch {
    // Not every 32 bytes are a public key: one that is no point on the curve cannot be sealed to.
    throw new InvalidInput(notAKey, { field: 'publicKey' })
  } finally {
    plain.fill(0)
  }
}

/**
 * Opens a code's body (what follows its prefix) sealed to `keyPair`, then checks its shape and
 * expiry. Refuses one sealed to another key or altered (`notForYou`), one of another shape, or
 * one past `expiresAt`, saying whom to ask (`askWhom`) for a new one.
 */
export function openCode<T extends { expiresAt: number }>(body: string, keyPair: KeyPair, check: (value: unknown) => value is T, words: { notForYou: string; askWhom: string; field?: string }, now = Date.now()): T {
  const field = words.field ? { field: words.field } : undefined
  const plain = openSealed(Buffer.from(body, 'base64url'), keyPair)
  if (!plain) throw new InvalidInput(words.notForYou, field)
  let invite: unknown
  try {
    invite = JSON.parse(plain.toString('utf8'))
  } catch {
    invite = undefined
  } finally {
    plain.fill(0)
  }
  if (!check(invite)) throw new InvalidInput('This invite is not one this version of Coffer can read.', field)
  if (invite.expiresAt <= now) throw new InvalidInput(`This invite expired at ${new Date(invite.expiresAt).toISOString()}: ask ${words.askWhom} for a new one.`, field)
  return invite
}

/** An invite for a blind replicator or, given `device`, for the owner's other device. */
export function makeInvite(opts: { box: Buffer; replica: Buffer; expiresAt: number; name: string; device?: { seed: Buffer; timeZone: string } }): { code: string; secretHash: string } {
  const invite: Invite = { v: 1, box: opts.box.toString('hex'), secret: randomBytes(32).toString('hex'), expiresAt: opts.expiresAt, name: opts.name }
  const payload = opts.device ? { ...invite, seed: opts.device.seed.toString('hex'), timeZone: opts.device.timeZone } satisfies DeviceInvite : invite
  const code = sealCode(opts.device ? DEVICE_PREFIX : PREFIX, payload, opts.replica, `That is not a ${opts.device ? 'device' : 'replicator'}'s key: copy the whole key it prints.`)
  return { code, secretHash: hashSecret(invite.secret) }
}

/** Opens a replicator's invite sealed to this key pair; refuses one that is not, is altered, is a device's, or has expired. */
export function openInvite(code: string, keyPair: KeyPair, now = Date.now()): Invite {
  const text = code.trim()
  if (text.startsWith(DEVICE_PREFIX)) throw new InvalidInput('This is an invite for the owner\'s own device, not for a replicator: accept it on that device with `coffer device accept`.')
  if (!text.startsWith(PREFIX)) throw new InvalidInput(`An invite code starts with "${PREFIX}": copy the whole code the box owner gave you.`)
  return openCode(text.slice(PREFIX.length), keyPair, (v): v is Invite => Value.Check(Invite, v), { notForYou: forYou('replicator'), askWhom: 'the owner' }, now)
}

/** Opens a device's invite sealed to this device's key pair; refuses one that is not, is altered, is a replicator's, or has expired. */
export function openDeviceInvite(code: string, keyPair: KeyPair, now = Date.now()): DeviceInvite {
  const text = code.trim()
  if (text.startsWith(PREFIX)) throw new InvalidInput('This is an invite for a blind replicator, not for a device: run `coffer replicator accept` with it, or ask the owner for a device invite (`coffer backup invite --device`).')
  if (!text.startsWith(DEVICE_PREFIX)) throw new InvalidInput(`A device invite code starts with "${DEVICE_PREFIX}": copy the whole code the box printed.`)
  return openCode(text.slice(DEVICE_PREFIX.length), keyPair, (v): v is DeviceInvite => Value.Check(DeviceInvite, v), { notForYou: forYou('device'), askWhom: 'the owner' }, now)
}

const forYou = (what: string) => `This invite was not made for this ${what} (or it was altered): ask the owner for an invite to this ${what}'s key.`
