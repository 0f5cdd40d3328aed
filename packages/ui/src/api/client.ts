/**
 * The one door to the box's API. Every call carries the session token as a Bearer header;
 * a 401 ends the session, which sends the owner back to the login page.
 */
import { currentSession, endSession } from '../auth/session.ts'
import type {
  Aggregate, AppInfo, AppView, AuditEntry, ConsentInput, CsvPreview, CsvProfile, Driver, ExportRecord, ImportJob, InstallResult,
  MapTiles, MqttConfig, NewDevice, OwntracksConfig, Review, SenmlRecord, Settings, SourceSummary, VerifyReport,
} from './types.ts'

export const API = '/api/v1'

/** An RFC 9457 problem from the box, with the detail meant for the person. */
export class ApiError extends Error {
  constructor(readonly status: number, readonly title: string, readonly detail: string) {
    super(detail || title)
  }
}

type Query = Record<string, string | number | boolean | undefined>

interface Options { query?: Query; json?: unknown; body?: BodyInit; type?: string; signal?: AbortSignal; accept?: string }

export function url(path: string, query: Query = {}): string {
  const params = new URLSearchParams()
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') params.set(k, String(v))
  const qs = params.toString()
  return `${API}${path}${qs ? `?${qs}` : ''}`
}

export async function request(method: string, path: string, opts: Options = {}): Promise<Response> {
  const headers: Record<string, string> = {}
  const session = currentSession()
  if (session) headers.authorization = `Bearer ${session.token}`
  if (opts.accept) headers.accept = opts.accept
  let body = opts.body
  if (opts.json !== undefined) {
    body = JSON.stringify(opts.json)
    headers['content-type'] = 'application/json'
  } else if (opts.type) {
    headers['content-type'] = opts.type
  }
  const res = await fetch(url(path, opts.query), { method, headers, body, signal: opts.signal })
  if (res.ok) return res
  const problem = await res.json().catch(() => ({})) as { title?: string; detail?: string }
  if (res.status === 401 && session) endSession()
  throw new ApiError(res.status, problem.title ?? res.statusText, problem.detail ?? `The box answered ${res.status}.`)
}

async function json<T>(method: string, path: string, opts?: Options): Promise<T> {
  return (await request(method, path, opts)).json() as Promise<T>
}

const id = encodeURIComponent

export const api = {
  login: (passphrase: string) => json<{ token: string; expires?: number }>('POST', '/login', { json: { passphrase } }),

  settings: (signal?: AbortSignal) => json<Settings>('GET', '/settings', { signal }),
  setMap: (map: MapTiles) => json<Settings>('PUT', '/settings/map', { json: map }),
  clearMap: () => json<Settings>('DELETE', '/settings/map'),

  sources: (signal?: AbortSignal) => json<SourceSummary[]>('GET', '/sources', { signal }),
  source: (source: string, signal?: AbortSignal) => json<SourceSummary>('GET', `/sources/${id(source)}`, { signal }),
  latest: (source: string, signal?: AbortSignal) => json<SenmlRecord[]>('GET', `/sources/${id(source)}/latest`, { signal }),
  records: (source: string, q: { from?: number; to?: number; limit?: number; order?: 'asc' | 'desc'; name?: string }, signal?: AbortSignal) =>
    json<SenmlRecord[]>('GET', `/sources/${id(source)}/records`, { query: q, signal }),
  aggregate: (source: string, q: { fn: string; bucket: string; from: number; to: number; name?: string; tz?: string }, signal?: AbortSignal) =>
    json<Aggregate>('GET', `/sources/${id(source)}/aggregate`, { query: q, signal }),
  deleteRecords: (source: string, from: number, to: number) =>
    json<{ deleted: number }>('DELETE', `/sources/${id(source)}/records`, { query: { from, to } }),

  drivers: (signal?: AbortSignal) => json<Driver[]>('GET', '/drivers', { signal }),
  addDriver: (driver: { id: string } & ({ kind: 'owntracks'; config: OwntracksConfig } | { kind: 'mqtt'; config: MqttConfig })) =>
    json<Driver>('POST', '/drivers', { json: driver }),
  configureDriver: (driver: string, config: OwntracksConfig | MqttConfig) => json<Driver>('PUT', `/drivers/${id(driver)}`, { json: { config } }),
  removeDriver: (driver: string) => json<{ removed: string }>('DELETE', `/drivers/${id(driver)}`),
  startDriver: (driver: string) => json<Driver>('POST', `/drivers/${id(driver)}/start`),
  stopDriver: (driver: string) => json<Driver>('POST', `/drivers/${id(driver)}/stop`),
  addDevice: (driver: string, device: { user: string; device: string }) => json<NewDevice>('POST', `/drivers/${id(driver)}/devices`, { json: device }),

  audit: (q: { subject?: string; source?: string; operation?: string; outcome?: string; limit?: number }, signal?: AbortSignal) =>
    json<AuditEntry[]>('GET', '/audit', { query: q, signal }),
  verifyAudit: () => json<VerifyReport>('POST', '/audit/verify'),

  apps: (signal?: AbortSignal) => json<AppInfo[]>('GET', '/apps', { signal }),
  installApp: (tarball: Blob) => json<InstallResult>('POST', '/apps', { body: tarball, type: 'application/gzip' }),
  review: (app: string) => json<Review>('GET', `/apps/${id(app)}/review`),
  grant: (app: string, consent: ConsentInput) => json<AppInfo>('POST', `/apps/${id(app)}/grant`, { json: consent }),
  revoke: (app: string) => json<AppInfo>('POST', `/apps/${id(app)}/revoke`),
  run: (app: string) => json<{ ok: boolean; error?: string }>('POST', `/apps/${id(app)}/run`, { json: {} }),
  views: (app: string, signal?: AbortSignal) => json<AppView[]>('GET', `/apps/${id(app)}/views`, { signal }),

  exports: (q: { state?: string; limit?: number } = {}, signal?: AbortSignal) => json<ExportRecord[]>('GET', '/exports', { query: q, signal }),
  approveExport: (exportId: string) => json<ExportRecord>('POST', `/exports/${id(exportId)}/approve`),
  denyExport: (exportId: string) => json<ExportRecord>('POST', `/exports/${id(exportId)}/deny`),

  importFile: (importId: string, file: File, opts: { profile?: string; source?: string } = {}) =>
    json<ImportJob>('POST', '/imports', { query: { id: importId, name: file.name, ...opts }, body: file, type: 'application/octet-stream' }),
  csvPreview: (head: Blob, signal?: AbortSignal) => json<CsvPreview>('POST', '/imports/csv-preview', { body: head, type: 'application/octet-stream', signal }),
  csvProfiles: (signal?: AbortSignal) => json<{ name: string; profile: CsvProfile }[]>('GET', '/csv-profiles', { signal }),
  saveCsvProfile: (name: string, profile: CsvProfile) => json<CsvProfile>('PUT', `/csv-profiles/${id(name)}`, { json: profile }),
  statement: async (month: string | undefined, format: 'html' | 'pdf') => request('GET', '/statement', { query: { month, format } }),
}

/** An EventSource cannot send headers, so the box takes the token from the query for streams. */
export function eventsUrl(path: string): string {
  return url(path, { access_token: currentSession()?.token })
}

export function message(err: unknown): string {
  if (err instanceof ApiError) return err.detail
  if (err instanceof Error) return err.message
  return String(err)
}
