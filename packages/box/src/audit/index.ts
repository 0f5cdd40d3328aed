/**
 * The audit log: every decision, allowed or denied, appended to its own signed, encrypted
 * hypercore. Entries are group-committed (one append per event-loop turn) so auditing every
 * request costs little; `record()` resolves once its entry is on disk.
 *
 * Shortly after each commit a checkpoint (length, Merkle tree hash, identity signature) is
 * written beside the log, and anchored in box.db too: whoever can delete or roll back the audit
 * folder takes the checkpoint beside it with it, but not the anchor. `verify()` replays the whole
 * log into a fresh replica, which checks every block against the tree and the tree's signature,
 * and checks the log still matches both checkpoints, so a truncated, rolled back, deleted or
 * altered log is caught even if storage still opens.
 */
import type { EventEmitter } from 'node:events'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type Database from 'better-sqlite3'
import Corestore from 'corestore'
import Hypercore from 'hypercore'
import type { BoxKeys, KeyPair } from '../keys/index.ts'
import { sign, verifySignature } from '../keys/index.ts'
import { writeFileAtomic } from '../home/index.ts'
import { openCorestore } from '../store/index.ts'
import type { AccessKind, Decision, DecisionSink } from '../operations/index.ts'

export type Operation = AccessKind

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

/** The entry for a decision: refused with 401 or 403 is a denial, anything else was allowed to run. */
function decisionEntry(decision: Decision): AuditEntry {
  const entry: AuditEntry = {
    time: Date.now() / 1000,
    subject: decision.scope?.subject ?? decision.holder?.subject ?? decision.subject ?? 'anonymous',
    grant: decision.scope?.grant.id ?? decision.holder?.grant ?? null,
    source: decision.source,
    operation: decision.kind,
    action: decision.action,
    records: decision.records,
    bytes: decision.bytes,
    outcome: decision.status === 401 || decision.status === 403 ? 'deny' : 'allow',
    status: decision.status,
  }
  if (decision.reason) entry.reason = decision.reason
  if (decision.granularity !== undefined) entry.granularity = decision.granularity
  return entry
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

/** How a report names each copy of the checkpoint. */
const IN_FOLDER = 'the signed checkpoint'
const IN_DB = 'the checkpoint anchored in box.db'

/** A block or tree node the replica refused: hypercore's 'verification-error', with the request it answered. */
type VerificationError = (err: Error & { code?: string }, request: unknown, response: { block?: { index: number } | null } | null) => void

export class AuditLog implements DecisionSink {
  readonly #dir: string
  readonly #db: Database.Database
  readonly #identity: KeyPair
  readonly #corestore: Corestore
  readonly #core: Hypercore
  #pending: { entry: AuditEntry; resolve: () => void; reject: (e: unknown) => void }[] = []
  #flushing: Promise<void> | null = null
  #checkpointTimer: NodeJS.Timeout | undefined
  #checkpointing: Promise<void> = Promise.resolve()

  /** `db` is box.db, where the checkpoint is anchored outside the audit folder. */
  constructor(dir: string, keys: BoxKeys, db: Database.Database) {
    this.#dir = dir
    this.#db = db
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
    if (checkpoint) await this.#checkAgainst(checkpoint, IN_FOLDER, problems)
    const anchor = this.#readAnchor()
    if (anchor) await this.#checkAgainst(anchor, IN_DB, problems)
    if (problems.length > 0) this.#setAside({ checkpoint, anchor, problems })
  }

  /**
   * The evidence goes both beside the log, for the owner to read, and into box.db, so that
   * deleting the audit folder again does not erase it; the anchor it contradicts goes, so the
   * next checkpoint can be anchored.
   */
  #setAside(found: { checkpoint: Checkpoint | undefined; anchor: Checkpoint | undefined; problems: string[] }): void {
    const foundAt = new Date().toISOString()
    const evidence = `damaged-${Date.now()}.json`
    writeFileAtomic(path.join(this.#dir, evidence), JSON.stringify({ foundAt, length: this.#core.length, ...found }, null, 2))
    this.#db.transaction(() => {
      this.#db.prepare('INSERT INTO audit_damage (found_at, length, problems, evidence) VALUES (?, ?, ?, ?)')
        .run(foundAt, this.#core.length, JSON.stringify(found.problems), evidence)
      this.#db.prepare('DELETE FROM audit_anchor').run()
    })()
    fs.rmSync(this.#checkpointFile, { force: true })
  }

  /**
   * A checkpoint older than the log is fine (the box may have stopped before signing its last
   * entries, or box.db been restored from a backup) as long as the log extends it unchanged.
   */
  async #checkAgainst(checkpoint: Checkpoint, where: string, problems: string[]): Promise<void> {
    const length = this.#core.length
    if (!verifySignature(Buffer.from(checkpoint.signature, 'hex'), checkpointMessage(checkpoint.length, Buffer.from(checkpoint.treeHash, 'hex')), this.#identity.publicKey)) {
      problems.push(`The signature on ${where} does not match the box identity.`)
    } else if (length === 0 && checkpoint.length > 0) {
      problems.push(`The log is empty, but ${where} was made when it held ${checkpoint.length} entries: the log has been deleted or replaced.`)
    } else if (length < checkpoint.length) {
      problems.push(`The log holds ${length} entries but ${where} was made at ${checkpoint.length}: entries are missing (the log was truncated or rolled back).`)
    } else if (!(await this.#core.treeHash(checkpoint.length)).equals(Buffer.from(checkpoint.treeHash, 'hex'))) {
      problems.push(`The log's Merkle tree at ${checkpoint.length} entries differs from ${where}.`)
    }
  }

  async close(): Promise<void> {
    await this.flush()
    clearTimeout(this.#checkpointTimer)
    await this.#checkpointing
    if (this.#core.length > 0) await this.#writeCheckpoint()
    await this.#corestore.close()
  }

  /** Files a decision of the operation layer (see operations/index.ts). */
  file(decision: Decision): Promise<void> {
    return this.record(decisionEntry(decision))
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
    this.#db.prepare('INSERT OR REPLACE INTO audit_anchor (id, length, tree_hash, signature) VALUES (1, ?, ?, ?)')
      .run(checkpoint.length, checkpoint.treeHash, checkpoint.signature)
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
    const recorded = this.#db.prepare('SELECT found_at, problems, evidence FROM audit_damage ORDER BY rowid').all() as { found_at: string; problems: string; evidence: string }[]
    for (const damage of recorded) {
      problems.push(`When the box opened at ${damage.found_at} the log did not match its signed checkpoint: ${(JSON.parse(damage.problems) as string[]).join(' ')} (recorded in box.db, and in audit/${damage.evidence})`)
    }
    // Evidence from before box.db kept it, or beside a box.db restored from an older backup.
    const unrecorded = fs.readdirSync(this.#dir).filter((f) => f.startsWith('damaged-') && !recorded.some((d) => d.evidence === f)).sort()
    for (const file of unrecorded) {
      const evidence = JSON.parse(fs.readFileSync(path.join(this.#dir, file), 'utf8')) as { foundAt: string; problems: string[] }
      problems.push(`When the box opened at ${evidence.foundAt} the log did not match its signed checkpoint: ${evidence.problems.join(' ')} (kept in audit/${file})`)
    }
    const checkpoint = this.#readCheckpoint(problems)
    if (checkpoint) await this.#checkAgainst(checkpoint, IN_FOLDER, problems)
    const anchor = this.#readAnchor()
    if (anchor) await this.#checkAgainst(anchor, IN_DB, problems)
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
      // A refused proof is reported the moment it arrives: the replica would otherwise ask again,
      // and may get the block through a different proof that skips an altered tree node.
      let refused: string | undefined
      try {
        await replica.ready()
        const done = (async () => {
          await replica.update({ wait: true })
          await replica.download({ start: 0, end: length }).done()
        })()
        const timeout = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error('timeout')), opts.timeoutMs ?? 15000)
        })
        const invalid = new Promise<never>((_, reject) => {
          // hypercore's sessions are event emitters; its declarations here list only what else is used.
          const onError: VerificationError = (err, _request, response) => {
            const what = response?.block ? `Entry ${response.block.index}` : 'The signed length of the log'
            refused = `${what} does not match the signed Merkle tree (${err.code ?? err.message}): the log's storage has been altered.`
            reject(err)
          }
          ;(replica as unknown as EventEmitter).once('verification-error', onError)
        })
        await Promise.race([done, timeout, invalid])
        if (replica.length < length) problems.push(`Only ${replica.length} of ${length} entries verified.`)
      } catch {
        problems.push(refused ?? `Entries could not be verified against the signed Merkle tree (${replica.length} of ${length} checked): the log's storage has been altered or damaged.`)
      } finally {
        clearTimeout(timer)
        a.destroy()
        b.destroy()
        await replica.close().catch(() => undefined)
        fs.rmSync(replicaDir, { recursive: true, force: true })
      }
    }
    return { ok: problems.length === 0, length, checkpointLength: Math.max(checkpoint?.length ?? 0, anchor?.length ?? 0), problems }
  }

  #readAnchor(): Checkpoint | undefined {
    const row = this.#db.prepare('SELECT length, tree_hash, signature FROM audit_anchor').get() as { length: number; tree_hash: string; signature: string } | undefined
    return row && { length: row.length, treeHash: row.tree_hash, signature: row.signature }
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
