/**
 * Operations: the one way into the box's capabilities. Each capability exports a table of
 * operations — a name, TypeBox input and output schemas, the access it needs and what it does —
 * and every caller runs them through `Operations.call()`: HTTP routes (thin adapters, see
 * api/routes.ts), an app's host calls, drivers, importers. call() is `audited(authorized(op))`
 * for a caller that holds a token, not for an HTTP request:
 *
 *   authenticate the token → validate the input → authorize what the input needs → run → audit
 *
 * Authentication comes first, so a malformed request without a valid token is a 401, and every
 * refusal — a bad token, bad input, an access the token does not allow — is an audit entry.
 * The few calls that are no operation (a login, a device's post, an event stream) run through
 * audited() and authorize(), so they are decided and filed the same way.
 *
 * Every capability depends on this layer, so it depends on none of them: each decision goes to
 * a DecisionSink it defines, and box.ts hands it the audit log as that sink.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox'
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler'
import { Value } from '@sinclair/typebox/value'
import type { Logger } from 'pino'
import type { Access, Arbiter, Scope } from '../arbiter/index.ts'
import { CofferError, InvalidInput, Unauthorized } from '../errors/index.ts'

/** What kind of access a decision is filed as. */
export type AccessKind = 'read' | 'write' | 'observe' | 'delete' | 'admin' | 'login' | 'export' | 'run'

/** A decision on a call, as it stands when it is filed: who asked, for what, and how much it moved. */
export interface Decision {
  kind: AccessKind
  /** The call: `GET /api/v1/sources/:source/aggregate`, `APP records.aggregate`, `import gpx run.gpx`. */
  action: string
  /** The verified token's scope, once there is one. */
  scope?: Scope
  /** Whose a revoked or expired token was. */
  holder?: { subject: string; grant: string }
  /** Who asked, when no token names them (a login, a device with a password). */
  subject?: string
  source: string | null
  records: number
  bytes: number
  /** Reads: the finest detail asked for, in seconds. */
  granularity?: number
  /** What the call was answered with: a refusal is 401 or 403. */
  status: number
  /** Why it was refused or failed. */
  reason?: string
}

/**
 * Where every decision is filed. The operation layer defines what it files and the audit log
 * takes it (box.ts wires one to the other), so that capabilities — the audit log among them —
 * can define operations without the operation layer depending on any of them.
 */
export interface DecisionSink {
  /** Files a decision the caller waits for: resolves once it is on disk. */
  file(decision: Decision): Promise<void>
  /** Files a decision the caller answers without waiting for; `failed` hears if writing it fails. */
  queue(decision: Decision, failed: (err: unknown) => void): void
}

/** What a running operation reports for its audit entry. */
export interface OperationContext {
  readonly scope: Scope
  /** How many records and bytes the operation read or wrote. */
  records: number
  bytes: number
  /** The source it touched, when that is not its input's `source`. */
  source: string | null
  /** The status its success is reported with, once it has run. */
  status: number
}

export interface Operation<I extends TSchema = TSchema, O extends TSchema = TSchema> {
  /** `capability.verb`, e.g. `records.aggregate`. */
  name: string
  summary: string
  /** How its decisions are filed in the audit log. */
  audit: AccessKind
  input: I
  output: O
  /** The status a success is reported (and answered over HTTP) with; 200 unless said. */
  status?: number
  /** When that status depends on the result (202 while an install waits for consent). */
  statusOf?(result: Static<O>): number
  /** What the caller's token must allow for this input. */
  access(input: Static<I>): Access
  run(input: Static<I>, ctx: OperationContext): Promise<Static<O>>
}

/** An instant in an answer: epoch seconds. */
export const EpochSeconds = Type.Number({ description: 'Epoch seconds' })
/** An instant as a caller may write it. */
export const TimeText = Type.String({ description: 'ISO 8601 or epoch seconds' })

/** The access of an operation that is the owner's alone. */
export const ownerOnly = (): Access => ({ op: 'admin' })

/** Keeps an operation's input and output types tied to its schemas. */
export function defineOperation<I extends TSchema, O extends TSchema>(op: Operation<I, O>): Operation<I, O> {
  return op
}

/** Who calls, and how the call arrived. */
export interface Caller {
  /** The caller's token: the owner's, a device's, a driver's, an app's or an importer's. */
  token: string | undefined
  /** The audit entry's action: `GET /api/v1/sources/:source/aggregate`, `APP records.aggregate`, `import gpx run.gpx`. */
  action: string
}

/**
 * Turns a result into what the caller sends, inside the audited section, so the entry can
 * count the bytes that actually leave (an HTTP body, an app's JSON answer).
 */
export type Present<O, R> = (result: O, ctx: OperationContext) => R

export interface OperationsDeps {
  arbiter: Arbiter
  /** The audit log. */
  audit: DecisionSink
  logger: Logger
}

export class Operations {
  readonly #arbiter: Arbiter
  readonly #audit: DecisionSink
  readonly #logger: Logger
  readonly #checks = new WeakMap<TSchema, TypeCheck<TSchema>>()

  constructor(deps: OperationsDeps) {
    this.#arbiter = deps.arbiter
    this.#audit = deps.audit
    this.#logger = deps.logger
  }

  async call<I extends TSchema, O extends TSchema, R = Static<O>>(op: Operation<I, O>, input: unknown, caller: Caller, present?: Present<Static<O>, R>): Promise<R> {
    const decision = newDecision(op.audit, caller.action, sourceOf(input), op.status ?? 200)
    try {
      this.#authenticate(decision, caller.token)
      const valid = this.#validate(op.input, input)
      decision.source = sourceOf(valid) ?? decision.source
      this.#authorize(decision, op.access(valid))
      const running = decision as OperationContext
      const result = await op.run(valid, running)
      if (op.statusOf) running.status = op.statusOf(result)
      const answer = present ? present(result, running) : result as R
      const filing = this.#allowed(decision)
      if (filing) await filing
      return answer
    } catch (err) {
      await this.#refused(decision, err)
      throw err
    }
  }

  /**
   * A call that is no operation in any table — a login, which has no token yet; a device that
   * authenticates with a password; an event stream, which is not one answer — run and filed
   * the way call() runs and files an operation. `run` authenticates and authorizes through
   * authorize() if the call has a token, says who asked in `subject` if it has none, and sets
   * the status it answered with if that is not 200.
   */
  async audited<T>(kind: AccessKind, action: string, source: string | null, run: (decision: Decision) => Promise<T>): Promise<T> {
    const decision = newDecision(kind, action, source, 200)
    try {
      const result = await run(decision)
      const filing = this.#allowed(decision)
      if (filing) await filing
      return result
    } catch (err) {
      await this.#refused(decision, err)
      throw err
    }
  }

  /** Inside audited(): checks the token, then that it allows `access`; the decision names who holds it. */
  authorize(decision: Decision, token: string | undefined, access: Access): Scope {
    const scope = this.#authenticate(decision, token)
    this.#authorize(decision, access)
    return scope
  }

  #authenticate(decision: Decision, token: string | undefined): Scope {
    try {
      decision.scope = this.#arbiter.authenticate(token)
      return decision.scope
    } catch (err) {
      // A revoked or expired token is still genuine: its holder is named in the audit entry.
      if (err instanceof Unauthorized) decision.holder = err.holder
      throw err
    }
  }

  #authorize(decision: Decision, access: Access): void {
    if (access.op === 'read') decision.granularity = access.granularity
    this.#arbiter.authorize(decision.scope!, access)
  }

  /**
   * Changes and admin actions answer only once their entry is on disk. An allowed read's entry is
   * queued before its answer leaves and written with the log's next group commit; not waiting for
   * it keeps reads as fast as the log's write latency allows.
   */
  #allowed(decision: Decision): Promise<void> | undefined {
    if (decision.kind !== 'read') return this.#audit.file(decision)
    this.#audit.queue(decision, this.#auditFailed)
    return undefined
  }

  readonly #auditFailed = (err: unknown): void => {
    this.#logger.error({ err }, 'audit write failed')
  }

  #refused(decision: Decision, err: unknown): Promise<void> {
    decision.status = err instanceof CofferError ? err.status : 500
    decision.reason = err instanceof CofferError ? err.message : 'internal error'
    return this.#audit.file(decision)
  }

  /**
   * Defaults filled in and strings converted (a query string's `limit=10`), then checked against
   * the schema. The input is the caller's own fresh object, so it is filled in place.
   */
  #validate<T extends TSchema>(schema: T, input: unknown): Static<T> {
    let check = this.#checks.get(schema)
    if (!check) {
      check = TypeCompiler.Compile(schema)
      this.#checks.set(schema, check)
    }
    // Most inputs are already right; filling defaults and converting walks the whole schema.
    if (check.Check(input)) return input as Static<T>
    const value = Value.Convert(schema, Value.Default(schema, input ?? {}))
    if (check.Check(value)) return value as Static<T>
    const first = check.Errors(value).First()
    const field = first?.path.replace(/^\//, '').replaceAll('/', '.') || undefined
    throw new InvalidInput(`${field ?? 'input'}: ${first?.message ?? 'does not match the schema'}`, field ? { field } : {})
  }
}

function newDecision(kind: AccessKind, action: string, source: string | null, status: number): Decision {
  return { kind, action, source, records: 0, bytes: 0, status }
}

function sourceOf(input: unknown): string | null {
  const source = (input as { source?: unknown } | null | undefined)?.source
  return typeof source === 'string' ? source : null
}
