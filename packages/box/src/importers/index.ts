/**
 * Imports: a file in, records out, streaming with bounded memory whatever its size. The format
 * is sniffed from the content. Importing the same file twice adds nothing (files are known by
 * their SHA-256). A file that turns out malformed half-way leaves nothing behind: the blocks
 * already written are taken back with a logged deletion, and a source the import created goes
 * too — and if the box dies mid-import, the next start takes the blocks back the same way.
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
import { writeAs, type IngestDeps } from '../ingest/index.ts'
import { appleHealth } from './apple-health.ts'
import { readHead } from './common.ts'
import { csv } from './csv.ts'
import { CsvProfiles } from './csv-profile.ts'
import type { Format, ImportFormat, ImportOptions } from './format.ts'
import { googleRecords } from './google-records.ts'
import { googleSemantic } from './google-semantic.ts'
import { googleTimeline } from './google-timeline.ts'
import { gpx } from './gpx.ts'
import { ical } from './ical.ts'

export type { Format } from './format.ts'
export { CsvProfile } from './csv-profile.ts'
export { previewCsv, type CsvPreview } from './csv.ts'
export { HEAD_BYTES, readHead } from './common.ts'

/**
 * The formats the box imports, in the order sniffing asks them: those recognised by how a file
 * starts (BEGIN:VCALENDAR, a zip's signature) before those recognised by an element anywhere in
 * its head.
 */
const formats: ImportFormat[] = [ical, appleHealth, gpx, googleRecords, googleSemantic, googleTimeline, csv]
export const FORMATS: Format[] = formats.map((f) => f.name)

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
  /** What the import skipped or read in a particular way, one sentence each (an event in an unsupported calendar scale…). */
  warnings: string[]
  startedAt: number
  finishedAt: number | null
}

/** Whether an import has come to an end, one way or another. */
export function finished(job: ImportJob): boolean {
  return job.state === 'done' || job.state === 'duplicate' || job.state === 'failed'
}

const JOBS_KEPT = 100
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

export class Importers {
  /** The column mappings CSV files are read through, saved by name. */
  readonly csvProfiles: CsvProfiles
  readonly #db: Database.Database
  readonly #deps: { store: Store; arbiter: Arbiter; audit: AuditLog; ingest: IngestDeps; timeZone: () => string }
  readonly #dir: string
  readonly #jobs = new Map<string, ImportJob>()

  /** `timeZone` answers the owner's time zone as it is when a file is read. */
  constructor(deps: { db: Database.Database; store: Store; arbiter: Arbiter; audit: AuditLog; ingest: IngestDeps; dir: string; timeZone: () => string }) {
    this.#db = deps.db
    this.#deps = deps
    this.#dir = deps.dir
    this.csvProfiles = new CsvProfiles(deps.db)
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
    const profile = opts.profile === undefined ? undefined : this.csvProfiles.get(opts.profile)
    const named = opts.format ?? (profile ? csv.name : undefined)
    const format = named === undefined ? undefined : formats.find((f) => f.name === named)
    if (named !== undefined && !format) throw new InvalidInput(`Unknown format "${opts.format}": use one of ${FORMATS.join(', ')}.`, { field: 'format' })
    if (opts.id !== undefined && (!UUID.test(opts.id) || this.#jobs.has(opts.id))) throw new InvalidInput('id must be a new UUID, so the import\'s progress can be followed at /api/v1/imports/{id}.', { field: 'id' })
    const job = this.#newJob(opts.id ?? crypto.randomUUID(), opts.name, opts.size ?? 0)
    const file = path.join(this.#dir, `${job.id}.upload`)
    try {
      await pipeline(body, counting((n) => (job.bytesRead += n)), fs.createWriteStream(file, { mode: 0o600 }))
      job.size = fs.statSync(file).size
      return await this.#import(job, file, opts.source, format, { profile })
    } finally {
      fs.rmSync(file, { force: true })
    }
  }

  #newJob(id: string, name: string, size: number): ImportJob {
    const job: ImportJob = { id, name: path.basename(name).slice(0, 256), format: null, source: null, state: 'receiving', size, bytesRead: 0, records: 0, error: null, warnings: [], startedAt: Date.now() / 1000, finishedAt: null }
    this.#jobs.set(job.id, job)
    if (this.#jobs.size > JOBS_KEPT) this.#jobs.delete(this.#jobs.keys().next().value!)
    return job
  }

  async #import(job: ImportJob, file: string, sourceOption: string | undefined, formatOption: ImportFormat | undefined, options: ImportOptions): Promise<ImportJob> {
    const finish = (state: ImportJob['state'], error: string | null = null) => Object.assign(job, { state, error, finishedAt: Date.now() / 1000 })
    try {
      job.state = 'checking'
      const head = readHead(file)
      const format = formatOption ?? sniff(head)
      const source = sourceOption ?? format.defaultSource
      Object.assign(job, { format: format.name, source })
      const hash = await sha256(file, format.identity?.(options) ?? '')
      const earlier = this.#db.prepare("SELECT id FROM imports WHERE hash = ? AND source = ? AND state = 'done'").get(hash, source) as { id: string } | undefined
      if (earlier) return finish('duplicate', `This file was imported into "${source}" before (import ${earlier.id}); nothing was added.`)

      const { store, arbiter } = this.#deps
      const created = !store.has(source)
      if (created) await store.add({ id: source, logicalType: format.logicalType(options), description: `Imported from ${format.name}` })
      const token = arbiter.ownerToken(24 * 3600).token
      const blocks: number[] = []
      // A source closed while idle opens its log first, so the length below is the log's, not 0.
      await store.get(source).open()
      this.#db.prepare('INSERT INTO imports (id, hash, name, format, source, state, records, first_block, started_at) VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?)')
        .run(job.id, hash, job.name, format.name, source, 'importing', store.get(source).core.length, job.startedAt)
      job.state = 'importing'
      job.bytesRead = 0
      try {
        const input = (format.open ? await format.open(file, head) : fs.createReadStream(file)).pipe(counting((n) => (job.bytesRead += n)))
        const warn = (message: string) => job.warnings.push(message)
        for await (const batch of format.parse(input, { file, head, ...options, timeZone: this.#deps.timeZone(), warn })) {
          const written = await writeAs(this.#deps.ingest, token, source, batch, `import ${format.name} ${job.name}`, job.id)
          for (let b = written.first; b < written.first + written.blocks; b++) blocks.push(b)
          job.records += written.count
        }
        // A file read to its end that gave nothing is not a success: it was most likely in another format, or a shape of it Coffer does not know.
        if (job.records === 0) throw new InvalidInput(`"${job.name}" (${format.name}) wrote no records: nothing in it is something Coffer reads as ${format.name}. Is it another format, or empty? Nothing was imported.`)
      } catch (err) {
        // A source made for this import goes with it, unless another import is writing to it meanwhile.
        if (created && !this.jobs().some((other) => other !== job && other.source === source && !finished(other))) await store.remove(source)
        else await store.get(source).revert(blocks)
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

/** Picks the format from the content, not the name. */
function sniff(head: Buffer): ImportFormat {
  const text = head.toString('utf8').replace(/^\uFEFF/, '')
  const format = formats.find((f) => f.sniff?.(head, text))
  if (format) return format
  throw new InvalidInput('Coffer does not recognise this file: it imports GPX 1.1, Apple Health exports (export.xml or the zip), Google location history (Records.json, Semantic Location History, Timeline.json), iCalendar, and CSV given a column mapping (--profile). Name the format with --format if it is one of those.')
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
