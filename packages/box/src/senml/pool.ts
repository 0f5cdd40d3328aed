/**
 * Parsing SenML bodies off the main thread. A pack of a thousand records takes the main thread
 * most of a millisecond to parse and resolve, time it needs for the log, the view and the audit;
 * parsing threads take that work and hand back packed columns, which the main thread turns into
 * records in a small fraction of it. Small bodies are parsed where they arrive: a trip to a
 * thread costs more than they do.
 *
 * The threads are the process's, shared by every box in it (parsing keeps no state). They start
 * on the first large body, never keep the process alive, and end after a while without work. A
 * thread that cannot start or that dies hands its bodies back to be parsed in place.
 */
import os from 'node:os'
import { Worker } from 'node:worker_threads'
import { CofferError, InvalidInput } from '../errors/index.ts'
import { parseSenmlCbor } from './cbor.ts'
import { parseSenmlJson } from './json.ts'
import { unpackRecords, type PackedRecords } from './columns.ts'
import type { SenmlRecord } from './resolve.ts'

export type BodyFormat = 'json' | 'cbor'

export interface ParseRequest {
  id: number
  format: BodyFormat
  body: Uint8Array
  now: number
}

export type ParseReply =
  | { id: number; ok: true; packed: PackedRecords }
  | { id: number; ok: false; refusal: { status: number; slug: string; title: string; detail: string; extras: Record<string, unknown> } }
  | { id: number; ok: false; failure: string }

/** Bodies below this many bytes (about 150 records) are parsed in place. */
export const INLINE_BYTES = 8 * 1024
/** A thread with nothing to do for this long ends; the next large body starts one again. */
const IDLE_MS = 30_000
/** Leaves a core to the main thread; more than four threads would only wait for it. */
const THREADS = Math.max(1, Math.min(4, os.availableParallelism() - 1))

interface Waiter {
  request: ParseRequest
  resolve: (records: SenmlRecord[]) => void
  reject: (err: Error) => void
}

interface Thread {
  worker: Worker
  ready: boolean
  waiting: Map<number, Waiter>
}

const threads: Thread[] = []
let nextId = 0
let idleTimer: NodeJS.Timeout | undefined
/** Bodies parsed so far, in a thread and in place. */
const parsed = { inThreads: 0, inPlace: 0 }
/** When a thread last failed before it was ready: none is started again for a while, and bodies are parsed in place. */
let failedAt = -Infinity

/**
 * Parses a SenML JSON or CBOR body into resolved records, `now` (epoch seconds) anchoring
 * relative times. Rejects with exactly the InvalidInput that parseSenmlJson or parseSenmlCbor
 * would throw for the same body.
 */
export function parseSenml(body: Uint8Array, format: BodyFormat, now: number): Promise<SenmlRecord[]> {
  const request: ParseRequest = { id: nextId++, format, body, now }
  const thread = body.length >= INLINE_BYTES ? pick() : undefined
  if (!thread) return parseInPlace(request)
  return new Promise((resolve, reject) => {
    thread.waiting.set(request.id, { request, resolve, reject })
    if (thread.waiting.size === 1) thread.worker.ref()
    thread.worker.postMessage(request)
  })
}

/** How many parsing threads run now, and how many bodies were parsed in one or in place since the process started. */
export function parsingStats(): { threads: number; inThreads: number; inPlace: number } {
  return { threads: threads.length, ...parsed }
}

function parseInPlace({ format, body, now }: ParseRequest): Promise<SenmlRecord[]> {
  parsed.inPlace++
  try {
    return Promise.resolve(format === 'cbor' ? parseSenmlCbor(body, now) : parseSenmlJson(body, now))
  } catch (err) {
    return Promise.reject(err as Error)
  }
}

/** The thread with the least to do, started if need be; none for a while after one failed to start. */
function pick(): Thread | undefined {
  if (threads.length < THREADS && performance.now() - failedAt > IDLE_MS) threads.push(start())
  idle()
  let best: Thread | undefined
  for (const t of threads) if (!best || t.waiting.size < best.waiting.size) best = t
  return best
}

function start(): Thread {
  const worker = startWorker()
  const thread: Thread = { worker, ready: false, waiting: new Map() }
  worker.unref()
  worker.on('message', (reply: ParseReply | 'ready') => {
    if (reply === 'ready') {
      thread.ready = true
      return
    }
    const waiter = thread.waiting.get(reply.id)
    if (!waiter) return
    thread.waiting.delete(reply.id)
    // A thread with nothing in flight must not keep the process alive.
    if (thread.waiting.size === 0) worker.unref()
    parsed.inThreads++
    if (reply.ok) waiter.resolve(unpackRecords(reply.packed))
    else if ('refusal' in reply) waiter.reject(refusalOf(reply.refusal))
    else waiter.reject(new Error(`SenML parsing thread: ${reply.failure}`))
  })
  const lost = () => {
    if (!thread.ready) failedAt = performance.now()
    const at = threads.indexOf(thread)
    if (at >= 0) threads.splice(at, 1)
    for (const { request, resolve, reject } of thread.waiting.values()) parseInPlace(request).then(resolve, reject)
    thread.waiting.clear()
  }
  worker.on('error', lost)
  worker.on('exit', lost)
  return thread
}

/** The same typed error the thread caught, so the answer and the audit entry say the same as an in-place parse's. */
function refusalOf({ status, slug, title, detail, extras }: Extract<ParseReply, { refusal: unknown }>['refusal']): CofferError {
  if (slug === 'invalid-input') return new InvalidInput(detail, extras as { index?: number; field?: string })
  return new CofferError(status, slug, title, detail, extras)
}

/** Ends the threads once none has had work for IDLE_MS. */
function idle(): void {
  clearTimeout(idleTimer)
  idleTimer = setTimeout(() => {
    if (threads.some((t) => t.waiting.size > 0)) return idle()
    for (const t of threads.splice(0)) void t.worker.terminate()
  }, IDLE_MS)
  idleTimer.unref()
}

/** The thread's built JavaScript, or from source its TypeScript through tsx. */
function startWorker(): Worker {
  const fromSource = new URL(import.meta.url).pathname.endsWith('.ts')
  const script = new URL(fromSource ? './worker.ts' : './worker.js', import.meta.url)
  if (!fromSource) return new Worker(script)
  // A worker thread does not inherit the --import that runs TypeScript: it registers tsx itself.
  const boot = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then(({ register }) => { register(); return import(${JSON.stringify(script.href)}) })`
  return new Worker(boot, { eval: true })
}
