/**
 * An app's worker process. It loads QuickJS once and gives every run a fresh runtime and
 * context, so nothing an app leaves behind survives into its next run; the next one is made,
 * with the bootstrap in it, while the worker waits, so a run starts at the app's own code. It
 * holds no tokens and answers no host call itself: each one goes to the parent over IPC.
 */
import { newQuickJSWASMModule, type QuickJSContext, type QuickJSDeferredPromise, type QuickJSHandle, type QuickJSRuntime } from 'quickjs-emscripten'
import { MAX_LOG_LINE_CHARS, type CallError, type CallReply, type Failure, type FromWorker, type LogLevel, type RunRequest, type ToWorker } from './protocol.ts'

/**
 * Runs before the app, in its context. Everything the app can reach is decided here: the
 * `coffer` bridge, a console, and a Date frozen at the run's clock. Host functions are passed
 * in as arguments and kept in this closure, never as globals. JSON and Promise are captured
 * first so an app that replaces them can only confuse itself, not the answer the box reads.
 */
const BOOTSTRAP = String.raw`(function (hostCall, hostLog, maxLineChars) {
  'use strict'
  let nowMs = 0
  const RealDate = Date
  const construct = Reflect.construct
  const apply = Reflect.apply
  const defineProperty = Object.defineProperty
  const freeze = Object.freeze
  const parse = JSON.parse
  const stringify = JSON.stringify
  const toText = String
  const ErrorType = Error
  const PromiseType = Promise
  const then = Promise.prototype.then

  const ClockDate = function Date(...args) {
    if (new.target === undefined) return new RealDate(nowMs).toString()
    return construct(RealDate, args.length === 0 ? [nowMs] : args, new.target)
  }
  ClockDate.prototype = RealDate.prototype
  ClockDate.now = function now() { return nowMs }
  ClockDate.parse = RealDate.parse
  ClockDate.UTC = RealDate.UTC
  // Without this, (new Date()).constructor would hand back the real clock.
  defineProperty(RealDate.prototype, 'constructor', { value: ClockDate, writable: true, configurable: true })
  defineProperty(globalThis, 'Date', { value: ClockDate, writable: true, configurable: true })

  function show(value) {
    try {
      if (typeof value === 'string') return value
      if (value instanceof ErrorType) return toText(value)
      const text = stringify(value)
      return text === undefined ? toText(value) : text
    } catch {
      return '[unprintable]'
    }
  }
  function logger(level) {
    return function (...values) {
      let line = ''
      for (let i = 0; i < values.length && line.length <= maxLineChars; i++) line += (i === 0 ? '' : ' ') + show(values[i])
      hostLog(level, line.length > maxLineChars ? line.slice(0, maxLineChars) + '…' : line)
    }
  }
  defineProperty(globalThis, 'console', {
    value: freeze({ log: logger('log'), info: logger('info'), warn: logger('warn'), error: logger('error') }),
    writable: true, configurable: true,
  })

  const coffer = freeze({
    call(method, argsJson) {
      return new PromiseType((resolve) => resolve(hostCall(toText(method), argsJson === undefined ? 'null' : toText(argsJson))))
    },
  })
  defineProperty(globalThis, 'coffer', { value: coffer, enumerable: true })

  function settle(eventJson) {
    const started = new PromiseType((resolve) => {
      if (typeof main !== 'function') throw new TypeError('the app defines no main(event) function')
      resolve(main(parse(eventJson)))
    })
    return apply(then, started, [(value) => stringify(value)])
  }
  // The context is made before its run, so the run's clock is set when it begins, before the app's code.
  return function begin(runNowMs) {
    nowMs = runNowMs
    return settle
  }
})`

const JOBS_PER_SLICE = 512

class RunFailure extends Error {
  constructor(readonly failure: Failure) {
    super(failure.detail)
  }
}

function send(message: FromWorker, then: () => void = () => undefined): void {
  process.send!(message, then)
}

type QuickJS = Awaited<ReturnType<typeof newQuickJSWASMModule>>

/**
 * A runtime and context with the bootstrap already evaluated and no app code in it yet. Its host
 * functions reach whichever run takes it; until then they refuse. The bootstrap is the box's own
 * code, so making it is not charged to any run.
 */
class Prepared {
  readonly runtime: QuickJSRuntime
  readonly context: QuickJSContext
  /** `begin(nowMs)`, which sets the run's clock and hands back `settle(eventJson)`. */
  readonly begin: QuickJSHandle
  run: AppRun | undefined

  constructor(quickjs: QuickJS) {
    this.runtime = quickjs.newRuntime()
    this.context = this.runtime.newContext()
    const { context } = this
    const hostCall = context.newFunction('call', (method, args) => this.run?.hostCall(method, args) ?? { error: context.newError('no run') })
    const hostLog = context.newFunction('log', (level, line) => this.run?.hostLog(level, line))
    const maxLine = context.newNumber(MAX_LOG_LINE_CHARS)
    try {
      const bootstrap = context.unwrapResult(context.evalCode(BOOTSTRAP, 'coffer-bootstrap.js'))
      try {
        this.begin = context.unwrapResult(context.callFunction(bootstrap, context.undefined, hostCall, hostLog, maxLine))
      } finally {
        bootstrap.dispose()
      }
    } finally {
      for (const handle of [hostCall, hostLog, maxLine]) handle.dispose()
    }
  }

  dispose(): void {
    this.begin.dispose()
    this.context.dispose()
    this.runtime.dispose()
  }
}

class AppRun {
  cpuMs = 0
  private crossings = 0
  private readonly runtime: QuickJSRuntime
  private readonly context: QuickJSContext
  private readonly pending = new Map<number, QuickJSDeferredPromise>()
  private logLines = 0
  private nextCallId = 0
  private sliceStart: number | undefined
  private fatal: Failure | undefined
  private wake: (() => void) | undefined

  constructor(private readonly request: RunRequest, private readonly prepared: Prepared) {
    const { limits } = request
    prepared.run = this
    this.runtime = prepared.runtime
    this.context = prepared.context
    this.runtime.setMemoryLimit(limits.memoryBytes)
    this.runtime.setMaxStackSize(limits.stackBytes)
    // QuickJS asks this every few thousand instructions; the time counted is only time spent inside QuickJS.
    this.runtime.setInterruptHandler(() => {
      if (this.fatal) return true
      if (this.sliceStart !== undefined && this.cpuMs + (performance.now() - this.sliceStart) > limits.cpuMs) {
        this.fatal = this.cpuTimeout()
        return true
      }
      return false
    })
  }

  async execute(): Promise<string | null> {
    const { context } = this
    const now = context.newNumber(this.request.nowMs)
    let settle: QuickJSHandle
    try {
      settle = this.call(this.prepared.begin, now)
    } finally {
      now.dispose()
    }
    let promise: QuickJSHandle
    try {
      this.evaluate(this.request.code, 'app.js').dispose()
      const event = context.newString(this.request.event)
      try {
        promise = this.call(settle, event)
      } finally {
        event.dispose()
      }
    } finally {
      settle.dispose()
    }
    try {
      return await this.settled(promise)
    } finally {
      promise.dispose()
    }
  }

  answer(reply: CallReply): void {
    const deferred = this.pending.get(reply.callId)
    if (!deferred) return
    this.pending.delete(reply.callId)
    if (!reply.ok && reply.fatal) this.fatal ??= reply.fatal
    if (!this.fatal) {
      this.inVm(() => {
        const settlement = reply.ok ? this.context.newString(reply.value) : this.newCallError(reply.error)
        if (reply.ok) deferred.resolve(settlement)
        else deferred.reject(settlement)
        settlement.dispose()
      })
    }
    deferred.dispose()
    this.wake?.()
  }

  dispose(): void {
    for (const deferred of this.pending.values()) deferred.dispose()
    this.pending.clear()
    this.prepared.dispose()
  }

  private async settled(promise: QuickJSHandle): Promise<string | null> {
    for (;;) {
      this.runJobs()
      const state = this.context.getPromiseState(promise)
      if (state.type === 'rejected') throw new RunFailure(this.describeThrown(state.error))
      if (state.type === 'fulfilled') {
        try {
          return this.takeResult(state.value)
        } finally {
          if (!state.notAPromise) state.value.dispose()
        }
      }
      if (this.pending.size === 0) {
        throw new RunFailure({ kind: 'timeout', detail: 'waits on a promise that nothing can settle (no host call is pending), so it would never finish' })
      }
      await new Promise<void>((resolve) => { this.wake = resolve })
      this.wake = undefined
    }
  }

  /** In slices, so a job queue that refills itself still meets the CPU check between slices. */
  private runJobs(): void {
    for (;;) {
      this.throwIfFatal()
      const result = this.inVm(() => this.runtime.executePendingJobs(JOBS_PER_SLICE))
      if (result.error) throw new RunFailure(this.describeThrown(result.error))
      this.throwIfFatal()
      if (result.value < JOBS_PER_SLICE) return
    }
  }

  private takeResult(handle: QuickJSHandle): string | null {
    this.throwIfFatal()
    const type = this.context.typeof(handle)
    if (type === 'undefined') return null
    if (type !== 'string') throw new RunFailure({ kind: 'failed', detail: 'returned a value that is not JSON' })
    const text = this.context.getString(handle)
    const bytes = Buffer.byteLength(text)
    const max = this.request.limits.maxResultBytes
    if (bytes > max) throw new RunFailure({ kind: 'output', limit: 'maxResultBytes', detail: `returned ${bytes} bytes of JSON; a run may return at most ${max}` })
    return text
  }

  private evaluate(code: string, filename: string): QuickJSHandle {
    const result = this.inVm(() => this.context.evalCode(code, filename))
    if (result.error) throw new RunFailure(this.describeThrown(result.error))
    this.throwIfFatal(result.value)
    return result.value
  }

  private call(fn: QuickJSHandle, ...args: QuickJSHandle[]): QuickJSHandle {
    const result = this.inVm(() => this.context.callFunction(fn, this.context.undefined, ...args))
    if (result.error) throw new RunFailure(this.describeThrown(result.error))
    this.throwIfFatal(result.value)
    return result.value
  }

  hostCall(methodHandle: QuickJSHandle, argsHandle: QuickJSHandle): QuickJSHandle | { error: QuickJSHandle } {
    const { limits } = this.request
    if (this.fatal) return { error: this.context.newError('the run is ending') }
    // Each crossing carries at least one call, so this refuses early without reading batches; the box counts every call.
    this.crossings++
    if (this.crossings > limits.maxCalls) {
      this.fatal = { kind: 'calls', limit: 'maxCalls', detail: `made more than ${limits.maxCalls} host calls in one run` }
      return { error: this.context.newError(this.fatal.detail) }
    }
    const method = this.context.getString(methodHandle)
    const args = this.context.getString(argsHandle)
    const bytes = Buffer.byteLength(method) + Buffer.byteLength(args)
    if (bytes > limits.maxCallBytes) {
      this.fatal = { kind: 'output', limit: 'maxCallBytes', detail: `sent ${bytes} bytes in one host call (${method.slice(0, 100)}); a call may carry at most ${limits.maxCallBytes}` }
      return { error: this.context.newError(this.fatal.detail) }
    }
    const callId = ++this.nextCallId
    const deferred = this.context.newPromise()
    this.pending.set(callId, deferred)
    send({ type: 'call', runId: this.request.runId, callId, method, args })
    return deferred.handle
  }

  hostLog(levelHandle: QuickJSHandle, lineHandle: QuickJSHandle): void {
    const max = this.request.limits.maxLogLines
    this.logLines++
    if (this.logLines > max + 1) return
    const level = this.context.getString(levelHandle) as LogLevel
    const line = this.logLines > max ? `log cut off: a run may write at most ${max} lines` : this.context.getString(lineHandle).slice(0, MAX_LOG_LINE_CHARS + 1)
    send({ type: 'log', runId: this.request.runId, level: this.logLines > max ? 'warn' : level, line })
  }

  private newCallError(error: CallError): QuickJSHandle {
    const handle = this.context.newError({ name: error.name, message: error.message })
    if (error.status !== undefined) this.context.newNumber(error.status).consume((status) => this.context.setProp(handle, 'status', status))
    if (error.type !== undefined) this.context.newString(error.type).consume((type) => this.context.setProp(handle, 'type', type))
    return handle
  }

  /** Turns what the app threw into a failure, reading it under the same CPU limit, since its getters are app code. */
  private describeThrown(thrown: QuickJSHandle): Failure {
    let dumped: unknown
    try {
      dumped = this.inVm(() => this.context.dump(thrown))
    } catch {
      dumped = undefined
    } finally {
      thrown.dispose()
    }
    if (this.fatal) return this.fatal
    const text = describe(dumped)
    // QuickJS throws null when it runs out of memory while building the out-of-memory error.
    if (dumped === null || /out of memory/i.test(text)) {
      return { kind: 'memory', limit: 'memoryBytes', detail: `ran out of memory: it may use at most ${this.request.limits.memoryBytes} bytes` }
    }
    if (/stack overflow|call stack size/i.test(text)) {
      return { kind: 'failed', limit: 'stackBytes', detail: `overflowed its stack (${this.request.limits.stackBytes} bytes): ${text}` }
    }
    return { kind: 'failed', detail: `threw ${text}` }
  }

  private inVm<T>(fn: () => T): T {
    if (this.sliceStart !== undefined) return fn()
    const start = performance.now()
    this.sliceStart = start
    try {
      return fn()
    } finally {
      this.sliceStart = undefined
      this.cpuMs += performance.now() - start
      if (!this.fatal && this.cpuMs > this.request.limits.cpuMs) this.fatal = this.cpuTimeout()
    }
  }

  private throwIfFatal(dispose?: QuickJSHandle): void {
    if (!this.fatal) return
    dispose?.dispose()
    throw new RunFailure(this.fatal)
  }

  private cpuTimeout(): Failure {
    return { kind: 'timeout', limit: 'cpuMs', detail: `used more than ${this.request.limits.cpuMs} ms of CPU time in one run` }
  }
}

function describe(dumped: unknown): string {
  if (dumped && typeof dumped === 'object' && 'message' in dumped) {
    const { name, message } = dumped as { name?: unknown; message?: unknown }
    return `${String(name ?? 'Error')}: ${String(message)}`.slice(0, 500)
  }
  if (dumped === undefined) return 'a value that could not be read'
  try {
    return `${JSON.stringify(dumped) ?? String(dumped)}`.slice(0, 500)
  } catch {
    return 'a value that could not be read'
  }
}

function isHostStackOverflow(error: unknown): boolean {
  return error instanceof RangeError && /call stack size/i.test(error.message)
}

const quickjs = await newQuickJSWASMModule()
let current: AppRun | undefined
let next: Prepared | undefined = new Prepared(quickjs)

/** The next run's runtime, made after the last run's answer has gone out. */
function prepareNext(): void {
  setImmediate(() => {
    try {
      next ??= new Prepared(quickjs)
    } catch {
      // The next run makes its own, where a failure is that run's to report.
    }
  })
}

async function serve(request: RunRequest): Promise<void> {
  const base = { type: 'failed' as const, runId: request.runId }
  if (current) {
    send({ ...base, failure: { kind: 'failed', detail: 'arrived while another run was in progress' }, cpuMs: 0, exiting: false })
    return
  }
  let run: AppRun | undefined
  let outcome: FromWorker
  // A trap thrown out of WebAssembly can leave QuickJS half-way through an update, so this process is not reused after one.
  let engineBroken = false
  try {
    const prepared = next ?? new Prepared(quickjs)
    next = undefined
    run = new AppRun(request, prepared)
    current = run
    const value = await run.execute()
    outcome = { type: 'done', runId: request.runId, value, cpuMs: run.cpuMs, exiting: false }
  } catch (error) {
    const cpuMs = run?.cpuMs ?? 0
    if (error instanceof RunFailure) {
      outcome = { ...base, failure: error.failure, cpuMs, exiting: false }
    } else {
      engineBroken = true
      const failure: Failure = isHostStackOverflow(error)
        ? { kind: 'failed', limit: 'stackBytes', detail: `overflowed its stack (${request.limits.stackBytes} bytes)` }
        : { kind: 'failed', detail: `stopped the engine: ${error instanceof Error ? error.message : String(error)}` }
      outcome = { ...base, failure, cpuMs, exiting: true }
    }
  }
  current = undefined
  if (!engineBroken) {
    try {
      run?.dispose()
    } catch {
      engineBroken = true
      outcome.exiting = true
    }
  }
  if (engineBroken) send(outcome, () => process.exit(1))
  else {
    send(outcome)
    prepareNext()
  }
}

process.on('message', (message: ToWorker) => {
  if (message.type === 'run') void serve(message)
  else if (message.type === 'reply') current?.answer(message)
})
// The box went away: nothing is left to answer host calls.
process.on('disconnect', () => process.exit(0))
send({ type: 'ready' })
