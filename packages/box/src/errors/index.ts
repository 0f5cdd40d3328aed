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

/** No token, or a token that does not verify. `holder` is whose it was, when a genuine token has expired or been revoked. */
export class Unauthorized extends CofferError {
  readonly holder?: { subject: string; grant: string }
  constructor(detail: string, holder?: { subject: string; grant: string }) {
    super(401, 'unauthorized', 'Unauthorized', detail)
    this.holder = holder
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

/**
 * The box cannot answer this yet, only for a moment: a group it is opening, or moving to a new
 * epoch. `retryAfter` is how many seconds to wait before asking again; the HTTP layer sends it as
 * Retry-After too.
 */
export class Unavailable extends CofferError {
  constructor(detail: string, retryAfter = 5) {
    super(503, 'unavailable', 'Service unavailable', detail, { retryAfter })
  }
}

/** Something outside the box, such as an export destination, failed to take what was sent. */
export class BadGateway extends CofferError {
  constructor(detail: string) {
    super(502, 'bad-gateway', 'Destination failed', detail)
  }
}

/**
 * Sandboxed app runs. `app` names the app and `limit` the SandboxLimits field it ran into, so a
 * cockpit can say which knob to turn. An app's own faults are 4xx-like (422/413); 504 and 502 say
 * the box acted as a gateway to the app and got no, or no sane, answer from it.
 */
interface AppFault { app: string; limit?: string }

/** The app threw, rejected, overflowed its stack, or its code did not compile. */
export class AppFailed extends CofferError {
  constructor(detail: string, where: AppFault) {
    super(422, 'app-failed', 'App failed', detail, { ...where })
  }
}

/** Ran past its CPU or wall-clock limit. Not 408: clients resend a 408 unasked, which would run the runaway app again. */
export class AppTimeout extends CofferError {
  constructor(detail: string, where: AppFault) {
    super(504, 'app-timeout', 'App timed out', detail, { ...where })
  }
}

export class AppMemoryExceeded extends CofferError {
  constructor(detail: string, where: AppFault) {
    super(422, 'app-memory-exceeded', 'App memory limit exceeded', detail, { ...where })
  }
}

/** A result, or one host call's arguments or answer, bigger than the run allows. */
export class AppOutputTooLarge extends CofferError {
  constructor(detail: string, where: AppFault) {
    super(413, 'app-output-too-large', 'App output too large', detail, { ...where })
  }
}

export class AppTooManyCalls extends CofferError {
  constructor(detail: string, where: AppFault) {
    super(422, 'app-too-many-calls', 'App made too many calls', detail, { ...where })
  }
}

/** The process running the app died under it; the next run starts a new one. */
export class AppCrashed extends CofferError {
  constructor(detail: string, where: AppFault) {
    super(502, 'app-crashed', 'App crashed', detail, { ...where })
  }
}

/** The app was stopped (its grant revoked, or the box closing) while this run was pending. */
export class AppStopped extends CofferError {
  constructor(detail: string, where: AppFault) {
    super(409, 'app-stopped', 'App stopped', detail, { ...where })
  }
}
