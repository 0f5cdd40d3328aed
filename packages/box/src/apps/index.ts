/**
 * Apps: third-party code that comes to the data. The registry: install() validates a manifest and
 * keeps the bundle; nothing runs and nothing is granted until the owner consents with grant(),
 * which turns each granted source request into an arbiter grant of its own (so every request
 * keeps its own detail and window). Consent is decided in consent.ts; a run happens in the
 * sandbox, its SDK calls answered by host.ts through the box's operations with the app's tokens;
 * schedule.ts starts runs on timers and new data. Exports go through the gateway.
 */
import fs from 'node:fs'
import path from 'node:path'
import type Database from 'better-sqlite3'
import type { Logger } from 'pino'
import type { Arbiter } from '../arbiter/index.ts'
import { auditEntry, type AuditLog } from '../audit/index.ts'
import type { Store } from '../store/index.ts'
import type { Gateway, GrantedDestination } from '../gateway/index.ts'
import type { Sandbox } from '../sandbox/index.ts'
import type { Operations } from '../operations/index.ts'
import type { SourceOperations } from '../sources/index.ts'
import { CofferError, Conflict, InvalidInput, NotFound, PayloadTooLarge } from '../errors/index.ts'
import { writeFileAtomic } from '../home/index.ts'
import { MAX_EXPORT_BYTES, parseManifest, type Manifest } from './manifest.ts'
import { carryOver, decide, ownSourceId, review, type Consent, type ConsentInput, type Review } from './consent.ts'
import { checkViewSpec } from './views.ts'
import { hostCalls, type AppGrants } from './host.ts'
import { Schedules } from './schedule.ts'

export { Manifest as ManifestSchema, parseManifest, type Manifest } from './manifest.ts'
export { type Consent, type ConsentInput, type Granted, type GrantedSource, type Review } from './consent.ts'
export { readBundle, readTarball, type Bundle } from './bundle.ts'
export type { AggregateColumns } from './host.ts'

export const MAX_CODE_BYTES = 5 * 1024 * 1024
const LAST_RUN_WRITE_MS = 1000

export type AppState = 'pending' | 'active' | 'revoked'

export interface RunSummary {
  trigger: 'owner' | 'schedule' | 'new-data'
  startedAt: number
  ok: boolean
  cpuMs?: number
  wallMs?: number
  calls?: number
  error?: string
}

export interface AppInfo {
  id: string
  name: string
  version: string
  state: AppState
  manifest: Manifest
  consent: Consent | null
  /** An update that asks for more than the consent, waiting for the owner. */
  update: Manifest | null
  installedAt: number
  updatedAt: number
  running: boolean
  lastRun: RunSummary | null
}

export interface InstallResult {
  app: AppInfo
  review: Review
  /** True when the owner must consent (a new app, or an update that asks for more) before it runs. */
  needsConsent: boolean
}

export interface RunReport extends RunSummary {
  value: unknown
  logs: string[]
}

export interface AppView {
  app: string
  view: string
  title: string
  spec: unknown
  updatedAt: number
}

interface AppRow {
  id: string; version: string; state: AppState; manifest: string; consent: string | null; grants: string
  update_manifest: string | null; installed_at: number; updated_at: number; last_run: string | null
}

export interface AppsDeps {
  db: Database.Database
  dir: string
  store: Store
  arbiter: Arbiter
  audit: AuditLog
  gateway: Gateway
  sandbox: Sandbox
  ops: Operations
  sources: SourceOperations
  logger: Logger
  timeZone: string
  /** Sources no app may be granted (a group's copy shared under apps=none): a request by logical type is not offered them. */
  closedToApps?: (source: string) => boolean
}

export class Apps {
  readonly #deps: AppsDeps
  readonly #db: Database.Database
  readonly #running = new Set<string>()
  /**
   * Each app's last run, written to box.db about a second later in one transaction: box.db syncs
   * every commit to disk, which cost a run as much as the run itself.
   */
  readonly #lastRuns = new Map<string, RunSummary>()
  #lastRunsTimer: NodeJS.Timeout | undefined
  readonly #schedules: Schedules

  constructor(deps: AppsDeps) {
    this.#deps = deps
    this.#db = deps.db
    this.#schedules = new Schedules({ store: deps.store, logger: deps.logger, isRunning: (id) => this.#running.has(id), run: (id, trigger) => this.run(id, { trigger }) })
  }

  async open(): Promise<void> {
    for (const app of this.list()) if (app.state === 'active') this.#schedules.set(app)
  }

  async close(): Promise<void> {
    this.#writeLastRuns()
    this.#schedules.clear()
  }

  list(): AppInfo[] {
    return (this.#db.prepare('SELECT * FROM apps ORDER BY id').all() as AppRow[]).map((row) => this.#info(row))
  }

  get(id: string): AppInfo {
    return this.#info(this.#row(id))
  }

  /** Validates and keeps a bundle. A new app waits for consent; an update runs at once only if it asks for nothing more. */
  async install(bundle: { manifest: unknown; code: string }): Promise<InstallResult> {
    const manifest = parseManifest(bundle.manifest)
    if (Buffer.byteLength(bundle.code) > MAX_CODE_BYTES) throw new PayloadTooLarge(`The app's code is larger than ${MAX_CODE_BYTES / 1024 / 1024} MiB.`)
    const existing = this.#find(manifest.id)
    this.#keepBundle(manifest, bundle.code)
    const now = Date.now() / 1000
    const appReview = review(manifest, this.#deps.store.list(), this.#deps.closedToApps)
    if (!existing) {
      this.#db.prepare(`INSERT INTO apps (id, version, state, manifest, consent, grants, installed_at, updated_at) VALUES (?, ?, 'pending', ?, NULL, '{}', ?, ?)`)
        .run(manifest.id, manifest.version, JSON.stringify(manifest), now, now)
      return { app: this.get(manifest.id), review: appReview, needsConsent: true }
    }
    const previous = JSON.parse(existing.manifest) as Manifest
    const consent = existing.state === 'active' && existing.consent ? carryOver(previous, JSON.parse(existing.consent) as Consent, manifest) : null
    if (consent) {
      await this.#apply(manifest, consent)
      return { app: this.get(manifest.id), review: appReview, needsConsent: false }
    }
    if (existing.state === 'active') {
      this.#db.prepare('UPDATE apps SET update_manifest = ?, updated_at = ? WHERE id = ?').run(JSON.stringify(manifest), now, manifest.id)
    } else {
      this.#db.prepare(`UPDATE apps SET version = ?, manifest = ?, state = 'pending', update_manifest = NULL, updated_at = ? WHERE id = ?`).run(manifest.version, JSON.stringify(manifest), now, manifest.id)
    }
    return { app: this.get(manifest.id), review: appReview, needsConsent: true }
  }

  /** The review of what the app (or its waiting update) asks for. */
  review(id: string): Review {
    const app = this.get(id)
    return review(app.update ?? app.manifest, this.#deps.store.list(), this.#deps.closedToApps)
  }

  /** The owner's consent: to a new app, to an update that asked for more, or a change to a running app's grant. */
  async grant(id: string, input: ConsentInput = {}): Promise<AppInfo> {
    const app = this.get(id)
    const manifest = app.update ?? app.manifest
    await this.#apply(manifest, decide(manifest, this.#deps.store.list(), input, this.#deps.closedToApps))
    return this.get(id)
  }

  /** Revokes every grant the app holds and stops it if it is running; its next call fails. */
  async revoke(id: string): Promise<AppInfo> {
    const row = this.#row(id)
    this.#revokeGrants(row)
    this.#db.prepare(`UPDATE apps SET state = 'revoked', consent = NULL, grants = '{}', updated_at = ? WHERE id = ?`).run(Date.now() / 1000, id)
    this.#schedules.cancel(id)
    this.#deps.gateway.withdraw(id)
    if (this.#running.has(id)) {
      await this.#deps.sandbox.stop(id)
      await this.#deps.audit.record(auditEntry({ subject: 'owner', operation: 'admin', action: `STOP app:${id}`, outcome: 'allow', status: 200, reason: 'its grant was revoked while it ran' }))
    }
    return this.get(id)
  }

  /** Removes the app, its tokens, views and code; its own sources too if the owner says so. */
  async uninstall(id: string, opts: { deleteData?: boolean } = {}): Promise<{ deletedSources: string[] }> {
    const app = await this.revoke(id)
    const deletedSources: string[] = []
    if (opts.deleteData) {
      for (const own of app.manifest.ownSources ?? []) {
        const source = ownSourceId(id, own.id)
        if (this.#deps.store.has(source)) {
          await this.#deps.store.remove(source)
          deletedSources.push(source)
        }
      }
    }
    this.#db.prepare('DELETE FROM app_views WHERE app = ?').run(id)
    this.#lastRuns.delete(id)
    this.#db.prepare('DELETE FROM apps WHERE id = ?').run(id)
    fs.rmSync(path.join(this.#deps.dir, id), { recursive: true, force: true })
    return { deletedSources }
  }

  views(id: string): AppView[] {
    const app = this.get(id)
    const rows = this.#db.prepare('SELECT * FROM app_views WHERE app = ? ORDER BY view').all(id) as { app: string; view: string; spec: string; updated_at: number }[]
    return rows.map((r) => ({ app: r.app, view: r.view, title: app.manifest.views?.find((v) => v.id === r.view)?.title ?? r.view, spec: JSON.parse(r.spec), updatedAt: r.updated_at }))
  }

  view(id: string, view: string): AppView {
    const found = this.views(id).find((v) => v.view === view)
    if (!found) throw new NotFound(`${id} has not shown a view "${view}" yet. Run it with \`coffer apps run ${id}\`.`)
    return found
  }

  /** What the gateway may send for an app: its granted destinations with the owner's policy. */
  destinations(id: string): GrantedDestination[] {
    const row = this.#find(id)
    if (!row || row.state !== 'active' || !row.consent) return []
    const consent = JSON.parse(row.consent) as Consent
    return ((JSON.parse(row.manifest) as Manifest).exports ?? []).map((e) => ({
      id: e.id, url: e.url, frequency: e.frequency, maxBytes: e.maxBytes ?? MAX_EXPORT_BYTES, policy: consent.exports[e.id] ?? 'ask',
    }))
  }

  /** Runs the app once in the sandbox. One run at a time per app. */
  async run(id: string, opts: { event?: unknown; trigger?: RunSummary['trigger'] } = {}): Promise<RunReport> {
    const row = this.#row(id)
    if (row.state !== 'active') throw new Conflict(`${id} is ${row.state}: ${row.state === 'pending' ? `grant it first (\`coffer apps grant ${id}\`)` : 'install and grant it again to run it'}.`)
    if (this.#running.has(id)) throw new Conflict(`${id} is already running; wait for that run to finish.`)
    const manifest = JSON.parse(row.manifest) as Manifest
    const code = fs.readFileSync(path.join(this.#deps.dir, id, manifest.version, manifest.main), 'utf8')
    const summary: RunSummary = { trigger: opts.trigger ?? 'owner', startedAt: Date.now() / 1000, ok: false }
    const logs: string[] = []
    let status = 200
    this.#running.add(id)
    try {
      const host = hostCalls({ ...this.#deps, saveView: (app, m, view, spec) => this.#saveView(app, m, view, spec) }, id, manifest, JSON.parse(row.consent!) as Consent, JSON.parse(row.grants) as AppGrants)
      const result = await this.#deps.sandbox.run({ appId: id, code, event: opts.event ?? null, now: summary.startedAt, host, log: (line) => logs.push(line) })
      Object.assign(summary, { ok: true, cpuMs: result.cpuMs, wallMs: result.wallMs, calls: result.calls })
      return { ...summary, value: result.value, logs }
    } catch (err) {
      summary.error = (err as Error).message
      status = err instanceof CofferError ? err.status : 500
      throw err
    } finally {
      this.#running.delete(id)
      this.#lastRuns.set(id, summary)
      this.#lastRunsTimer ??= setTimeout(() => this.#writeLastRuns(), LAST_RUN_WRITE_MS).unref()
      // A run that broke a limit was refused by the box: it is audited as a denial, with the limit in its reason.
      // What the run did (each read, write and export) is audited by its own operation, and writes and
      // exports wait for their entries; the run's own entry is committed with the next group, as a read's is.
      this.#deps.audit.record(auditEntry({
        time: summary.startedAt, subject: `app:${id}`, operation: 'run', action: `RUN ${summary.trigger}`,
        records: summary.calls ?? 0, outcome: summary.ok ? 'allow' : 'deny', status,
        ...(summary.error ? { reason: summary.error } : {}),
      })).catch((err: unknown) => this.#deps.logger.error({ err, app: id }, 'audit write failed'))
    }
  }

  /** Keeps a view the app showed; an undeclared view or one naming a URL is refused. Both are audited. */
  async #saveView(app: string, manifest: Manifest, view: string, spec: unknown): Promise<{ view: string }> {
    const text = JSON.stringify(spec) ?? 'null'
    const entry = { subject: `app:${app}`, operation: 'write' as const, action: `APP views.show ${view}`, bytes: Buffer.byteLength(text) }
    try {
      if (!manifest.views?.some((v) => v.id === view)) throw new InvalidInput(`${app} declares no view "${view}"; it may show ${(manifest.views ?? []).map((v) => v.id).join(', ') || 'none'}.`)
      checkViewSpec(spec)
    } catch (err) {
      const status = err instanceof CofferError ? err.status : 500
      await this.#deps.audit.record(auditEntry({ ...entry, outcome: 'deny', status, reason: (err as Error).message }))
      throw err
    }
    this.#db.prepare('INSERT OR REPLACE INTO app_views (app, view, spec, updated_at) VALUES (?, ?, ?, ?)').run(app, view, text, Date.now() / 1000)
    await this.#deps.audit.record(auditEntry({ ...entry, outcome: 'allow', status: 200 }))
    return { view }
  }

  async #apply(manifest: Manifest, consent: Consent): Promise<void> {
    const existing = this.#find(manifest.id)
    if (existing) this.#revokeGrants(existing)
    const { store, arbiter } = this.#deps
    for (const own of manifest.ownSources ?? []) {
      const id = ownSourceId(manifest.id, own.id)
      if (!store.has(id)) {
        await store.add({ id, description: `${manifest.name}: ${own.description}`, logicalType: own.logicalType ?? 'other', attributes: own.attributes ?? [] })
      }
    }
    const subject = `app:${manifest.id}`
    const grants: AppGrants = { requests: {} }
    for (const s of consent.sources) {
      if (s.sources.length === 0) continue
      grants.requests[s.request] = arbiter.createGrant({
        subject, description: `${manifest.name}: ${s.request}`, sources: s.sources, ops: s.ops,
        windows: s.window ? [{ from: { ago: s.window } }] : [], granularity: s.granularity,
      }).id
    }
    const own = (manifest.ownSources ?? []).map((s) => ownSourceId(manifest.id, s.id))
    if (own.length) grants.own = arbiter.createGrant({ subject, description: `${manifest.name}: its own sources`, sources: own, ops: ['read', 'write'], windows: [], granularity: 0 }).id
    const now = Date.now() / 1000
    this.#db.prepare(`INSERT INTO apps (id, version, state, manifest, consent, grants, update_manifest, installed_at, updated_at) VALUES (@id, @version, 'active', @manifest, @consent, @grants, NULL, @now, @now)
      ON CONFLICT (id) DO UPDATE SET version = @version, state = 'active', manifest = @manifest, consent = @consent, grants = @grants, update_manifest = NULL, updated_at = @now`)
      .run({ id: manifest.id, version: manifest.version, manifest: JSON.stringify(manifest), consent: JSON.stringify(consent), grants: JSON.stringify(grants), now })
    this.#schedules.set(this.get(manifest.id))
  }

  #revokeGrants(row: AppRow): void {
    const grants = JSON.parse(row.grants) as AppGrants
    for (const id of [...Object.values(grants.requests ?? {}), grants.own]) {
      if (id && !this.#deps.arbiter.grant(id).revoked) this.#deps.arbiter.revoke(id)
    }
  }

  #keepBundle(manifest: Manifest, code: string): void {
    const dir = path.join(this.#deps.dir, manifest.id, manifest.version)
    const kept = path.join(dir, manifest.main)
    // Code under a version the owner already saw never changes behind its back: new code needs a new version.
    if (fs.existsSync(kept) && fs.readFileSync(kept, 'utf8') !== code) {
      throw new Conflict(`${manifest.id} ${manifest.version} is already installed with different code: give the new code a new version number.`)
    }
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 })
    writeFileAtomic(path.join(dir, manifest.main), code, 0o600)
    writeFileAtomic(path.join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n', 0o600)
  }

  #writeLastRuns(): void {
    clearTimeout(this.#lastRunsTimer)
    this.#lastRunsTimer = undefined
    if (this.#lastRuns.size === 0) return
    const update = this.#db.prepare('UPDATE apps SET last_run = ? WHERE id = ?')
    this.#db.transaction(() => {
      for (const [id, summary] of this.#lastRuns) update.run(JSON.stringify(summary), id)
    })()
    this.#lastRuns.clear()
  }

  #find(id: string): AppRow | undefined {
    return this.#db.prepare('SELECT * FROM apps WHERE id = ?').get(id) as AppRow | undefined
  }

  #row(id: string): AppRow {
    const row = this.#find(id)
    if (!row) throw new NotFound(`There is no app "${id}". List apps with \`coffer apps list\`.`)
    return row
  }

  #info(row: AppRow): AppInfo {
    const manifest = JSON.parse(row.manifest) as Manifest
    return {
      id: row.id, name: manifest.name, version: row.version, state: row.state, manifest,
      consent: row.consent ? JSON.parse(row.consent) as Consent : null,
      update: row.update_manifest ? JSON.parse(row.update_manifest) as Manifest : null,
      installedAt: row.installed_at, updatedAt: row.updated_at, running: this.#running.has(row.id),
      lastRun: this.#lastRuns.get(row.id) ?? (row.last_run ? JSON.parse(row.last_run) as RunSummary : null),
    }
  }
}
