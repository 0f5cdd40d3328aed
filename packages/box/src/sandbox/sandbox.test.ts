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

test('each run has its own clock from its first line, though its context was made before it', async () => {
  const code = 'const loadedAt = Date.now(); function main() { return [loadedAt, Date.now()] }'
  for (const now of [NOW, NOW + 3600, NOW - 86400]) {
    assert.deepEqual((await run('clocks', code, { now })).value, [now * 1000, now * 1000])
  }
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

test('host calls: a batch is taken apart and each of its calls counts; box errors the app can catch', async () => {
  const seen: [string, unknown][] = []
  const host: HostCall = async (method, args) => {
    seen.push([method, args])
    if (method === 'times10') return JSON.stringify((args as { n: number }).n * 10)
    if (method === 'secret') throw new Forbidden('the grant does not cover this source')
    throw new Error('internal detail that must not reach the app')
  }
  const { value, calls } = await run('plain', `async function main() {
    const batch = JSON.parse(await coffer.call('batch', JSON.stringify([
      { method: 'times10', args: { n: 1 } }, { method: 'times10', args: { n: 2 } },
      { method: 'secret', args: {} }, { method: 'broken' }, { method: 'batch', args: [] },
    ])))
    const errors = []
    for (const method of ['secret', 'broken']) {
      try { await coffer.call(method, '{}') } catch (e) { errors.push({ name: e.name, message: e.message, status: e.status, type: e.type }) }
    }
    try { await coffer.call('batch', 'not json') } catch (e) { errors.push({ name: e.name, message: e.message }) }
    return { batch, errors }
  }`, { host })
  // Five calls in the batch, two alone and a batch that is not JSON: eight calls in four crossings.
  assert.equal(calls, 8)
  assert.deepEqual(seen.slice(0, 4), [['times10', { n: 1 }], ['times10', { n: 2 }], ['secret', {}], ['broken', null]])
  const v = value as { batch: { ok: boolean; value?: unknown; error?: Record<string, unknown> }[]; errors: Record<string, unknown>[] }
  assert.deepEqual(v.batch.slice(0, 2), [{ ok: true, value: 10 }, { ok: true, value: 20 }])
  assert.deepEqual([v.batch[2]!.error!.status, v.batch[2]!.error!.type, v.batch[2]!.error!.detail], [403, 'https://coffer.dev/problems/forbidden', 'the grant does not cover this source'])
  assert.deepEqual(v.batch[3], { ok: false, error: { status: 500, detail: 'the box could not answer broken' } })
  assert.deepEqual([v.batch[4]!.ok, v.batch[4]!.error!.status, v.batch[4]!.error!.detail], [false, 400, 'batches do not nest'])
  assert.deepEqual(v.errors[0], { name: 'Forbidden', message: 'the grant does not cover this source', status: 403, type: 'https://coffer.dev/problems/forbidden' })
  assert.equal(v.errors[1]!.message, 'the box could not answer broken')
  assert.equal(v.errors[2]!.name, 'InvalidInput')
})

test('the call budget counts calls, not crossings: a batch that would go past it is refused before any of it runs', async () => {
  let invoked = 0
  const counting: HostCall = async () => { invoked++; return '1' }
  const code = (last: number) => `async function main() {
    const batch = (n) => JSON.stringify(Array.from({ length: n }, () => ({ method: 'x', args: {} })))
    await coffer.call('batch', batch(30))
    await coffer.call('one', '{}')
    try { await coffer.call('batch', batch(${last})) } catch { return 'swallowed' }
    return 'done'
  }`
  const fits = await run('budget', code(19), { host: counting, limits: { maxCalls: 50 } })
  assert.deepEqual([fits.value, fits.calls, invoked], ['done', 50, 50])
  invoked = 0
  const refused = await rejectsWith(run('budget', code(20), { host: counting, limits: { maxCalls: 50 } }), 'AppTooManyCalls', 422, 'maxCalls')
  assert.match(refused.message, /a batch of 20 host calls with 19 of the run's 50 left/)
  assert.equal(invoked, 31)
  await stillWorks('budget')
})

test('the box works on a few of an app\'s calls at once, however they arrive', async () => {
  let inFlight = 0
  let most = 0
  let invoked = 0
  const slow: HostCall = async () => {
    invoked++
    most = Math.max(most, ++inFlight)
    await new Promise((resolve) => setTimeout(resolve, 2))
    inFlight--
    return '1'
  }
  const { calls } = await run('gated', `async function main() {
    const batch = JSON.stringify(Array.from({ length: 40 }, () => ({ method: 'x', args: {} })))
    const alone = Array.from({ length: 20 }, () => coffer.call('x', '{}'))
    await Promise.all([coffer.call('batch', batch), coffer.call('batch', batch), ...alone])
  }`, { host: slow, limits: { maxCallsInFlight: 3 } })
  assert.deepEqual([calls, invoked, most], [100, 100, 3])
})

test('a run moves only so many bytes through its calls: past maxRunBytes it stops and the box does no more', async () => {
  let invoked = 0
  const answers: HostCall = async () => { invoked++; return JSON.stringify('z'.repeat(995)) }
  // 'get' and '{}' are 5 bytes, each answer 997: the tenth answer takes the run past 10,000.
  await rejectsWith(run('bytes', 'async function main() { for (;;) await coffer.call("get", "{}") }', { host: answers, limits: { maxRunBytes: 10_000 } }), 'AppOutputTooLarge', 413, 'maxRunBytes')
  assert.equal(invoked, 10)
  invoked = 0
  // 'put' and its argument are 3,005 bytes: the fourth is refused before the box sees it.
  const put = 'async function main() { for (;;) { try { await coffer.call("put", JSON.stringify("x".repeat(3000))) } catch { } } }'
  await rejectsWith(run('bytes', put, { host: async () => { invoked++; return 'null' }, limits: { maxRunBytes: 10_000 } }), 'AppOutputTooLarge', 413, 'maxRunBytes')
  assert.equal(invoked, 3)
  await stillWorks('bytes')
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

async function waitFor(condition: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms
  while (!condition()) {
    if (Date.now() > end) throw new Error(`Timed out after ${ms} ms waiting for ${condition.toString()}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}
