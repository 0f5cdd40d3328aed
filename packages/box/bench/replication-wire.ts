/** What the replication bench asks of its other process (the receiving end, or a replicator), and what it answers. */
export type DhtNodes = { host: string; port: number }[]

/** How the receiving end holds and fetches a core: hypercore's defaults unless said. */
export interface ReaderSettings {
  /** Hypercore's blocks in flight per peer, [min, max]; on loopback the minimum is what it uses. */
  inflight?: [number, number]
  linear?: boolean
  /** Ask for exactly the blocks there are, rather than following the core (`end: -1`, as a replicator does). */
  bounded?: boolean
  /** RocksDB memtable size of the receiving corestore; the product's (store/logs.ts) unless said. */
  writeBufferBytes?: number
}

export type PeerRequest =
  | { op: 'tcp'; port: number; bytes: number }
  | { op: 'swarm'; writer: string; seed: string; bootstrap: DhtNodes; bytes: number }
  | { op: 'replicate'; writer: string; seed: string; bootstrap: DhtNodes; core: string; length: number; settings: ReaderSettings }
  | { op: 'replicator'; dir: string; bootstrap: DhtNodes }
  | { op: 'accept'; invite: string; quotaBytes: number }
  | { op: 'memory' }
  | { op: 'close' }

export interface PeerAnswer {
  /** Time from the request to the last byte received, or block stored. */
  ms?: number
  /** CPU time of the whole process (all its threads) during the timed transfer, or while it answered; and its main thread's busy share. */
  cpuMs: number
  busy?: number
  publicKey?: string
  rssBytes?: number
  heapBytes?: number
  threads?: number
  /** Owners connected to the replicator, and the cores it holds for them all. */
  connected?: number
  cores?: number
  error?: string
}
