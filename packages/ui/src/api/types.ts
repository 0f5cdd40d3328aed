/** The shapes the box answers with, as far as the cockpit reads them. */

export interface Series { name: string; unit: string | null; type: string }

export interface SourceSummary {
  id: string
  kind: 'timeseries' | 'kv'
  logicalType?: string
  description?: string
  points: number
  keys: number
  bytes: number
  first: number | null
  last: number | null
  series: Series[]
}

export interface SenmlRecord { n: string; t: number; u?: string; v?: number; vs?: string; vb?: boolean; vd?: string; s?: number }

export interface Bucket { start: number; end: number; count: number; value: number | null; values?: Record<string, number | null> }

export interface Aggregate { source: string; name: string | null; unit: string | null; fn: string; bucket: string; from: number; to: number; buckets: Bucket[] }

export interface OwntracksConfig {
  mode: 'http' | 'mqtt'
  source?: string
  broker?: string
  topic?: string
  devices?: { user: string; device: string }[]
}

export interface MqttFieldMapping { field: string; name?: string; unit?: string }
export interface MqttMapping { topic: string; source: string; time?: string; fields: MqttFieldMapping[] }

/** A password the box holds comes back as "(set)"; sending "(set)" back keeps it. */
export interface MqttConfig { broker: string; username?: string; password?: string; mappings: MqttMapping[] }

export type DriverStatus = { state: string; since: number; lastData: number | null; lastError: { message: string; at: number } | null; records: number }

export type Driver = { id: string; sources: string[]; status: DriverStatus; createdAt?: string }
  & ({ kind: 'owntracks'; config: OwntracksConfig } | { kind: 'mqtt'; config: MqttConfig })

export interface NewDevice { url: string; user: string; device: string; password: string }

export interface AuditEntry {
  time: number
  subject: string
  grant: string | null
  source: string | null
  operation: string
  action: string
  records: number
  bytes: number
  outcome: 'allow' | 'deny'
  status: number
  reason?: string
  destination?: string
}

export interface VerifyReport { ok: boolean; length: number; checkpointLength: number; problems: string[] }

export interface ReviewRead {
  request: string; required: boolean; justification: string; ops: string[]
  granularity: number; detail: string; window: number; period: string; matches: string[]; summary: string
}

export interface ReviewExport { id: string; url: string; host: string; purpose: string; sends: string; frequency: string; maxBytes: number; summary: string }

export interface Review {
  app: { id: string; name: string; version: string; author: string; description: string; purposes: string[] }
  reads: ReviewRead[]
  exports: ReviewExport[]
  views: { id: string; title: string }[]
  ownSources: string[]
  schedule: string
  text: string[]
}

export type ExportPolicy = 'auto' | 'ask' | 'deny'

export interface Consent {
  sources: { request: string; sources: string[]; ops: string[]; granularity: number; window: number }[]
  exports: Record<string, ExportPolicy>
}

export interface AppInfo {
  id: string
  name: string
  version: string
  state: 'pending' | 'active' | 'revoked'
  consent: Consent | null
  update: unknown
  installedAt: number
  updatedAt: number
  running: boolean
  lastRun: { trigger: string; startedAt: number; ok: boolean; error?: string } | null
}

export interface InstallResult { app: AppInfo; review: Review; needsConsent: boolean }

export interface ConsentInput {
  sources?: Record<string, { refuse?: boolean; sources?: string[]; granularity?: string; window?: string }>
  exports?: Record<string, ExportPolicy>
}

export interface AppView { app: string; view: string; title: string; spec: unknown; updatedAt: number }

export interface ExportRecord {
  id: string
  app: string
  destination: string
  state: 'pending' | 'sent' | 'denied' | 'failed'
  bytes: number
  sha256: string
  preview: string
  createdAt: number
  decidedAt: number | null
  responseStatus: number | null
  error: string | null
}

export interface ImportJob {
  id: string
  name: string
  state: 'receiving' | 'checking' | 'importing' | 'done' | 'duplicate' | 'failed'
  format: string | null
  source: string | null
  size: number
  bytesRead: number
  records: number
  error: string | null
  startedAt: number
  finishedAt: number | null
}

export interface MapTiles { tiles: string; attribution?: string }

export interface Settings { timeZone: string; map: MapTiles | null }

export interface CsvProfile {
  time: { column: string; format: string; tz?: string }
  values: { column: string; name?: string; unit?: string; type?: 'number' | 'string' }[]
  logicalType?: string
  decimal?: '.' | ','
  delimiter?: string
  encoding?: string
}

export interface CsvPreview {
  encoding: string
  delimiter: string
  columns: string[]
  rows: string[][]
  guess: { time: { column: string; format: string } | null; values: { column: string; type: 'number' | 'string' }[]; decimal: '.' | ',' }
}
