/**
 * The backup network: hyperswarm over HyperDHT. Peers are known keys, so the box and its
 * replicas dial each other by public key rather than looking a topic up; a connection is
 * Noise-encrypted and authenticates the remote's key, which the firewall checks against the
 * allow-list before anything else is said.
 */
import type { Connection } from 'hyperswarm'
import type { KeyPair } from '../keys/index.ts'

export type { Connection } from 'hyperswarm'

/**
 * Where to join the DHT: `host:port` pairs, comma-separated, from COFFER_DHT_BOOTSTRAP or an
 * option; none means HyperDHT's public bootstrap nodes. A private network (a co-op's own
 * bootstrap node, or a test's local one) names its nodes here.
 */
export function parseBootstrap(value: string | undefined = process.env.COFFER_DHT_BOOTSTRAP): { host: string; port: number }[] | undefined {
  if (!value) return undefined
  return value.split(',').map((entry) => {
    const match = /^\s*([^:\s]+):(\d{1,5})\s*$/.exec(entry)
    if (!match) throw new Error(`"${entry}" is not a DHT bootstrap node: write host:port, several separated by commas.`)
    return { host: match[1]!, port: Number(match[2]) }
  })
}

export interface Swarm {
  readonly publicKey: Buffer
  /** Keeps a connection to this peer, redialling when it drops, until `stopDialling` or `forget`. */
  dial(publicKey: Buffer): void
  /** Stops redialling the peer; a connection open now stays. */
  stopDialling(publicKey: Buffer): void
  /** Stops redialling the peer and drops its connection. */
  forget(publicKey: Buffer): void
  /** The open connection to this peer, if any. */
  connection(publicKey: Buffer): Connection | undefined
  close(): Promise<void>
}

/**
 * A swarm that admits only the keys `allowed` says yes to, on both incoming and outgoing
 * connections, and hands each one to `onConnection`. On a private bootstrap the node is told it
 * is reachable (`firewalled: false`): on one machine, nodes that hole-punch each other stall.
 */
export async function openSwarm(opts: {
  keyPair: KeyPair
  bootstrap?: { host: string; port: number }[]
  allowed: (remotePublicKey: Buffer) => boolean
  onConnection: (conn: Connection) => void
}): Promise<Swarm> {
  // Loaded here, not with the box: a box without replicas never needs the network stack.
  const [{ default: Hyperswarm }, { default: HyperDHT }] = await Promise.all([import('hyperswarm'), import('hyperdht')])
  const local = opts.bootstrap?.every((node) => node.host === '127.0.0.1' || node.host === 'localhost') ?? false
  const dht = new HyperDHT({ bootstrap: opts.bootstrap, ...(local ? { host: '127.0.0.1', firewalled: false } : {}) })
  const swarm = new Hyperswarm({ keyPair: opts.keyPair, dht, firewall: (remote) => !opts.allowed(remote) })
  swarm.on('connection', (conn) => {
    // The firewall admitted this key when the connection began; the allow-list may have changed since.
    if (!opts.allowed(conn.remotePublicKey)) return conn.destroy()
    conn.on('error', () => {})
    opts.onConnection(conn)
  })
  await swarm.listen()
  const hex = (key: Buffer) => key.toString('hex')
  // Hyperswarm bans a key its firewall refused for the swarm's life; a key refused before its invite
  // was accepted is welcome now, so dialling it lifts the ban.
  const peers = (swarm as unknown as { peers: Map<string, { ban(banned: boolean): void }> }).peers
  return {
    publicKey: opts.keyPair.publicKey,
    dial: (key) => {
      peers.get(key.toString('hex'))?.ban(false)
      swarm.joinPeer(key)
    },
    stopDialling: (key) => swarm.leavePeer(key),
    forget: (key) => {
      swarm.leavePeer(key)
      for (const conn of swarm.connections) if (conn.remotePublicKey.equals(key)) conn.destroy()
    },
    connection: (key) => [...swarm.connections].find((conn) => hex(conn.remotePublicKey) === hex(key)),
    async close() {
      await swarm.destroy()
      await dht.destroy()
    },
  }
}
