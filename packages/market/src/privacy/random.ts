import { createCipheriv, createHash, randomFillSync } from 'node:crypto'

/**
 * Where random bits come from. Production noise uses `cryptoRandom`: an adversary who could
 * predict the generator could subtract the noise. Tests and benchmarks inject `seededRandom`
 * so that a run can be repeated exactly.
 */
export interface RandomSource {
  /** Fills `bytes` with independent, uniformly distributed bytes. */
  fill(bytes: Uint8Array): void
}

/** The operating system's cryptographic generator (node:crypto). */
export const cryptoRandom: RandomSource = {
  fill(bytes) {
    randomFillSync(bytes)
  },
}

/**
 * A deterministic stream for tests and benchmarks: the AES-256-CTR keystream under the
 * SHA-256 of the seed. Its output is indistinguishable from uniform to any statistical test,
 * so a goodness-of-fit test run on it tests the sampler, not the generator. Never for real noise:
 * anyone who knows the seed knows the noise.
 */
export function seededRandom(seed: string | Uint8Array): RandomSource {
  const key = createHash('sha256').update(seed).digest()
  const keystream = createCipheriv('aes-256-ctr', key, Buffer.alloc(16))
  return {
    fill(bytes) {
      bytes.set(keystream.update(new Uint8Array(bytes.length)))
    },
  }
}

const POOL_BYTES = 4096
const TWO_32 = 0x1_0000_0000

/**
 * Uniform integers drawn from a RandomSource by rejection, so every value in range is exactly
 * equally likely (no modulo bias). Bytes are drawn from the source in pools, because one
 * system call per draw would cost more than all the arithmetic of a sample.
 */
export class UniformIntegers {
  readonly #source: RandomSource
  readonly #pool = new Uint8Array(POOL_BYTES)
  readonly #words = new DataView(this.#pool.buffer)
  #offset = POOL_BYTES

  constructor(source: RandomSource) {
    this.#source = source
  }

  #uint32(): number {
    if (this.#offset + 4 > POOL_BYTES) {
      this.#source.fill(this.#pool)
      this.#offset = 0
    }
    const word = this.#words.getUint32(this.#offset)
    this.#offset += 4
    return word
  }

  /** A uniform integer in [0, bound). */
  below(bound: bigint): bigint {
    if (bound <= 0n) throw new RangeError('the bound of a uniform draw must be positive')
    // Bounds up to 2^32 (every bound the noise of a real query needs) take one 32-bit word;
    // integers of that size are exact in a JavaScript number, so nothing rounds on this path either.
    if (bound <= BigInt(TWO_32)) {
      const n = Number(bound)
      const limit = TWO_32 - (TWO_32 % n) // the largest multiple of n not above 2^32
      for (;;) {
        const word = this.#uint32()
        if (word < limit) return BigInt(word % n)
      }
    }
    const bits = (bound - 1n).toString(2).length
    const words = Math.ceil(bits / 32)
    const mask = (1n << BigInt(bits)) - 1n
    for (;;) {
      let value = 0n
      for (let i = 0; i < words; i++) value = (value << 32n) | BigInt(this.#uint32())
      value &= mask
      if (value < bound) return value
    }
  }
}
