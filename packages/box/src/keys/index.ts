/**
 * One root seed, everything else derived. The seed is 32 random bytes shown once as 24
 * BIP39 words; each key is BLAKE2b keyed by the seed over a distinct context string, so
 * the words alone restore every key and no two uses ever share one.
 */
import sodium from 'sodium-native'
import { entropyToMnemonic, mnemonicToEntropy, validateMnemonic } from '@scure/bip39'
import { wordlist } from '@scure/bip39/wordlists/english.js'
import { InvalidInput } from '../errors/index.ts'

export const SEED_BYTES = 32

export interface KeyPair {
  publicKey: Buffer
  secretKey: Buffer
}

export function generateSeed(): Buffer {
  const seed = Buffer.alloc(SEED_BYTES)
  sodium.randombytes_buf(seed)
  return seed
}

export function seedToWords(seed: Buffer): string {
  return entropyToMnemonic(seed, wordlist)
}

export function wordsToSeed(words: string): Buffer {
  const phrase = words.trim().toLowerCase().split(/\s+/).join(' ')
  if (phrase.split(' ').length !== 24) throw new InvalidInput('The recovery phrase must be 24 words separated by spaces.')
  if (!validateMnemonic(phrase, wordlist)) {
    throw new InvalidInput('The recovery phrase is not valid: a word is misspelled or out of order (its checksum does not match).')
  }
  return Buffer.from(mnemonicToEntropy(phrase, wordlist))
}

/** The derivation tree. Contexts are versioned so a future scheme cannot collide with this one. */
export class BoxKeys {
  readonly #seed: Buffer

  constructor(seed: Buffer) {
    if (seed.length !== SEED_BYTES) throw new InvalidInput(`A root seed is ${SEED_BYTES} bytes, got ${seed.length}.`)
    this.#seed = Buffer.from(seed)
  }

  derive(context: string): Buffer {
    const out = Buffer.alloc(32)
    sodium.crypto_generichash(out, Buffer.from(`coffer/v1/${context}`), this.#seed)
    return out
  }

  deriveKeyPair(context: string): KeyPair {
    return keyPairFromSeed(this.derive(`keypair/${context}`))
  }

  get identity(): KeyPair {
    return this.deriveKeyPair('identity')
  }

  get macaroonRootKey(): Buffer {
    return this.derive('macaroon-root')
  }

  get auditLog(): { keyPair: KeyPair; encryptionKey: Buffer } {
    return { keyPair: this.deriveKeyPair('audit-log'), encryptionKey: this.derive('audit-log/encryption') }
  }

  /** The box's key on the backup network: replicas know it, and only it may hand them this box's logs. */
  get backupPeer(): KeyPair {
    return this.deriveKeyPair('backup/peer')
  }

  /** The log of which sources exist, replicated with them, so the words and a replica alone rebuild the box. */
  get sourceRegistry(): { keyPair: KeyPair; encryptionKey: Buffer } {
    return { keyPair: this.deriveKeyPair('backup/registry'), encryptionKey: this.derive('backup/registry/encryption') }
  }

  /** A source's generation is part of its context, so a source deleted and re-created gets a fresh log. */
  sourceLog(sourceId: string, generation: number): { keyPair: KeyPair; encryptionKey: Buffer } {
    const context = `source-log/${sourceId}/${generation}`
    return { keyPair: this.deriveKeyPair(context), encryptionKey: this.derive(`${context}/encryption`) }
  }
}

/** An Ed25519 key pair from a 32-byte seed, as hypercore and HyperDHT make theirs. */
export function keyPairFromSeed(seed: Buffer): KeyPair {
  const publicKey = Buffer.alloc(sodium.crypto_sign_PUBLICKEYBYTES)
  const secretKey = Buffer.alloc(sodium.crypto_sign_SECRETKEYBYTES)
  sodium.crypto_sign_seed_keypair(publicKey, secretKey, seed)
  return { publicKey, secretKey }
}

export function sign(message: Buffer, keyPair: KeyPair): Buffer {
  const signature = Buffer.alloc(sodium.crypto_sign_BYTES)
  sodium.crypto_sign_detached(signature, message, keyPair.secretKey)
  return signature
}

export function verifySignature(signature: Buffer, message: Buffer, publicKey: Buffer): boolean {
  return signature.length === sodium.crypto_sign_BYTES && sodium.crypto_sign_verify_detached(signature, message, publicKey)
}

/**
 * Sealed boxes (libsodium's crypto_box_seal) to an Ed25519 signing key, converted to its X25519
 * twin: an invite or a share can be sealed to a peer knowing only the public key it goes by.
 */
export function sealTo(message: Buffer, publicKey: Buffer): Buffer {
  const curve = Buffer.alloc(sodium.crypto_box_PUBLICKEYBYTES)
  sodium.crypto_sign_ed25519_pk_to_curve25519(curve, publicKey)
  const sealed = Buffer.alloc(message.length + sodium.crypto_box_SEALBYTES)
  sodium.crypto_box_seal(sealed, message, curve)
  return sealed
}

/** Opens a sealed box with the key pair it was sealed to; undefined when it was not sealed to it or was altered. */
export function openSealed(sealed: Buffer, keyPair: KeyPair): Buffer | undefined {
  if (sealed.length < sodium.crypto_box_SEALBYTES) return undefined
  const pk = Buffer.alloc(sodium.crypto_box_PUBLICKEYBYTES)
  const sk = Buffer.alloc(sodium.crypto_box_SECRETKEYBYTES)
  sodium.crypto_sign_ed25519_pk_to_curve25519(pk, keyPair.publicKey)
  sodium.crypto_sign_ed25519_sk_to_curve25519(sk, keyPair.secretKey)
  const message = Buffer.alloc(sealed.length - sodium.crypto_box_SEALBYTES)
  return sodium.crypto_box_seal_open(message, sealed, pk, sk) ? message : undefined
}

/** Owner passphrases: libsodium's argon2id string format, which carries its own salt and parameters. */
export function hashPassphrase(passphrase: string): string {
  const out = Buffer.alloc(sodium.crypto_pwhash_STRBYTES)
  sodium.crypto_pwhash_str(out, Buffer.from(passphrase), sodium.crypto_pwhash_OPSLIMIT_INTERACTIVE, sodium.crypto_pwhash_MEMLIMIT_INTERACTIVE)
  return out.toString('utf8').replace(/\0+$/, '')
}

export function checkPassphrase(hash: string, passphrase: string): boolean {
  const str = Buffer.alloc(sodium.crypto_pwhash_STRBYTES)
  str.write(hash)
  return sodium.crypto_pwhash_str_verify(str, Buffer.from(passphrase))
}
