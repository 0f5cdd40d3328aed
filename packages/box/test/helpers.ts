/** Shared test setup: real homes in temp folders, real boxes on real sockets. */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { TestContext } from 'node:test'
import createTestnet from 'hyperdht/testnet.js'
import { createBox, initHome, type Box } from '../src/index.ts'
import { createClient, parse } from '../src/client/index.ts'

export const PASSPHRASE = 'correct horse battery staple'
export const BIN = fileURLToPath(new URL('../bin/coffer.js', import.meta.url))

export function tempDir(prefix = 'coffer-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix))
}

export function newHome(): string {
  const dir = path.join(tempDir(), 'home')
  initHome(dir, { passphrase: PASSPHRASE })
  return dir
}

export interface Running {
  box: Box
  url: string
  token: string
  api(method: string, route: string, opts?: { body?: unknown; raw?: string | Uint8Array; type?: string; token?: string | null; accept?: string }): Promise<{ status: number; body: any; headers: Headers }>
  close(): Promise<void>
}

export async function startBox(home = newHome()): Promise<Running> {
  const box = createBox({ home, port: 0, logLevel: 'silent' })
  await box.open()
  const url = await box.listen()
  const token = box.arbiter.ownerToken(3600).token
  const running: Running = {
    box, url, token,
    api: (method, route, opts = {}) => call(url, method, route, { ...opts, token: opts.token === undefined ? token : opts.token }),
    close: () => box.close(),
  }
  return running
}

/** One request through the shared API client, answered whatever its status, its body parsed as its content type says. */
export async function call(url: string, method: string, route: string, opts: { body?: unknown; raw?: string | Uint8Array; type?: string; token?: string | null; accept?: string } = {}) {
  const client = createClient({ baseUrl: url, token: opts.token })
  const body = opts.raw === undefined ? { json: opts.body, type: opts.body === undefined ? undefined : opts.type } : { body: typeof opts.raw === 'string' ? opts.raw : new Uint8Array(opts.raw), type: opts.type ?? 'application/senml+json' }
  const res = await client.send(method, route, { ...body, accept: opts.accept })
  return { status: res.status, headers: res.headers, body: await parse(res) as any }
}

/** Runs the CLI as a user would, in its own process. */
export function cli(args: string[], env: Record<string, string> = {}, input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, COFFER_LOG_LEVEL: 'warn', ...env }, stdio: ['pipe', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    child.stdin.end(input ?? '')
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }))
  })
}

/** Starts `coffer start` in a child process and resolves once it listens. */
export function startProcess(home: string): Promise<{ child: ChildProcess; url: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, '--home', home, 'start', '--port', '0'], { env: { ...process.env, COFFER_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout!.on('data', (d) => {
      out += d
      const m = /listening on (http:\/\/\S+)/.exec(out)
      if (m) resolve({ child, url: m[1]! })
    })
    child.stderr!.on('data', (d) => (err += d))
    child.on('exit', (code) => reject(new Error(`box exited with ${code}: ${err}`)))
  })
}

/** A probe app: runs the calls its event lists, one after another, and reports each outcome. */
export const PROBE = `
async function main(event) {
  const out = []
  for (const c of event.calls) {
    try { out.push({ ok: true, value: JSON.parse(await coffer.call(c.method, JSON.stringify(c.args))) }) }
    catch (e) { out.push({ ok: false, status: e.status, message: e.message }) }
  }
  return out
}`

export function senml(records: unknown[]): string {
  return JSON.stringify(records)
}

/** Every file under `dir` that holds `needle`, read as raw bytes. */
export function filesHolding(dir: string, needle: string): string[] {
  const found: string[] = []
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue
    const file = path.join(entry.parentPath, entry.name)
    if (fs.readFileSync(file).includes(Buffer.from(needle))) found.push(file)
  }
  return found
}

/** Polls `check` until it returns something other than undefined; fails after `ms`, saying what it waited for. */
export async function until<T>(what: string, check: () => Promise<T | undefined> | T | undefined, ms = 20_000): Promise<T> {
  const end = Date.now() + ms
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    if (Date.now() > end) throw new Error(`Timed out after ${ms} ms waiting for ${what}.`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** Awaits one promise, failing after `ms` with what it waited for. */
export async function within<T>(what: string, promise: Promise<T>, ms = 10_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Timed out after ${ms} ms waiting for ${what}.`)), ms)
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * A DHT testnet for one test, on which the boxes it starts in this process meet their replicas:
 * COFFER_DHT_BOOTSTRAP names it for the test's length. Its nodes go when the test ends.
 */
export async function backupTestnet(t: TestContext): Promise<{ host: string; port: number }[]> {
  const testnet = await createTestnet(3)
  t.after(() => testnet.destroy())
  process.env.COFFER_DHT_BOOTSTRAP = testnet.bootstrap.map((b) => `${b.host}:${b.port}`).join(',')
  t.after(() => delete process.env.COFFER_DHT_BOOTSTRAP)
  return testnet.bootstrap
}
