/**
 * The audit log: every decision, allowed or denied, appended to its own signed, encrypted
 * hypercore. Entries are group-committed (one append per event-loop turn) so auditing every
 * request costs little; `record()` resolves once its entry is on disk.
 *
 * Shortly after each commit a checkpoint (length, Merkle tree hash, identity signature) is
 * written beside the log. `verify()` replays the whole log into a fresh replica, which checks every
 * block against the tree and the tree's signature, and checks the log still matches the
 * last checkpoint, so a truncated or altered log is caught even if storage still opens.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import Corestore from 'corestore'
import Hypercore from 'hypercore'
import type { BoxKeys, KeyPair } from '../keys/index.ts'
import { sign, verifySignature } from '../keys/index.ts'
import { writeFileAtomic } from '../home/index.ts'
import { openCorestore } from '../store/index.ts'

export type Operation = 'read' | 'write' | 'observe' | 'delete' | 'admin' | 'login' | 'export' | 'run'

export interface AuditEntry {
  /** Seconds since the epoch. */
  time: number
  subject: string
  grant: string | null
  source: string | null
  operation: Operation
  action: string
  records: number
  bytes: number
  outcome: 'allow' | 'deny'
  status: number
  reason?: string
  /** Reads: the finest detail asked for, in seconds (0 = raw points). */
  granularity?: number
  /** Exports: where the data went (or was to go), its SHA-256 and the start of its content. */
  destination?: string
  sha256?: string
  preview?: string
}

/** The one way an entry is made: timed now unless given, no grant, source or counts unless named. */
export function auditEntry(fields: Pick<AuditEntry, 'subject' | 'operation' | 'action' | 'outcome' | 'status'> & Partial<AuditEntry>): AuditEntry {
  return { time: Date.now() / 1000, grant: null, source: null, records: 0, bytes: 0, ...fields }
}

export interface AuditFilter {
  subject?: string
  source?: string
  operation?: string
  outcome?: 'allow' | 'deny'
  from?: number
  to?: number
  limit?: number
}

export interface VerifyReport {
  ok: boolean
  length: number
  checkpointLength: number
  problems: string[]
}

const CHECKPOINT_MS = 200

interface Checkpoint {
  length: number
  treeHash: string
  signature: string
}

export class AuditLog {
  readonly #dir: string
  readonly #identity: KeyPair
  readonly #corestore: Corestore
  readonly #core: Hypercore
  #pending: { entry: AuditEntry; resolve: () => void; reject: (e: unknown) => void }[] = []
  #flushing: Promise<void> | null = null
  #checkpointTimer: NodeJS.Timeout | undefined
  #checkpointing: Promise<void> = Promise.resolve()

  constructor(dir: string, keys: BoxKeys) {
    this.#dir = dir
    const { keyPair, encryptionKey } = keys.auditLog
    this.#identity = keys.identity
    this.#corestore = openCorestore(path.join(dir, 'log'))
    this.#core = this.#corestore.get({ keyPair, encryption: { key: encryptionKey } })
  }

  get #checkpointFile(): string {
    return path.join(this.#dir, 'checkpoint.json')
  }

  get length(): number {
    return this.#core.length
  }

  async open(): Promise<void> {
    await this.#core.ready()
    // A log that no longer matches its last signed checkpoint must not have that evidence
    // overwritten by the next checkpoint: set it aside, and verify() reports it from then on.
    const problems: string[] = []
    const checkpoint = this.#readCheckpoint(problems)
    if (checkpoint) await this.#checkAgainst(checkpoint, problems)
    if (problems.length > 0) {
      const evidence = path.join(this.#dir, `damaged-${Date.now()}.json`)
      writeFileAtomic(evidence, JSON.stringify({ foundAt: new Date().toISOString(), length: this.#core.length, checkpoint, problems }, null, 2))
      fs.rmSync(this.#checkpointFile, { force: true })
    }
  }

  async #checkAgainst(checkpoint: Checkpoint, problems: string[]): Promise<void> {
    const length = this.#core.length
    if (!verifySignature(Buffer.from(checkpoint.signature, 'hex'), checkpointMessage(checkpoint.length, Buffer.from(checkpoint.treeHash, 'hex')), this.#identity.publicKey)) {
      problems.push('The checkpoint signature does not match the box identity.')
    } else if (length < checkpoint.length) {
      problems.push(`The log holds ${length} entries but was signed at ${checkpoint.length}: entries are missing.`)
    } else if (!(await this.#core.treeHash(checkpoint.length)).equals(Buffer.from(checkpoint.treeHash, 'hex'))) {
      problems.push(`The log's Merkle tree at ${checkpoint.length} entries differs from the signed checkpoint.`)
    }
  }

  async close(): Promise<void> {
    await this.flush()
    clearTimeout(this.#checkpointTimer)
    await this.#checkpointing
    if (this.#core.length > 0) await this.#writeCheckpoint()
    await this.#corestore.close()
  }

  record(entry: AuditEntry): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#pending.push({ entry, resolve, reject })
      if (this.#pending.length === 1 && !this.#flushing) setImmediate(() => void this.flush())
    })
  }

  /** Writes everything recorded so far. */
  async flush(): Promise<void> {
    while (this.#flushing) await this.#flushing
    if (this.#pending.length === 0) return
    const batch = this.#pending
    this.#pending = []
    this.#flushing = (async () => {
      try {
        await this.#core.append(batch.map((p) => Buffer.from(JSON.stringify(p.entry))))
        for (const p of batch) p.resolve()
        this.#scheduleCheckpoint()
      } catch (err) {
        for (const p of batch) p.reject(err)
      }
    })()
    await this.#flushing
    this.#flushing = null
    if (this.#pending.length > 0) await this.flush()
  }

  /** Checkpoints trail the log by at most CHECKPOINT_MS, so a busy box signs once, not per batch. */
  #scheduleCheckpoint(): void {
    if (this.#checkpointTimer) return
    this.#checkpointTimer = setTimeout(() => {
      this.#checkpointTimer = undefined
      this.#checkpointing = this.#writeCheckpoint().catch(() => undefined)
    }, CHECKPOINT_MS)
  }

  async #writeCheckpoint(): Promise<void> {
    const length = this.#core.length
    const treeHash = await this.#core.treeHash(length)
    const signature = sign(checkpointMessage(length, treeHash), this.#identity)
    const checkpoint: Checkpoint = { length, treeHash: treeHash.toString('hex'), signature: signature.toString('hex') }
    writeFileAtomic(this.#checkpointFile, JSON.stringify(checkpoint))
  }

  /** Newest first. */
  async list(filter: AuditFilter = {}): Promise<(AuditEntry & { seq: number })[]> {
    await this.flush()
    const limit = filter.limit ?? 100
    const out: (AuditEntry & { seq: number })[] = []
    for (let i = this.#core.length - 1; i >= 0 && out.length < limit; i--) {
      const block = await this.#core.get(i, { wait: false })
      if (!block) continue
      const entry = JSON.parse(block.toString('utf8')) as AuditEntry
      if (filter.to !== undefined && entry.time >= filter.to) continue
      if (filter.from !== undefined && entry.time < filter.from) break
      if (filter.subject !== undefined && entry.subject !== filter.subject) continue
      if (filter.source !== undefined && entry.source !== filter.source) continue
      if (filter.operation !== undefined && entry.operation !== filter.operation) continue
      if (filter.outcome !== undefined && entry.outcome !== filter.outcome) continue
      out.push({ seq: i, ...entry })
    }
    return out
  }

  /**
   * Every entry with `from <= time < to`, oldest first. Entries are appended in time order (list()
   * relies on that too), so the first one is found by bisection: a month long past costs a few
   * dozen reads to find, not a walk back from the newest entry.
   */
  async *between(from: number, to: number): AsyncGenerator<AuditEntry & { seq: number }> {
    await this.flush()
    const length = this.#core.length
    const entryAt = async (i: number): Promise<AuditEntry | null> => {
      const block = await this.#core.get(i, { wait: false })
      return block ? (JSON.parse(block.toString('utf8')) as AuditEntry) : null
    }
    let low = 0
    let high = length
    while (low < high) {
      const mid = (low + high) >>> 1
      const entry = await entryAt(mid)
      if (entry === null || entry.time < from) low = mid + 1
      else high = mid
    }
    for (let i = low; i < length; i++) {
      const entry = await entryAt(i)
      if (entry === null || entry.time < from) continue
      if (entry.time >= to) break
      yield { seq: i, ...entry }
    }
  }

  /** Checks every block against the signed Merkle tree by replicating into a fresh replica. */
  async verify(opts: { timeoutMs?: number } = {}): Promise<VerifyReport> {
    await this.flush()
    // A checkpoint still due for entries this process appended is written now, not skipped:
    // verifying within moments of a write must not report the checkpoint missing.
    if (this.#checkpointTimer) {
      clearTimeout(this.#checkpointTimer)
      this.#checkpointTimer = undefined
      this.#checkpointing = this.#writeCheckpoint()
    }
    await this.#checkpointing
    const problems: string[] = []
    const length = this.#core.length
    for (const file of fs.readdirSync(this.#dir).filter((f) => f.startsWith('damaged-')).sort()) {
      const evidence = JSON.parse(fs.readFileSync(path.join(this.#dir, file), 'utf8')) as { foundAt: string; problems: string[] }
      problems.push(`When the box opened at ${evidence.foundAt} the log did not match its signed checkpoint: ${evidence.problems.join(' ')} (kept in audit/${file})`)
    }
    const checkpoint = this.#readCheckpoint(problems)
    if (checkpoint) await this.#checkAgainst(checkpoint, problems)
    if (length > 0) {
      const replicaDir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-audit-verify-'))
      // The replica gets no decryption key: verification needs only the signed tree, like a blind replicator.
      const replica = new Hypercore(replicaDir, this.#core.key)
      const a = this.#core.replicate(true)
      const b = replica.replicate(false)
      a.pipe(b).pipe(a)
      a.on('error', () => undefined)
      b.on('error', () => undefined)
      let timer: NodeJS.Timeout | undefined
      try {
        await replica.ready()
        const done = (async () => {
          await replica.update({ wait: true })
          await replica.download({ start: 0, end: length }).done()
        })()
        const timeout = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error('timeout')), opts.timeoutMs ?? 15000)
        })
        await Promise.race([done, timeout])
        if (replica.length < length) problems.push(`Only ${replica.length} of ${length} entries verified.`)
      } catch {
        problems.push(`Entries could not be verified against the signed Merkle tree (${replica.length} of ${length} checked): the log's storage has been altered or damaged.`)
      } finally {
        clearTimeout(timer)
        a.destroy()
        b.destroy()
        await replica.close().catch(() => undefined)
        fs.rmSync(replicaDir, { recursive: true, force: true })
      }
    }
    return { ok: problems.length === 0, length, checkpointLength: checkpoint?.length ?? 0, problems }
  }

  #readCheckpoint(problems: string[]): Checkpoint | undefined {
    let text: string
    try {
      text = fs.readFileSync(this.#checkpointFile, 'utf8')
    } catch {
      if (this.#core.length > 0) problems.push('The signed checkpoint is missing.')
      return undefined
    }
    try {
      return JSON.parse(text) as Checkpoint
    } catch {
      problems.push('The signed checkpoint is unreadable.')
      return undefined
    }
  }
}

function checkpointMessage(length: number, treeHash: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`coffer-audit-checkpoint:${length}:`), treeHash])
}
