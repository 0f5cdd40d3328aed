/**
 * The pages' calls into the market's API (/api/v1). Every call that needs a processor carries
 * the API key as a Bearer header; a 401 signs out, which shows the sign-in page. Failures
 * become ApiError with the problem+json's detail, which the market writes to say what to do.
 */
import type { PrivacyTable } from '@coffer/market'
import type { PaymentTerms, ProcessorAccount, Query, QueryProblem, QuerySpec, Vocabulary } from '@coffer/market/protocol'
import { currentKey, signOut } from '../auth/session.ts'

export class ApiError extends Error {
  readonly status: number
  readonly detail: string
  readonly problems: QueryProblem[]
  constructor(status: number, detail: string, problems: QueryProblem[] = []) {
    super(detail)
    this.name = 'ApiError'
    this.status = status
    this.detail = detail
    this.problems = problems
  }
}

export type { PaymentTerms, ProcessorAccount }
export interface Processor { id: string; name: string; contact: string | null; registeredAt: string }
export interface Registered { processor: Processor; key: string }
export type QueryStatus = 'open' | 'closed' | 'cancelled'
export interface PostedQuery {
  id: string
  seq: number
  status: QueryStatus
  spec: QuerySpec
  query: Query
  text: string
  postedAt: string
  endedAt: string | null
}
export interface Participation { accepted: number; declined: number; answered: number }
export type QueryWithParticipation = PostedQuery & { participation: Participation }
export interface Validation { valid: boolean; problems: QueryProblem[]; query?: Query; text?: string }

/** The market's privacy table (GET /privacy): its levels, and what it can see of the answers. */
export type { PrivacyTable }

interface Options { json?: unknown; query?: Record<string, string | number | undefined>; signal?: AbortSignal; auth?: boolean; accept?: string }

const BASE = '/api/v1'

async function send(method: string, path: string, opts: Options = {}): Promise<Response> {
  const headers: Record<string, string> = { accept: opts.accept ?? 'application/json' }
  const key = opts.auth === false ? null : currentKey()
  if (key) headers.authorization = `Bearer ${key}`
  let body: string | undefined
  if (opts.json !== undefined) {
    headers['content-type'] = 'application/json'
    body = JSON.stringify(opts.json)
  }
  const search = new URLSearchParams()
  for (const [name, value] of Object.entries(opts.query ?? {})) if (value !== undefined) search.set(name, String(value))
  const url = `${BASE}${path}${search.size ? `?${search}` : ''}`
  let res: Response
  try {
    res = await fetch(url, { method, headers, body, signal: opts.signal })
  } catch (err) {
    if (opts.signal?.aborted) throw err
    throw new ApiError(0, 'The market did not answer. Check your connection, then try again.')
  }
  if (res.ok) return res
  const problem = await res.json().catch(() => ({})) as { detail?: string; problems?: QueryProblem[] }
  if (res.status === 401 && key) signOut()
  throw new ApiError(res.status, problem.detail ?? `The market answered ${res.status} ${res.statusText}. Try again; if it persists, tell the market's operator.`, problem.problems)
}

const json = async <T>(method: string, path: string, opts?: Options): Promise<T> => (await send(method, path, opts)).json() as Promise<T>

const id = encodeURIComponent

export const api = {
  register: (name: string, contact?: string) => json<Registered>('POST', '/processors', { json: { name, ...(contact ? { contact } : {}) }, auth: false }),
  /** Checks a key by asking who it belongs to, before it is kept. */
  whoIs: (key: string) => fetch(`${BASE}/processors/me`, { headers: { authorization: `Bearer ${key}`, accept: 'application/json' } }),
  me: (signal?: AbortSignal) => json<Processor>('GET', '/processors/me', { signal }),
  vocabulary: (signal?: AbortSignal) => json<Vocabulary>('GET', '/vocabulary', { signal, auth: false }),
  /** The processor's balance, what its queries hold in escrow, and each movement, newest first. */
  account: (signal?: AbortSignal) => json<ProcessorAccount>('GET', '/processors/me/account', { signal }),
  payments: (signal?: AbortSignal) => json<PaymentTerms>('GET', '/payments', { signal, auth: false }),
  /** The market's privacy table, or null when this market does not publish one. */
  privacy: async (signal?: AbortSignal): Promise<PrivacyTable | null> => {
    try {
      const body = await json<PrivacyTable>('GET', '/privacy', { signal, auth: false })
      return body.levels.length > 0 ? body : null
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return null
      throw err
    }
  },
  validate: (spec: unknown, signal?: AbortSignal) => json<Validation>('POST', '/queries/validate', { json: spec, signal, auth: false }),
  post: (spec: unknown) => json<PostedQuery>('POST', '/queries', { json: spec }),
  list: (signal?: AbortSignal) => json<{ queries: PostedQuery[] }>('GET', '/queries', { signal }),
  get: (queryId: string, signal?: AbortSignal) => json<QueryWithParticipation>('GET', `/queries/${id(queryId)}`, { signal }),
  close: (queryId: string) => json<PostedQuery>('POST', `/queries/${id(queryId)}/close`),
  cancel: (queryId: string) => json<PostedQuery>('POST', `/queries/${id(queryId)}/cancel`),
  /** The query's result as JSON, or null while there is none. */
  result: async (queryId: string, signal?: AbortSignal): Promise<unknown> => {
    try {
      return await json<unknown>('GET', `/queries/${id(queryId)}/result`, { signal })
    } catch (err) {
      // 404 until the market has a result for it (or serves results at all); 409 while it is still gathering.
      if (err instanceof ApiError && (err.status === 404 || err.status === 409)) return null
      throw err
    }
  },
  /** The result in a file's format, for a download. */
  resultFile: async (queryId: string, format: 'json' | 'csv'): Promise<Blob> =>
    (await send('GET', `/queries/${id(queryId)}/result`, { query: format === 'csv' ? { format: 'csv' } : {}, accept: format === 'csv' ? 'text/csv' : 'application/json' })).blob(),
}

export function message(err: unknown): string {
  if (err instanceof ApiError) return err.detail
  if (err instanceof Error) return err.message
  return String(err)
}
