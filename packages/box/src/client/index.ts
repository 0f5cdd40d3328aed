/**
 * The one client of the box's HTTP API, for whoever calls it from outside: the CLI, the cockpit,
 * app tooling and the tests. It runs in a browser as well as in Node (fetch, nothing else), sends
 * the bearer token, and turns an RFC 9457 problem answer into an ApiError.
 *
 *   const box = createClient({ baseUrl: 'http://127.0.0.1:7780/api/v1', token })
 *   const sources = await box.request<SourceSummary[]>('GET', '/sources')
 *
 * What carries a request is `fetch` unless the caller gives a `transport`: the CLI gives one over
 * `node:http` (cli/http.ts), since a process that loads Node's fetch (undici) for one request
 * spends more time on that than on the request. Whatever carries it, tokens, URLs and problems are
 * handled here, the same way.
 */
import { CofferError, type Problem } from '../errors/index.ts'

export type Query = Record<string, string | number | boolean | null | undefined>

/** Options for one request. `B` is what a body may be: what fetch takes, unless a transport takes something else. */
export interface RequestOptions<B = BodyInit> {
  /** Query parameters; undefined, null and empty values are left out. */
  query?: Query
  /** A value sent as JSON (content type `type`, else application/json). */
  json?: unknown
  /** A body sent as it is: text, bytes, a Blob or a stream (a stream is sent as it is read). */
  body?: B
  /** The content type of `body` (or of `json`). */
  type?: string
  accept?: string
  signal?: AbortSignal
}

/** What the client reads of an answer; a fetch Response is one. */
export interface Answer {
  readonly status: number
  readonly statusText: string
  readonly ok: boolean
  readonly headers: { get(name: string): string | null }
  text(): Promise<string>
}

/** What a transport is asked to send: the headers are complete (token, accept, content type). */
export interface TransportRequest<B = BodyInit> {
  method: string
  headers: Record<string, string>
  body?: B | string
  signal?: AbortSignal
}

/**
 * Carries one request and answers once the status and headers are in. It rejects only when no
 * answer came (the client reports that as Unreachable, or rethrows it if the signal aborted).
 */
export type Transport<B = BodyInit, R extends Answer = Response> = (url: string, request: TransportRequest<B>) => Promise<R>

export interface ClientOptions<B = BodyInit, R extends Answer = Response> {
  /** What paths are joined to: the API root (`http://host:port/api/v1`, or `/api/v1` in the cockpit). */
  baseUrl: string
  /** A bearer token, or a function asked at each request (a session that ends stops being sent). */
  token?: string | null | (() => string | null | undefined)
  /** Called when the box answers 401 to a request that carried a token: it has expired or been revoked. */
  onUnauthorized?: () => void
  /** What carries the requests: fetch unless given (see the top of this file). */
  transport?: Transport<B, R>
}

export interface ApiClient<B = BodyInit, R extends Answer = Response> {
  readonly baseUrl: string
  /** The full URL of a path with its query. */
  url(path: string, query?: Query): string
  /** Sends, and answers the response whatever its status: for callers that read problems themselves. */
  send(method: string, path: string, opts?: RequestOptions<B>): Promise<R>
  /** Sends; an answer that is not 2xx throws an ApiError, a 2xx is answered as the Response (downloads, streams). */
  response(method: string, path: string, opts?: RequestOptions<B>): Promise<R>
  /** Sends; an answer that is not 2xx throws an ApiError, a 2xx is answered parsed: JSON, else text. */
  request<T = unknown>(method: string, path: string, opts?: RequestOptions<B>): Promise<T>
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

/** Sends with fetch; a stream goes out as it is read (duplex: 'half'), so a large upload never sits in memory. */
const fetchTransport: Transport = (url, { body, ...init }) =>
  fetch(url, { ...init, body, ...(typeof ReadableStream !== 'undefined' && body instanceof ReadableStream ? { duplex: 'half' } : {}) } as RequestInit)

export function createClient(options: ClientOptions): ApiClient
export function createClient<B, R extends Answer>(options: ClientOptions<B, R> & { transport: Transport<B, R> }): ApiClient<B, R>
export function createClient<B, R extends Answer>(options: ClientOptions<B, R>): ApiClient<B, R> {
  const transport = options.transport ?? (fetchTransport as unknown as Transport<B, R>)
  const baseUrl = options.baseUrl.replace(/\/$/, '')
  const token = () => typeof options.token === 'function' ? options.token() : options.token

  const url = (path: string, query: Query = {}) => {
    const params = new URLSearchParams()
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') params.set(k, String(v))
    const qs = params.toString()
    return `${baseUrl}${path}${qs ? `${path.includes('?') ? '&' : '?'}${qs}` : ''}`
  }

  const send = async (method: string, path: string, opts: RequestOptions<B> = {}) => {
    const headers: Record<string, string> = {}
    const bearer = token()
    if (bearer) headers.authorization = `Bearer ${bearer}`
    if (opts.accept) headers.accept = opts.accept
    let body: B | string | undefined = opts.body
    if (opts.json !== undefined) {
      body = JSON.stringify(opts.json)
      headers['content-type'] = opts.type ?? 'application/json'
    } else if (opts.type) {
      headers['content-type'] = opts.type
    }
    let res: R
    try {
      res = await transport(url(path, opts.query), { method, headers, body, signal: opts.signal })
    } catch (err) {
      if (opts.signal?.aborted) throw err
      throw new Unreachable(baseUrl)
    }
    if (res.status === 401 && bearer) options.onUnauthorized?.()
    return res
  }

  const response = async (method: string, path: string, opts?: RequestOptions<B>) => {
    const res = await send(method, path, opts)
    if (res.ok) return res
    const answer = await parse(res).catch(() => '')
    const problem: ProblemBody = typeof answer === 'object' && answer !== null ? answer as ProblemBody : typeof answer === 'string' && answer ? { detail: answer } : {}
    throw new ApiError(res.status, problem, res.statusText)
  }

  const request = async <T>(method: string, path: string, opts?: RequestOptions<B>) => parse(await response(method, path, opts)) as Promise<T>

  return { baseUrl, url, send, response, request }
}

/** A body as its content type says: JSON parsed, anything else as text. */
export async function parse(res: Answer): Promise<unknown> {
  const text = await res.text()
  return (res.headers.get('content-type') ?? '').includes('json') && text ? JSON.parse(text) : text
}
