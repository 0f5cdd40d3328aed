/**
 * The box's side of the sandbox: one worker process per app, started on the app's first run and
 * reused after. The box never runs app code; it answers host calls, counts wall time and kills
 * a worker that overruns, so a stuck or hungry app costs the box one process, not its event loop.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import {
  AppCrashed, AppFailed, AppMemoryExceeded, AppOutputTooLarge, AppStopped, AppTimeout, AppTooManyCalls,
  CofferError, InvalidInput,
} from '../errors/index.ts'
import type { CallError, CallReply, Failure, FromWorker, LogLevel, RunRequest } from './protocol.ts'

export interface SandboxLimits {
  /** QuickJS heap per run. */
  memoryBytes: number
  /** QuickJS stack per run; deeper recursion is an app error. */
  stackBytes: number
  /** Time spent executing inside QuickJS per run; waiting on host calls does not count. */
  cpuMs: number
  /** Wall-clock time per run from dispatch to answer, host calls included; a cold start is not. */
  wallMs: number
  /** The result's JSON text, in UTF-8 bytes. */
  maxResultBytes: number
  /** One crossing's method and arguments, and separately its answer, in UTF-8 bytes: a batch is one crossing. */
  maxCallBytes: number
  /** Host calls per run, each call in a batch counted: a batch that would go past it is refused before any of it runs. */
  maxCalls: number
  /** Host calls of one app the box works on at once; the others wait their turn. */
  maxCallsInFlight: number
  /** UTF-8 bytes of every call's arguments and answer in one run, together: the work one run may make the box do. */
  maxRunBytes: number
  /** Console lines per run; later lines are dropped after one notice. */
  maxLogLines: number
}

export const DEFAULT_LIMITS: Readonly<SandboxLimits> = Object.freeze({
  memoryBytes: 64 * 2 ** 20,
  stackBytes: 512 * 2 ** 10,
  cpuMs: 2000,
  wallMs: 10_000,
  maxResultBytes: 2 ** 20,
  maxCallBytes: 4 * 2 ** 20,
  maxCalls: 1000,
  maxCallsInFlight: 8,
  maxRunBytes: 16 * 2 ** 20,
  maxLogLines: 200,
})

/**
 * The host side of the SDK: the app's calls arrive here one at a time (a batch is taken apart
 * first), their arguments parsed, and are answered with JSON text, which crosses to the app as it
 * is. Throwing a CofferError rejects the app's call with an Error carrying its name, message,
 * `status` and `type`; any other throw reaches the app only as "the box could not answer <method>".
 */
export type HostCall = (method: string, args: unknown) => Promise<string>

export type { LogLevel }

export interface RunInput {
  appId: string
  /** A classic script (not a module) that declares a global `main(event)`, sync or async. */
  code: string
  /** Handed to main as a JSON copy. */
  event: unknown
  /** The run's clock in seconds: what Date.now() and new Date() say inside the app. */
  now: number
  host: HostCall
  log?: (line: string, level: LogLevel) => void
  /** Overrides the sandbox's limits for this run (memory, stack and CPU apply per run; the worker's V8 stack is sized at its start). */
  limits?: Partial<SandboxLimits>
}

export interface RunResult {
  /** A JSON copy of what main returned; undefined when it returned undefined. */
  value: unknown
  cpuMs: number
  wallMs: number
  /** Host calls answered or refused, each call in a batch counted. */
  calls: number
  /** True when this run had to start the app's worker process. */
  coldStart: boolean
}

/** How a worker process is started: the built worker as plain JavaScript, or its TypeScript source through tsx's loader. */
interface WorkerEntry {
  script: string
  execArgv: string[]
}

/**
 * The worker beside this file: built JavaScript when the box runs from dist/; the TypeScript source
 * through tsx's loader when the box's sources run through it (the tests). Node starts the built
 * worker in about a quarter of the time.
 */
function workerEntry(): WorkerEntry {
  const fromSource = new URL(import.meta.url).pathname.endsWith('.ts')
  const script = fileURLToPath(new URL(fromSource ? './worker.ts' : './worker.js', import.meta.url))
  return { script, execArgv: fromSource ? ['--import', import.meta.resolve('tsx')] : [] }
}

/** A worker that has not loaded QuickJS by then is treated as crashed. */
const STARTUP_MS = 20_000
/** QuickJS's own stack check measures only WebAssembly's shadow stack; V8's native stack under it grows up to ~8× faster. */
const V8_STACK_PER_QUICKJS_STACK = 8
/** Stays under the usual 8 MiB main-thread stack, where a larger --stack-size would crash the worker instead of throwing. */
const MAX_V8_STACK_KB = 6144

/** The method whose arguments are a list of calls, `[{ method, args }, …]`, answered as `[{ ok, value } | { ok, error }, …]`. */
const BATCH = 'batch'

type StopReason = 'timeout' | 'stop' | 'close'

interface ActiveRun {
  runId: number
  input: RunInput
  limits: SandboxLimits
  /** The app's calls in flight, shared by all its runs. */
  gate: CallGate
  coldStart: boolean
  started: number
  logLines: number
  /** Calls and bytes charged so far: the box counts them, since it is the box that does the work. */
  calls: number
  bytes: number
  /** The budget this run broke: its waiting calls never start. */
  broken: Failure | undefined
  /** Answered, failed or killed: its waiting calls never start. */
  ended: boolean
  timer: NodeJS.Timeout
  resolve(result: RunResult): void
  reject(error: Error): void
}

/** A call refused because its run broke a limit: the reply carries the failure, and the run ends with it. */
class LimitBroken extends Error {
  constructor(readonly failure: Failure) {
    super(failure.detail)
  }
}

/**
 * How many of one app's host calls the box works on at once, across its runs. The others wait in
 * order and start one per turn of the event loop: most calls are synchronous SQLite work, so
 * starting several together would hold the loop for all of them, and a flood of calls would
 * keep the HTTP API and other apps waiting. Calls that wait on I/O still overlap, up to `max`.
 */
class CallGate {
  private busy = 0
  private readonly waiting: { max: number; start: () => void }[] = []
  private pumping = false

  run<T>(max: number, fn: () => Promise<T>): Promise<T> {
    if (this.busy < max && this.waiting.length === 0) {
      this.busy++
      return this.hold(fn)
    }
    return new Promise<void>((start) => { this.waiting.push({ max, start }); this.pump() }).then(() => this.hold(fn))
  }

  /** Runs fn in a slot already taken, and frees it when fn settles; no async wrapper, since every host call passes here. */
  private hold<T>(fn: () => Promise<T>): Promise<T> {
    let working: Promise<T>
    try {
      working = Promise.resolve(fn())
    } catch (error) {
      this.release()
      return Promise.reject(error as Error)
    }
    working.then(this.release, this.release)
    return working
  }

  private readonly release = (): void => {
    this.busy--
    this.pump()
  }

  private pump(): void {
    if (this.pumping || this.waiting.length === 0) return
    this.pumping = true
    setImmediate(() => {
      this.pumping = false
      const next = this.waiting[0]
      if (!next || this.busy >= next.max) return
      this.waiting.shift()
      this.busy++
      next.start()
      this.pump()
    })
  }
}

let lastRunId = 0

/** One app's worker process and the run it is serving, if any. */
class AppWorker {
  readonly ready: Promise<void>
  /** Set once the process is gone, or is going: no new run may be sent to it. */
  retired = false
  readonly exited: Promise<void>
  private readonly child: ChildProcess
  private current: ActiveRun | undefined
  private stopReason: StopReason | undefined
  private failStartup: ((error: Error) => void) | undefined

  constructor(private readonly appId: string, limits: SandboxLimits, entry: WorkerEntry) {
    const v8StackKb = Math.min(MAX_V8_STACK_KB, Math.ceil((limits.stackBytes * V8_STACK_PER_QUICKJS_STACK) / 1024) + 256)
    // Node 20's permission model is not used: it is experimental there, and tsx's loader (the
    // fallback entry) needs worker threads and child processes. The app's boundary is QuickJS's.
    this.child = fork(entry.script, [], {
      execArgv: [...entry.execArgv, `--stack-size=${v8StackKb}`],
      // An empty environment: no token, key or passphrase of the box's can reach the worker through it.
      env: {},
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      serialization: 'json',
    })
    this.ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new AppCrashed(`The process for app '${appId}' did not start within ${STARTUP_MS} ms`, { app: appId }))
        this.kill()
      }, STARTUP_MS)
      this.failStartup = (error) => { clearTimeout(timer); reject(error) }
      this.child.once('message', (message: FromWorker) => {
        clearTimeout(timer)
        if (message.type === 'ready') resolve()
      })
    })
    this.ready.catch(() => undefined)
    this.exited = new Promise<void>((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.retired = true
        const error = this.exitError(code, signal)
        this.failStartup?.(error)
        this.settle((run) => run.reject(error))
        resolve()
      })
    })
    // Sending to a process that just died emits 'error'; its exit is handled above.
    this.child.on('error', () => undefined)
    this.child.on('message', (message: FromWorker) => this.receive(message))
  }

  get pid(): number | undefined {
    return this.child.pid
  }

  run(input: RunInput, limits: SandboxLimits, gate: CallGate, coldStart: boolean): Promise<RunResult> {
    return new Promise<RunResult>((resolve, reject) => {
      const runId = ++lastRunId
      const timer = setTimeout(() => this.kill('timeout'), limits.wallMs)
      this.current = {
        runId, input, limits, gate, coldStart, started: performance.now(), logLines: 0,
        calls: 0, bytes: 0, broken: undefined, ended: false, timer, resolve, reject,
      }
      const request: RunRequest = {
        type: 'run', runId, code: input.code, event: JSON.stringify(input.event) ?? 'null', nowMs: input.now * 1000,
        limits: {
          memoryBytes: limits.memoryBytes, stackBytes: limits.stackBytes, cpuMs: limits.cpuMs, maxResultBytes: limits.maxResultBytes,
          maxCallBytes: limits.maxCallBytes, maxCalls: limits.maxCalls, maxLogLines: limits.maxLogLines,
        },
      }
      this.child.send(request)
    })
  }

  /** SIGKILL: a worker stuck in a native loop would never read a polite request. */
  kill(reason?: StopReason): void {
    this.stopReason ??= reason
    this.retired = true
    this.child.kill('SIGKILL')
  }

  private receive(message: FromWorker): void {
    const run = this.current
    if (message.type === 'ready' || !run || message.runId !== run.runId) return
    if (message.type === 'call') void this.answer(run, message.callId, message.method, message.args)
    else if (message.type === 'log') this.log(run, message.line, message.level)
    else {
      if (message.exiting) this.retired = true
      const wallMs = performance.now() - run.started
      if (message.type === 'done') {
        const value = message.value === null ? undefined : JSON.parse(message.value) as unknown
        this.settle((r) => r.resolve({ value, cpuMs: message.cpuMs, wallMs, calls: r.calls, coldStart: r.coldStart }))
      } else {
        this.settle((r) => r.reject(this.failureError(message.failure)))
      }
    }
  }

  private async answer(run: ActiveRun, callId: number, method: string, args: string): Promise<void> {
    const { runId } = run
    let reply: CallReply
    try {
      reply = { type: 'reply', runId, callId, ok: true, value: await this.crossing(run, method, args) }
    } catch (error) {
      reply = error instanceof LimitBroken
        ? { type: 'reply', runId, callId, ok: false, error: { name: 'Error', message: error.failure.detail }, fatal: error.failure }
        : { type: 'reply', runId, callId, ok: false, error: callError(error, method) }
    }
    if (this.current === run && !this.retired) this.child.send(reply)
  }

  /** One crossing from the app: a call, or a batch of them. Every call is charged to the run before the box does any of its work. */
  private async crossing(run: ActiveRun, method: string, args: string): Promise<string> {
    const sent = Buffer.byteLength(method) + Buffer.byteLength(args)
    let parsed: unknown
    try {
      parsed = JSON.parse(args)
    } catch {
      this.charge(run, 1, sent)
      throw new InvalidInput(`the arguments of ${method} are not JSON text`)
    }
    if (method !== BATCH) {
      this.charge(run, 1, sent)
      return await this.call(run, method, parsed)
    }
    if (!Array.isArray(parsed)) {
      this.charge(run, 1, sent)
      throw new InvalidInput('a batch is a list of calls: [{"method": …, "args": …}, …]')
    }
    this.charge(run, Math.max(1, parsed.length), sent)
    const answers = await Promise.all(parsed.map((entry: unknown) => this.batchEntry(run, entry)))
    const text = `[${answers.join(',')}]`
    const bytes = Buffer.byteLength(text)
    if (bytes > run.limits.maxCallBytes) {
      throw this.breakLimit(run, { kind: 'output', limit: 'maxCallBytes', detail: `asked for ${bytes} bytes in one batch's answer; a crossing may carry at most ${run.limits.maxCallBytes}` })
    }
    return text
  }

  /** A call in a batch is answered in place, so one refusal does not fail the others; only a broken limit ends the batch. */
  private async batchEntry(run: ActiveRun, entry: unknown): Promise<string> {
    const { method, args } = (typeof entry === 'object' && entry !== null ? entry : {}) as { method?: unknown; args?: unknown }
    try {
      if (typeof method !== 'string') throw new InvalidInput('each call in a batch names its method')
      if (method === BATCH) throw new InvalidInput('batches do not nest')
      return `{"ok":true,"value":${await this.call(run, method, args ?? null)}}`
    } catch (error) {
      if (error instanceof LimitBroken) throw error
      return JSON.stringify({ ok: false, error: callProblem(error, String(method)) })
    }
  }

  /** One call, already charged, through the app's gate; its answer is charged when it comes. */
  private async call(run: ActiveRun, method: string, args: unknown): Promise<string> {
    const text = await run.gate.run(run.limits.maxCallsInFlight, () => {
      if (run.broken) throw new LimitBroken(run.broken)
      if (run.ended) throw new AppStopped(`App '${this.appId}' has finished this run`, { app: this.appId })
      return run.input.host(method, args)
    })
    const bytes = Buffer.byteLength(text)
    if (bytes > run.limits.maxCallBytes) {
      throw this.breakLimit(run, { kind: 'output', limit: 'maxCallBytes', detail: `asked ${method} for ${bytes} bytes in one answer; a call may carry at most ${run.limits.maxCallBytes}` })
    }
    this.charge(run, 0, bytes)
    return text
  }

  /** Counts calls and bytes against the run's budgets; past one, the run ends with that limit. */
  private charge(run: ActiveRun, calls: number, bytes: number): void {
    if (run.broken) throw new LimitBroken(run.broken)
    const { maxCalls, maxRunBytes } = run.limits
    if (run.calls + calls > maxCalls) {
      const detail = calls === 1
        ? `made more than ${maxCalls} host calls in one run`
        : `sent a batch of ${calls} host calls with ${maxCalls - run.calls} of the run's ${maxCalls} left`
      throw this.breakLimit(run, { kind: 'calls', limit: 'maxCalls', detail })
    }
    if (run.bytes + bytes > maxRunBytes) {
      throw this.breakLimit(run, { kind: 'output', limit: 'maxRunBytes', detail: `moved more than ${maxRunBytes} bytes through host calls in one run` })
    }
    run.calls += calls
    run.bytes += bytes
  }

  private breakLimit(run: ActiveRun, failure: Failure): LimitBroken {
    run.broken ??= failure
    return new LimitBroken(run.broken)
  }

  private log(run: ActiveRun, line: string, level: LogLevel): void {
    // The worker bounds lines too; this keeps the bound if it misbehaves.
    if (++run.logLines > run.limits.maxLogLines + 1 || !run.input.log) return
    try {
      run.input.log(line, level)
    } catch {
      // A failing log sink must not fail the app's run.
    }
  }

  private settle(fn: (run: ActiveRun) => void): void {
    const run = this.current
    if (!run) return
    this.current = undefined
    run.ended = true
    clearTimeout(run.timer)
    fn(run)
  }

  private exitError(code: number | null, signal: NodeJS.Signals | null): CofferError {
    const app = this.appId
    switch (this.stopReason) {
      case 'timeout': {
        const wallMs = this.current?.limits.wallMs
        return new AppTimeout(`App '${app}' ran longer than its ${wallMs} ms of wall-clock time and was stopped`, { app, limit: 'wallMs' })
      }
      case 'stop': return new AppStopped(`App '${app}' was stopped while this run was pending`, { app })
      case 'close': return new AppStopped(`The sandbox closed while app '${app}' was running`, { app })
      default: return new AppCrashed(`The process running app '${app}' exited (${signal ?? `code ${code}`}) during the run`, { app })
    }
  }

  private failureError(failure: Failure): CofferError {
    const where = { app: this.appId, ...(failure.limit ? { limit: failure.limit } : {}) }
    const detail = `App '${this.appId}' ${failure.detail}`
    switch (failure.kind) {
      case 'timeout': return new AppTimeout(detail, where)
      case 'memory': return new AppMemoryExceeded(detail, where)
      case 'output': return new AppOutputTooLarge(detail, where)
      case 'calls': return new AppTooManyCalls(detail, where)
      default: return new AppFailed(detail, where)
    }
  }
}

function callError(error: unknown, method: string): CallError {
  if (error instanceof CofferError) return { name: error.name, message: error.message, status: error.status, type: error.toProblem().type }
  return { name: 'Error', message: `the box could not answer ${method}` }
}

/** A refused call in a batch's answer: the box's problem+json, or a bare 500 that says nothing of the box's insides. */
function callProblem(error: unknown, method: string): object {
  if (error instanceof CofferError) return error.toProblem()
  return { status: 500, detail: `the box could not answer ${method}` }
}

interface AppLane {
  worker: AppWorker | undefined
  gate: CallGate
  /** The app's runs go one at a time, so a wall-time kill stops only the run that overran. */
  queue: Promise<unknown>
  /** Bumped by stop(): runs queued before it must not start. */
  epoch: number
  /** Runs queued or running; the worker is reaped once this has stayed 0 for idleMs. */
  active: number
  idle: NodeJS.Timeout | undefined
}

/** An app's worker holds tens of MiB: one that has not run for this long is stopped, and starts cold next time. */
export const DEFAULT_IDLE_MS = 10 * 60_000

export class Sandbox {
  readonly limits: Readonly<SandboxLimits>
  private readonly lanes = new Map<string, AppLane>()
  private state: 'new' | 'open' | 'closed' = 'new'
  private entry: WorkerEntry | undefined
  private readonly idleMs: number

  constructor(opts: { limits?: Partial<SandboxLimits>; idleMs?: number } = {}) {
    this.limits = Object.freeze(checkLimits({ ...DEFAULT_LIMITS, ...opts.limits }))
    this.idleMs = opts.idleMs ?? DEFAULT_IDLE_MS
  }

  async open(): Promise<void> {
    if (this.state === 'closed') throw new Error('a closed sandbox cannot be opened again')
    this.entry = workerEntry()
    this.state = 'open'
  }

  /** Stops every app's worker; pending runs reject with AppStopped. */
  async close(): Promise<void> {
    this.state = 'closed'
    const exits = [...this.lanes.values()].map((lane) => {
      clearTimeout(lane.idle)
      lane.epoch++
      lane.worker?.kill('close')
      return lane.worker?.exited
    })
    await Promise.all(exits)
  }

  run(input: RunInput): Promise<RunResult> {
    if (this.state !== 'open') return Promise.reject(new Error(`the sandbox is ${this.state === 'new' ? 'not open yet' : 'closed'}`))
    if (typeof input.code !== 'string') return Promise.reject(new InvalidInput('the app code must be a string', { field: 'code' }))
    if (!Number.isFinite(input.now)) return Promise.reject(new InvalidInput('now must be a finite number of seconds', { field: 'now' }))
    let limits: SandboxLimits
    try {
      limits = checkLimits({ ...this.limits, ...input.limits })
    } catch (error) {
      return Promise.reject(error)
    }
    const lane = this.lane(input.appId)
    const epoch = lane.epoch
    clearTimeout(lane.idle)
    lane.active++
    const result = lane.queue.then(() => this.runNow(lane, epoch, input, limits))
    lane.queue = result.catch(() => undefined).then(() => this.settled(lane))
    return result
  }

  private settled(lane: AppLane): void {
    if (--lane.active > 0 || !lane.worker || this.state === 'closed') return
    lane.idle = setTimeout(() => {
      const worker = lane.worker
      if (lane.active > 0 || !worker) return
      lane.worker = undefined
      worker.kill('stop')
    }, this.idleMs)
    lane.idle.unref()
  }

  /** Kills the app's worker now (on revocation): its running and queued runs reject with AppStopped. */
  async stop(appId: string): Promise<void> {
    const lane = this.lanes.get(appId)
    if (!lane) return
    lane.epoch++
    const worker = lane.worker
    lane.worker = undefined
    if (!worker) return
    worker.kill('stop')
    await worker.exited
  }

  /** The process id of the app's worker, if one is running: for operators, and for tests that kill it. */
  workerPid(appId: string): number | undefined {
    const worker = this.lanes.get(appId)?.worker
    return worker && !worker.retired ? worker.pid : undefined
  }

  private lane(appId: string): AppLane {
    let lane = this.lanes.get(appId)
    if (!lane) {
      lane = { worker: undefined, gate: new CallGate(), queue: Promise.resolve(), epoch: 0, active: 0, idle: undefined }
      this.lanes.set(appId, lane)
    }
    return lane
  }

  private async runNow(lane: AppLane, epoch: number, input: RunInput, limits: SandboxLimits): Promise<RunResult> {
    const app = input.appId
    if (this.state === 'closed') throw new AppStopped(`The sandbox closed before app '${app}' could run`, { app })
    if (lane.epoch !== epoch) throw new AppStopped(`App '${app}' was stopped before this run started`, { app })
    let worker = lane.worker
    let coldStart = false
    if (!worker || worker.retired) {
      worker = new AppWorker(app, limits, this.entry!)
      lane.worker = worker
      coldStart = true
    }
    await worker.ready
    if (lane.epoch !== epoch) throw new AppStopped(`App '${app}' was stopped before this run started`, { app })
    if (worker.retired) throw new AppCrashed(`The process for app '${app}' exited before this run started`, { app })
    return worker.run(input, limits, lane.gate, coldStart)
  }
}

function checkLimits(limits: SandboxLimits): SandboxLimits {
  for (const [name, value] of Object.entries(limits)) {
    if (!(name in DEFAULT_LIMITS)) throw new InvalidInput(`unknown sandbox limit ${name}`, { field: name })
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) throw new InvalidInput(`the sandbox limit ${name} must be a positive whole number`, { field: name })
  }
  return limits
}
