/**
 * The binary framing of our own messages (uploads, preparation, aggregate shares), in the TLS
 * presentation style DAP uses: big-endian integers and length-prefixed byte strings. A reader
 * never reads past its buffer and `end()` insists nothing is left over, so a truncated or padded
 * message is refused instead of half-read.
 */
export class Writer {
  readonly #parts: Uint8Array[] = []

  bytes(value: Uint8Array): this {
    this.#parts.push(value)
    return this
  }

  u8(value: number): this {
    return this.bytes(Uint8Array.of(value))
  }

  u16(value: number): this {
    const b = new Uint8Array(2)
    new DataView(b.buffer).setUint16(0, value)
    return this.bytes(b)
  }

  u32(value: number): this {
    const b = new Uint8Array(4)
    new DataView(b.buffer).setUint32(0, value)
    return this.bytes(b)
  }

  u64(value: bigint | number): this {
    const b = new Uint8Array(8)
    new DataView(b.buffer).setBigUint64(0, BigInt(value))
    return this.bytes(b)
  }

  opaque16(value: Uint8Array): this {
    if (value.length > 0xffff) throw new RangeError('a 16-bit length cannot hold this byte string')
    return this.u16(value.length).bytes(value)
  }

  opaque32(value: Uint8Array): this {
    return this.u32(value.length).bytes(value)
  }

  finish(): Uint8Array {
    return Buffer.concat(this.#parts)
  }
}

/** Thrown by Reader on any framing fault; callers turn it into their own typed error. */
export class FramingError extends Error {}

export class Reader {
  readonly #bytes: Uint8Array
  readonly #view: DataView
  #at = 0

  constructor(bytes: Uint8Array) {
    this.#bytes = bytes
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  }

  #take(n: number): number {
    if (this.#at + n > this.#bytes.length) throw new FramingError(`message ends ${this.#at + n - this.#bytes.length} bytes early`)
    const at = this.#at
    this.#at += n
    return at
  }

  bytes(n: number): Uint8Array {
    const at = this.#take(n)
    return this.#bytes.subarray(at, at + n)
  }

  u8(): number {
    return this.#view.getUint8(this.#take(1))
  }

  u16(): number {
    return this.#view.getUint16(this.#take(2))
  }

  u32(): number {
    return this.#view.getUint32(this.#take(4))
  }

  u64(): bigint {
    return this.#view.getBigUint64(this.#take(8))
  }

  opaque16(): Uint8Array {
    return this.bytes(this.u16())
  }

  opaque32(): Uint8Array {
    return this.bytes(this.u32())
  }

  get done(): boolean {
    return this.#at === this.#bytes.length
  }

  end(): void {
    if (!this.done) throw new FramingError(`${this.#bytes.length - this.#at} unexpected bytes at the end of the message`)
  }
}

export function base64url(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64url')
}

export function fromBase64(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'base64url'))
}
