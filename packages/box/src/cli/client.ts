/**
 * How the CLI talks to a running box: over its HTTP API, with an owner token minted from
 * the box home (whoever can read the home holds the seed anyway) unless COFFER_TOKEN is set.
 */
import { Readable } from 'node:stream'
import { openHome, readRuntime, type Home } from '../home/index.ts'
import { Arbiter, type IssuedToken } from '../arbiter/index.ts'
import { openMetaDb } from '../db/index.ts'
import { CofferError } from '../errors/index.ts'
import { createClient, Unreachable, type ApiClient, type Query } from '../client/index.ts'

export class NotRunning extends CofferError {
  constructor(home: string) {
    super(503, 'not-running', 'Box not running', `No box is running for ${home}. Start it with \`coffer start --home ${home}\` (or set COFFER_URL).`)
  }
}

export const CLI_TOKEN_SECONDS = 300

export function mintOwnerToken(home: Home, ttlSeconds: number): IssuedToken {
  const db = openMetaDb(home.paths.meta)
  try {
    return new Arbiter(db, home.keys.macaroonRootKey).ownerToken(ttlSeconds)
  } finally {
    db.close()
  }
}

/** The shared API client, taking what a command has at hand: a JSON value, or bytes, text or a file stream. */
export class Client {
  readonly url: string
  readonly #api: ApiClient

  constructor(url: string, token: string) {
    this.url = url.replace(/\/$/, '')
    this.#api = createClient({ baseUrl: `${this.url}/api/v1`, token })
  }

  static forHome(dir: string): Client {
    const home = openHome(dir)
    const url = process.env.COFFER_URL ?? readRuntime(home)?.url
    if (!url) throw new NotRunning(dir)
    return new Client(url, process.env.COFFER_TOKEN ?? mintOwnerToken(home, CLI_TOKEN_SECONDS).token)
  }

  async request<T = unknown>(method: string, path: string, opts: { body?: unknown; raw?: Buffer | string | NodeJS.ReadableStream; contentType?: string; query?: Query } = {}): Promise<T> {
    const raw = opts.raw === undefined ? {} : { body: bodyOf(opts.raw), type: opts.contentType ?? 'application/octet-stream' }
    try {
      return await this.#api.request<T>(method, path, { query: opts.query, json: opts.body, ...raw })
    } catch (err) {
      if (err instanceof Unreachable) throw new Unreachable(this.url, 'Is it running? Start it with `coffer start`.')
      throw err
    }
  }
}

/** A file is streamed as it is read, so a large one never sits in memory. */
function bodyOf(raw: Buffer | string | NodeJS.ReadableStream): BodyInit {
  if (typeof raw === 'string') return raw
  if (Buffer.isBuffer(raw)) return new Uint8Array(raw)
  return Readable.toWeb(raw as Readable) as ReadableStream
}
