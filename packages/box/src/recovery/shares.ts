/**
 * Social recovery's shares, after Dark Crystal: the root seed split with Shamir's scheme over
 * GF(256) (the audited shamir-secret-sharing, never our own arithmetic), each share signed by the
 * owner's identity key and sealed to one friend's box.
 *
 * A share's signed payload says whose seed it is part of, which split it belongs to, its place in
 * that split and how many of its siblings rebuild the seed. Sealing is anonymous (anyone can seal
 * to a friend's public key), so the owner's signature is what makes a share genuine; the owner's
 * identity is also what the rebuilt seed must give, so a share from elsewhere cannot pass for one.
 *
 * Two files carry a share, both small JSON texts (a few hundred bytes: a QR code holds one):
 *   coffer-recovery-share    the owner's box → a friend's box, sealed to the friend's identity
 *   coffer-recovery-release  a friend's box → the recovering owner, sealed to a one-time recovery key
 * Both seal the same bytes: the owner's 64-byte signature followed by the payload as JSON.
 */
import { Type, type Static } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import { combine, split } from 'shamir-secret-sharing'
import { BoxKeys, SEED_BYTES, openSealed, sealTo, sign, verifySignature, type KeyPair } from '../keys/index.ts'
import { InvalidInput } from '../errors/index.ts'
import { BadShare, NotEnoughShares, NotForThisKey } from './errors.ts'

export const SHARE_FORMAT = 'coffer-recovery-share'
export const RELEASE_FORMAT = 'coffer-recovery-release'
export const FORMAT_VERSION = 1

/** Signed before the payload, so no other message the identity key signs can be read as a share. */
const SIGNING_CONTEXT = Buffer.from('coffer/v1/recovery-share\n')
const SIGNATURE_BYTES = 64
/** Far above any real share file; a bigger text is not one, and is not parsed. */
const MAX_FILE_CHARS = 8192

const Hex32 = Type.String({ pattern: '^[0-9a-f]{64}$' })
export const FriendName = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$', description: 'What the owner calls the friend: letters, digits, dot, dash, underscore; at most 64' })

const SharePayload = Type.Object({
  format: Type.Literal(SHARE_FORMAT),
  version: Type.Literal(FORMAT_VERSION),
  owner: Hex32,
  /** Which split: a newer split retires the shares of every older one. */
  set: Type.Integer({ minimum: 1 }),
  index: Type.Integer({ minimum: 1, maximum: 255 }),
  threshold: Type.Integer({ minimum: 2, maximum: 255 }),
  count: Type.Integer({ minimum: 2, maximum: 255 }),
  /** The friend it was sealed to, as the owner named them. */
  holder: Type.Object({ name: FriendName, identity: Hex32 }, { additionalProperties: false }),
  /** Shamir's share: one byte per seed byte, then its x coordinate. */
  share: Type.String({ pattern: '^[A-Za-z0-9+/]{44}$' }),
}, { additionalProperties: false })
export type SharePayload = Static<typeof SharePayload>

const Envelope = Type.Object({
  format: Type.Union([Type.Literal(SHARE_FORMAT), Type.Literal(RELEASE_FORMAT)]),
  version: Type.Integer(),
  for: Hex32,
  sealed: Type.String({ pattern: '^[A-Za-z0-9+/]+={0,2}$' }),
}, { additionalProperties: false })
type Envelope = Static<typeof Envelope>

export interface Friend {
  name: string
  identity: string
}

/** One friend's share file. */
export interface SealedShare {
  friend: Friend
  file: string
}

/** A share opened and checked: its payload and the exact signed bytes, to seal again on release. */
export interface OpenedShare {
  payload: SharePayload
  signed: Buffer
}

/**
 * Splits the seed into one share per friend, any `threshold` of which rebuild it, each signed
 * with the owner's identity key and sealed to its friend's box.
 */
export async function splitSeed(seed: Buffer, owner: KeyPair, opts: { set: number; threshold: number; friends: Friend[] }): Promise<SealedShare[]> {
  const { set, threshold, friends } = opts
  const ownerHex = owner.publicKey.toString('hex')
  const keys = friends.map((friend) => ({ friend, key: boxKey(friend.identity, friend.name) }))
  const parts = await split(new Uint8Array(seed), friends.length, threshold)
  try {
    return keys.map(({ friend, key }, i) => {
      const payload: SharePayload = {
        format: SHARE_FORMAT, version: FORMAT_VERSION, owner: ownerHex, set, index: i + 1, threshold, count: friends.length,
        holder: { name: friend.name, identity: friend.identity }, share: Buffer.from(parts[i]!).toString('base64'),
      }
      const body = Buffer.from(JSON.stringify(payload))
      const signed = Buffer.concat([sign(Buffer.concat([SIGNING_CONTEXT, body]), owner), body])
      return { friend, file: envelope(SHARE_FORMAT, friend.identity, sealTo(signed, key)) }
    })
  } finally {
    for (const part of parts) part.fill(0)
  }
}

/** Opens a friend's share file with that friend's key pair, and checks the owner's signature. */
export function openShare(text: string, keyPair: KeyPair): OpenedShare {
  return openEnvelope(text, SHARE_FORMAT, keyPair)
}

/** A share file kept by its holder, opened with the holder's key pair: its payload checked, nothing of it kept in the clear. */
export function checkShare(text: string, keyPair: KeyPair): SharePayload {
  const opened = openShare(text, keyPair)
  opened.signed.fill(0)
  return opened.payload
}

/** A share file kept by its holder, opened with the holder's key pair and sealed again to a recovery code. */
export function releaseHeld(text: string, keyPair: KeyPair, recoveryKey: string): string {
  const opened = openShare(text, keyPair)
  try {
    return releaseShare(opened, recoveryKey)
  } finally {
    opened.signed.fill(0)
  }
}

/** A share opened by its holder, sealed again to the one-time key of whoever is recovering. */
export function releaseShare(share: OpenedShare, recoveryKey: string): string {
  return envelope(RELEASE_FORMAT, recoveryKey, sealTo(share.signed, boxKey(recoveryKey, 'The recovery code')))
}

/** Opens a released share with the recovery key pair it was sealed to, and checks the owner's signature. */
export function openRelease(text: string, keyPair: KeyPair): OpenedShare {
  return openEnvelope(text, RELEASE_FORMAT, keyPair)
}

/**
 * Rebuilds the seed from shares of one split. Fewer than its threshold are refused before any
 * arithmetic (Shamir's combine would answer a wrong seed without a word), and the seed rebuilt
 * must give the owner identity the shares name.
 */
export async function combineShares(shares: SharePayload[]): Promise<{ seed: Buffer; owner: string; set: number; threshold: number; count: number }> {
  const first = shares[0]
  if (!first) throw new InvalidInput('No shares given: give the files your friends released to you.')
  for (const s of shares) {
    if (s.owner !== first.owner) throw new BadShare(`These shares are parts of two boxes' seeds (${short(first.owner)} and ${short(s.owner)}): give only the shares of the box you are recovering.`)
  }
  const sets = [...new Set(shares.map((s) => s.set))].sort((a, b) => a - b)
  if (sets.length > 1) {
    throw new BadShare(`These shares come from ${sets.length} different splits (versions ${sets.join(', ')}): shares of different splits do not fit together. Use only shares of one split, the newest (version ${sets.at(-1)}) if you can.`)
  }
  if (shares.some((s) => s.threshold !== first.threshold || s.count !== first.count)) {
    throw new BadShare('These shares disagree on how many of them are needed, though they name one split: one of them is not genuine.')
  }
  const byIndex = new Map<number, SharePayload>()
  for (const s of shares) {
    const seen = byIndex.get(s.index)
    if (seen && seen.share !== s.share) throw new BadShare(`Two different shares both say they are share ${s.index} of this split: one of them is not genuine.`)
    byIndex.set(s.index, s)
  }
  const distinct = [...byIndex.values()]
  if (distinct.length < first.threshold) throw new NotEnoughShares(distinct.length, first.threshold, first.count)
  const parts = distinct.slice(0, first.threshold).map((s) => new Uint8Array(Buffer.from(s.share, 'base64')))
  const combined = await combine(parts)
  for (const part of parts) part.fill(0)
  const seed = Buffer.from(combined)
  combined.fill(0)
  if (seed.length !== SEED_BYTES || new BoxKeys(seed).identity.publicKey.toString('hex') !== first.owner) {
    seed.fill(0)
    throw new BadShare(`These shares do not rebuild the seed of the box they name (${short(first.owner)}): one of them is damaged or not genuine. Nothing was created.`)
  }
  return { seed, owner: first.owner, set: first.set, threshold: first.threshold, count: first.count }
}

/** The sealing key a box identity (an Ed25519 public key in hex) stands for; refused when it is no such key. */
function boxKey(identity: string, what: string): Buffer {
  const key = Buffer.from(identity, 'hex')
  try {
    if (!/^[0-9a-f]{64}$/.test(identity)) throw new Error('not 32 bytes of hex')
    // Converting it to its sealing twin is the check that it is a point a key can be.
    sealTo(Buffer.alloc(0), key)
  } catch {
    throw new InvalidInput(`${what} ${JSON.stringify(identity.slice(0, 80))} is not a box identity: 64 hex digits, as \`coffer status\` shows it.`)
  }
  return key
}

function envelope(format: Envelope['format'], to: string, sealed: Buffer): string {
  return JSON.stringify({ format, version: FORMAT_VERSION, for: to, sealed: sealed.toString('base64') } satisfies Envelope)
}

function openEnvelope(text: string, format: typeof SHARE_FORMAT | typeof RELEASE_FORMAT, keyPair: KeyPair): OpenedShare {
  const file = parseEnvelope(text, format)
  const mine = keyPair.publicKey.toString('hex')
  if (file.for !== mine) throw new NotForThisKey(format, file.for, mine)
  const signed = openSealed(Buffer.from(file.sealed, 'base64'), keyPair)
  if (!signed) throw new BadShare('This share does not open with the key it names: it was altered on the way, or sealed to another key. Ask for it again.')
  return { payload: verifySigned(signed), signed }
}

function parseEnvelope(text: string, format: string): Envelope {
  const what = format === SHARE_FORMAT ? 'a recovery share' : 'a released recovery share'
  let value: unknown
  try {
    if (text.length > MAX_FILE_CHARS) throw new Error('too long')
    value = JSON.parse(text)
  } catch {
    throw new BadShare(`This is not ${what}: such a file is a short JSON text whose "format" is "${format}".`)
  }
  const named = (value as { format?: unknown } | null)?.format
  if (named !== format) {
    const instead = named === SHARE_FORMAT ? ' It is a share sealed to a friend\'s box: that friend holds it with `coffer backup shares hold` and releases it to you.'
      : named === RELEASE_FORMAT ? ' It is a share released to someone recovering a box: it is read by `coffer backup recover`.' : ''
    throw new BadShare(`This is not ${what} (its "format" is ${JSON.stringify(named ?? null)}, not "${format}").${instead}`)
  }
  if ((value as { version?: unknown }).version !== FORMAT_VERSION) {
    throw new BadShare(`This share is of format version ${JSON.stringify((value as { version?: unknown }).version)}; this Coffer reads version ${FORMAT_VERSION}. Use a Coffer that reads it.`)
  }
  if (!Value.Check(Envelope, value)) throw new BadShare(`This is not ${what}: a field of it is missing or malformed.`)
  return value
}

function verifySigned(signed: Buffer): SharePayload {
  const signature = signed.subarray(0, SIGNATURE_BYTES)
  const body = signed.subarray(SIGNATURE_BYTES)
  let payload: unknown
  try {
    payload = JSON.parse(body.toString('utf8'))
  } catch {
    payload = undefined
  }
  if (!Value.Check(SharePayload, payload) || payload.index > payload.count || payload.threshold > payload.count) {
    throw new BadShare('This share\'s contents are not a share Coffer can read: it is damaged or not genuine.')
  }
  if (!verifySignature(signature, Buffer.concat([SIGNING_CONTEXT, body]), Buffer.from(payload.owner, 'hex'))) {
    throw new BadShare(`This share is not signed by the box it names (${short(payload.owner)}): it was altered or forged. It is refused.`)
  }
  return payload
}

export function short(hex: string): string {
  return `${hex.slice(0, 12)}…`
}
