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
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox'
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler'
import { Value } from '@sinclair/typebox/value'
import type { Logger } from 'pino'
import { decisionEntry, type AuditLog, type Decision, type Operation as AuditOperation } from '../audit/index.ts'
import type { Access, Arbiter, Scope } from '../arbiter/index.ts'
import { CofferError, InvalidInput, Unauthorized } from '../errors/index.ts'

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
  audit: AuditOperation
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
  audit: AuditLog
  logger: Logger
}

export class Operations {
  readonly #arbiter: Arbiter
  readonly #audit: AuditLog
  readonly #logger: Logger
  readonly #checks = new WeakMap<TSchema, TypeCheck<TSchema>>()

  constructor(deps: OperationsDeps) {
    this.#arbiter = deps.arbiter
    this.#audit = deps.audit
    this.#logger = deps.logger
  }

  async call<I extends TSchema, O extends TSchema, R = Static<O>>(op: Operation<I, O>, input: unknown, caller: Caller, present?: Present<Static<O>, R>): Promise<R> {
    const ctx: Decision & { scope?: Scope; status: number } = { records: 0, bytes: 0, source: sourceOf(input), status: op.status ?? 200 }
    const record = (status: number, reason?: string) => this.#audit.record(decisionEntry(ctx, op.audit, caller.action, status, reason))
    try {
      try {
        ctx.scope = this.#arbiter.authenticate(caller.token)
      } catch (err) {
        // A revoked or expired token is still genuine: its holder is named in the audit entry.
        if (err instanceof Unauthorized) ctx.holder = err.holder
        throw err
      }
      const valid = this.#validate(op.input, input)
      ctx.source = sourceOf(valid) ?? ctx.source
      const access = op.access(valid)
      if (access.op === 'read') ctx.granularity = access.granularity
      this.#arbiter.authorize(ctx.scope, access)
      const running = ctx as OperationContext
      const result = await op.run(valid, running)
      running.status = op.statusOf?.(result) ?? running.status
      const answer = present ? present(result, running) : result as R
      const entry = record(running.status)
      // Changes and admin actions answer only once their entry is on disk. An allowed read's
      // entry is queued before its answer leaves and committed within the same group commit;
      // not waiting for it keeps reads as fast as the log's write latency allows.
      if (op.audit === 'read') entry.catch((err: unknown) => this.#logger.error({ err }, 'audit write failed'))
      else await entry
      return answer
    } catch (err) {
      const status = err instanceof CofferError ? err.status : 500
      await record(status, err instanceof CofferError ? err.message : 'internal error')
      throw err
    }
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

function sourceOf(input: unknown): string | null {
  const source = (input as { source?: unknown } | null | undefined)?.source
  return typeof source === 'string' ? source : null
}
