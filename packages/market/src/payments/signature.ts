/** A box's Ed25519 signature, checked under its box id (its public key): answers, payout addresses and account reads all carry one. */
import { createPublicKey, verify } from 'node:crypto'
import { InvalidInput } from '../errors/index.ts'

/** Ed25519 public keys in DER SubjectPublicKeyInfo: this prefix, then the raw 32 bytes. */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex')

/** Whether `signature` (base64url) signs `text` (UTF-8) under `boxId`; InvalidInput when boxId is no Ed25519 key. */
export function verifyBoxSignature(boxId: string, text: string, signature: string): boolean {
  let key
  try {
    key = createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, Buffer.from(boxId, 'hex')]), format: 'der', type: 'spki' })
  } catch {
    throw new InvalidInput('boxId is not an Ed25519 public key.', { field: 'boxId' })
  }
  return verify(null, Buffer.from(text, 'utf8'), key, Buffer.from(signature, 'base64url'))
}
