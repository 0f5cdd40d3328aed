/**
 * Restoring a box from a replica, into a home made with `coffer init --recover`: the same words
 * give the same keys, so the replica knows this box, and every log's key is derived again from
 * the registry log's list of sources. Each block is checked against its log's signed Merkle tree
 * as it arrives (hypercore refuses any that does not verify), the views are built from the logs,
 * and the audit log is verified at the end. Run with the box stopped: a box that has written
 * anything of its own would fork its logs from the replica's copies, so it is refused. A standby
 * device is promoted the same way, from its own copy instead of a replica over the network.
 */
import type Hypercore from 'hypercore'
import { Conflict, CofferError } from '../errors/index.ts'
import { openHome, readRuntime, type Home } from '../home/index.ts'
import { openMetaDb } from '../db/index.ts'
import { Store, type SourceMeta } from '../store/index.ts'
import { AuditLog, type VerifyReport } from '../audit/index.ts'
import { openSwarm, type Connection } from './network.ts'
import { SourceRegistry } from './registry.ts'
import { ToBox, type ToReplica, openWire, type Wire } from './wire.ts'

export interface RestoreProgress {
  phase: 'connecting' | 'registry' | 'sources' | 'audit' | 'views' | 'verifying'
  /** Logs done and to do in this phase. */
  done: number
  total: number
  blocks: number
}

export interface RestoreResult {
  sources: { id: string; points: number; keys: number }[]
  blocks: number
  /**
   * Logs whose last blocks the replica had heard of but not yet received when the box stopped:
   * they end, in the restored box, at the last block the replica held.
   */
  missing: { log: string; blocks: number }[]
  audit: VerifyReport
}

export class RestoreFailed extends CofferError {
  constructor(detail: string) {
    super(502, 'restore-failed', 'Restore failed', detail)
  }
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/**
 * A replica's copy, reached: the stream its cores replicate on, and what it says it holds of each.
 * Over the network that is a connection to a replica; on a standby device, its own copy on disk.
 */
export interface ReplicaLink {
  /** A connection or protocol stream: each core being restored is attached to it. */
  stream: object
  inventory: Map<string, { key: string; length: number; held: [number, number][] }>
  close(): Promise<void>
}

export async function restoreFromReplica(opts: {
  home: string
  replica: string
  bootstrap?: { host: string; port: number }[]
  timeoutMs?: number
  onProgress?: (p: RestoreProgress) => void
}): Promise<RestoreResult> {
  if (!/^[0-9a-f]{64}$/.test(opts.replica)) throw new CofferError(400, 'invalid-input', 'Invalid input', 'A replica is named by its 64-hex-character key: `coffer replicator id` prints it.')
  const timeoutMs = opts.timeoutMs ?? 120_000
  return restoreHome({ home: opts.home, timeoutMs, onProgress: opts.onProgress, link: (home) => dialReplica(home, Buffer.from(opts.replica, 'hex'), opts.bootstrap, timeoutMs) })
}

/** Dials a replica under the box's key and asks what it holds. */
async function dialReplica(home: Home, replicaKey: Buffer, bootstrap: { host: string; port: number }[] | undefined, timeoutMs: number): Promise<ReplicaLink> {
  let swarm: Awaited<ReturnType<typeof openSwarm>> | undefined
  try {
    const connected = new Promise<{ conn: Connection; wire: Wire<ToReplica, ToBox> }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new RestoreFailed(`The replica ${replicaKey.toString('hex').slice(0, 12)}… did not answer within ${timeoutMs / 1000} s: is it running, and on the same network (COFFER_DHT_BOOTSTRAP)?`)), timeoutMs)
      openSwarm({
        keyPair: home.keys.backupPeer,
        bootstrap,
        allowed: (remote) => remote.equals(replicaKey),
        onConnection: (conn) => {
          const wire = openWire<ToReplica, ToBox>(conn, ToBox, () => {})
          wire.next('hello', timeoutMs).then(() => {
            clearTimeout(timer)
            resolve({ conn, wire })
          }, reject)
        },
      }).then((s) => {
        swarm = s
        s.dial(replicaKey)
      }, reject)
    })
    const { conn, wire } = await connected
    wire.send({ type: 'welcome' })
    const inventoryAnswer = wire.next('inventory', timeoutMs)
    wire.send({ type: 'inventory' })
    const inventory = new Map((await inventoryAnswer).cores.map((c) => [c.key, c]))
    const opened = swarm
    return { stream: conn, inventory, close: async () => opened?.close() }
  } catch (err) {
    await swarm?.close()
    throw err
  }
}

/**
 * Restores a home from a replica's copy: the registry log first, then each source's log it names,
 * then the audit log, every block checked against its log's signed tree as it arrives; then the
 * views are built from the logs and the audit log is verified.
 */
export async function restoreHome(opts: {
  home: string
  link: (home: Home) => Promise<ReplicaLink>
  timeoutMs: number
  onProgress?: (p: RestoreProgress) => void
}): Promise<RestoreResult> {
  const home = openHome(opts.home)
  const running = readRuntime(home)
  if (running && processAlive(running.pid)) throw new Conflict(`The box is running (pid ${running.pid}): stop it, then restore.`)
  const { timeoutMs } = opts
  const db = openMetaDb(home.paths.meta)
  const store = new Store({ db, keys: home.keys, logsDir: home.paths.logs, viewsDir: home.paths.views })
  const audit = new AuditLog(home.paths.audit, home.keys, db)
  const sessions: Hypercore[] = []
  let blocks = 0
  const progress = (phase: RestoreProgress['phase'], done: number, total: number) => opts.onProgress?.({ phase, done, total, blocks })
  let link: ReplicaLink | undefined
  try {
    await store.open()
    const auditCore = audit.session()
    sessions.push(auditCore)
    await auditCore.ready()
    if (store.list().length > 0 || auditCore.length > 0) {
      throw new Conflict('This box holds data of its own already; a restore would fork its logs from the replica\'s. Restore into a new home made with `coffer init --recover`.')
    }

    progress('connecting', 0, 1)
    link = await opts.link(home)
    const { stream, inventory } = link

    const pulled: { core: Hypercore; log: string; end: number }[] = []
    /** Pulls every block the replica holds of a core; hypercore checks each against the signed tree. */
    const pull = async (core: Hypercore, log: string, what: string) => {
      sessions.push(core)
      await core.ready()
      const key = core.key.toString('hex')
      const held = inventory.get(key)
      if (!held) throw new RestoreFailed(`The replica does not hold ${what}: it cannot restore this box.`)
      core.replicate(stream)
      const pending = held.held.map(([start, end]) => core.download({ start, end }).done())
      await withTimeout(Promise.all(pending), timeoutMs, `${what} did not finish downloading within ${timeoutMs / 1000} s.`)
      for (const [start, end] of held.held) blocks += end - start
      pulled.push({ core, log, end: held.held.at(-1)?.[1] ?? 0 })
    }

    const { keyPair, encryptionKey } = home.keys.sourceRegistry
    const registry = new SourceRegistry(store.logs.get({ keyPair, encryption: { key: encryptionKey } }))
    progress('registry', 0, 1)
    await pull(registry.core, 'registry', 'the list of sources')
    const metas: SourceMeta[] = [...(await registry.sources()).values()]
    progress('sources', 0, metas.length)
    for (const [i, meta] of metas.entries()) {
      const log = home.keys.sourceLog(meta.id, meta.generation)
      await pull(store.logs.get({ keyPair: log.keyPair, encryption: { key: log.encryptionKey } }), `source:${meta.id}`, `source "${meta.id}"`)
      progress('sources', i + 1, metas.length)
    }
    progress('audit', 0, 1)
    await pull(auditCore, 'audit', 'the audit log')
    await link.close()
    link = undefined
    // A replica may have heard of blocks the box appended just before it stopped and not received
    // them: no one can send them now. The box's keys are this home's, so each such log is cut back
    // to the last block held, signed anew, rather than left waiting for blocks that will not come.
    const missing: RestoreResult['missing'] = []
    for (const { core, log, end } of pulled) {
      if (core.length <= end) continue
      missing.push({ log, blocks: core.length - end })
      await (core as Hypercore & { truncate(length: number): Promise<void> }).truncate(end)
    }

    progress('views', 0, metas.length)
    for (const [i, meta] of metas.entries()) {
      await store.adopt(meta)
      progress('views', i + 1, metas.length)
    }
    progress('verifying', 0, 1)
    for (const core of sessions) await core.close()
    sessions.length = 0
    await audit.adoptRestored()
    await audit.open()
    const report = await audit.verify()
    return { sources: metas.map((m) => ({ id: m.id, ...pick(store.summary(m.id)) })), blocks, missing, audit: report }
  } finally {
    await link?.close()
    for (const core of sessions) await core.close().catch(() => {})
    await store.close()
    await audit.close()
    db.close()
  }
}

function pick(summary: { points: number; keys: number }): { points: number; keys: number } {
  return { points: summary.points, keys: summary.keys }
}

async function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new RestoreFailed(message)), ms)))])
  } finally {
    clearTimeout(timer)
  }
}
