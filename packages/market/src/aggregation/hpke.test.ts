import assert from 'node:assert/strict'
import { test } from 'node:test'
import { AeadId, CipherSuite, KdfId, KemId } from 'hpke-js'
import { generateAggregatorKeys } from './index.ts'
import { HpkeOpener, parseHpkeConfig } from './hpke.ts'

test('the native opener opens what hpke-js seals to the aggregator\'s key, and refuses any change', async () => {
  const keys = await generateAggregatorKeys(7)
  const suite = new CipherSuite({ kem: KemId.DhkemX25519HkdfSha256, kdf: KdfId.HkdfSha256, aead: AeadId.Aes128Gcm })
  const recipientPublicKey = await suite.kem.deserializePublicKey(parseHpkeConfig(keys.hpkeConfig).publicKey)
  const opener = new HpkeOpener(keys)
  const info = Buffer.from('dap-09 input share\x01\x03', 'binary')
  const aad = Buffer.from('task, report id, time, public share')
  for (const size of [0, 1, 16, 500]) {
    const plaintext = Buffer.alloc(size, 0x5a)
    const sender = await suite.createSenderContext({ recipientPublicKey, info })
    const ciphertext = new Uint8Array(await sender.seal(plaintext, aad))
    const enc = new Uint8Array(sender.enc)
    assert.deepEqual(Buffer.from(await opener.open(enc, ciphertext, info, aad)), plaintext)
    const flipped = Uint8Array.from(ciphertext)
    flipped[0]! ^= 1
    await assert.rejects(opener.open(enc, flipped, info, aad))
    await assert.rejects(opener.open(enc, ciphertext, Buffer.from('other info'), aad))
    await assert.rejects(opener.open(enc, ciphertext, info, Buffer.from('other aad')))
    const otherEnc = Uint8Array.from(enc)
    otherEnc[5]! ^= 1
    await assert.rejects(opener.open(otherEnc, ciphertext, info, aad))
  }
})
