/**
 * The export gateway: the only way data leaves the box. A sender — an app, or a data market
 * the owner joined (`market:<id>`, for the answers the owner consented to) — asks to send a
 * payload to a URL; the gateway sends it only if the URL is, character for character, a
 * destination the owner granted to that sender, within the destination's size and rate limits, and — where the
 * owner chose "ask each time" — only once the owner approves. Every request, sent, queued,
 * refused or failed, is audited with its destination, size, SHA-256 and a preview, and kept in
 * the export history so the owner can see exactly what left and when.
 */
import crypto from 'node:crypto'
import type Database from 'better-sqlite3'
import { auditEntry, type AuditEntry, type AuditLog } from '../audit/index.ts'
import { BadGateway, Conflict, Forbidden, NotFound, PayloadTooLarge, TooManyRequests } from '../errors/index.ts'

export const EXPORT_POLICIES = ['auto', 'ask', 'deny'] as const
export type ExportPolicy = (typeof EXPORT_POLICIES)[number]
export const EXPORT_STATES = ['pending', 'sent', 'denied', 'failed'] as const
export type ExportState = (typeof EXPORT_STATES)[number]

/** A destination as granted: the manifest's promise and the owner's policy for it. */
export interface GrantedDestination {
  id: string
  url: string
  frequency: 'on-demand' | 'hourly' | 'daily' | 'weekly' | 'monthly'
  maxBytes: number
  policy: ExportPolicy
}

export interface ExportRecord {
  id: string
  app: string
  destination: string
  state: ExportState
  bytes: number
  sha256: string
  preview: string
  createdAt: number
  decidedAt: number | null
  responseStatus: number | null
  error: string | null
}

const PREVIEW_CHARS = 240
const SEND_TIMEOUT_MS = 10_000
const DAY = 86400
/** How many exports a destination may take per period: twice its declared rate, room for one retry. */
const RATE: Record<GrantedDestination['frequency'], { count: number; seconds: number }> = {
  'on-demand': { count: 30, seconds: 3600 },
  hourly: { count: 2, seconds: 3600 },
  daily: { count: 2, seconds: DAY },
  weekly: { count: 2, seconds: 7 * DAY },
  monthly: { count: 2, seconds: 31 * DAY },
}

export interface GatewayDeps {
  db: Database.Database
  audit: AuditLog
  /** The destinations a sender holds now; none once an app is revoked or uninstalled, or a market's query is answered or closed. */
  destinationsOf: (app: string) => GrantedDestination[]
  /** Why a sender may send nothing at all, whatever its destinations (it reads data whose holder keeps it in the box), or undefined. */
  withheld?: (app: string) => string | undefined
}

export class Gateway {
  readonly #db: Database.Database
  readonly #audit: AuditLog
  readonly #destinationsOf: GatewayDeps['destinationsOf']
  readonly #withheld: NonNullable<GatewayDeps['withheld']>

  constructor(deps: GatewayDeps) {
    this.#db = deps.db
    this.#audit = deps.audit
    this.#destinationsOf = deps.destinationsOf
    this.#withheld = deps.withheld ?? (() => undefined)
  }

  /** An app's request to send `payload` (any JSON value) to `url`. Sends now, queues for approval, or throws. */
  async request(app: string, url: string, payload: unknown): Promise<ExportRecord> {
    const body = Buffer.from(JSON.stringify(payload ?? null))
    const entry = this.#entry(app, url, body)
    const destination = this.#destinationsOf(app).find((d) => d.url === url)
    const refuse = async (err: Forbidden | PayloadTooLarge | TooManyRequests) => {
      await this.#audit.record({ ...entry, outcome: 'deny', status: err.status, reason: err.message })
      return err
    }
    if (!destination) throw await refuse(new Forbidden(`"${url}" is not a destination the owner granted to ${app}; exports go only to the exact URLs in its grant.`))
    if (destination.policy === 'deny') throw await refuse(new Forbidden(`The owner does not allow ${app} to send data to ${url}.`))
    const withheld = this.#withheld(app)
    if (withheld) throw await refuse(new Forbidden(withheld))
    if (body.length > destination.maxBytes) throw await refuse(new PayloadTooLarge(`The export is ${body.length} bytes; ${url} takes at most ${destination.maxBytes}.`))
    const rate = RATE[destination.frequency]
    // Every attempt counts, delivered or not: a destination that answers 500 or 302 still received the payload.
    const recent = this.#db.prepare(`SELECT count(*) AS n FROM exports WHERE app = ? AND destination = ? AND state IN ('pending', 'sent', 'failed') AND created_at > ?`)
      .get(app, url, entry.time - rate.seconds) as { n: number }
    if (recent.n >= rate.count) {
      throw await refuse(new TooManyRequests(`${app} has already sent or tried to send ${recent.n} exports to ${url} in the last ${rate.seconds / 3600} hours; its ${destination.frequency} destination takes ${rate.count}.`))
    }
    const record: ExportRecord = {
      id: crypto.randomUUID(), app, destination: url, state: 'pending', bytes: body.length, sha256: entry.sha256, preview: entry.preview,
      createdAt: entry.time, decidedAt: null, responseStatus: null, error: null,
    }
    this.#db.prepare(`INSERT INTO exports (id, app, destination, state, bytes, sha256, preview, payload, created_at) VALUES (?, ?, ?, 'pending', ?, ?, ?, ?, ?)`)
      .run(record.id, app, url, record.bytes, record.sha256, record.preview, body, record.createdAt)
    if (destination.policy === 'ask') {
      await this.#audit.record({ ...entry, outcome: 'allow', status: 202, reason: 'waiting for the owner\'s approval' })
      return record
    }
    return this.#send(record.id)
  }

  list(filter: { state?: ExportState; app?: string; limit?: number } = {}): ExportRecord[] {
    const rows = this.#db.prepare(`SELECT * FROM exports WHERE (@state IS NULL OR state = @state) AND (@app IS NULL OR app = @app)
      ORDER BY created_at DESC LIMIT @limit`).all({ state: filter.state ?? null, app: filter.app ?? null, limit: filter.limit ?? 100 }) as ExportRow[]
    return rows.map(fromRow)
  }

  /** One export with the exact bytes that left (or would leave). */
  get(id: string): ExportRecord & { payload: unknown } {
    const row = this.#row(id)
    return { ...fromRow(row), payload: JSON.parse(row.payload.toString('utf8')) }
  }

  async approve(id: string): Promise<ExportRecord> {
    const row = this.#claim(id)
    if (!this.#destinationsOf(row.app).some((d) => d.url === row.destination && d.policy !== 'deny')) {
      this.#decide(id, 'denied', null, 'the app no longer holds this destination')
      throw new Forbidden(`${row.app} no longer holds ${row.destination} (its grant was changed or revoked), so this export cannot be sent.`)
    }
    const withheld = this.#withheld(row.app)
    if (withheld) {
      this.#decide(id, 'denied', null, withheld)
      throw new Forbidden(withheld)
    }
    return this.#send(id)
  }

  async deny(id: string): Promise<ExportRecord> {
    const row = this.#claim(id)
    this.#decide(id, 'denied', null, 'denied by the owner')
    await this.#audit.record({ ...this.#entry(row.app, row.destination, row.payload), outcome: 'deny', status: 403, reason: 'denied by the owner' })
    return fromRow(this.#row(id))
  }

  /** Withdraws an app's queued exports, when its grant goes. */
  withdraw(app: string): void {
    this.#db.prepare(`UPDATE exports SET state = 'denied', decided_at = ?, error = 'its grant was revoked' WHERE app = ? AND state = 'pending'`).run(Date.now() / 1000, app)
  }

  async #send(id: string): Promise<ExportRecord> {
    const row = this.#row(id)
    const entry = this.#entry(row.app, row.destination, row.payload)
    let status: number
    try {
      // No redirects: a 3xx would point the data at a host nobody granted.
      const response = await fetch(row.destination, {
        method: 'POST', body: new Uint8Array(row.payload), redirect: 'manual', signal: AbortSignal.timeout(SEND_TIMEOUT_MS),
        headers: { 'content-type': 'application/json', 'user-agent': 'coffer-gateway/1' },
      })
      status = response.status
      await response.body?.cancel()
    } catch (err) {
      const reason = `could not reach ${row.destination}: ${(err as Error).message}`
      this.#decide(id, 'failed', null, reason)
      await this.#audit.record({ ...entry, outcome: 'allow', status: 502, reason })
      throw new BadGateway(`The export was not delivered: ${reason}.`)
    }
    if (status < 200 || status > 299) {
      const reason = `${row.destination} answered ${status}`
      this.#decide(id, 'failed', status, reason)
      await this.#audit.record({ ...entry, outcome: 'allow', status: 502, reason })
      throw new BadGateway(`The export was not delivered: ${reason}.`)
    }
    this.#decide(id, 'sent', status, null)
    await this.#audit.record(entry)
    return fromRow(this.#row(id))
  }

  #entry(app: string, url: string, body: Buffer): AuditEntry & { sha256: string; preview: string } {
    return {
      ...auditEntry({ subject: subjectOf(app), operation: 'export', action: `EXPORT ${url}`, bytes: body.length, destination: url, outcome: 'allow', status: 200 }),
      sha256: crypto.createHash('sha256').update(body).digest('hex'),
      preview: body.subarray(0, PREVIEW_CHARS * 4).toString('utf8').slice(0, PREVIEW_CHARS),
    }
  }

  #decide(id: string, state: ExportState, responseStatus: number | null, error: string | null): void {
    this.#db.prepare('UPDATE exports SET state = ?, decided_at = ?, response_status = ?, error = ? WHERE id = ?').run(state, Date.now() / 1000, responseStatus, error, id)
  }

  #row(id: string): ExportRow {
    const row = this.#db.prepare('SELECT * FROM exports WHERE id = ?').get(id) as ExportRow | undefined
    if (!row) throw new NotFound(`There is no export "${id}". List them with \`coffer exports history\`.`)
    return row
  }

  /** Takes a waiting export for one decision: a second approve or deny arriving meanwhile gets 409, so nothing is sent twice. */
  #claim(id: string): ExportRow {
    const row = this.#row(id)
    const claimed = this.#db.prepare(`UPDATE exports SET decided_at = ? WHERE id = ? AND state = 'pending' AND decided_at IS NULL`).run(Date.now() / 1000, id)
    if (claimed.changes !== 1) throw new Conflict(`Export ${id} is not waiting for approval: it is ${row.state === 'pending' ? 'being decided' : row.state}.`)
    return row
  }
}

/** A market sends as itself; anything else sending is an app. */
export const MARKET_SENDER = 'market:'

function subjectOf(sender: string): string {
  return sender.startsWith(MARKET_SENDER) ? sender : `app:${sender}`
}

interface ExportRow {
  id: string; app: string; destination: string; state: ExportState; bytes: number; sha256: string; preview: string; payload: Buffer
  created_at: number; decided_at: number | null; response_status: number | null; error: string | null
}

function fromRow(row: ExportRow): ExportRecord {
  return {
    id: row.id, app: row.app, destination: row.destination, state: row.state, bytes: row.bytes, sha256: row.sha256, preview: row.preview,
    createdAt: row.created_at, decidedAt: row.decided_at, responseStatus: row.response_status, error: row.error,
  }
}
