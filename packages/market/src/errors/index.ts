/**
 * Typed errors, in the box's style (packages/box/src/errors). Each maps to an RFC 9457
 * problem+json body; the HTTP layer renders them and the CLI prints `title: detail`. Nothing
 * else (and never a stack) reaches a client.
 */
import type { QueryProblem } from '../query/index.ts'

export interface Problem {
  type: string
  title: string
  status: number
  detail: string
  [extra: string]: unknown
}

export class MarketError extends Error {
  readonly status: number
  readonly title: string
  readonly slug: string
  readonly extras: Record<string, unknown>

  constructor(status: number, slug: string, title: string, detail: string, extras: Record<string, unknown> = {}) {
    super(detail)
    this.name = new.target.name
    this.status = status
    this.slug = slug
    this.title = title
    this.extras = extras
  }

  toProblem(): Problem {
    return { type: `https://coffer.dev/problems/${this.slug}`, title: this.title, status: this.status, detail: this.message, ...this.extras }
  }
}

/** Input that does not parse or violates a rule. `field` points at the fault; `problems` lists every one found in a query. */
export class InvalidInput extends MarketError {
  constructor(detail: string, where: { field?: string; problems?: QueryProblem[] } = {}) {
    super(400, 'invalid-input', 'Invalid input', detail, where)
  }
}

export class NotFound extends MarketError {
  constructor(detail: string) {
    super(404, 'not-found', 'Not found', detail)
  }
}

export class Conflict extends MarketError {
  constructor(detail: string) {
    super(409, 'conflict', 'Conflict', detail)
  }
}

/** No API key, or one the market does not know. */
export class Unauthorized extends MarketError {
  constructor(detail: string) {
    super(401, 'unauthorized', 'Unauthorized', detail)
  }
}

export class PayloadTooLarge extends MarketError {
  constructor(detail: string) {
    super(413, 'payload-too-large', 'Payload too large', detail)
  }
}

export class UnsupportedMediaType extends MarketError {
  constructor(detail: string) {
    super(415, 'unsupported-media-type', 'Unsupported media type', detail)
  }
}

/** The market's database is unreachable or refused what it was asked. */
export class Unavailable extends MarketError {
  constructor(detail: string) {
    super(503, 'unavailable', 'Service unavailable', detail)
  }
}

/**
 * An account would go below zero: a processor posting a query its balance cannot escrow, or any
 * transfer the ledger refuses. `account` names it; `balance` and `needed` are in satoshis.
 */
export class InsufficientFunds extends MarketError {
  constructor(detail: string, where: { account: string; balance: number; needed: number }) {
    super(402, 'insufficient-funds', 'Insufficient funds', detail, where)
  }
}
