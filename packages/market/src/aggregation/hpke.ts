/**
 * Each aggregator's HPKE key pair, published to boxes as a DAP HpkeConfig. The suite is the one
 * DAP deployments use by default: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-128-GCM. Sealing
 * is done by @divviup/dap on the box; opening by hpke-js, the library @divviup/dap itself uses.
 */
import { createDecipheriv, createHmac, createPrivateKey, createPublicKey, diffieHellman, type KeyObject } from 'node:crypto'
import { HpkeConfig } from '@divviup/dap'
import { AeadId, CipherSuite, KdfId, KemId } from 'hpke-js'
import { base64url, fromBase64, Reader } from './encoding.ts'

/** What an aggregator keeps secret and what it publishes; JSON-serialisable (base64url). */
export interface AggregatorKeys {
  /** The DAP HpkeConfig to publish in tasks, base64url. */
  hpkeConfig: string
  /** The raw X25519 private key, base64url. Never leaves the aggregator. */
  privateKey: string
}

const KEM = KemId.DhkemX25519HkdfSha256
const KDF = KdfId.HkdfSha256
const AEAD = AeadId.Aes128Gcm

// A fresh parameter object each time: hpke-js's CipherSuite replaces the ids in the object it is given with its own instances.
function suiteOf(ids: { kemId: number; kdfId: number; aeadId: number }): CipherSuite {
  return new CipherSuite({ kem: ids.kemId as KemId, kdf: ids.kdfId as KdfId, aead: ids.aeadId as AeadId })
}

/** A fresh key pair. `configId` tells a box's ciphertext which key it was sealed to (0–255), so keys can rotate. */
export async function generateAggregatorKeys(configId = 1): Promise<AggregatorKeys> {
  const suite = suiteOf({ kemId: KEM, kdfId: KDF, aeadId: AEAD })
  const pair = await suite.kem.generateKeyPair()
  const publicKey = Buffer.from(await suite.kem.serializePublicKey(pair.publicKey))
  const privateKey = new Uint8Array(await suite.kem.serializePrivateKey(pair.privateKey))
  const config = new HpkeConfig(configId, KEM, KDF, AEAD, publicKey)
  return { hpkeConfig: base64url(config.encode()), privateKey: base64url(privateKey) }
}

/** Parses a published HpkeConfig (base64url); throws on bytes that are not exactly one config. */
export function parseHpkeConfig(text: string): HpkeConfig {
  const reader = new Reader(fromBase64(text))
  const config = new HpkeConfig(reader.u8(), reader.u16(), reader.u16(), reader.u16(), Buffer.from(reader.opaque16()))
  reader.end()
  return config
}

/** Opens HPKE ciphertexts sealed to one aggregator's key. */
export class HpkeOpener {
  readonly configId: number
  readonly #suite: CipherSuite
  readonly #privateKey: Promise<CryptoKey> | undefined
  readonly #native: NativeOpener | undefined

  constructor(keys: AggregatorKeys) {
    const config = parseHpkeConfig(keys.hpkeConfig)
    this.configId = config.id
    this.#suite = suiteOf(config)
    const defaultSuite = config.kemId === KEM && config.kdfId === KDF && config.aeadId === AEAD
    this.#native = defaultSuite ? new NativeOpener(fromBase64(keys.privateKey), config.publicKey) : undefined
    this.#privateKey = defaultSuite ? undefined : this.#suite.kem.deserializePrivateKey(fromBase64(keys.privateKey))
  }

  /** The plaintext, or throws when the ciphertext, the info or the aad was changed. */
  async open(enc: Uint8Array, ciphertext: Uint8Array, info: Uint8Array, aad: Uint8Array): Promise<Uint8Array> {
    if (this.#native) return this.#native.open(enc, ciphertext, info, aad)
    const plaintext = await this.#suite.open({ recipientKey: await (this.#privateKey as Promise<CryptoKey>), enc, info }, ciphertext, aad)
    return new Uint8Array(plaintext)
  }
}

/**
 * RFC 9180 base-mode open for the default suite, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256,
 * AES-128-GCM, on Node's native X25519, HMAC and AES-GCM. An aggregator opens every report, and
 * hpke-js's X25519 in JavaScript took most of that time. hpke.test.ts opens what hpke-js seals.
 */
class NativeOpener {
  readonly #privateKey: KeyObject
  readonly #publicKey: Uint8Array

  constructor(privateKey: Uint8Array, publicKey: Uint8Array) {
    this.#privateKey = createPrivateKey({ key: Buffer.concat([X25519_PKCS8_PREFIX, privateKey]), format: 'der', type: 'pkcs8' })
    this.#publicKey = publicKey
  }

  open(enc: Uint8Array, ciphertext: Uint8Array, info: Uint8Array, aad: Uint8Array): Uint8Array {
    if (enc.length !== 32) throw new Error('enc is not an X25519 public key')
    if (ciphertext.length < 16) throw new Error('the ciphertext is shorter than its tag')
    // As a JWK, not DER: OpenSSL's DER decoder took 75 µs a key, a sixth of opening a report; the raw import takes 5.
    const ephemeral = createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: Buffer.from(enc).toString('base64url') }, format: 'jwk' })
    const dh = diffieHellman({ privateKey: this.#privateKey, publicKey: ephemeral })
    if (dh.every((b) => b === 0)) throw new Error('a low-order ephemeral key')
    // Decap (RFC 9180 §4.1): the KEM's own suite id.
    const eaePrk = labeledExtract(KEM_SUITE, Buffer.alloc(0), 'eae_prk', dh)
    const sharedSecret = labeledExpand(KEM_SUITE, eaePrk, 'shared_secret', Buffer.concat([enc, this.#publicKey]), 32)
    // KeySchedule (§5.1), mode_base: no PSK.
    const pskIdHash = labeledExtract(HPKE_SUITE, Buffer.alloc(0), 'psk_id_hash', Buffer.alloc(0))
    const infoHash = labeledExtract(HPKE_SUITE, Buffer.alloc(0), 'info_hash', info)
    const context = Buffer.concat([Buffer.from([0]), pskIdHash, infoHash])
    const secret = labeledExtract(HPKE_SUITE, sharedSecret, 'secret', Buffer.alloc(0))
    const key = labeledExpand(HPKE_SUITE, secret, 'key', context, 16)
    const nonce = labeledExpand(HPKE_SUITE, secret, 'base_nonce', context, 12) // sequence number 0: the base nonce itself
    const decipher = createDecipheriv('aes-128-gcm', key, nonce)
    decipher.setAAD(aad)
    decipher.setAuthTag(ciphertext.subarray(ciphertext.length - 16))
    return new Uint8Array(Buffer.concat([decipher.update(ciphertext.subarray(0, ciphertext.length - 16)), decipher.final()]))
  }
}

const X25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex')
const HPKE_V1 = Buffer.from('HPKE-v1', 'ascii')
const KEM_SUITE = Buffer.concat([Buffer.from('KEM', 'ascii'), u16(KEM)])
const HPKE_SUITE = Buffer.concat([Buffer.from('HPKE', 'ascii'), u16(KEM), u16(KDF), u16(AEAD)])

function u16(n: number): Buffer {
  const b = Buffer.alloc(2)
  b.writeUInt16BE(n)
  return b
}

/** HKDF-Extract with SHA-256 (an empty salt is 32 zero bytes, RFC 5869). */
function labeledExtract(suite: Buffer, salt: Uint8Array, label: string, ikm: Uint8Array): Buffer {
  return createHmac('sha256', salt.length === 0 ? Buffer.alloc(32) : salt).update(Buffer.concat([HPKE_V1, suite, Buffer.from(label, 'ascii'), ikm])).digest()
}

/** HKDF-Expand with SHA-256, for at most one block (32 bytes), which is all this suite needs. */
function labeledExpand(suite: Buffer, prk: Uint8Array, label: string, info: Uint8Array, length: number): Buffer {
  const labeled = Buffer.concat([u16(length), HPKE_V1, suite, Buffer.from(label, 'ascii'), info])
  return createHmac('sha256', prk).update(Buffer.concat([labeled, Buffer.from([1])])).digest().subarray(0, length)
}
