/**
 * An app's daily aggregate over 1M records through the SDK path (an app bundled with the SDK →
 * sandbox → host call → the records.aggregate operation with the app's token → arbiter →
 * rollups, and the buckets back into the app) against the same aggregate straight from the
 * store. Both are timed in steady state, after warming up. Prints one JSON line; run alone,
 * after `npm run build`, with `node --import tsx packages/box/bench/apps.ts`.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

// The built box, as `coffer start` runs it: its sandbox forks the built worker, not the source through tsx.
const built = (file: string) => new URL(`../dist/${file}`, import.meta.url).href
const { createBox, initHome } = await import(built('index.js')) as typeof import('../src/index.ts')
const { bucketBoundaries, parseBucket } = await import(built('store/index.js')) as typeof import('../src/store/index.ts')

const POINTS = Number(process.env.BENCH_APP_POINTS ?? 1_000_000)
const DAYS = 365
const T0 = 1_735_689_600 // 2025-01-01T00:00:00Z
const STEP = (DAYS * 86400) / POINTS

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-bench-apps-'))
const home = path.join(dir, 'home')
initHome(home, { passphrase: 'bench passphrase', timeZone: 'UTC' })
const box = createBox({ home, logLevel: 'silent' })
await box.open()
await box.store.add({ id: 'steps', logicalType: 'activity', description: 'steps', attributes: [{ name: 'steps', technicalType: 'number', unit: 'count' }] })
const source = box.store.get('steps')
for (let i = 0; i < POINTS; i += 10_000) {
  const batch = []
  for (let j = i; j < Math.min(POINTS, i + 10_000); j++) batch.push({ n: 'steps', u: 'count', t: T0 + j * STEP, v: j % 97 })
  await source.appendRecords(batch)
}

const from = T0
const to = T0 + DAYS * 86400
// Bundled as an author's app is (coffer-app build): the SDK's aggregate, as apps call it.
const sdk = fileURLToPath(new URL('../../sdk/src/index.ts', import.meta.url))
const bundled = await build({
  stdin: { contents: `import { aggregate, defineApp } from ${JSON.stringify(sdk)}
    defineApp(async () => (await aggregate('steps', { fn: 'sum', bucket: '1d', from: ${from}, to: ${to} })).buckets.length)`, loader: 'ts', resolveDir: dir },
  bundle: true, format: 'iife', platform: 'neutral', target: 'es2020', write: false, logLevel: 'silent',
})
const code = bundled.outputFiles[0]!.text
const manifest = {
  manifestVersion: 1, id: 'bench', name: 'Bench', version: '1.0.0', author: 'bench', description: 'Daily sums.', purposes: ['bench'], main: 'app.js',
  sources: [{ id: 'steps', source: 'steps', ops: ['read'], granularity: '1d', window: 'all', required: true, justification: 'bench' }],
  schedule: { on: 'demand' },
}
await box.apps.install({ manifest, code })
await box.apps.grant('bench')

function p50(samples: number[]): number {
  const s = [...samples].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]!
}

const cold = performance.now()
await box.apps.run('bench')
const coldMs = performance.now() - cold
const series = [...source.view.seriesById.values()]
const aggregate = () => source.view.aggregate(series, bucketBoundaries(from, to, parseBucket('1d'), 'UTC'), 'sum')
// Interleaved, so a busy moment on the machine weighs on both sides alike.
const WARM_UP = 50
const RUNS = 200
const viaSdk: number[] = []
const direct: number[] = []
for (let i = 0; i < WARM_UP + RUNS; i++) {
  let t = performance.now()
  const report = await box.apps.run('bench')
  if (i >= WARM_UP) viaSdk.push(performance.now() - t)
  if (report.value !== DAYS) throw new Error(`expected ${DAYS} buckets, got ${JSON.stringify(report.value)}`)
  t = performance.now()
  const buckets = aggregate()
  if (i >= WARM_UP) direct.push(performance.now() - t)
  if (buckets.length !== DAYS) throw new Error('wrong bucket count')
}
await box.close()
fs.rmSync(dir, { recursive: true, force: true })
console.log(JSON.stringify({ points: POINTS, coldRunMs: coldMs, viaSdkMs: p50(viaSdk), directMs: p50(direct), ratio: p50(viaSdk) / p50(direct) }))
