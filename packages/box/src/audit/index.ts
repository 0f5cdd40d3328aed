/**
 * The audit log: every decision, allowed or denied, appended to its own signed, encrypted
 * hypercore. Entries are group-committed: what is recorded while a commit is being written goes
 * into the next one, and `record()` resolves once its entry is on disk. Each block is
 * `{ first, strings, rows }`: `first` is the position of its first entry in the log, and each
 * row an entry's fields in a fixed order, every string among them written once in `strings` and
 * named by its index (see ROW_FIELDS). An entry for a read is then about 45 bytes rather than 220,
 * and every byte is hashed, encrypted, stored and compacted for each request the box answers.
 * (Blocks written before held `{ first, entries }` with each entry an object, and before that one
 * bare entry each; both still read.) A commit of a few entries writes one block
 * per entry; a busy one, of PACK_AT or more, packs them into blocks of up to MAX_BLOCK_ENTRIES,
 * appended together, so the log hashes, encrypts, stores and signs once for all of them rather
 * than once per request.
 *
 * Shortly after each commit a checkpoint (entries, Merkle tree hash, identity signature) is
 * written beside the log, and anchored in box.db too: whoever can delete or roll back the audit
 * folder takes the checkpoint beside it with it, but not the anchor. `verify()` replays the whole
 * log into a fresh replica, which checks every block against the tree and the tree's signature,
 * and checks the log still matches both checkpoints, so a truncated, rolled back, deleted or
 * altered log is caught even if storage still opens.
 */
import type { EventEmitter } from 'node:events'
import fs from 'node:fs'
import fsp from 'node:fs/promises'
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

/**
 * An entry as a block's row holds it: these fields in this order. Strings (and nulls) go in as
 * they are until the block is written; the last three are null when absent, and `more` holds any
 * field beyond these (an export's destination, digest and preview).
 */
type Row = [
  time: number, subject: string, grant: string | null, source: string | null, operation: Operation, action: string,
  records: number, bytes: number, outcome: AuditEntry['outcome'], status: number,
  granularity: number | null, reason: string | null, more: Record<string, unknown> | null,
]

/** The entry for a decision: refused with 401 or 403 is a denial, anything else was allowed to run. */
function decisionRow(decision: Decision): Row {
  const { status } = decision
  return [
    Date.now() / 1000, decision.scope?.subject ?? decision.holder?.subject ?? decision.subject ?? 'anonymous',
    decision.scope?.grant.id ?? decision.holder?.grant ?? null, decision.source, decision.kind, decision.action,
    decision.records, decision.bytes, status === 401 || status === 403 ? 'deny' : 'allow', status,
    decision.granularity ?? null, decision.reason || null, null,
  ]
}

function entryRow(entry: AuditEntry): Row {
  const { time, subject, grant, source, operation, action, records, bytes, outcome, status, granularity, reason, ...more } = entry
  return [time, subject, grant, source, operation, action, records, bytes, outcome, status, granularity ?? null, reason ?? null, Object.keys(more).length > 0 ? more : null]
}

/** A row as JSON, each string as its index in the block's strings; absent fields at the end left out. */
function rowJson(row: Row, index: (text: string) => number): string {
  const [time, subject, grant, source, operation, action, records, bytes, outcome, status, granularity, reason, more] = row
  let json = `[${number(time)},${index(subject)},${grant === null ? 'null' : index(grant)},${source === null ? 'null' : index(source)},` +
    `${index(operation)},${index(action)},${number(records)},${number(bytes)},${index(outcome)},${number(status)}`
  if (granularity !== null || reason !== null || more !== null) json += `,${granularity === null ? 'null' : number(granularity)}`
  if (reason !== null || more !== null) json += `,${reason === null ? 'null' : index(reason)}`
  if (more !== null) json += `,${JSON.stringify(more)}`
  return `${json}]`
}

/** The entries of a block's rows; throws if a row does not read as one. */
function rowEntries(strings: unknown, rows: unknown): AuditEntry[] {
  if (!Array.isArray(strings) || !Array.isArray(rows)) throw new Error('not a block')
  const text = (i: unknown): string => {
    const value: unknown = typeof i === 'number' ? strings[i] : undefined
    if (typeof value !== 'string') throw new Error('not a string of the block')
    return value
  }
  return rows.map((row: unknown[]) => {
    const [time, subject, grant, source, operation, action, records, bytes, outcome, status, granularity, reason, more] = row as [number, ...unknown[]]
    const entry: AuditEntry = {
      time, subject: text(subject), grant: grant === null ? null : text(grant), source: source === null ? null : text(source),
      operation: text(operation) as Operation, action: text(action), records: records as number, bytes: bytes as number,
      outcome: text(outcome) as AuditEntry['outcome'], status: status as number,
    }
    if (reason !== undefined && reason !== null) entry.reason = text(reason)
    if (granularity !== undefined && granularity !== null) entry.granularity = granularity as number
    return more ? { ...entry, ...(more as object) } : entry
  })
}

/** A number as JSON.stringify writes it. */
function number(n: number): string {
  return Number.isFinite(n) ? String(n) : 'null'
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
/** A commit of this many entries or more is written as one block, and marks the log as busy. */
const PACK_AT = 8
/** A block holds at most this many entries, so none grows past a few hundred KiB. */
const MAX_BLOCK_ENTRIES = 1000
/**
 * A busy log commits at most this often while nobody waits for what is pending (allowed reads):
 * their entries wait up to this long to be written, so a crash may lose the record of the reads
 * answered this long before it (never of a change or a refusal). Each commit costs about 1.6 ms of
 * CPU, spread through hypercore's append (signing, Merkle tree, storage batch): at 6,000 reads a
 * second, committing every 10 ms cost 45–49 µs of CPU a read, every 50 ms 21–26 µs.
 */
const BUSY_COMMIT_MS = 50

/** One block: the entries written together, `first` being the position of the first in the log. */
interface Block {
  first: number
  entries: AuditEntry[]
}

/** A block as stored: as written now, as written before strings were shared, or a bare entry from before blocks had a `first`. */
type Stored = { first: number; strings: unknown; rows: unknown } | Block | AuditEntry

/** How many entries some blocks hold: exactly, or at least (when a block could not be read). */
interface EntryCount {
  entries: number
  exact: boolean
}

interface Checkpoint {
  /** Entries in the log. Until blocks held several, there were as many blocks. */
  length: number
  /**
   * The blocks that held them, written beside the log (box.db's anchor does not keep it) to save
   * finding them; the signed tree hash at that many blocks proves it right.
   */
  blocks?: number
  treeHash: string
  signature: string
}

/** How a report names each copy of the checkpoint. */
const IN_FOLDER = 'the signed checkpoint'
const IN_DB = 'the checkpoint anchored in box.db'

/** A block or tree node the replica refused: hypercore's 'verification-error', with the request it answered. */
type VerificationError = (err: Error & { code?: string }, request: unknown, response: { block?: { index: number } | null } | null) => void

interface Pending {
  row: Row
  /** Someone waits for the entry to be on disk before answering: resolve() tells them. */
  resolve: (() => void) | undefined
  reject: (e: unknown) => void
}

export class AuditLog implements DecisionSink {
  readonly #dir: string
  readonly #db: Database.Database
  readonly #identity: KeyPair
  readonly #corestore: Corestore
  readonly #core: Hypercore
  #pending: Pending[] = []
  /** Whether anyone waits for an entry that is pending. */
  #awaited = false
  /** The commit being written. */
  #committing: Promise<void> | null = null
  /** The next commit, planned. */
  #due: { now: true; immediate: NodeJS.Immediate; timer?: undefined } | { now: false; timer: NodeJS.Timeout; immediate?: undefined } | undefined
  #lastCommit = { at: 0, entries: 0 }
  /** Blocks and entries written, changed together: a checkpoint takes both from here. */
  #written = { blocks: 0, entries: { entries: 0, exact: true } as EntryCount }
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

  /** A session on the log's core for a replica to copy; the caller closes it. */
  session(): Hypercore {
    return this.#core.session()
  }

  /**
   * After a restore: the log came from a replica, each block checked against the log's signed tree
   * as it arrived, but the checkpoint beside the old log was not replicated. Signs one for the log
   * as it stands; call before open().
   */
  async adoptRestored(): Promise<void> {
    await this.#core.ready()
    this.#written = { blocks: this.#core.length, entries: await this.#entriesIn(this.#core.length) }
    await this.#checkpoint()
  }

  /** How many entries the log holds. */
  get length(): number {
    return this.#written.entries.entries
  }

  async open(): Promise<void> {
    await this.#core.ready()
    // A log that no longer matches its last signed checkpoint must not have that evidence
    // overwritten by the next checkpoint: set it aside, and verify() reports it from then on.
    const problems: string[] = []
    const checkpoint = this.#readCheckpoint(problems)
    const anchor = this.#readAnchor()
    this.#written = { blocks: this.#core.length, entries: await this.#counted(checkpoint) }
    if (checkpoint) await this.#checkAgainst(checkpoint, IN_FOLDER, problems)
    if (anchor) await this.#checkAgainst(anchor, IN_DB, problems, checkpoint)
    if (problems.length > 0) this.#setAside({ checkpoint, anchor, problems })
  }

  /**
   * How many entries the log holds, from its last block; if that does not read (it is damaged,
   * which verify() reports), from a genuine checkpoint made at the log's length.
   */
  async #counted(checkpoint: Checkpoint | undefined): Promise<EntryCount> {
    const counted = await this.#entriesIn(this.#core.length)
    if (counted.exact || !checkpoint || checkpoint.blocks !== this.#core.length || !this.#signed(checkpoint)) return counted
    const made = await this.#core.treeHash(checkpoint.blocks)
    return made.equals(Buffer.from(checkpoint.treeHash, 'hex')) ? { entries: checkpoint.length, exact: true } : counted
  }

  #signed(checkpoint: Checkpoint): boolean {
    return verifySignature(Buffer.from(checkpoint.signature, 'hex'), checkpointMessage(checkpoint.length, Buffer.from(checkpoint.treeHash, 'hex')), this.#identity.publicKey)
  }

  /**
   * The evidence goes both beside the log, for the owner to read, and into box.db, so that
   * deleting the audit folder again does not erase it; the anchor it contradicts goes, so the
   * next checkpoint can be anchored.
   */
  #setAside(found: { checkpoint: Checkpoint | undefined; anchor: Checkpoint | undefined; problems: string[] }): void {
    const foundAt = new Date().toISOString()
    const evidence = `damaged-${Date.now()}.json`
    writeFileAtomic(path.join(this.#dir, evidence), JSON.stringify({ foundAt, length: this.length, ...found }, null, 2))
    this.#db.transaction(() => {
      this.#db.prepare('INSERT INTO audit_damage (found_at, length, problems, evidence) VALUES (?, ?, ?, ?)')
        .run(foundAt, this.length, JSON.stringify(found.problems), evidence)
      this.#db.prepare('DELETE FROM audit_anchor').run()
    })()
    fs.rmSync(this.#checkpointFile, { force: true })
  }

  /**
   * A checkpoint older than the log is fine (the box may have stopped before signing its last
   * entries, or box.db been restored from a backup) as long as the log extends it unchanged: some
   * number of its blocks has the Merkle tree the checkpoint signed. `other` is the copy beside
   * the log, which says how many blocks an anchor made at the same length covered.
   */
  async #checkAgainst(checkpoint: Checkpoint, where: string, problems: string[], other?: Checkpoint): Promise<void> {
    const held = this.#written.entries
    if (!this.#signed(checkpoint)) {
      problems.push(`The signature on ${where} does not match the box identity.`)
    } else if (this.#core.length === 0 && checkpoint.length > 0) {
      problems.push(`The log is empty, but ${where} was made when it held ${checkpoint.length} entries: the log has been deleted or replaced.`)
    } else if (await this.#extends(checkpoint, other)) {
      return
    } else if (held.entries < checkpoint.length) {
      problems.push(`The log holds ${counted(held)} entries but ${where} was made at ${checkpoint.length}: entries are missing (the log was truncated or rolled back).`)
    } else {
      problems.push(`The log's Merkle tree at ${checkpoint.length} entries differs from ${where}.`)
    }
  }

  /** Whether the log's first blocks, as many as held the checkpoint's entries, have the tree it signed. */
  async #extends(checkpoint: Checkpoint, other?: Checkpoint): Promise<boolean> {
    const signed = Buffer.from(checkpoint.treeHash, 'hex')
    const known = [checkpoint.blocks, other?.length === checkpoint.length ? other.blocks : undefined]
    if (checkpoint.length === this.#written.entries.entries && this.#written.entries.exact) known.push(this.#written.blocks)
    for (const blocks of new Set(known)) {
      if (blocks !== undefined && blocks <= this.#core.length && (await this.#core.treeHash(blocks)).equals(signed)) return true
    }
    const blocks = await this.#blocksHolding(checkpoint.length)
    return blocks !== undefined && (await this.#core.treeHash(blocks)).equals(signed)
  }

  /** How many blocks held the log's first `entries` entries, found by bisection; undefined if no block ends there or one does not read. */
  async #blocksHolding(entries: number): Promise<number | undefined> {
    if (entries === 0) return 0
    let low = 0
    let high = this.#core.length
    while (low < high) {
      const mid = (low + high) >>> 1
      const block = await this.#blockAt(mid)
      if (!block) return undefined
      if (block.first + block.entries.length < entries) low = mid + 1
      else high = mid
    }
    const block = low < this.#core.length ? await this.#blockAt(low) : null
    return block && block.first + block.entries.length === entries ? low + 1 : undefined
  }

  /** The block at `index`; null if it is not there or does not read as one. */
  async #blockAt(index: number): Promise<Block | null> {
    try {
      const data = await this.#core.get(index, { wait: false })
      if (!data) return null
      const value = JSON.parse(data.toString('utf8')) as Stored
      if ('rows' in value) return { first: value.first, entries: rowEntries(value.strings, value.rows) }
      // A block from before blocks had a `first` holds one entry, and so did every block before it.
      return 'entries' in value ? value : { first: index, entries: [value] }
    } catch {
      return null
    }
  }

  /**
   * How many entries the first `blocks` blocks hold, from the last of them; if that does not read,
   * from one of the few before it, counting each block after it as one entry (at least).
   */
  async #entriesIn(blocks: number): Promise<EntryCount> {
    for (let i = blocks - 1; i >= Math.max(0, blocks - 16); i--) {
      const block = await this.#blockAt(i)
      if (block) return { entries: block.first + block.entries.length + (blocks - 1 - i), exact: i === blocks - 1 }
    }
    return { entries: blocks, exact: blocks === 0 }
  }

  async close(): Promise<void> {
    await this.flush()
    clearTimeout(this.#checkpointTimer)
    this.#checkpointTimer = undefined
    if (this.#written.blocks > 0) await this.#checkpoint()
    else await this.#checkpointing
    await this.#corestore.close()
  }

  /** Files a decision of the operation layer (see operations/index.ts); resolves once it is on disk. */
  file(decision: Decision): Promise<void> {
    return this.#awaitedEntry(decisionRow(decision))
  }

  /** Files a decision nobody waits for: it goes with the next commit, and `failed` hears if that fails. */
  queue(decision: Decision, failed: (err: unknown) => void): void {
    this.#pending.push({ row: decisionRow(decision), resolve: undefined, reject: failed })
    this.#schedule()
  }

  /** Records an entry; the promise resolves once it is on disk. */
  record(entry: AuditEntry): Promise<void> {
    return this.#awaitedEntry(entryRow(entry))
  }

  #awaitedEntry(row: Row): Promise<void> {
    const filed = new Promise<void>((resolve, reject) => this.#pending.push({ row, resolve, reject }))
    this.#awaited = true
    this.#schedule()
    return filed
  }

  /**
   * Plans the next commit. When someone waits for an entry, or the log is not busy, it is made at
   * once (on the next turn of the event loop, so that everything recorded in this one goes with
   * it); a busy log commits at most every BUSY_COMMIT_MS.
   */
  #schedule(): void {
    // A commit under way plans the next when it ends.
    if (this.#committing || this.#pending.length === 0) return
    const wait = this.#awaited || this.#lastCommit.entries < PACK_AT ? 0 : this.#lastCommit.at + BUSY_COMMIT_MS - performance.now()
    if (this.#due) {
      if (this.#due.now || wait > 0) return
      clearTimeout(this.#due.timer)
    }
    const commit = () => {
      this.#due = undefined
      // flush() may have written what was pending, or be writing it: commits never run side by side.
      if (this.#committing || this.#pending.length === 0) return
      this.#commit().then(() => this.#schedule(), () => undefined)
    }
    this.#due = wait > 0 ? { now: false, timer: setTimeout(commit, wait) } : { now: true, immediate: setImmediate(commit) }
  }

  /** Writes everything recorded so far. */
  async flush(): Promise<void> {
    if (this.#due) {
      clearTimeout(this.#due.timer)
      clearImmediate(this.#due.immediate)
      this.#due = undefined
    }
    while (this.#committing || this.#pending.length > 0) await (this.#committing ?? this.#commit())
  }

  /** Appends what is pending; if that fails, so does every entry in it. */
  #commit(): Promise<void> {
    const batch = this.#pending
    this.#pending = []
    this.#awaited = false
    this.#lastCommit = { at: performance.now(), entries: batch.length }
    this.#committing = (async () => {
      try {
        const { blocks, entries } = this.#written
        const written: Buffer[] = []
        // However far behind the log fell, what waits goes in one append, MAX_BLOCK_ENTRIES to a block.
        const perBlock = batch.length >= PACK_AT ? MAX_BLOCK_ENTRIES : 1
        for (let at = 0; at < batch.length; at += perBlock) written.push(blockOf(entries.entries + at, batch, at, Math.min(batch.length, at + perBlock)))
        await this.#core.append(written)
        this.#written = { blocks: blocks + written.length, entries: { entries: entries.entries + batch.length, exact: entries.exact } }
        for (const p of batch) p.resolve?.()
        this.#scheduleCheckpoint()
      } catch (err) {
        for (const p of batch) p.reject(err)
      } finally {
        this.#committing = null
      }
    })()
    return this.#committing
  }

  /** Checkpoints trail the log by at most CHECKPOINT_MS, so a busy box signs once, not per commit. */
  #scheduleCheckpoint(): void {
    if (this.#checkpointTimer) return
    this.#checkpointTimer = setTimeout(() => {
      this.#checkpointTimer = undefined
      this.#checkpoint().catch(() => undefined)
    }, CHECKPOINT_MS)
  }

  /** Signs the log as it stands, after any checkpoint still being written. */
  #checkpoint(): Promise<void> {
    this.#checkpointing = this.#checkpointing.catch(() => undefined).then(() => this.#writeCheckpoint())
    return this.#checkpointing
  }

  /** The file is written off the event loop, so requests are not held up while the disk renames it. */
  async #writeCheckpoint(): Promise<void> {
    const { blocks, entries } = this.#written
    const treeHash = await this.#core.treeHash(blocks)
    const signature = sign(checkpointMessage(entries.entries, treeHash), this.#identity).toString('hex')
    const checkpoint: Checkpoint = { length: entries.entries, blocks, treeHash: treeHash.toString('hex'), signature }
    const temporary = `${this.#checkpointFile}.${process.pid}.tmp`
    await fsp.writeFile(temporary, JSON.stringify(checkpoint))
    await fsp.rename(temporary, this.#checkpointFile)
    this.#db.prepare('INSERT OR REPLACE INTO audit_anchor (id, length, tree_hash, signature) VALUES (1, ?, ?, ?)')
      .run(checkpoint.length, checkpoint.treeHash, checkpoint.signature)
  }

  /** Newest first. */
  async list(filter: AuditFilter = {}): Promise<(AuditEntry & { seq: number })[]> {
    await this.flush()
    const limit = filter.limit ?? 100
    const out: (AuditEntry & { seq: number })[] = []
    for (let i = this.#written.blocks - 1; i >= 0 && out.length < limit; i--) {
      const block = await this.#blockAt(i)
      if (!block) continue
      for (let k = block.entries.length - 1; k >= 0 && out.length < limit; k--) {
        const entry = block.entries[k]!
        if (filter.to !== undefined && entry.time >= filter.to) continue
        if (filter.from !== undefined && entry.time < filter.from) return out
        if (filter.subject !== undefined && entry.subject !== filter.subject) continue
        if (filter.source !== undefined && entry.source !== filter.source) continue
        if (filter.operation !== undefined && entry.operation !== filter.operation) continue
        if (filter.outcome !== undefined && entry.outcome !== filter.outcome) continue
        out.push({ seq: block.first + k, ...entry })
      }
    }
    return out
  }

  /**
   * Every entry with `from <= time < to`, oldest first. Entries are appended in time order (list()
   * relies on that too), so the first block that reaches `from` is found by bisection: a month
   * long past costs a few dozen reads to find, not a walk back from the newest entry.
   */
  async *between(from: number, to: number): AsyncGenerator<AuditEntry & { seq: number }> {
    await this.flush()
    const { blocks } = this.#written
    let low = 0
    let high = blocks
    while (low < high) {
      const mid = (low + high) >>> 1
      const block = await this.#blockAt(mid)
      if (block === null || block.entries[block.entries.length - 1]!.time < from) low = mid + 1
      else high = mid
    }
    for (let i = low; i < blocks; i++) {
      const block = await this.#blockAt(i)
      if (block === null) continue
      for (let k = 0; k < block.entries.length; k++) {
        const entry = block.entries[k]!
        if (entry.time < from) continue
        if (entry.time >= to) return
        yield { seq: block.first + k, ...entry }
      }
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
      await this.#checkpoint()
    }
    await this.#checkpointing
    const problems: string[] = []
    const { blocks, entries } = this.#written
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
    const anchor = this.#readAnchor()
    if (checkpoint) await this.#checkAgainst(checkpoint, IN_FOLDER, problems)
    if (anchor) await this.#checkAgainst(anchor, IN_DB, problems, checkpoint)
    if (blocks > 0) {
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
      let refused: { block: number | undefined; code: string } | undefined
      try {
        await replica.ready()
        const done = (async () => {
          await replica.update({ wait: true })
          await replica.download({ start: 0, end: blocks }).done()
        })()
        const timeout = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error('timeout')), opts.timeoutMs ?? 15000)
        })
        const invalid = new Promise<never>((_, reject) => {
          // hypercore's sessions are event emitters; its declarations here list only what else is used.
          const onError: VerificationError = (err, _request, response) => {
            refused = { block: response?.block?.index, code: err.code ?? err.message }
            reject(err)
          }
          ;(replica as unknown as EventEmitter).once('verification-error', onError)
        })
        await Promise.race([done, timeout, invalid])
        if (replica.length < blocks) problems.push(`Only ${counted(await this.#entriesIn(replica.length))} of ${counted(entries)} entries verified.`)
      } catch {
        if (refused) {
          // A refused block is named by its first entry: where the blocks before it end.
          const what = refused.block === undefined ? 'The signed length of the log' : `Entry ${counted(await this.#entriesIn(refused.block))}`
          problems.push(`${what} does not match the signed Merkle tree (${refused.code}): the log's storage has been altered.`)
        } else {
          problems.push(`Entries could not be verified against the signed Merkle tree (${counted(await this.#entriesIn(replica.length))} of ${counted(entries)} checked): the log's storage has been altered or damaged.`)
        }
      } finally {
        clearTimeout(timer)
        a.destroy()
        b.destroy()
        await replica.close().catch(() => undefined)
        fs.rmSync(replicaDir, { recursive: true, force: true })
      }
    }
    return { ok: problems.length === 0, length: entries.entries, checkpointLength: Math.max(checkpoint?.length ?? 0, anchor?.length ?? 0), problems }
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

/** A block as stored: `{"first":…,"strings":[…],"rows":[…]}`. */
function blockOf(first: number, pending: Pending[], from: number, to: number): Buffer {
  const strings = new Map<string, number>()
  const index = (text: string): number => {
    let at = strings.get(text)
    if (at === undefined) {
      at = strings.size
      strings.set(text, at)
    }
    return at
  }
  let rows = rowJson(pending[from]!.row, index)
  for (let i = from + 1; i < to; i++) rows += `,${rowJson(pending[i]!.row, index)}`
  return Buffer.from(`{"first":${first},"strings":${JSON.stringify([...strings.keys()])},"rows":[${rows}]}`)
}

/** A count of entries in a report: "12", or "12 or more" when a block could not be read. */
function counted({ entries, exact }: EntryCount): string {
  return exact ? String(entries) : `${entries} or more`
}

function checkpointMessage(length: number, treeHash: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`coffer-audit-checkpoint:${length}:`), treeHash])
}
