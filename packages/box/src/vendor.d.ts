// Minimal declarations for untyped dependencies: only what Coffer uses.
declare module 'sodium-native' {
  const sodium: {
    crypto_generichash(out: Buffer, input: Buffer, key?: Buffer): void
    crypto_sign_seed_keypair(pk: Buffer, sk: Buffer, seed: Buffer): void
    crypto_sign_detached(sig: Buffer, msg: Buffer, sk: Buffer): void
    crypto_sign_verify_detached(sig: Buffer, msg: Buffer, pk: Buffer): boolean
    crypto_pwhash_str(out: Buffer, passwd: Buffer, opslimit: number, memlimit: number): void
    crypto_pwhash_str_verify(str: Buffer, passwd: Buffer): boolean
    randombytes_buf(buf: Buffer): void
    crypto_box_seal(out: Buffer, message: Buffer, pk: Buffer): void
    crypto_box_seal_open(out: Buffer, sealed: Buffer, pk: Buffer, sk: Buffer): boolean
    crypto_sign_ed25519_pk_to_curve25519(curvePk: Buffer, edPk: Buffer): void
    crypto_sign_ed25519_sk_to_curve25519(curveSk: Buffer, edSk: Buffer): void
    crypto_box_PUBLICKEYBYTES: number
    crypto_box_SECRETKEYBYTES: number
    crypto_box_SEALBYTES: number
    sodium_memcmp(a: Buffer, b: Buffer): boolean
    crypto_pwhash_STRBYTES: number
    crypto_pwhash_OPSLIMIT_INTERACTIVE: number
    crypto_pwhash_MEMLIMIT_INTERACTIVE: number
    crypto_sign_PUBLICKEYBYTES: number
    crypto_sign_SECRETKEYBYTES: number
    crypto_sign_BYTES: number
  }
  export default sodium
}

declare module 'macaroon' {
  export interface Macaroon {
    addFirstPartyCaveat(caveat: string | Uint8Array): void
    verify(rootKey: Uint8Array, check: (caveat: Uint8Array) => string | null, discharges?: Macaroon[]): void
    exportBinary(): Uint8Array
    exportJSON(): object
    readonly caveats: { identifier: Uint8Array; location?: string }[]
    readonly identifier: Uint8Array
  }
  export function newMacaroon(opts: { identifier: string | Uint8Array; location?: string; rootKey: Uint8Array; version?: number }): Macaroon
  export function importMacaroon(obj: string | Uint8Array | object): Macaroon
  export function bytesToBase64(bytes: Uint8Array): string
  export function base64ToBytes(s: string): Uint8Array
}

declare module 'hypercore' {
  export interface KeyPair { publicKey: Buffer; secretKey: Buffer }
  export default class Hypercore {
    constructor(storage: unknown, key?: Buffer | null, opts?: Record<string, unknown>)
    /** Opens hypercore's storage (RocksDB) in a directory; options reach RocksDB's column family. */
    static defaultStorage(storage: string, opts?: { writeBufferSize?: number }): object
    readonly key: Buffer
    readonly length: number
    readonly byteLength: number
    readonly writable: boolean
    ready(): Promise<void>
    close(): Promise<void>
    /** Another handle on the same core, closed on its own. */
    session(): Hypercore
    append(block: Buffer | Buffer[]): Promise<{ length: number; byteLength: number }>
    get(index: number, opts?: { wait?: boolean; timeout?: number }): Promise<Buffer | null>
    has(start: number, end?: number): Promise<boolean>
    clear(start: number, end?: number): Promise<unknown>
    treeHash(length?: number): Promise<Buffer>
    update(opts?: { wait?: boolean }): Promise<boolean>
    download(range?: { start?: number; end?: number }): { done(): Promise<void>; destroy(): void }
    replicate(isInitiator: boolean, opts?: Record<string, unknown>): NodeJS.ReadWriteStream & { destroy(err?: Error): void }
  }
}

declare module 'corestore' {
  import type Hypercore from 'hypercore'
  export default class Corestore {
    constructor(storage: string | object, opts?: Record<string, unknown>)
    get(opts: Record<string, unknown>): Hypercore
    ready(): Promise<void>
    close(): Promise<void>
  }
}
