/**
 * Where a source's bytes on disk go, at several densities: the same year of one series as
 * `npm run bench -- bytes` ingests (batches of 1,000, four in flight), broken down into the log's
 * files and the view's tables and indexes (SQLite's dbstat: payload, b-tree overhead, unused space).
 *
 *   node --import tsx packages/box/bench/bytes.ts [points a year …]   (default 10000 100000 1000000 2200000 10000000)
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import Database from 'better-sqlite3'
import { Store } from '../src/store/index.ts'
import { BoxKeys } from '../src/keys/index.ts'
import { openMetaDb } from '../src/db/index.ts'
import type { SenmlRecord } from '../src/senml/index.ts'

const YEAR = 365 * 86400
const T0 = 1_735_689_600
const densities = process.argv.slice(2).map(Number)
if (densities.length === 0) densities.push(10_000, 100_000, 1_000_000, 2_200_000, 10_000_000)

function batch(first: number, size: number, step: number): SenmlRecord[] {
  return Array.from({ length: size }, (_, i) => ({ n: 'temperature', u: 'Cel', t: T0 + (first + i) * step, v: 20 + Math.sin((first + i) / 500) * 3 }))
}

async function ingest(source: { appendRecords(r: SenmlRecord[]): Promise<unknown> }, batches: Iterable<SenmlRecord[]>, inFlight = 4): Promise<void> {
  const running = new Set<Promise<unknown>>()
  for (const b of batches) {
    const p = source.appendRecords(b).finally(() => running.delete(p))
    running.add(p)
    if (running.size >= inFlight) await Promise.race(running)
  }
  await Promise.all(running)
}

const sizeOf = (p: string): number => fs.statSync(p).isDirectory() ? fs.readdirSync(p).reduce((n, f) => n + sizeOf(path.join(p, f)), 0) : fs.statSync(p).size
const files = (p: string, prefix = ''): [string, number][] => fs.statSync(p).isDirectory()
  ? fs.readdirSync(p).flatMap((f) => files(path.join(p, f), path.join(prefix, f)))
  : [[prefix, fs.statSync(p).size]]

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-bytes-'))
for (const points of densities) {
  const at = path.join(dir, `bytes-${points}`)
  const logsDir = path.join(at, 'logs')
  const viewsDir = path.join(at, 'views')
  fs.mkdirSync(logsDir, { recursive: true })
  fs.mkdirSync(viewsDir, { recursive: true })
  const meta = openMetaDb(path.join(at, 'box.db'))
  const store = new Store({ db: meta, keys: new BoxKeys(Buffer.alloc(32, 7)), logsDir, viewsDir })
  await store.open()
  await store.add({ id: 'series' })
  const step = YEAR / points
  const t = performance.now()
  await ingest(store.get('series'), (function* () {
    for (let i = 0; i < points; i += 1000) yield batch(i, Math.min(1000, points - i), step)
  })())
  const seconds = (performance.now() - t) / 1000
  await store.close()
  meta.close()
  const log = sizeOf(logsDir)
  const view = sizeOf(viewsDir)
  const per = (n: number) => (n / points).toFixed(1).padStart(6)
  console.log(`\n${points.toLocaleString('en')} points a year: ${per(log + view)} B/point (log ${per(log).trim()}, view ${per(view).trim()}); ingest ${Math.round(points / seconds).toLocaleString('en')} rec/s`)
  const logFiles = new Map<string, number>()
  for (const [f, size] of files(logsDir)) {
    const kind = path.basename(f).replace(/^\d+/, 'N').replace(/-\d+$/, '-N')
    logFiles.set(kind, (logFiles.get(kind) ?? 0) + size)
  }
  for (const [kind, size] of [...logFiles].sort((a, b) => b[1] - a[1])) if (size > 0) console.log(`  log ${kind.padEnd(28)} ${String(size).padStart(10)} B ${per(size)} B/point`)
  for (const [f, size] of files(viewsDir)) console.log(`  view file ${f.padEnd(22)} ${String(size).padStart(10)} B ${per(size)} B/point`)
  const file = fs.readdirSync(viewsDir).find((f) => f.startsWith('series.') && f.endsWith('.sqlite'))!
  const db = new Database(path.join(viewsDir, file), { readonly: true })
  const stats = db.prepare(`SELECT name, count(*) AS pages, sum(pgsize) AS bytes, sum(payload) AS payload, sum(unused) AS unused, sum(ncell) AS cells
    FROM dbstat GROUP BY name ORDER BY bytes DESC`).all() as { name: string; pages: number; bytes: number; payload: number; unused: number; cells: number }[]
  for (const s of stats) {
    console.log(`  table ${s.name.padEnd(28)} ${String(s.bytes).padStart(10)} B ${per(s.bytes)} B/point  (${s.pages} pages, payload ${per(s.payload).trim()}, unused ${per(s.unused).trim()}, ${s.cells} cells)`)
  }
  const rollups = db.prepare("SELECT name FROM sqlite_master WHERE name = 'rollups'").get()
  if (rollups) {
    for (const r of db.prepare('SELECT res, series, count(*) AS rows, sum(n) AS n, sum(length(sketch)) AS sketch, count(sketch) AS sketches FROM rollups GROUP BY res, series').all() as Record<string, number>[]) {
      console.log(`  rollups res ${r.res} series ${r.series}: ${r.rows} rows, ${r.n} points, ${r.sketches} sketches, ${r.sketch ?? 0} B of sketch (${per(r.sketch ?? 0).trim()} B/point)`)
    }
  }
  db.close()
}
fs.rmSync(dir, { recursive: true, force: true })
