/**
 * Imports: a file in, records out, streaming with bounded memory whatever its size. The format
 * is sniffed from the content. Importing the same file twice adds nothing (files are known by
 * their SHA-256). A file that turns out malformed half-way leaves nothing behind: the blocks
 * already written are taken back with a logged deletion — and if the box dies mid-import,
 * the next start takes them back the same way.
 */
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type Database from 'better-sqlite3'
import type { Arbiter } from '../arbiter/index.ts'
import type { AuditLog } from '../audit/index.ts'
import type { Store } from '../store/index.ts'
import { checkSourceId } from '../store/index.ts'
import { CofferError, InvalidInput, NotFound } from '../errors/index.ts'
import { writeAs } from '../ingest/index.ts'
import { FORMATS, isZip, parse, sniff, type Format } from './formats.ts'
import { openExportInZip } from './apple-health.ts'
import { checkProfile, type CsvProfile } from './csv.ts'

export { FORMATS, type Format } from './formats.ts'
export { CsvProfile, previewCsv, type CsvPreview } from './csv.ts'
import { readHead } from './common.ts'
export { HEAD_BYTES, readHead } from './common.ts'

export interface ImportJob {
  id: string
  name: string
  format: Format | null
  source: string | null
  state: 'receiving' | 'checking' | 'importing' | 'done' | 'duplicate' | 'failed'
  size: number
  bytesRead: number
  records: number
  error: string | null
  startedAt: number
  finishedAt: number | null
}

/** Whether an import has come to an end, one way or another. */
export function finished(job: ImportJob): boolean {
  return job.state === 'done' || job.state === 'duplicate' || job.state === 'failed'
}

const DEFAULT_SOURCE: Record<Format, string> = { gpx: 'gpx', 'google-records': 'google-location', 'google-semantic': 'google-timeline', 'google-timeline': 'google-timeline', 'apple-health': 'apple-health', ical: 'calendar', csv: 'csv' }
const JOBS_KEPT = 100
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

export class Importers {
  readonly #db: Database.Database
  readonly #deps: { store: Store; arbiter: Arbiter; audit: AuditLog }
  readonly #dir: string
  readonly #jobs = new Map<string, ImportJob>()

  constructor(deps: { db: Database.Database; store: Store; arbiter: Arbiter; audit: AuditLog; dir: string }) {
    this.#db = deps.db
    this.#deps = deps
    this.#dir = deps.dir
    this.#db.exec(`CREATE TABLE IF NOT EXISTS imports (id TEXT PRIMARY KEY, hash TEXT NOT NULL, name TEXT NOT NULL, format TEXT NOT NULL,
      source TEXT NOT NULL, state TEXT NOT NULL, records INTEGER NOT NULL, first_block INTEGER NOT NULL, error TEXT, started_at REAL NOT NULL, finished_at REAL)`)
    this.#db.exec('CREATE TABLE IF NOT EXISTS csv_profiles (name TEXT PRIMARY KEY, profile TEXT NOT NULL)')
  }

  /** Takes back what an import interrupted by a crash had written. */
  async open(): Promise<void> {
    fs.mkdirSync(this.#dir, { recursive: true, mode: 0o700 })
    for (const f of fs.readdirSync(this.#dir)) fs.rmSync(path.join(this.#dir, f), { force: true })
    const interrupted = this.#db.prepare("SELECT id, source, first_block FROM imports WHERE state = 'importing'").all() as { id: string; source: string; first_block: number }[]
    for (const row of interrupted) {
      if (this.#deps.store.has(row.source)) {
        const source = this.#deps.store.get(row.source)
        // The import's blocks carry its id: a crash between a write and its bookkeeping still finds them.
        await source.revert(await source.blocksOf(row.id, row.first_block))
      }
      this.#db.prepare("UPDATE imports SET state = 'failed', error = 'interrupted: the box stopped during the import; nothing of it was kept', finished_at = ? WHERE id = ?").run(Date.now() / 1000, row.id)
    }
  }

  profiles(): { name: string; profile: CsvProfile }[] {
    return (this.#db.prepare('SELECT name, profile FROM csv_profiles ORDER BY name').all() as { name: string; profile: string }[]).map((r) => ({ name: r.name, profile: JSON.parse(r.profile) as CsvProfile }))
  }

  profile(name: string): CsvProfile {
    const row = this.#db.prepare('SELECT profile FROM csv_profiles WHERE name = ?').get(name) as { profile: string } | undefined
    if (!row) throw new NotFound(`There is no CSV profile "${name}". Save one with \`coffer import FILE --profile mapping.json --save-profile ${name}\`.`)
    return JSON.parse(row.profile) as CsvProfile
  }

  saveProfile(name: string, profile: unknown): CsvProfile {
    if (!/^[a-z0-9][a-z0-9._-]{0,62}$/.test(name)) throw new InvalidInput(`"${name}" is not a valid profile name: use lower-case letters, digits, '.', '_' or '-'.`, { field: 'name' })
    const checked = checkProfile(profile)
    this.#db.prepare('INSERT OR REPLACE INTO csv_profiles (name, profile) VALUES (?, ?)').run(name, JSON.stringify(checked))
    return checked
  }

  deleteProfile(name: string): void {
    if (this.#db.prepare('DELETE FROM csv_profiles WHERE name = ?').run(name).changes === 0) throw new NotFound(`There is no CSV profile "${name}".`)
  }

  jobs(): ImportJob[] {
    return [...this.#jobs.values()].reverse()
  }

  job(id: string): ImportJob {
    const job = this.#jobs.get(id)
    if (!job) throw new NotFound(`There is no import "${id}" (the box remembers its last ${JOBS_KEPT}).`)
    return job
  }

  /** Receives an upload into a file, then imports it. Resolves with the finished job. */
  async upload(body: NodeJS.ReadableStream, opts: { id?: string; name: string; size?: number; source?: string; format?: string; profile?: string }): Promise<ImportJob> {
    if (opts.source !== undefined) checkSourceId(opts.source)
    const profile = opts.profile === undefined ? undefined : this.profile(opts.profile)
    if (opts.format !== undefined && !FORMATS.includes(opts.format as Format)) throw new InvalidInput(`Unknown format "${opts.format}": use one of ${FORMATS.join(', ')}.`, { field: 'format' })
    if (opts.id !== undefined && (!UUID.test(opts.id) || this.#jobs.has(opts.id))) throw new InvalidInput('id must be a new UUID, so the import\'s progress can be followed at /api/v1/imports/{id}.', { field: 'id' })
    const job = this.#newJob(opts.id ?? crypto.randomUUID(), opts.name, opts.size ?? 0)
    const file = path.join(this.#dir, `${job.id}.upload`)
    try {
      await pipeline(body, counting((n) => (job.bytesRead += n)), fs.createWriteStream(file, { mode: 0o600 }))
      job.size = fs.statSync(file).size
      return await this.#import(job, file, opts.source, (opts.format as Format | undefined) ?? (profile ? 'csv' : undefined), profile)
    } finally {
      fs.rmSync(file, { force: true })
    }
  }

  #newJob(id: string, name: string, size: number): ImportJob {
    const job: ImportJob = { id, name: path.basename(name).slice(0, 256), format: null, source: null, state: 'receiving', size, bytesRead: 0, records: 0, error: null, startedAt: Date.now() / 1000, finishedAt: null }
    this.#jobs.set(job.id, job)
    if (this.#jobs.size > JOBS_KEPT) this.#jobs.delete(this.#jobs.keys().next().value!)
    return job
  }

  async #import(job: ImportJob, file: string, sourceOption?: string, formatOption?: Format, profile?: CsvProfile): Promise<ImportJob> {
    const finish = (state: ImportJob['state'], error: string | null = null) => Object.assign(job, { state, error, finishedAt: Date.now() / 1000 })
    try {
      job.state = 'checking'
      const head = readHead(file)
      const format = formatOption ?? sniff(head)
      const source = sourceOption ?? DEFAULT_SOURCE[format]
      Object.assign(job, { format, source })
      // A CSV read through another mapping gives other records: the mapping is part of its identity.
      const hash = await sha256(file, format === 'csv' ? JSON.stringify(profile) : '')
      const earlier = this.#db.prepare("SELECT id FROM imports WHERE hash = ? AND source = ? AND state = 'done'").get(hash, source) as { id: string } | undefined
      if (earlier) return finish('duplicate', `This file was imported into "${source}" before (import ${earlier.id}); nothing was added.`)

      const { store, arbiter } = this.#deps
      const logicalType = format === 'csv' ? (profile?.logicalType ?? 'other') : format === 'apple-health' ? 'health' : format === 'ical' ? 'communication' : 'location'
      if (!store.has(source)) await store.add({ id: source, logicalType, description: `Imported from ${format}` })
      const token = arbiter.ownerToken(24 * 3600).token
      const blocks: number[] = []
      this.#db.prepare('INSERT INTO imports (id, hash, name, format, source, state, records, first_block, started_at) VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?)')
        .run(job.id, hash, job.name, format, source, 'importing', store.get(source).core.length, job.startedAt)
      job.state = 'importing'
      job.bytesRead = 0
      try {
        const input = (isZip(head) ? await openExportInZip(file) : fs.createReadStream(file)).pipe(counting((n) => (job.bytesRead += n)))
        for await (const batch of parse(format, input, { file, head, profile })) {
          const written = await writeAs(this.#deps, token, source, batch, `import ${format} ${job.name}`, job.id)
          for (let b = written.first; b < written.first + written.blocks; b++) blocks.push(b)
          job.records += written.count
        }
      } catch (err) {
        await store.get(source).revert(blocks)
        job.records = 0
        this.#db.prepare("UPDATE imports SET state = 'failed', error = ?, finished_at = ? WHERE id = ?").run((err as Error).message, Date.now() / 1000, job.id)
        throw err
      }
      this.#db.prepare("UPDATE imports SET state = 'done', records = ?, finished_at = ? WHERE id = ?").run(job.records, Date.now() / 1000, job.id)
      return finish('done')
    } catch (err) {
      finish('failed', err instanceof CofferError ? err.message : 'The import failed unexpectedly; nothing of it was kept.')
      throw err
    }
  }
}

/** Passes bytes through, telling `onBytes` how many went by, for progress. */
function counting(onBytes: (n: number) => void): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, callback) {
      onBytes(chunk.length)
      callback(null, chunk)
    },
  })
}

function sha256(file: string, salt: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = crypto.createHash('sha256').update(salt)
    fs.createReadStream(file).on('data', (chunk) => hash.update(chunk)).on('end', () => resolve(hash.digest('hex'))).on('error', reject)
  })
}
