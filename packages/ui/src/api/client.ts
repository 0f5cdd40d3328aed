/**
 * The cockpit's calls into the box's API, through the box's own client. Every call carries the
 * session token as a Bearer header; a 401 ends the session, which sends the owner back to the login page.
 */
import { ApiError, createClient, type RequestOptions } from '@coffer/box/client'
import type {
  AggregateResult, AppInfo, AppView, AuditEntry, ConsentInput, CsvPreview, CsvProfile, Driver, ExportRecord, ImportJob, InstallResult, IssuedToken,
  MapTiles, MqttConfig, NewDevice, OwntracksConfig, Review, RunReport, SenmlRecord, Settings, SourceSummary, VerifyReport,
} from '@coffer/box'
import { currentSession, endSession } from '../auth/session.ts'

const box = createClient({ baseUrl: '/api/v1', token: () => currentSession()?.token, onUnauthorized: endSession })

const json = <T>(method: string, path: string, opts?: RequestOptions) => box.request<T>(method, path, opts)

const id = encodeURIComponent

export const api = {
  login: (passphrase: string) => json<IssuedToken>('POST', '/login', { json: { passphrase } }),

  settings: (signal?: AbortSignal) => json<Settings>('GET', '/settings', { signal }),
  setMap: (map: MapTiles) => json<Settings>('PUT', '/settings/map', { json: map }),
  clearMap: () => json<Settings>('DELETE', '/settings/map'),

  sources: (signal?: AbortSignal) => json<SourceSummary[]>('GET', '/sources', { signal }),
  source: (source: string, signal?: AbortSignal) => json<SourceSummary>('GET', `/sources/${id(source)}`, { signal }),
  latest: (source: string, signal?: AbortSignal) => json<SenmlRecord[]>('GET', `/sources/${id(source)}/latest`, { signal }),
  records: (source: string, q: { from?: number; to?: number; limit?: number; order?: 'asc' | 'desc'; name?: string }, signal?: AbortSignal) =>
    json<SenmlRecord[]>('GET', `/sources/${id(source)}/records`, { query: q, signal }),
  aggregate: (source: string, q: { fn: string; bucket: string; from: number; to: number; name?: string; tz?: string }, signal?: AbortSignal) =>
    json<AggregateResult>('GET', `/sources/${id(source)}/aggregate`, { query: q, signal }),
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
  run: (app: string) => json<RunReport>('POST', `/apps/${id(app)}/run`, { json: {} }),
  views: (app: string, signal?: AbortSignal) => json<AppView[]>('GET', `/apps/${id(app)}/views`, { signal }),

  exports: (q: { state?: string; limit?: number } = {}, signal?: AbortSignal) => json<ExportRecord[]>('GET', '/exports', { query: q, signal }),
  approveExport: (exportId: string) => json<ExportRecord>('POST', `/exports/${id(exportId)}/approve`),
  denyExport: (exportId: string) => json<ExportRecord>('POST', `/exports/${id(exportId)}/deny`),

  importFile: (importId: string, file: File, opts: { profile?: string; source?: string } = {}) =>
    json<ImportJob>('POST', '/imports', { query: { id: importId, name: file.name, ...opts }, body: file, type: 'application/octet-stream' }),
  csvPreview: (head: Blob, signal?: AbortSignal) => json<CsvPreview>('POST', '/imports/csv-preview', { body: head, type: 'application/octet-stream', signal }),
  csvProfiles: (signal?: AbortSignal) => json<{ name: string; profile: CsvProfile }[]>('GET', '/csv-profiles', { signal }),
  saveCsvProfile: (name: string, profile: CsvProfile) => json<CsvProfile>('PUT', `/csv-profiles/${id(name)}`, { json: profile }),
  statement: async (month: string | undefined, format: 'html' | 'pdf') => box.response('GET', '/statement', { query: { month, format } }),
}

/** An EventSource cannot send headers, so the box takes the token from the query for streams. */
export function eventsUrl(path: string): string {
  return box.url(path, { access_token: currentSession()?.token })
}

export function message(err: unknown): string {
  if (err instanceof ApiError) return err.detail
  if (err instanceof Error) return err.message
  return String(err)
}
