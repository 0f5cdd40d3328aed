/**
 * The SDK's aggregate crosses into the sandbox as columns and is rebuilt into buckets there:
 * what the app gets must be exactly what the box's own answer holds, for one function, several,
 * and quantiles.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildApp, runLocal } from '../src/tools.ts'

/** The app is written outside the workspace, so it imports the SDK by its path. */
const SDK = fileURLToPath(new URL('../src/index.ts', import.meta.url))

const T0 = 1_735_689_600 // 2025-01-01T00:00:00Z
const HOUR = 3600

test('buckets through the SDK equal the bridge\'s own answer, whatever was asked', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-sdk-aggregate-'))
  fs.mkdirSync(path.join(dir, 'src'))
  fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify({
    manifestVersion: 1, id: 'sums', name: 'Sums', version: '1.0.0', author: 'tests', description: 'Compares aggregates.', purposes: ['testing'], main: 'app.js',
    sources: [{ id: 'heat', logicalType: 'environment', ops: ['read'], granularity: '1h', window: 'all', required: true, justification: 'testing' }],
    schedule: { on: 'demand' },
  }))
  fs.writeFileSync(path.join(dir, 'src', 'main.ts'), `
    import { aggregate, defineApp } from ${JSON.stringify(SDK)}
    declare const coffer: { call(method: string, args: string): Promise<string> }
    const asked = [
      { fn: 'mean', bucket: '1d' },
      { fn: ['mean', 'min', 'max', 'count'], bucket: '6h' },
      { fn: ['median', 'p90'], bucket: '1d' },
      { fn: 'sum', bucket: '1h' },
    ] as const
    defineApp(async () => Promise.all(asked.map(async (q) => {
      const opts = { fn: q.fn as never, bucket: q.bucket, from: ${T0}, to: ${T0 + 10 * 24 * HOUR} }
      const viaSdk = await aggregate('heat', opts)
      const bridge = JSON.parse(await coffer.call('aggregate', JSON.stringify({ source: 'heat', ...opts, fn: [q.fn].flat().join(',') })))
      return { viaSdk, bridge }
    })))
  `)
  await buildApp(dir)
  const records = Array.from({ length: 7 * 24 * 6 }, (_, i) => ({ n: 'temperature', u: 'Cel', t: T0 + i * 600, v: 18 + Math.sin(i / 20) * 4 }))
  const report = await runLocal({
    dir,
    sample: { sources: [{ id: 'heat', logicalType: 'environment', attributes: [{ name: 'temperature', technicalType: 'number', unit: 'Cel' }], records }] },
  })
  const answers = report.value as { viaSdk: { buckets: { values?: object; error?: object }[] }; bridge: unknown }[]
  assert.equal(answers.length, 4)
  for (const { viaSdk, bridge } of answers) assert.deepEqual(viaSdk, bridge)
  assert.equal(answers[0]!.viaSdk.buckets.length, 10)
  assert.ok(answers[1]!.viaSdk.buckets[0]!.values, 'several functions come back by function')
  assert.ok(report.calls! >= 8)
})
