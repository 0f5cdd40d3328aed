/**
 * Messages between the box and an app's worker process, over the fork IPC channel (JSON).
 * App data crosses only as JSON text, so nothing the app builds can reach the box as a live object.
 */

/** The limits a worker enforces itself; wall time is the parent's job, since a worker stuck in native code cannot. */
export interface WorkerLimits {
  memoryBytes: number
  stackBytes: number
  cpuMs: number
  maxResultBytes: number
  maxCallBytes: number
  /** The worker refuses crossings beyond this: each carries at least one call. The box counts the calls. */
  maxCalls: number
  maxLogLines: number
}

/** Console lines longer than this are cut, in the app's context before they cross. */
export const MAX_LOG_LINE_CHARS = 2000

export interface RunRequest {
  type: 'run'
  runId: number
  code: string
  /** The event as JSON text. */
  event: string
  /** The run's clock, in milliseconds since the epoch. */
  nowMs: number
  limits: WorkerLimits
}

/** A host-call failure as the app sees it: an Error with this name, message and, for box errors, status and type. */
export interface CallError {
  name: string
  message: string
  status?: number
  type?: string
}

export type CallReply =
  | { type: 'reply'; runId: number; callId: number; ok: true; value: string }
  /** `fatal`: the answer broke a limit (too large), so the run ends with this failure instead. */
  | { type: 'reply'; runId: number; callId: number; ok: false; error: CallError; fatal?: Failure }

export type ToWorker = RunRequest | CallReply

export type FailureKind = 'failed' | 'timeout' | 'memory' | 'output' | 'calls'

export interface Failure {
  kind: FailureKind
  /** Which limit, when a limit was hit; the per-run byte budget is the box's, not the worker's. */
  limit?: keyof WorkerLimits | 'maxRunBytes'
  detail: string
}

export type LogLevel = 'log' | 'info' | 'warn' | 'error'

export type FromWorker =
  | { type: 'ready' }
  | { type: 'call'; runId: number; callId: number; method: string; args: string }
  | { type: 'log'; runId: number; level: LogLevel; line: string }
  /**
   * `value` is the result as JSON text, or null when main returned undefined. `exiting`: the
   * worker's engine may be damaged (a trap out of WebAssembly), so it exits after this answer.
   */
  | { type: 'done'; runId: number; value: string | null; cpuMs: number; exiting: boolean }
  | { type: 'failed'; runId: number; failure: Failure; cpuMs: number; exiting: boolean }
