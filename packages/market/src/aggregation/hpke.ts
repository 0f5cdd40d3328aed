/**
 * Each aggregator's HPKE key pair, published to boxes as a DAP HpkeConfig. The suite is the one
 * DAP deployments use by default: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-128-GCM. Sealing
 * is done by @divviup/dap on the box; opening by hpke-js, the library @divviup/dap itself uses.
 */
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
  readonly #privateKey: Promise<CryptoKey>

  constructor(keys: AggregatorKeys) {
    const config = parseHpkeConfig(keys.hpkeConfig)
    this.configId = config.id
    this.#suite = suiteOf(config)
    this.#privateKey = this.#suite.kem.deserializePrivateKey(fromBase64(keys.privateKey))
  }

  /** The plaintext, or throws (hpke-js's OpenError) when the ciphertext, the info or the aad was changed. */
  async open(enc: Uint8Array, ciphertext: Uint8Array, info: Uint8Array, aad: Uint8Array): Promise<Uint8Array> {
    const plaintext = await this.#suite.open({ recipientKey: await this.#privateKey, enc, info }, ciphertext, aad)
    return new Uint8Array(plaintext)
  }
}
