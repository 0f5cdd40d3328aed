/**
 * The one client of the box's HTTP API, for whoever calls it from outside: the CLI, the cockpit,
 * app tooling and the tests. It runs in a browser as well as in Node (fetch, nothing else), sends
 * the bearer token, and turns an RFC 9457 problem answer into an ApiError.
 *
 *   const box = createClient({ baseUrl: 'http://127.0.0.1:7780/api/v1', token })
 *   const sources = await box.request<SourceSummary[]>('GET', '/sources')
 */
import { CofferError, type Problem } from '../errors/index.ts'

export type Query = Record<string, string | number | boolean | null | undefined>

export interface RequestOptions {
  /** Query parameters; undefined, null and empty values are left out. */
  query?: Query
  /** A value sent as JSON (content type `type`, else application/json). */
  json?: unknown
  /** A body sent as it is: text, bytes, a Blob or a stream (a stream is sent as it is read). */
  body?: BodyInit
  /** The content type of `body` (or of `json`). */
  type?: string
  accept?: string
  signal?: AbortSignal
}

export interface ClientOptions {
  /** What paths are joined to: the API root (`http://host:port/api/v1`, or `/api/v1` in the cockpit). */
  baseUrl: string
  /** A bearer token, or a function asked at each request (a session that ends stops being sent). */
  token?: string | null | (() => string | null | undefined)
  /** Called when the box answers 401 to a request that carried a token: it has expired or been revoked. */
  onUnauthorized?: () => void
}

export interface ApiClient {
  readonly baseUrl: string
  /** The full URL of a path with its query. */
  url(path: string, query?: Query): string
  /** Sends, and answers the response whatever its status: for callers that read problems themselves. */
  send(method: string, path: string, opts?: RequestOptions): Promise<Response>
  /** Sends; an answer that is not 2xx throws an ApiError, a 2xx is answered as the Response (downloads, streams). */
  response(method: string, path: string, opts?: RequestOptions): Promise<Response>
  /** Sends; an answer that is not 2xx throws an ApiError, a 2xx is answered parsed: JSON, else text. */
  request<T = unknown>(method: string, path: string, opts?: RequestOptions): Promise<T>
}

/** A problem body as the box sends it: where a record or field is at fault, `index` and `field` say which. */
export interface ProblemBody extends Partial<Problem> {
  index?: number
  field?: string
}

const STANDARD_MEMBERS = ['type', 'title', 'status', 'detail']

/** A problem the box answered with. `detail` is the box's sentence; the message adds the record and field at fault. */
export class ApiError extends CofferError {
  /** The problem type URI, e.g. https://coffer.dev/problems/invalid-input. */
  readonly type: string
  readonly detail: string
  readonly index?: number
  readonly field?: string

  constructor(status: number, problem: ProblemBody, fallbackTitle: string) {
    const { type = '', title, detail = `The box answered ${status}.` } = problem
    const extras = Object.fromEntries(Object.entries(problem).filter(([key]) => !STANDARD_MEMBERS.includes(key)))
    const where = problem.index !== undefined ? ` (record ${problem.index}${problem.field ? `, field ${problem.field}` : ''})` : ''
    super(status, type.split('/').pop() || 'error', title ?? fallbackTitle, `${detail}${where}`, extras)
    this.type = type
    this.detail = detail
    this.index = problem.index
    this.field = problem.field
  }
}

/** The box did not answer at all: not running, or not at that address. `hint` says what to do about it. */
export class Unreachable extends CofferError {
  constructor(url: string, hint?: string) {
    super(503, 'unreachable', 'Box unreachable', `Could not reach the box at ${url}.${hint ? ` ${hint}` : ''}`)
  }
}

export function createClient(options: ClientOptions): ApiClient {
  const baseUrl = options.baseUrl.replace(/\/$/, '')
  const token = () => typeof options.token === 'function' ? options.token() : options.token

  const url = (path: string, query: Query = {}) => {
    const params = new URLSearchParams()
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') params.set(k, String(v))
    const qs = params.toString()
    return `${baseUrl}${path}${qs ? `${path.includes('?') ? '&' : '?'}${qs}` : ''}`
  }

  const send = async (method: string, path: string, opts: RequestOptions = {}) => {
    const headers: Record<string, string> = {}
    const bearer = token()
    if (bearer) headers.authorization = `Bearer ${bearer}`
    if (opts.accept) headers.accept = opts.accept
    let body = opts.body
    if (opts.json !== undefined) {
      body = JSON.stringify(opts.json)
      headers['content-type'] = opts.type ?? 'application/json'
    } else if (opts.type) {
      headers['content-type'] = opts.type
    }
    // A stream goes out as it is read (duplex: 'half'), so a large upload never sits in memory.
    const init = { method, headers, body, signal: opts.signal, ...(body instanceof ReadableStream ? { duplex: 'half' } : {}) }
    let res: Response
    try {
      res = await fetch(url(path, opts.query), init as RequestInit)
    } catch (err) {
      if (opts.signal?.aborted) throw err
      throw new Unreachable(baseUrl)
    }
    if (res.status === 401 && bearer) options.onUnauthorized?.()
    return res
  }

  const response = async (method: string, path: string, opts?: RequestOptions) => {
    const res = await send(method, path, opts)
    if (res.ok) return res
    const answer = await parse(res).catch(() => '')
    const problem: ProblemBody = typeof answer === 'object' && answer !== null ? answer as ProblemBody : typeof answer === 'string' && answer ? { detail: answer } : {}
    throw new ApiError(res.status, problem, res.statusText)
  }

  const request = async <T>(method: string, path: string, opts?: RequestOptions) => parse(await response(method, path, opts)) as Promise<T>

  return { baseUrl, url, send, response, request }
}

/** A body as its content type says: JSON parsed, anything else as text. */
export async function parse(res: Response): Promise<unknown> {
  const text = await res.text()
  return (res.headers.get('content-type') ?? '').includes('json') && text ? JSON.parse(text) : text
}
