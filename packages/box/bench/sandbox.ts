/**
 * The app sandbox: cold start (a new worker process), a warm run, and the cost of one host call
 * from inside QuickJS against a direct in-process async call. Prints one JSON line with the figures;
 * run alone, after `npm run build`, with `node --import tsx packages/box/bench/sandbox.ts`.
 */
import type { HostCall } from '../src/sandbox/index.ts'

// The built sandbox, as `coffer start` runs it: it forks the built worker, not the source through tsx.
const { Sandbox } = await import(new URL('../dist/sandbox/index.js', import.meta.url).href) as typeof import('../src/sandbox/index.ts')

const CALLS = 2000
const host: HostCall = async (_method, args) => JSON.stringify(args)

function p50(samples: number[]): number {
  const s = [...samples].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]!
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now()
  await fn()
  return performance.now() - t
}

const sandbox = new Sandbox({ limits: { maxCalls: CALLS, cpuMs: 60_000, wallMs: 120_000 } })
await sandbox.open()
const trivial = 'function main() { return 1 }'
const run = (appId: string, code: string) => sandbox.run({ appId, code, event: null, now: 0, host })

const cold: number[] = []
for (let i = 0; i < 5; i++) cold.push(await timed(() => run(`cold-${i}`, trivial)))

for (let i = 0; i < 100; i++) await run('warm', trivial)
const warm: number[] = []
for (let i = 0; i < 200; i++) warm.push(await timed(() => run('warm', trivial)))

// Per call: a run making CALLS sequential calls, minus a run making none, over CALLS.
const calling = (n: number) => `async function main() { for (let i = 0; i < ${n}; i++) await coffer.call('echo', '1'); return 1 }`
for (let i = 0; i < 3; i++) await run('calls', calling(CALLS))
const withCalls: number[] = []
const without: number[] = []
for (let i = 0; i < 5; i++) {
  withCalls.push(await timed(() => run('calls', calling(CALLS))))
  without.push(await timed(() => run('calls', calling(0))))
}
const perCallUs = ((p50(withCalls) - p50(without)) / CALLS) * 1000

const direct: number[] = []
for (let r = 0; r < 5; r++) {
  direct.push(await timed(async () => { for (let i = 0; i < CALLS; i++) await host('echo', 1) }))
}
const directUs = (p50(direct) / CALLS) * 1000

await sandbox.close()
console.log(JSON.stringify({ coldStartMs: p50(cold), warmRunMs: p50(warm), perCallUs, directCallUs: directUs }))
