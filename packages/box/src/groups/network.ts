/**
 * The groups' network: one HyperDHT node for the box, and on it one swarm per group, each under
 * the box's own key for that group. A member is known in each group by a different key, so members
 * of one group cannot tell which other groups a box is in, and a connection belongs to exactly one
 * group: its firewall is that group's allow-list, and only that group's cores travel on it.
 */
import type HyperDHT from 'hyperdht'
import type { Connection } from 'hyperswarm'
import type { KeyPair } from '../keys/index.ts'

export type { Connection } from 'hyperswarm'

export interface GroupSwarm {
  /** Keeps a connection to this peer, redialling when it drops, until `forget`. */
  dial(publicKey: Buffer): void
  /** Stops dialling the peer and drops its connections. */
  forget(publicKey: Buffer): void
  connections(): Connection[]
  close(): Promise<void>
}

/** What Hyperswarm keeps of a peer: a key its firewall refused stays banned for the swarm's life unless lifted. */
type Peers = Map<string, { ban(banned: boolean): void }>
type Topics = { join(topic: Buffer, opts: { server: boolean; client: boolean }): unknown }

export class GroupNetwork {
  readonly #bootstrap: { host: string; port: number }[] | undefined
  #dht: HyperDHT | undefined
  #modules: Promise<{ Hyperswarm: typeof import('hyperswarm').default; HyperDHT: typeof HyperDHT }> | undefined

  /** The network stack, loaded with the first group opened, not with the box. */
  #load() {
    return this.#modules ??= Promise.all([import('hyperswarm'), import('hyperdht')]).then(([swarm, dht]) => ({ Hyperswarm: swarm.default, HyperDHT: dht.default }))
  }

  constructor(bootstrap?: { host: string; port: number }[]) {
    this.#bootstrap = bootstrap
  }

  /** The shared node, made on first use: a box in no group opens no socket for groups. */
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
  async swarm(opts: { keyPair: KeyPair; allowed: (remote: Buffer) => boolean; onConnection: (conn: Connection) => void; address?: Buffer; listen?: boolean }): Promise<GroupSwarm> {
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
      dial: (key) => {
        peers.get(key.toString('hex'))?.ban(false)
        swarm.joinPeer(key)
      },
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
   * One connection to `remote` under `keyPair`, not listening for any: how a box that holds an
   * invite reaches the admin who made it, under the key the invite was sealed to (the box's backup
   * key, which its backup swarm may be listening under: this one only dials).
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
