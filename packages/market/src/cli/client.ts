/**
 * The CLI's way to a running market: its HTTP API, so a command is checked like any client.
 * Answers that are problems become MarketErrors carrying the problem's fields, so the CLI can
 * print what the market said, problems and all.
 */
import { MarketError, Unauthorized, Unavailable, type Problem } from '../errors/index.ts'

export const DEFAULT_MARKET_URL = 'http://127.0.0.1:7790'

export interface Connection {
  market?: string
  key?: string
  operatorToken?: string
}

export class MarketClient {
  readonly url: string
  readonly #key: string | undefined
  readonly #operatorToken: string | undefined

  constructor(opts: Connection) {
    this.url = (opts.market || process.env.COFFER_MARKET_URL || DEFAULT_MARKET_URL).replace(/\/+$/, '')
    this.#key = opts.key || process.env.COFFER_MARKET_KEY || undefined
    this.#operatorToken = opts.operatorToken || process.env.COFFER_MARKET_OPERATOR_TOKEN || undefined
  }

  /** Sends a request as the market's operator; refuses before sending when no operator token was given. */
  async asOperator<T>(method: string, route: string, body?: unknown): Promise<T> {
    if (!this.#operatorToken) {
      throw new Unauthorized('This command is the operator\'s: pass --operator-token TOKEN or set COFFER_MARKET_OPERATOR_TOKEN (the token `coffer-market serve` was given).')
    }
    return this.send<T>(method, route, body, this.#operatorToken)
  }

  /** Sends a request as the processor whose key was given; refuses before sending when there is none. */
  async asProcessor<T>(method: string, route: string, body?: unknown, text = false): Promise<T> {
    if (!this.#key) {
      throw new Unauthorized('This command needs a processor API key: pass --key KEY or set COFFER_MARKET_KEY. `coffer-market processor register --name <name>` gives one.')
    }
    return this.send<T>(method, route, body, this.#key, text)
  }

  /** As asProcessor, for an answer that is text (CSV). */
  async asProcessorText(method: string, route: string): Promise<string> {
    return this.asProcessor<string>(method, route, undefined, true)
  }

  async send<T>(method: string, route: string, body?: unknown, key?: string, text = false): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' }
    if (key) headers.authorization = `Bearer ${key}`
    if (body !== undefined) headers['content-type'] = 'application/json'
    let res: Response
    try {
      res = await fetch(`${this.url}/api/v1${route}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause
      throw new Unavailable(`Cannot reach the market at ${this.url} (${cause?.code ?? cause?.message ?? (err as Error).message}). Is it running (\`coffer-market serve\`)? Point at another with --market URL or COFFER_MARKET_URL.`)
    }
    const answer = await res.text()
    if (text && res.ok) return answer as T
    let parsed: unknown
    try {
      parsed = answer ? JSON.parse(answer) : undefined
    } catch {
      throw new MarketError(502, 'bad-answer', 'Not a market', `${this.url} answered ${res.status} with something that is not JSON: is that the market's URL?`)
    }
    if (!res.ok) {
      const problem = parsed as Partial<Problem> | undefined
      const extras = Object.fromEntries(Object.entries(problem ?? {}).filter(([k]) => !['type', 'title', 'status', 'detail'].includes(k)))
      throw new MarketError(res.status, 'remote', problem?.title ?? res.statusText, problem?.detail ?? `The market answered ${res.status}.`, extras)
    }
    return parsed as T
  }
}
