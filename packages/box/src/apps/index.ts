/**
 * Apps: third-party code that comes to the data. install() validates a manifest and keeps the
 * bundle; nothing runs and nothing is granted until the owner consents with grant(), which
 * turns each granted source request into an arbiter grant of its own (so every request keeps
 * its own detail and window). A run happens in the sandbox; the app's SDK calls come back
 * here and go out again as HTTP requests into the box's own API with the app's tokens — the
 * same arbiter checks and audit entries as any client, so nothing an app asks is trusted.
 * Tokens stay on this side: the sandbox never holds one. Exports go through the gateway.
 */
import fs from 'node:fs'
import path from 'node:path'
import type Database from 'better-sqlite3'
import type { Logger } from 'pino'
import type { Arbiter } from '../arbiter/index.ts'
import type { AuditLog } from '../audit/index.ts'
import { utcOffset, wallClockToEpoch, type Store } from '../store/index.ts'
import type { Gateway, GrantedDestination } from '../gateway/index.ts'
import type { Sandbox } from '../sandbox/index.ts'
import { CofferError, Conflict, InvalidInput, NotFound, PayloadTooLarge } from '../errors/index.ts'
import { writeFileAtomic } from '../home/index.ts'
import { MAX_EXPORT_BYTES, durationSeconds, parseManifest, type Manifest } from './manifest.ts'
import { carryOver, decide, ownSourceId, review, type Consent, type ConsentInput, type Review } from './consent.ts'
import { checkViewSpec } from './views.ts'

export { Manifest as ManifestSchema, parseManifest, type Manifest } from './manifest.ts'
export { type Consent, type ConsentInput, type Granted, type GrantedSource, type Review } from './consent.ts'
export { readBundle, readTarball, type Bundle } from './bundle.ts'

export const MAX_CODE_BYTES = 5 * 1024 * 1024
const TOKEN_SECONDS = 15 * 60
const MAX_BATCH = 1000
const NEW_DATA_DELAY_MS = 1000

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

/** A request into the box's own API, as Fastify's inject() takes it. */
export type Inject = (request: { method: 'GET' | 'POST'; url: string; headers: Record<string, string>; payload?: string }) => Promise<{ statusCode: number; body: string }>

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
  logger: Logger
  /** The box's own API; set once it exists (it is built after the apps it serves). */
  inject: () => Inject
  timeZone: string
}

export class Apps {
  readonly #deps: AppsDeps
  readonly #db: Database.Database
  readonly #running = new Set<string>()
  readonly #schedules = new Map<string, () => void>()

  constructor(deps: AppsDeps) {
    this.#deps = deps
    this.#db = deps.db
    this.#db.exec(`CREATE TABLE IF NOT EXISTS apps (id TEXT PRIMARY KEY, version TEXT NOT NULL, state TEXT NOT NULL, manifest TEXT NOT NULL,
      consent TEXT, grants TEXT NOT NULL, update_manifest TEXT, installed_at REAL NOT NULL, updated_at REAL NOT NULL, last_run TEXT);
      CREATE TABLE IF NOT EXISTS app_views (app TEXT NOT NULL, view TEXT NOT NULL, spec TEXT NOT NULL, updated_at REAL NOT NULL, PRIMARY KEY (app, view))`)
  }

  async open(): Promise<void> {
    for (const app of this.list()) if (app.state === 'active') this.#schedule(app)
  }

  async close(): Promise<void> {
    for (const cancel of this.#schedules.values()) cancel()
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
    const appReview = review(manifest, this.#deps.store.list())
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
    return review(app.update ?? app.manifest, this.#deps.store.list())
  }

  /** The owner's consent: to a new app, to an update that asked for more, or a change to a running app's grant. */
  async grant(id: string, input: ConsentInput = {}): Promise<AppInfo> {
    const app = this.get(id)
    const manifest = app.update ?? app.manifest
    await this.#apply(manifest, decide(manifest, this.#deps.store.list(), input))
    return this.get(id)
  }

  /** Revokes every grant the app holds and stops it if it is running; its next call fails. */
  async revoke(id: string): Promise<AppInfo> {
    const row = this.#row(id)
    this.#revokeGrants(row)
    this.#db.prepare(`UPDATE apps SET state = 'revoked', consent = NULL, grants = '{}', updated_at = ? WHERE id = ?`).run(Date.now() / 1000, id)
    this.#schedules.get(id)?.()
    this.#schedules.delete(id)
    this.#deps.gateway.withdraw(id)
    if (this.#running.has(id)) {
      await this.#deps.sandbox.stop(id)
      await this.#deps.audit.record({
        time: Date.now() / 1000, subject: 'owner', grant: null, source: null, operation: 'admin', action: `STOP app:${id}`,
        records: 0, bytes: 0, outcome: 'allow', status: 200, reason: 'its grant was revoked while it ran',
      })
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
      const tokens = this.#mintTokens(row)
      const result = await this.#deps.sandbox.run({
        appId: id, code, event: opts.event ?? null, now: summary.startedAt,
        host: (method, args) => this.#call(id, manifest, tokens, method, args),
        log: (line) => logs.push(line),
      })
      Object.assign(summary, { ok: true, cpuMs: result.cpuMs, wallMs: result.wallMs, calls: result.calls })
      return { ...summary, value: result.value, logs }
    } catch (err) {
      summary.error = (err as Error).message
      status = err instanceof CofferError ? err.status : 500
      throw err
    } finally {
      this.#running.delete(id)
      this.#db.prepare('UPDATE apps SET last_run = ? WHERE id = ?').run(JSON.stringify(summary), id)
      // A run that broke a limit was refused by the box: it is audited as a denial, with the limit in its reason.
      await this.#deps.audit.record({
        time: summary.startedAt, subject: `app:${id}`, grant: null, source: null, operation: 'run', action: `RUN ${summary.trigger}`,
        records: summary.calls ?? 0, bytes: 0, outcome: summary.ok ? 'allow' : 'deny', status,
        ...(summary.error ? { reason: summary.error } : {}),
      })
    }
  }

  async #call(app: string, manifest: Manifest, tokens: Tokens, method: string, args: unknown): Promise<unknown> {
    if (method === 'batch') {
      if (!Array.isArray(args) || args.length > MAX_BATCH) throw new InvalidInput(`A batch is a list of at most ${MAX_BATCH} calls.`)
      return Promise.all(args.map(async (call: { method?: unknown; args?: unknown }) => {
        try {
          if (call?.method === 'batch') throw new InvalidInput('Batches do not nest.')
          return { ok: true, value: await this.#call(app, manifest, tokens, String(call?.method), call?.args) }
        } catch (err) {
          if (err instanceof CofferError) return { ok: false, error: err.toProblem() }
          this.#deps.logger.error({ err, app }, 'an app call failed')
          return { ok: false, error: { status: 500, detail: 'The box could not answer this call; its log says why.' } }
        }
      }))
    }
    const a = (args ?? {}) as Record<string, unknown>
    switch (method) {
      case 'granted':
        return {
          sources: tokens.consent.sources.map(({ request, sources, ops, granularity, window }) => ({ request, sources, ops, granularity, window, series: Object.fromEntries(sources.map((id) => [id, this.#series(id)])) })),
          own: (manifest.ownSources ?? []).map((s) => s.id),
          timeZone: this.#deps.timeZone,
        }
      case 'days':
        return dayEdges(this.#deps.timeZone, Number(a.count), Date.now() / 1000)
      case 'records':
      case 'aggregate':
      case 'latest': {
        const source = String(a.source ?? '')
        const params = new URLSearchParams()
        for (const key of ['from', 'to', 'name', 'limit', 'order', 'fn', 'bucket', 'tz']) if (a[key] !== undefined) params.set(key, String(a[key]))
        if (method === 'aggregate' && !params.has('tz')) params.set('tz', this.#deps.timeZone)
        return this.#request(tokens.forRead(source), 'GET', `/api/v1/sources/${encodeURIComponent(source)}/${method}?${params}`)
      }
      case 'write': {
        const own = String(a.source ?? '')
        if (!manifest.ownSources?.some((s) => s.id === own)) throw new InvalidInput(`${app} declares no own source "${own}"; it may write only to ${(manifest.ownSources ?? []).map((s) => s.id).join(', ') || 'none'}.`)
        const source = ownSourceId(app, own)
        return this.#request(tokens.own, 'POST', `/api/v1/sources/${source}/records`, JSON.stringify(a.records ?? []))
      }
      case 'export':
        return this.#deps.gateway.request(app, String(a.destination ?? ''), a.payload)
      case 'view':
        return this.#saveView(app, manifest, String(a.id ?? ''), a.spec)
      default:
        throw new InvalidInput(`The SDK has no call "${method}".`)
    }
  }

  async #request(token: string | undefined, method: 'GET' | 'POST', url: string, payload?: string): Promise<unknown> {
    const headers: Record<string, string> = { authorization: `Bearer ${token ?? 'none'}`, accept: 'application/json' }
    if (payload !== undefined) headers['content-type'] = 'application/senml+json'
    const response = await this.#deps.inject()({ method, url, headers, payload })
    const body = response.body ? JSON.parse(response.body) as unknown : null
    if (response.statusCode >= 400) {
      const problem = body as { status?: number; title?: string; detail?: string; type?: string }
      throw new CofferError(response.statusCode, String(problem?.type ?? 'error').split('/').pop()!, problem?.title ?? 'Error', problem?.detail ?? `The box answered ${response.statusCode}.`)
    }
    return body
  }

  /** The names and units a granted source holds: what its catalogue entry shows, no data. */
  #series(source: string): { name: string; unit: string | null }[] {
    return this.#deps.store.has(source) ? this.#deps.store.summary(source).series.map(({ name, unit }) => ({ name, unit })) : []
  }

  #saveView(app: string, manifest: Manifest, view: string, spec: unknown): { view: string } {
    if (!manifest.views?.some((v) => v.id === view)) throw new InvalidInput(`${app} declares no view "${view}"; it may show ${(manifest.views ?? []).map((v) => v.id).join(', ') || 'none'}.`)
    checkViewSpec(spec)
    this.#db.prepare('INSERT OR REPLACE INTO app_views (app, view, spec, updated_at) VALUES (?, ?, ?, ?)').run(app, view, JSON.stringify(spec), Date.now() / 1000)
    return { view }
  }

  #mintTokens(row: AppRow): Tokens {
    const consent = JSON.parse(row.consent!) as Consent
    const grants = JSON.parse(row.grants) as Grants
    const mint = (grant: string | undefined) => grant === undefined ? undefined : this.#deps.arbiter.mint(grant, { ttlSeconds: TOKEN_SECONDS }).token
    const byRequest = new Map(consent.sources.map((s) => [s.request, mint(grants.requests[s.request])]))
    const own = mint(grants.own)
    return {
      consent,
      own,
      // A source outside every grant still goes to the box with one of the app's tokens, so the refusal is the arbiter's, and audited.
      forRead: (source) => {
        const granted = consent.sources.find((s) => s.sources.includes(source))
        return (granted && byRequest.get(granted.request)) ?? [...byRequest.values()].find(Boolean) ?? own
      },
    }
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
    const grants: Grants = { requests: {} }
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
    this.#schedules.get(manifest.id)?.()
    this.#schedule(this.get(manifest.id))
  }

  #revokeGrants(row: AppRow): void {
    const grants = JSON.parse(row.grants) as Grants
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

  /** Timers for `every`, store events for `onNewData`; a run already under way is not started twice. */
  #schedule(app: AppInfo): void {
    const { schedule } = app.manifest
    const start = (trigger: RunSummary['trigger']) => {
      if (this.#running.has(app.id)) return
      this.run(app.id, { trigger }).catch((err: Error) => this.#deps.logger.warn({ app: app.id, err: err.message }, 'scheduled app run failed'))
    }
    if ('every' in schedule) {
      const timer = setInterval(() => start('schedule'), durationSeconds(schedule.every) * 1000)
      timer.unref()
      this.#schedules.set(app.id, () => clearInterval(timer))
    } else if ('onNewData' in schedule && app.consent) {
      let pending: NodeJS.Timeout | undefined
      const onRecords = () => {
        pending ??= setTimeout(() => {
          pending = undefined
          start('new-data')
        }, NEW_DATA_DELAY_MS)
      }
      const watched = app.consent.sources.filter((s) => schedule.onNewData.includes(s.request) && s.ops.includes('observe'))
        .flatMap((s) => s.sources).filter((s) => this.#deps.store.has(s))
      for (const source of watched) this.#deps.store.get(source).events.on('records', onRecords)
      this.#schedules.set(app.id, () => {
        clearTimeout(pending)
        for (const source of watched) if (this.#deps.store.has(source)) this.#deps.store.get(source).events.off('records', onRecords)
      })
    }
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
      lastRun: row.last_run ? JSON.parse(row.last_run) as RunSummary : null,
    }
  }
}

const MAX_DAYS = 3660

/** Local midnights: the edges of the last `count` days in `tz`, today included. */
function dayEdges(tz: string, count: number, now: number): number[] {
  if (!Number.isInteger(count) || count < 1 || count > MAX_DAYS) throw new InvalidInput(`days: count must be a whole number from 1 to ${MAX_DAYS}.`)
  const today = new Date((now + utcOffset(tz, now)) * 1000)
  const edges: number[] = []
  for (let back = count - 1; back >= -1; back--) {
    edges.push(wallClockToEpoch(tz, Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate() - back) / 1000))
  }
  return edges
}

interface Grants {
  requests: Record<string, string>
  own?: string
}

interface Tokens {
  consent: Consent
  own: string | undefined
  forRead: (source: string) => string | undefined
}
