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
    /** Attaches the core to a connection already open (a hyperswarm connection), beside other cores and protocols. */
    replicate(stream: object): unknown
    readonly discoveryKey: Buffer
    readonly contiguousLength: number
    readonly closed: boolean
    /** The stored block as it travels and is hashed: encrypted when the core is. */
    get(index: number, opts: { wait?: boolean; timeout?: number; raw: true }): Promise<Buffer | null>
    purge(): Promise<void>
    on(event: 'append' | 'download' | 'upload' | 'close', listener: (index?: number, byteLength?: number) => void): this
    off(event: string, listener: (...args: never[]) => void): this
    /** Internals read for what a replica holds beyond its contiguous prefix. */
    readonly core: { bitfield: { countSet(start: number, length: number): number; firstSet(position: number): number; firstUnset(position: number): number } }
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

declare module 'hyperdht' {
  import type { EventEmitter } from 'node:events'
  export interface KeyPair { publicKey: Buffer; secretKey: Buffer }
  export default class HyperDHT extends EventEmitter {
    constructor(opts?: { bootstrap?: (string | { host: string; port: number })[]; host?: string; port?: number; firewalled?: boolean; ephemeral?: boolean })
    static keyPair(seed?: Buffer): KeyPair
    ready(): Promise<void>
    fullyBootstrapped(): Promise<void>
    address(): { host: string; port: number }
    destroy(): Promise<void>
  }
}

declare module 'hyperdht/testnet.js' {
  import type HyperDHT from 'hyperdht'
  interface Testnet { nodes: HyperDHT[]; bootstrap: { host: string; port: number }[]; destroy(): Promise<void> }
  export default function createTestnet(size?: number, opts?: { host?: string; port?: number }): Promise<Testnet>
}

declare module 'hyperswarm' {
  import type { EventEmitter } from 'node:events'
  import type { Duplex } from 'node:stream'
  import type HyperDHT from 'hyperdht'
  /** A Noise-encrypted connection; the remote's key is authenticated by the handshake. */
  export interface Connection extends Duplex {
    readonly remotePublicKey: Buffer
    readonly publicKey: Buffer
    readonly isInitiator: boolean
    userData: unknown
    readonly rawStream: Duplex & { bytesRead?: number; bytesWritten?: number }
  }
  export default class Hyperswarm extends EventEmitter {
    constructor(opts?: { keyPair?: { publicKey: Buffer; secretKey: Buffer }; dht?: HyperDHT; bootstrap?: unknown[]; firewall?: (remotePublicKey: Buffer) => boolean })
    readonly keyPair: { publicKey: Buffer; secretKey: Buffer }
    readonly connections: Set<Connection>
    readonly dht: HyperDHT
    listen(): Promise<void>
    joinPeer(publicKey: Buffer): void
    leavePeer(publicKey: Buffer): void
    flush(): Promise<void>
    destroy(opts?: { force?: boolean }): Promise<void>
    on(event: 'connection', listener: (conn: Connection, info: unknown) => void): this
  }
}

declare module 'protomux' {
  export interface Message { send(value: unknown): boolean }
  export interface Channel {
    open(handshake?: unknown): void
    close(): void
    addMessage(opts: { encoding: unknown; onmessage: (value: never) => void }): Message
    readonly closed: boolean
  }
  export default class Protomux {
    static from(stream: object): Protomux
    createChannel(opts: { protocol: string; id?: Buffer; onopen?: () => void; onclose?: () => void }): Channel | null
  }
}

declare module 'autobase' {
  import type Corestore from 'corestore'
  import type Hypercore from 'hypercore'
  /** One writer's block as the linearizer hands it to apply: its value and which writer appended it. */
  export interface AutobaseNode<T> { value: T; from: { key: Buffer }; length: number }
  /** What apply may change besides the view: the writers. */
  export interface ApplyHost {
    addWriter(key: Buffer, opts?: { indexer?: boolean }): Promise<void>
    removeWriter(key: Buffer): Promise<void>
    removeable(key: Buffer): boolean
  }
  /** The store a view's cores come from: views are derived, so they are named, never keyed. */
  export interface ViewStore { get(name: string): Hypercore }
  export interface AutobaseHandlers<V, T> {
    open(store: ViewStore): V
    apply(nodes: AutobaseNode<T>[], view: V, host: ApplyHost): Promise<void>
    close?(view: V): Promise<void>
    valueEncoding?: 'json' | 'binary' | 'utf-8'
    encryptionKey?: Buffer
    /** Writers append acknowledgements this often (ms), so the indexed (signed) order keeps up. */
    ackInterval?: number
  }
  export default class Autobase<V, T = unknown> {
    constructor(store: Corestore, bootstrap: Buffer | null, handlers: AutobaseHandlers<V, T>)
    /** The key a new base's local writer core will have in this store, before the base is made. */
    static getLocalKey(store: Corestore): Promise<Buffer>
    readonly key: Buffer
    readonly discoveryKey: Buffer
    readonly local: Hypercore
    readonly view: V
    readonly writable: boolean
    readonly isIndexer: boolean
    readonly signedLength: number
    readonly closed: boolean
    /** What this box has found the indexers settled: among others, each view's key and length. */
    getIndexedInfo(): Promise<{ views: { key: Buffer; length: number }[] } | null>
    ready(): Promise<void>
    close(): Promise<void>
    append(value: T): Promise<void>
    update(): Promise<void>
    ack(): Promise<void>
    /** Replicates the base's cores, and its writers' wake-up hints, on a connection already open. */
    replicate(stream: object): unknown
    on(event: 'update' | 'writable' | 'unwritable', listener: () => void): this
    on(event: 'error' | 'warning', listener: (err: Error) => void): this
    off(event: string, listener: (...args: never[]) => void): this
  }
}

declare module 'hyperbee' {
  import type Hypercore from 'hypercore'
  export interface BeeEntry<V> { seq: number; key: string; value: V }
  export interface BeeRange { gt?: string; gte?: string; lt?: string; lte?: string; reverse?: boolean; limit?: number }
  export interface BeeBatch<V> {
    get(key: string): Promise<BeeEntry<V> | null>
    put(key: string, value: V): Promise<void>
    del(key: string): Promise<void>
    createReadStream(range?: BeeRange): AsyncIterable<BeeEntry<V>>
    /** The first entry in the range, if any. */
    peek(range?: BeeRange): Promise<BeeEntry<V> | null>
    flush(): Promise<void>
  }
  export default class Hyperbee<V = unknown> {
    constructor(core: Hypercore, opts?: { keyEncoding?: 'utf-8' | 'binary'; valueEncoding?: 'json' | 'binary' | 'utf-8'; extension?: boolean })
    readonly core: Hypercore
    readonly version: number
    ready(): Promise<void>
    close(): Promise<void>
    get(key: string, opts?: { update?: boolean; wait?: boolean }): Promise<BeeEntry<V> | null>
    createReadStream(range?: BeeRange, opts?: { update?: boolean; wait?: boolean }): AsyncIterable<BeeEntry<V>>
    /** Writes collected and applied at once; `update: false` reads the view as it stands, as apply must. */
    batch(opts?: { update?: boolean }): BeeBatch<V>
  }
}

declare module 'hyperblobs' {
  import type Hypercore from 'hypercore'
  /** Where a blob's blocks are in its core. */
  export interface BlobId { blockOffset: number; blockLength: number; byteOffset: number; byteLength: number }
  /** streamx streams, not node:stream ones: async iterable, with their own events. */
  export interface BlobReadStream extends AsyncIterable<Buffer> {
    destroy(err?: Error): void
  }
  export interface BlobWriteStream {
    readonly id: BlobId
    write(data: Buffer): boolean
    end(): void
    destroy(err?: Error): void
    once(event: 'drain' | 'close', listener: () => void): this
    once(event: 'error', listener: (err: Error) => void): this
  }
  export default class Hyperblobs {
    constructor(core: Hypercore, opts?: { blockSize?: number })
    readonly core: Hypercore
    put(blob: Buffer): Promise<BlobId>
    get(id: BlobId, opts?: { wait?: boolean; timeout?: number }): Promise<Buffer | null>
    /** `end` is inclusive. */
    createReadStream(id: BlobId, opts?: { start?: number; end?: number; wait?: boolean; timeout?: number }): BlobReadStream
    createWriteStream(): BlobWriteStream
  }
}
