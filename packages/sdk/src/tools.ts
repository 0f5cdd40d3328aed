/**
 * Tools for app authors, on their own machine: bundle an app into the one script the box
 * runs, and run it against sample data in a throwaway box before installing it anywhere.
 */
import crypto from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { build } from 'esbuild'
import { createBox, initHome, readBundle, InvalidInput, type AppView, type ConsentInput, type ExportRecord } from '@coffer/box'

const ENTRY_POINTS = ['src/main.ts', 'src/main.js', 'src/index.ts', 'src/index.js']

/** Bundles `dir`'s entry (src/main.ts …) into the script its manifest names as `main`. Returns that file. */
export async function buildApp(dir: string): Promise<string> {
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as { main?: string }
  const entry = ENTRY_POINTS.map((p) => path.join(dir, p)).find((p) => fs.existsSync(p))
  if (!entry) throw new InvalidInput(`${dir} has no ${ENTRY_POINTS.join(', ')} to build.`)
  const outfile = path.join(dir, manifest.main ?? 'app.js')
  // A classic script for QuickJS: no module syntax left, nothing from Node, everything inlined.
  await build({ entryPoints: [entry], outfile, bundle: true, format: 'iife', platform: 'neutral', target: 'es2020', minify: false, legalComments: 'none', logLevel: 'silent' })
  return outfile
}

/** Sample data: sources with their records, and the owner's time zone. */
export interface Sample {
  timeZone?: string
  sources: { id: string; logicalType?: string; description?: string; attributes?: { name: string; technicalType: 'number' | 'string' | 'boolean' | 'bytes'; unit?: string }[]; records: Record<string, unknown>[] }[]
}

export interface HarnessReport {
  value: unknown
  logs: string[]
  views: AppView[]
  /** What the app asked to send; in the harness nothing leaves, every export waits here. */
  exports: (ExportRecord & { payload: unknown })[]
  cpuMs?: number
  wallMs?: number
  calls?: number
}

/** Runs the app in a throwaway box holding only the sample, granted what it asks (or `consent`). */
export async function runLocal(opts: { dir: string; sample: Sample; event?: unknown; consent?: ConsentInput }): Promise<HarnessReport> {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-app-'))
  initHome(home, { passphrase: crypto.randomBytes(16).toString('hex'), timeZone: opts.sample.timeZone ?? 'UTC' })
  const box = createBox({ home, logLevel: 'silent' })
  try {
    await box.open()
    for (const s of opts.sample.sources) {
      await box.store.add({ id: s.id, logicalType: (s.logicalType ?? 'other') as never, description: s.description ?? s.id, attributes: s.attributes ?? [] })
      await box.store.get(s.id).appendRecords(s.records as never)
    }
    const bundle = await readBundle(opts.dir)
    const { app } = await box.apps.install(bundle)
    const exportsHeld = Object.fromEntries((app.manifest.exports ?? []).map((e) => [e.id, 'ask' as const]))
    await box.apps.grant(app.id, { ...opts.consent, exports: exportsHeld })
    const report = await box.apps.run(app.id, { event: opts.event })
    return {
      value: report.value, logs: report.logs, views: box.apps.views(app.id), cpuMs: report.cpuMs, wallMs: report.wallMs, calls: report.calls,
      exports: box.gateway.list({ app: app.id }).map((e) => box.gateway.get(e.id)),
    }
  } finally {
    await box.close()
    fs.rmSync(home, { recursive: true, force: true })
  }
}
