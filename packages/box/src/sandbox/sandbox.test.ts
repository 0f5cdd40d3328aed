import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { Sandbox, type HostCall, type RunInput } from './index.ts'
import { Forbidden } from '../errors/index.ts'

const NOW = 1_735_689_600
const sandbox = new Sandbox({ limits: { cpuMs: 1000, wallMs: 5000 } })
await sandbox.open()
after(() => sandbox.close())

const echo: HostCall = async (method, args) => JSON.stringify({ method, args })

function run(appId: string, code: string, more: Partial<RunInput> = {}) {
  return sandbox.run({ appId, code, event: null, now: NOW, host: echo, ...more })
}

async function rejectsWith(promise: Promise<unknown>, name: string, status?: number, limit?: string): Promise<Error> {
  let caught: unknown
  await promise.then(() => assert.fail(`expected ${name}`), (error) => { caught = error })
  const error = caught as Error & { status?: number; extras?: { limit?: string } }
  assert.equal(error.name, name, error.message)
  if (status !== undefined) assert.equal(error.status, status)
  if (limit !== undefined) assert.equal(error.extras?.limit, limit)
  return error
}

/** After each refusal the same app must still answer: the sandbox stays usable. */
async function stillWorks(appId: string) {
  const result = await run(appId, 'function main(event) { return { ok: event.n + 1 } }', { event: { n: 1 } })
  assert.deepEqual(result.value, { ok: 2 })
}

test('main gets a JSON copy of the event and its result comes back; the first run is cold, the next warm', async () => {
  const lines: string[] = []
  const code = `async function main(event) {
    console.log('got', event, 42)
    console.warn('careful')
    return { doubled: event.values.map((v) => v * 2), type: typeof event }
  }`
  const first = await run('basic', code, { event: { values: [1, 2, 3] }, log: (line, level) => lines.push(`${level} ${line}`) })
  assert.deepEqual(first.value, { doubled: [2, 4, 6], type: 'object' })
  assert.equal(first.coldStart, true)
  assert.deepEqual(lines, ['log got {"values":[1,2,3]} 42', 'warn careful'])
  const second = await run('basic', 'const main = () => undefined')
  assert.equal(second.coldStart, false)
  assert.equal(second.value, undefined)
  assert.equal(second.calls, 0)
})

test('the clock is the run\'s now, however the app reaches Date', async () => {
  const { value } = await run('plain', `function main() {
    const RealDateMaybe = Object.getPrototypeOf(new Date()).constructor
    return [Date.now(), new Date().getTime(), RealDateMaybe.now(), new Date(0).getTime(), typeof Date(), new (class extends Date {})().getTime()]
  }`)
  assert.deepEqual(value, [NOW * 1000, NOW * 1000, NOW * 1000, 0, 'string', NOW * 1000])
})

test('nothing of the host is reachable: no process, require, fetch, timers or the host\'s Function', async () => {
  const { value } = await run('escape', `function main() {
    const viaArrow = (() => {}).constructor('return typeof process')()
    const g = this === undefined ? globalThis : this.constructor.constructor('return this')()
    return {
      viaArrow,
      viaThis: typeof g.process,
      names: Object.getOwnPropertyNames(globalThis).filter((n) => !/^[A-Z]/.test(n)).sort(),
      process: typeof process, require: typeof require, fetch: typeof globalThis.fetch,
      setTimeout: typeof setTimeout, setInterval: typeof setInterval, setImmediate: typeof setImmediate,
      os: typeof os, std: typeof std, WebAssembly: typeof WebAssembly,
    }
  }`)
  const v = value as Record<string, unknown>
  assert.equal(v.viaArrow, 'undefined')
  assert.equal(v.viaThis, 'undefined')
  for (const name of ['process', 'require', 'fetch', 'setTimeout', 'setInterval', 'setImmediate', 'os', 'std', 'WebAssembly']) assert.equal(v[name], 'undefined', name)
  // Lower-case globals are the language's functions plus the two the box adds.
  assert.deepEqual((v.names as string[]).filter((n) => !['coffer', 'console', 'globalThis', 'undefined', 'decodeURI', 'decodeURIComponent', 'encodeURI', 'encodeURIComponent', 'escape', 'eval', 'isFinite', 'isNaN', 'parseFloat', 'parseInt', 'unescape', 'main'].includes(n)), [])
  await rejectsWith(run('escape', 'async function main() { return await import("node:fs") }'), 'AppFailed', 422)
  await rejectsWith(run('escape', 'function main() { return require("fs") }'), 'AppFailed')
  await stillWorks('escape')
})

test('polluting prototypes inside touches neither the host nor the app\'s next run', async () => {
  const seen: unknown[] = []
  const host: HostCall = async (_method, args) => { seen.push(args); return JSON.stringify({ answer: 1 }) }
  const { value } = await run('pollute', `async function main(event) {
    Object.prototype.polluted = 'yes'
    Array.prototype.push = () => 'hijacked'
    event.__proto__.fromEvent = 'yes'
    globalThis.leftBehind = 1
    const answer = JSON.parse(await coffer.call('read', '{"__proto__": {"polluted": "yes"}, "a": 1}'))
    answer.__proto__.polluted = 'yes'
    return JSON.parse('{"__proto__": {"polluted": "yes"}, "b": 2}')
  }`, { event: { n: 1 }, host })
  const plain: Record<string, unknown> = {}
  assert.equal(plain.polluted, undefined)
  assert.equal(Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted'), false)
  assert.equal(Object.prototype.hasOwnProperty.call(Object.prototype, 'fromEvent'), false)
  assert.equal(typeof [].push, 'function')
  assert.equal(Object.getPrototypeOf(value), Object.prototype)
  assert.equal(Object.getPrototypeOf(seen[0]), Object.prototype)
  assert.equal((seen[0] as { a: number }).a, 1)
  const next = await run('pollute', 'function main() { return [typeof leftBehind, ({}).polluted === undefined, [].push(1)] }')
  assert.deepEqual(next.value, ['undefined', true, 1])
})

test('host calls: a batched round trip, and box errors the app can catch', async () => {
  const host: HostCall = async (method, args) => {
    if (method === 'batch') return JSON.stringify((args as { method: string; n: number }[]).map((call) => ({ method: call.method, value: call.n * 10 })))
    if (method === 'secret') throw new Forbidden('the grant does not cover this source')
    throw new Error('internal detail that must not reach the app')
  }
  const { value, calls } = await run('plain', `async function main() {
    const batch = JSON.parse(await coffer.call('batch', JSON.stringify([{ method: 'a', n: 1 }, { method: 'b', n: 2 }])))
    const errors = []
    for (const method of ['secret', 'broken']) {
      try { await coffer.call(method, '{}') } catch (e) { errors.push({ name: e.name, message: e.message, status: e.status, type: e.type }) }
    }
    try { await coffer.call('batch', 'not json') } catch (e) { errors.push({ name: e.name, message: e.message }) }
    return { batch, errors }
  }`, { host })
  assert.equal(calls, 4)
  const v = value as { batch: unknown; errors: Record<string, unknown>[] }
  assert.deepEqual(v.batch, [{ method: 'a', value: 10 }, { method: 'b', value: 20 }])
  assert.deepEqual(v.errors[0], { name: 'Forbidden', message: 'the grant does not cover this source', status: 403, type: 'https://coffer.dev/problems/forbidden' })
  assert.equal(v.errors[1]!.message, 'the box could not answer broken')
  assert.equal(v.errors[2]!.name, 'InvalidInput')
})

test('runaway code: a busy loop and a microtask loop hit the CPU limit', async () => {
  await rejectsWith(run('busy', 'function main() { while (true) {} }', { limits: { cpuMs: 200 } }), 'AppTimeout', 504, 'cpuMs')
  await rejectsWith(run('busy', 'function main() { try { while (true) {} } catch (e) { return "caught" } }', { limits: { cpuMs: 200 } }), 'AppTimeout', 504, 'cpuMs')
  await rejectsWith(run('busy', 'function main() { return new Promise(() => { const spin = () => Promise.resolve().then(spin); spin() }) }', { limits: { cpuMs: 200 } }), 'AppTimeout', 504, 'cpuMs')
  await stillWorks('busy')
})

test('waiting forever: on nothing it is refused at once; on a host call the wall clock stops it', async () => {
  const never: HostCall = () => new Promise(() => undefined)
  await rejectsWith(run('waits', 'async function main() { await new Promise(() => {}) }'), 'AppTimeout', 504)
  await rejectsWith(run('waits', 'async function main() { await coffer.call("slow", "{}") }', { host: never, limits: { wallMs: 300 } }), 'AppTimeout', 504, 'wallMs')
  const after = await run('waits', 'function main() { return 1 }')
  assert.equal(after.coldStart, true)
  assert.equal(after.value, 1)
})

test('deep recursion is an app error, not a crash', async () => {
  await rejectsWith(run('deep', 'function main() { const f = (n) => f(n + 1) + 1; return f(0) }'), 'AppFailed', 422, 'stackBytes')
  await rejectsWith(run('deep', 'function main() { return JSON.parse("[".repeat(1e6) + "]".repeat(1e6)) }'), 'AppFailed', 422)
  const caught = await run('deep', 'function main() { const f = (n) => f(n + 1) + 1; try { return f(0) } catch (e) { return String(e) } }')
  assert.match(String(caught.value), /stack overflow/i)
  await stillWorks('deep')
})

test('memory bombs: array growth and a huge string hit the memory limit', async () => {
  // Generous time, so that on a slow machine the memory limit, not the clock, is what stops them.
  const limits = { memoryBytes: 16 * 2 ** 20, cpuMs: 20_000, wallMs: 40_000 }
  await rejectsWith(run('hungry', 'function main() { const a = []; for (;;) a.push({ n: a.length, s: "x" + a.length }) }', { limits }), 'AppMemoryExceeded', 422, 'memoryBytes')
  await rejectsWith(run('hungry', 'globalThis.kept = []; function main() { for (;;) kept.push([kept.length]) }', { limits }), 'AppMemoryExceeded', 422)
  await rejectsWith(run('hungry', 'function main() { return "x".repeat(2 ** 28).length }', { limits }), 'AppMemoryExceeded')
  await rejectsWith(run('hungry', 'function main() { return new ArrayBuffer(2 ** 30).byteLength }', { limits }), 'AppMemoryExceeded')
  await stillWorks('hungry')
})

test('sizes and counts: a huge result, a huge call, a huge answer, too many calls', async () => {
  await rejectsWith(run('big', 'function main() { return "x".repeat(2 ** 20) }', { limits: { maxResultBytes: 2 ** 16 } }), 'AppOutputTooLarge', 413, 'maxResultBytes')
  await rejectsWith(run('big', 'async function main() { try { await coffer.call("put", JSON.stringify("x".repeat(2 ** 17))) } catch { return "swallowed" } }', { limits: { maxCallBytes: 2 ** 16 } }), 'AppOutputTooLarge', 413, 'maxCallBytes')
  const generous: HostCall = async () => JSON.stringify('y'.repeat(2 ** 17))
  await rejectsWith(run('big', 'async function main() { return (await coffer.call("get", "{}")).length }', { host: generous, limits: { maxCallBytes: 2 ** 16 } }), 'AppOutputTooLarge', 413, 'maxCallBytes')
  await rejectsWith(run('big', 'async function main() { for (;;) await coffer.call("again", "{}") }', { limits: { maxCalls: 20 } }), 'AppTooManyCalls', 422, 'maxCalls')
  await rejectsWith(run('big', 'function main() { return 10n }'), 'AppFailed', 422)
  await stillWorks('big')
})

test('logs are bounded in lines and length', async () => {
  const lines: string[] = []
  await run('plain', 'function main() { console.log("z".repeat(10000)); for (let i = 0; i < 1000; i++) console.info(i) }', { log: (line) => lines.push(line), limits: { maxLogLines: 5 } })
  assert.equal(lines.length, 6)
  assert.ok(lines[0]!.length <= 2001)
  assert.match(lines[5]!, /at most 5 lines/)
})

test('app errors: a throw, a syntax error, no main', async () => {
  const thrown = await rejectsWith(run('plain', 'function main() { throw new TypeError("bad input shape") }'), 'AppFailed', 422)
  assert.match(thrown.message, /'plain' threw TypeError: bad input shape/)
  await rejectsWith(run('plain', 'function main( {'), 'AppFailed')
  const none = await rejectsWith(run('plain', 'const notMain = 1'), 'AppFailed')
  assert.match(none.message, /no main/)
})

test('a stuck app does not hold up another app', async () => {
  let release!: () => void
  const gate: HostCall = () => new Promise((resolve) => { release = () => resolve('null') })
  const stuck = run('stuck', 'async function main() { await coffer.call("wait", "{}"); while (true) {} }', { host: gate, limits: { cpuMs: 5000, wallMs: 5000 } })
  await waitFor(() => release !== undefined)
  release()
  for (let i = 0; i < 3; i++) await stillWorks('neighbour')
  await sandbox.stop('stuck')
  await rejectsWith(stuck, 'AppStopped', 409)
  await stillWorks('stuck')
})

test('stop(appId) ends a pending run and the runs queued behind it', async () => {
  const never: HostCall = () => new Promise(() => undefined)
  const running = run('revoked', 'async function main() { await coffer.call("wait", "{}") }', { host: never })
  const queued = run('revoked', 'function main() { return 1 }')
  await waitFor(() => sandbox.workerPid('revoked') !== undefined)
  await sandbox.stop('revoked')
  await rejectsWith(running, 'AppStopped', 409)
  await rejectsWith(queued, 'AppStopped', 409)
  assert.equal(sandbox.workerPid('revoked'), undefined)
})

test('a worker that dies mid-run is AppCrashed, and the next run starts a new one', async () => {
  const killer: HostCall = async () => {
    process.kill(sandbox.workerPid('fragile')!, 'SIGKILL')
    return new Promise(() => undefined)
  }
  await run('fragile', 'function main() { return 1 }')
  await rejectsWith(run('fragile', 'async function main() { await coffer.call("x", "{}") }', { host: killer }), 'AppCrashed', 502)
  const next = await run('fragile', 'function main() { return 2 }')
  assert.equal(next.coldStart, true)
  assert.equal(next.value, 2)
})

test('a worker left idle is stopped, and the next run starts cold', { timeout: 60_000 }, async () => {
  const quick = new Sandbox({ idleMs: 50 })
  await quick.open()
  try {
    const first = await quick.run({ appId: 'idle', code: 'function main() { return 1 }', event: null, now: NOW, host: echo })
    assert.equal(first.coldStart, true)
    const pid = quick.workerPid('idle')!
    await waitFor(() => quick.workerPid('idle') === undefined)
    await waitFor(() => !processExists(pid))
    const next = await quick.run({ appId: 'idle', code: 'function main() { return 2 }', event: null, now: NOW, host: echo })
    assert.deepEqual([next.coldStart, next.value], [true, 2])
  } finally {
    await quick.close()
  }
})

test('limits are checked up front', async () => {
  await rejectsWith(run('limits', 'function main() {}', { limits: { cpuMs: -1 } }), 'InvalidInput', 400)
  await rejectsWith(run('limits', 'function main() {}', { now: Number.NaN }), 'InvalidInput', 400)
})

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

async function waitFor(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 10))
}
