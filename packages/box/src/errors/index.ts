/**
 * Typed errors. Each maps to an RFC 9457 problem+json body; the HTTP layer renders them
 * and the CLI prints `title: detail`. Nothing else (and never a stack) reaches a client.
 */
export interface Problem {
  type: string
  title: string
  status: number
  detail: string
  [extra: string]: unknown
}

export class CofferError extends Error {
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

/** Input that does not parse or violates a rule. `index` and `field` point at the fault. */
export class InvalidInput extends CofferError {
  constructor(detail: string, where: { index?: number; field?: string } = {}) {
    super(400, 'invalid-input', 'Invalid input', detail, where)
  }
}

export class NotFound extends CofferError {
  constructor(detail: string) {
    super(404, 'not-found', 'Not found', detail)
  }
}

export class Conflict extends CofferError {
  constructor(detail: string) {
    super(409, 'conflict', 'Conflict', detail)
  }
}

/** No token, or a token that does not verify. */
export class Unauthorized extends CofferError {
  constructor(detail: string) {
    super(401, 'unauthorized', 'Unauthorized', detail)
  }
}

/** A valid token that does not allow this request. */
export class Forbidden extends CofferError {
  constructor(detail: string) {
    super(403, 'forbidden', 'Forbidden', detail)
  }
}

export class PayloadTooLarge extends CofferError {
  constructor(detail: string) {
    super(413, 'payload-too-large', 'Payload too large', detail)
  }
}

export class UnsupportedMediaType extends CofferError {
  constructor(detail: string) {
    super(415, 'unsupported-media-type', 'Unsupported media type', detail)
  }
}

export class TooManyRequests extends CofferError {
  constructor(detail: string) {
    super(429, 'too-many-requests', 'Too many requests', detail)
  }
}

/** Something outside the box, such as an export destination, failed to take what was sent. */
export class BadGateway extends CofferError {
  constructor(detail: string) {
    super(502, 'bad-gateway', 'Destination failed', detail)
  }
}
