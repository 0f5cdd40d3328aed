/**
 * How the CLI talks to a running box: over its HTTP API, as the owner. A command that only talks
 * to the box loads nothing of the box itself: it reads the box's address and a short-lived owner
 * token from the runtime file that `coffer start` keeps in the home (see serve.ts), so it needs
 * neither the seed nor any crypto. COFFER_TOKEN overrides that token. When there is none (a box
 * started some other way) or the box refuses it (the owner grant was rotated since), a token is
 * minted from the home instead (client.ts). Requests go over node:http (http.ts), not fetch.
 */
import type { Readable } from 'node:stream'
import { readRuntime } from '../home/paths.ts'
import { CofferError } from '../errors/index.ts'
import { ApiError, createClient, Unreachable, type ApiClient, type Query } from '../client/index.ts'
import { nodeTransport, type NodeAnswer, type NodeBody } from './http.ts'

export class NotRunning extends CofferError {
  constructor(home: string) {
    super(503, 'not-running', 'Box not running', `No box is running for ${home}. Start it with \`coffer start --home ${home}\` (or set COFFER_URL).`)
  }
}

/** The lifetime of a token minted from the home for one command. */
const MINTED_TOKEN_SECONDS = 300
/** A token from the runtime file with less than this left is not used: a command may take a while. */
const TOKEN_MARGIN_SECONDS = 30

/** Opens the home, which says so if there is no box there, and mints an owner token from it. */
async function mintFromHome(dir: string): Promise<string> {
  const [{ openHome }, { mintOwnerToken }] = await Promise.all([import('../home/index.ts'), import('./client.ts')])
  return mintOwnerToken(openHome(dir), MINTED_TOKEN_SECONDS).token
}

/** A request body: bytes, text, a stream, or a function opening a stream (so it can be sent again). */
type Raw = Buffer | string | NodeJS.ReadableStream | (() => NodeJS.ReadableStream)

/** The shared API client, taking what a command has at hand: a JSON value, or bytes, text or a file stream. */
export class Client {
  readonly url: string
  readonly #api: ApiClient<NodeBody, NodeAnswer>
  readonly #home: string | undefined
  #token: string | undefined
  /** The token is the one the box left in the runtime file: if it is refused, one minted from the home is tried. */
  #fromRuntime: boolean

  /** With `home` and no token, a token is minted from that home at the first request. */
  constructor(url: string, token: string | undefined, home?: string, fromRuntime = false) {
    this.url = url.replace(/\/$/, '')
    this.#token = token
    this.#home = home
    this.#fromRuntime = fromRuntime
    this.#api = createClient({ baseUrl: `${this.url}/api/v1`, token: () => this.#token, transport: nodeTransport })
  }

  static forHome(dir: string): Client {
    const runtime = readRuntime(dir)
    const url = process.env.COFFER_URL ?? runtime?.url
    if (!url) return new NoBoxRunning(dir)
    if (process.env.COFFER_TOKEN) return new Client(url, process.env.COFFER_TOKEN)
    const left = (runtime?.cliToken?.expires ?? 0) - Date.now() / 1000
    const usable = url === runtime?.url && left > TOKEN_MARGIN_SECONDS
    return new Client(url, usable ? runtime.cliToken!.token : undefined, dir, usable)
  }

  async request<T = unknown>(method: string, path: string, opts: { body?: unknown; raw?: Raw; contentType?: string; query?: Query } = {}): Promise<T> {
    if (this.#token === undefined && this.#home !== undefined) this.#token = await mintFromHome(this.#home)
    const send = () => {
      const raw = opts.raw === undefined ? {} : { body: bodyOf(opts.raw), type: opts.contentType ?? 'application/octet-stream' }
      return this.#api.request<T>(method, path, { query: opts.query, json: opts.body, ...raw })
    }
    try {
      try {
        return await send()
      } catch (err) {
        // A stream already sent cannot be sent again; a function opening one can.
        const resendable = typeof opts.raw !== 'object' || Buffer.isBuffer(opts.raw)
        if (!(err instanceof ApiError && err.status === 401 && this.#fromRuntime && resendable)) throw err
        this.#fromRuntime = false
        this.#token = await mintFromHome(this.#home!)
        return await send()
      }
    } catch (err) {
      if (err instanceof Unreachable) throw new Unreachable(this.url, 'Is it running? Start it with `coffer start`.')
      throw err
    }
  }
}

/** No box is running for the home: every request says so, or, if there is no box there at all, says that. */
class NoBoxRunning extends Client {
  readonly #dir: string

  constructor(dir: string) {
    super('', undefined)
    this.#dir = dir
  }

  override async request<T>(): Promise<T> {
    const { openHome } = await import('../home/index.ts')
    openHome(this.#dir)
    throw new NotRunning(this.#dir)
  }
}

/** A file is streamed as it is read, so a large one never sits in memory. */
function bodyOf(raw: Raw): NodeBody {
  if (typeof raw === 'function') return bodyOf(raw())
  if (typeof raw === 'string' || Buffer.isBuffer(raw)) return raw
  return raw as Readable
}
