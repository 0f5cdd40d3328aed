/**
 * The peer-to-peer network backup and groups share: HyperDHT and hyperswarm. Peers are known
 * keys, so boxes, replicas and group members dial each other by key rather than looking a topic
 * up; a connection is Noise-encrypted and authenticates the remote's key, which each swarm's
 * firewall checks against its allow-list before anything else is said. One DHT node can carry
 * several swarms (a group's each under the box's own key for that group), each admitting only
 * its own peers.
 */
import type HyperDHT from 'hyperdht'
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

export interface PeerSwarm {
  /** Keeps a connection to this peer, redialling when it drops, until `stopDialling` or `forget`. */
  dial(publicKey: Buffer): void
  /** Stops redialling the peer; a connection open now stays. */
  stopDialling(publicKey: Buffer): void
  /** Stops redialling the peer and drops its connections. */
  forget(publicKey: Buffer): void
  connections(): Connection[]
  close(): Promise<void>
}

/** What Hyperswarm keeps of a peer: a key its firewall refused stays banned for the swarm's life unless lifted. */
type Peers = Map<string, { ban(banned: boolean): void }>
type Topics = { join(topic: Buffer, opts: { server: boolean; client: boolean }): unknown }

export class PeerNetwork {
  readonly #bootstrap: { host: string; port: number }[] | undefined
  #dht: HyperDHT | undefined
  #modules: Promise<{ Hyperswarm: typeof import('hyperswarm').default; HyperDHT: typeof HyperDHT }> | undefined

  /** The network stack, loaded with the first swarm, not with the box: a box with no replica and no group never needs it. */
  #load() {
    return this.#modules ??= Promise.all([import('hyperswarm'), import('hyperdht')]).then(([swarm, dht]) => ({ Hyperswarm: swarm.default, HyperDHT: dht.default }))
  }

  constructor(bootstrap?: { host: string; port: number }[]) {
    this.#bootstrap = bootstrap
  }

  /** The shared node, made on first use. */
  async #node(): Promise<HyperDHT> {
    const { HyperDHT } = await this.#load()
    if (!this.#dht) {
      // On a private bootstrap the node is told it is reachable: on one machine, nodes that hole-punch each other stall.
      const local = this.#bootstrap?.every((node) => node.host === '127.0.0.1' || node.host === 'localhost') ?? false
      this.#dht = new HyperDHT({ bootstrap: this.#bootstrap, ...(local ? { host: '127.0.0.1', firewalled: false } : {}) })
    }
    return this.#dht
  }

  /**
   * A swarm under `keyPair` that admits only the keys `allowed` says yes to, on incoming and
   * outgoing connections, and asks again when the connection opens (the list may have changed since
   * the handshake began). It announces itself at `address` when one is given, so a peer that knows
   * the group's address but no member's key finds its members there.
   */
  async swarm(opts: { keyPair: KeyPair; allowed: (remote: Buffer) => boolean; onConnection: (conn: Connection) => void; address?: Buffer; listen?: boolean }): Promise<PeerSwarm> {
    const dht = await this.#node()
    const { Hyperswarm } = await this.#load()
    const listening = { change: dht.listeners('network-change'), update: dht.listeners('network-update') }
    // Hyperswarm destroys its DHT node when it is destroyed: this group's swarm gets a view of the shared node that it cannot close.
    const shared = new Proxy(dht, { get: (target, prop) => prop === 'destroy' ? async () => {} : Reflect.get(target, prop, target) })
    const swarm = new Hyperswarm({ keyPair: opts.keyPair, dht: shared, firewall: (remote) => !opts.allowed(remote) })
    const added = {
      change: dht.listeners('network-change').filter((l) => !listening.change.includes(l)),
      update: dht.listeners('network-update').filter((l) => !listening.update.includes(l)),
    }
    swarm.on('connection', (conn) => {
      if (!opts.allowed(conn.remotePublicKey)) return conn.destroy()
      conn.on('error', () => {})
      opts.onConnection(conn)
    })
    if (opts.listen !== false) await swarm.listen()
    if (opts.address) (swarm as unknown as Topics).join(opts.address, { server: true, client: true })
    const peers = (swarm as unknown as { peers: Peers }).peers
    return {
      // A key refused before its invite was accepted is welcome now: dialling it lifts the ban.
      dial: (key) => {
        peers.get(key.toString('hex'))?.ban(false)
        swarm.joinPeer(key)
      },
      stopDialling: (key) => swarm.leavePeer(key),
      forget: (key) => {
        swarm.leavePeer(key)
        for (const conn of swarm.connections) if (conn.remotePublicKey.equals(key)) conn.destroy()
      },
      connections: () => [...swarm.connections],
      async close() {
        await swarm.destroy()
        for (const l of added.change) dht.off('network-change', l as () => void)
        for (const l of added.update) dht.off('network-update', l as () => void)
      },
    }
  }

  /**
   * One connection to `remote` under `keyPair`, not listening for any: how a box that holds a
   * group invite reaches the admin who made it, under the key the invite was sealed to (the box's
   * backup key, which its backup swarm may be listening under: this one only dials).
   */
  async connect(keyPair: KeyPair, remote: Buffer, timeoutMs: number): Promise<{ conn: Connection; close(): Promise<void> }> {
    let found!: (conn: Connection) => void
    const connected = new Promise<Connection>((resolve) => (found = resolve))
    const link = await this.swarm({ keyPair, allowed: (key) => key.equals(remote), onConnection: (conn) => found(conn), listen: false })
    link.dial(remote)
    let timer: NodeJS.Timeout | undefined
    try {
      const conn = await Promise.race([connected, new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('timeout')), timeoutMs)
      })])
      return {
        conn,
        async close() {
          // Ended, not only dropped, so the other end lets it go at once rather than keeping it until it times out.
          const closed = new Promise<void>((resolve) => {
            conn.once('close', () => resolve())
            setTimeout(resolve, 1000).unref()
          })
          conn.end()
          await closed
          await link.close()
        },
      }
    } catch (err) {
      await link.close()
      throw err
    } finally {
      clearTimeout(timer)
    }
  }

  async close(): Promise<void> {
    await this.#dht?.destroy()
    this.#dht = undefined
  }
}

/** A network of one swarm, listening under `keyPair`: a box's replicas, or a replicator's owners. */
export async function openSwarm(opts: {
  keyPair: KeyPair
  bootstrap?: { host: string; port: number }[]
  allowed: (remotePublicKey: Buffer) => boolean
  onConnection: (conn: Connection) => void
}): Promise<PeerSwarm> {
  const network = new PeerNetwork(opts.bootstrap)
  const swarm = await network.swarm(opts)
  return {
    ...swarm,
    async close() {
      await swarm.close()
      await network.close()
    },
  }
}
