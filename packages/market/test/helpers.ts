/** Shared test setup: real markets on real sockets, over PGlite or a throwaway PostgreSQL database. */
import crypto from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { createMarket, type Market } from '../src/index.ts'
import { createTempDatabase } from './postgres.ts'

export const BIN = fileURLToPath(new URL('../bin/coffer-market.js', import.meta.url))

export type Storage = 'pglite' | 'postgres'

export function tempDir(prefix = 'coffer-market-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix))
}

export interface Answer {
  status: number
  headers: Headers
  body: any
}

export interface Running {
  market: Market
  url: string
  storage: Storage
  /** The PostgreSQL URL, or the PGlite data directory. */
  where: string
  api(method: string, route: string, opts?: { body?: unknown; raw?: string; type?: string; key?: string; headers?: Record<string, string> }): Promise<Answer>
  close(): Promise<void>
}

/** A market on a free port. `where` reopens an existing database (a PGlite directory or a PostgreSQL URL) instead of making one. */
export async function startMarket(storage: Storage, where?: string): Promise<Running> {
  let drop = async () => undefined as void
  if (!where) {
    if (storage === 'postgres') {
      const temp = await createTempDatabase()
      where = temp.url
      drop = temp.drop
    } else {
      const dir = tempDir()
      where = path.join(dir, 'data')
      drop = async () => fs.rmSync(dir, { recursive: true, force: true })
    }
  }
  const market = createMarket({ ...(storage === 'postgres' ? { database: where } : { dataDir: where }), port: 0, logLevel: 'silent', feedPollMs: 200, operatorToken: OPERATOR_TOKEN })
  await market.open()
  const url = await market.listen()
  return {
    market, url, storage, where: where!,
    api: (method, route, opts) => call(url, method, route, opts),
    close: async () => {
      await market.close()
      await drop()
    },
  }
}

export async function call(url: string, method: string, route: string, opts: { body?: unknown; raw?: string; type?: string; key?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...opts.headers }
  if (opts.key) headers.authorization = `Bearer ${opts.key}`
  let body: string | undefined
  if (opts.raw !== undefined) {
    body = opts.raw
    headers['content-type'] = opts.type ?? 'application/json'
  } else if (opts.body !== undefined) {
    body = JSON.stringify(opts.body)
    headers['content-type'] = 'application/json'
  }
  const res = await fetch(url + route, { method, headers, body })
  const text = await res.text()
  const type = res.headers.get('content-type') ?? ''
  return { status: res.status, headers: res.headers, body: /json/.test(type) && text ? JSON.parse(text) : text }
}

/** A spec that checks: the mean age of people in Aachen, with a deadline a month away. */
export function spec(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    question: 'SELECT AVG(Identity.age) WHERE Identity.city = aachen',
    purpose: 'How old the people of Aachen are, for planning school places.',
    price: { amount: 100, currency: 'sat' },
    deadline: new Date(Date.now() + 30 * 86_400_000).toISOString(),
    participants: { min: 10, max: 1000 },
    bounds: { 'Identity.age': { lo: 0, hi: 120 } },
    answer: 'statistics',
    retention: '90d',
    ...overrides,
  }
}

/** The NATS server the tests announce on (one runs on every machine the tests run on). */
export const NATS_URL = process.env.COFFER_TEST_NATS ?? 'nats://127.0.0.1:4222'

/** The operator's token every test market is started with. */
export const OPERATOR_TOKEN = 'the operator of this test market'

/** Registers a processor and deposits `deposit` satoshis for it (enough for many of spec()'s queries); resolves to its key. */
export async function register(running: { api: Running['api'] }, name = 'RWTH Aachen', deposit = 10_000_000): Promise<string> {
  const res = await running.api('POST', '/api/v1/processors', { body: { name, contact: 'research@example.org' } })
  if (res.status !== 201) throw new Error(`register: ${res.status} ${JSON.stringify(res.body)}`)
  if (deposit > 0) await fund(running, res.body.processor.id, deposit)
  return res.body.key
}

/** Records a deposit as the operator does once the processor's money has arrived. */
export async function fund(running: { api: Running['api'] }, processorId: string, amount: number, reference: string = crypto.randomUUID()): Promise<Answer> {
  const res = await running.api('POST', '/api/v1/operator/deposits', { key: OPERATOR_TOKEN, body: { processorId, amount, reference } })
  if (res.status !== 201 && res.status !== 200) throw new Error(`deposit: ${res.status} ${JSON.stringify(res.body)}`)
  return res
}

export interface EventStream {
  /** Resolves with the next `count` events (beyond those already taken). */
  take(count: number): Promise<{ id: string; event: string; data: any }[]>
  close(): void
}

/** Reads a server-sent event stream as a box would. */
export async function openStream(url: string, headers: Record<string, string> = {}): Promise<EventStream> {
  const controller = new AbortController()
  const res = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: controller.signal })
  if (res.status !== 200) throw new Error(`stream: ${res.status}`)
  const events: { id: string; event: string; data: any }[] = []
  let waiting: (() => void) | undefined
  let buffer = ''
  void (async () => {
    const decoder = new TextDecoder()
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true })
        let end: number
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          const fields: Record<string, string> = {}
          for (const line of block.split('\n')) {
            if (line.startsWith(':') || !line.includes(':')) continue
            const at = line.indexOf(':')
            fields[line.slice(0, at)] = line.slice(at + 1).replace(/^ /, '')
          }
          if (fields.data !== undefined) events.push({ id: fields.id ?? '', event: fields.event ?? 'message', data: JSON.parse(fields.data) })
          waiting?.()
        }
      }
    } catch {
      // Aborted by close().
    }
  })()
  let taken = 0
  return {
    async take(count) {
      while (events.length < taken + count) await new Promise<void>((resolve) => (waiting = resolve))
      const out = events.slice(taken, taken + count)
      taken += count
      return out
    },
    close: () => controller.abort(),
  }
}

/** Runs the CLI as a user would, in its own process. */
export function cli(args: string[], env: Record<string, string> = {}, input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, COFFER_MARKET_URL: '', COFFER_MARKET_KEY: '', ...env }, stdio: ['pipe', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    child.stdin.end(input ?? '')
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }))
  })
}

/** Starts `coffer-market serve` in a child process and resolves once it listens. */
export function startProcess(args: string[]): Promise<{ child: ChildProcess; url: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout!.on('data', (d) => {
      out += d
      const m = /listening on (http:\/\/\S+)/.exec(out)
      if (m) resolve({ child, url: m[1]! })
    })
    child.stderr!.on('data', (d) => (err += d))
    child.on('exit', (code) => reject(new Error(`market exited with ${code}: ${err}`)))
  })
}

/** Sends SIGTERM and resolves with the exit code. */
export function stopProcess(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve(child.exitCode)
    child.once('exit', (code) => resolve(code))
    child.kill('SIGTERM')
  })
}
