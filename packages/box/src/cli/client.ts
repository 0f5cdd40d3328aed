/**
 * How the CLI talks to a running box: over its HTTP API, with an owner token minted from
 * the box home (whoever can read the home holds the seed anyway) unless COFFER_TOKEN is set.
 */
import { Readable } from 'node:stream'
import Database from 'better-sqlite3'
import { openHome, readRuntime, type Home } from '../home/index.ts'
import { Arbiter } from '../arbiter/index.ts'
import { CofferError } from '../errors/index.ts'

export class NotRunning extends CofferError {
  constructor(home: string) {
    super(503, 'not-running', 'Box not running', `No box is running for ${home}. Start it with \`coffer start --home ${home}\` (or set COFFER_URL).`)
  }
}

export class ApiError extends CofferError {}

export const CLI_TOKEN_SECONDS = 300

export function mintOwnerToken(home: Home, ttlSeconds: number): { token: string; expires?: number } {
  const db = new Database(home.paths.meta)
  try {
    db.pragma('busy_timeout = 5000')
    return new Arbiter(db, home.keys.macaroonRootKey).ownerToken(ttlSeconds)
  } finally {
    db.close()
  }
}

export class Client {
  readonly url: string
  readonly #token: string

  constructor(url: string, token: string) {
    this.url = url.replace(/\/$/, '')
    this.#token = token
  }

  static forHome(dir: string): Client {
    const home = openHome(dir)
    const url = process.env.COFFER_URL ?? readRuntime(home)?.url
    if (!url) throw new NotRunning(dir)
    return new Client(url, process.env.COFFER_TOKEN ?? mintOwnerToken(home, CLI_TOKEN_SECONDS).token)
  }

  async request<T = unknown>(method: string, path: string, opts: { body?: unknown; raw?: Buffer | string | NodeJS.ReadableStream; contentType?: string; query?: Record<string, string | number | undefined> } = {}): Promise<T> {
    const url = new URL(this.url + '/api/v1' + path)
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v))
    const headers: Record<string, string> = { authorization: `Bearer ${this.#token}` }
    let body: string | Buffer | NodeJS.ReadableStream | undefined
    if (opts.raw !== undefined) {
      body = opts.raw
      headers['content-type'] = opts.contentType ?? 'application/octet-stream'
    } else if (opts.body !== undefined) {
      body = JSON.stringify(opts.body)
      headers['content-type'] = 'application/json'
    }
    let res: Response
    try {
      const payload = typeof body === 'string' || body === undefined ? body : Buffer.isBuffer(body) ? new Uint8Array(body) : Readable.toWeb(body as Readable)
      // A stream is sent as it is read (duplex: 'half'), so a large file never sits in memory.
      res = await fetch(url, { method, headers, body: payload as BodyInit, ...(payload instanceof ReadableStream ? { duplex: 'half' } : {}) } as RequestInit)
    } catch {
      throw new CofferError(503, 'unreachable', 'Box unreachable', `Could not reach the box at ${this.url}. Is it running? Start it with \`coffer start\`.`)
    }
    const text = await res.text()
    const type = res.headers.get('content-type') ?? ''
    const data = type.includes('json') && text ? JSON.parse(text) : text
    if (!res.ok) {
      const p = data as { title?: string; detail?: string; type?: string; index?: number; field?: string }
      const where = p.index !== undefined ? ` (record ${p.index}${p.field ? `, field ${p.field}` : ''})` : ''
      throw new ApiError(res.status, (p.type ?? '').split('/').pop() || 'error', p.title ?? res.statusText, `${p.detail ?? text}${where}`)
    }
    return data as T
  }
}
