/**
 * Realistic demo data: three weeks of a person's life in Berlin — phone location every five
 * minutes, steps every fifteen, heart rate every five, living-room temperature every ten.
 * Deterministic (seeded), so demos and tests see the same numbers.
 */
import fs from 'node:fs'
import path from 'node:path'
import type { NewSource } from '../store/index.ts'
import type { Box } from '../box.ts'
import { writeAs } from '../ingest/index.ts'
import { readBundle, type Apps } from '../apps/index.ts'
import type { SenmlRecord } from '../senml/index.ts'
import { seededRandom as random } from './random.ts'

export const DEMO_DAYS = 21

export const DEMO_SOURCES: NewSource[] = [
  {
    id: 'location', logicalType: 'location', description: 'Phone location',
    attributes: [
      { name: 'lat', technicalType: 'number', unit: 'lat', logicalType: 'location' },
      { name: 'lon', technicalType: 'number', unit: 'lon', logicalType: 'location' },
      { name: 'acc', technicalType: 'number', unit: 'm', logicalType: 'location' },
    ],
  },
  { id: 'steps', logicalType: 'activity', description: 'Steps counted by the phone', attributes: [{ name: 'steps', technicalType: 'number', unit: 'count' }] },
  { id: 'heart-rate', logicalType: 'health', description: 'Heart rate from the watch', attributes: [{ name: 'heart-rate', technicalType: 'number', unit: 'beat/min' }] },
  { id: 'living-room', logicalType: 'environment', description: 'Living-room temperature sensor', attributes: [{ name: 'temperature', technicalType: 'number', unit: 'Cel' }] },
]

const HOME = { lat: 52.5208, lon: 13.4095 }
const WORK = { lat: 52.5076, lon: 13.3904 }

export function demoRecords(end: number, days = DEMO_DAYS): Record<string, SenmlRecord[]> {
  const rnd = random(42)
  const start = Math.floor(end / 86400) * 86400 - days * 86400
  const out: Record<string, SenmlRecord[]> = { location: [], steps: [], 'heart-rate': [], 'living-room': [] }
  for (let t = start; t < end; t += 300) {
    const hour = ((t % 86400) / 3600 + 1) % 24 // Berlin, roughly
    const weekday = new Date(t * 1000).getUTCDay() % 6 !== 0
    const atWork = weekday && hour >= 9 && hour < 17.5
    const commuting = weekday && ((hour >= 8.5 && hour < 9) || (hour >= 17.5 && hour < 18))
    const place = atWork ? WORK : HOME
    const f = commuting ? rnd() : 0
    const lat = commuting ? HOME.lat + (WORK.lat - HOME.lat) * f : place.lat + (rnd() - 0.5) * 0.0008
    const lon = commuting ? HOME.lon + (WORK.lon - HOME.lon) * f : place.lon + (rnd() - 0.5) * 0.0012
    const acc = Math.round(5 + rnd() * 25)
    out.location!.push({ n: 'lat', u: 'lat', t, v: round(lat, 6) }, { n: 'lon', u: 'lon', t, v: round(lon, 6) }, { n: 'acc', u: 'm', t, v: acc })
    const awake = hour >= 7 && hour < 23
    const active = commuting || (awake && rnd() < 0.08)
    out['heart-rate']!.push({ n: 'heart-rate', u: 'beat/min', t, v: Math.round((awake ? 68 : 54) + (active ? 45 : 0) + rnd() * 12) })
    if (t % 900 === 0) {
      const steps = commuting ? 1400 + rnd() * 400 : awake ? rnd() * 260 : 0
      out.steps!.push({ n: 'steps', u: 'count', t, v: Math.round(steps) })
    }
    if (t % 600 === 0) {
      const heating = hour >= 6 && hour < 22 ? 1.6 : -0.4
      out['living-room']!.push({ n: 'temperature', u: 'Cel', t, v: round(20 + heating + Math.sin((hour / 24) * 2 * Math.PI) * 0.7 + (rnd() - 0.5) * 0.3, 2) })
    }
  }
  return out
}

function round(v: number, digits: number): number {
  const f = 10 ** digits
  return Math.round(v * f) / f
}

/**
 * Adds the demo sources that are missing and fills them, as the owner, through the same
 * operations as any client: each source and each batch of records is audited with its size.
 * Returns the number of records written.
 */
export async function loadDemo(box: Pick<Box, 'store' | 'ops' | 'sources' | 'arbiter'>, now = Date.now() / 1000, onProgress?: (source: string, count: number) => void): Promise<number> {
  const data = demoRecords(Math.floor(now))
  const owner = { token: box.arbiter.ownerToken(3600).token, action: 'demo data' }
  let total = 0
  for (const meta of DEMO_SOURCES) {
    if (box.store.has(meta.id)) continue
    await box.ops.call(box.sources.add, { ...meta }, owner)
    const records = data[meta.id]!
    for (let i = 0; i < records.length; i += 1000) await writeAs(box, owner.token, meta.id, records.slice(i, i + 1000), owner.action)
    total += records.length
    onProgress?.(meta.id, records.length)
  }
  return total
}

/**
 * Installs the example apps that have been built (`npm run build:apps`) and are not installed
 * yet, granted what they ask with every export asked each time, and runs each once so their
 * views have something to show.
 */
export async function loadDemoApps(apps: Apps, dir: string, onInstalled?: (app: string, ran: string) => void): Promise<void> {
  if (!fs.existsSync(dir)) return
  for (const name of fs.readdirSync(dir).sort()) {
    const appDir = path.join(dir, name)
    if (!fs.existsSync(path.join(appDir, 'app.js')) || apps.list().some((a) => a.id === name)) continue
    const { app } = await apps.install(await readBundle(appDir))
    await apps.grant(app.id)
    const ran = await apps.run(app.id).then(() => 'ran once', (err: Error) => `its first run failed: ${err.message}`)
    onInstalled?.(app.id, ran)
  }
}
