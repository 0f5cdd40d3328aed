/**
 * Measurements, not a test (run by hand: node --import tsx packages/market/test/measure.ts):
 * PGlite's open time (first open with initdb, and later opens), and posting 1,000 queries
 * through the API then reading them back from the feed, on PGlite and on PostgreSQL. Each
 * against a baseline in the same run: 1,000 bare INSERTs of the same row through the same
 * database interface. Prints medians of several runs.
 */
import fs from 'node:fs'
import path from 'node:path'
import { openDatabase } from '../src/index.ts'
import { call, register, spec, startMarket, tempDir, type Storage } from './helpers.ts'

const RUNS = Number(process.env.RUNS ?? 3)
const N = 1000
const CONCURRENCY = 8

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const ms = (t0: number) => performance.now() - t0

async function openTimes() {
  const first: number[] = []
  const later: number[] = []
  for (let i = 0; i < RUNS; i++) {
    const dir = tempDir()
    const dataDir = path.join(dir, 'data')
    let t0 = performance.now()
    let db = await openDatabase({ dataDir })
    first.push(ms(t0))
    await db.close()
    t0 = performance.now()
    db = await openDatabase({ dataDir })
    later.push(ms(t0))
    await db.close()
    fs.rmSync(dir, { recursive: true, force: true })
  }
  console.log(`PGlite open, first (initdb + migrations): median ${median(first).toFixed(0)} ms  runs ${first.map((x) => x.toFixed(0)).join(', ')}`)
  console.log(`PGlite open, later:                       median ${median(later).toFixed(0)} ms  runs ${later.map((x) => x.toFixed(0)).join(', ')}`)
}

async function postAndRead(storage: Storage) {
  const post: number[] = []
  const base: number[] = []
  const pages: number[] = []
  const whole: number[] = []
  for (let i = 0; i < RUNS; i++) {
    const m = await startMarket(storage)
    try {
      const key = await register(m)
      const body = spec()
      const [{ id: processor } = { id: '' }] = await m.market.db.query<{ id: string }>('SELECT id FROM processors LIMIT 1')

      let t0 = performance.now()
      for (let j = 0; j < N; j++) {
        await m.market.db.query(
          "INSERT INTO queries (id, seq, processor_id, status, spec, question, text) VALUES ($1, -$2::bigint, $3, 'cancelled', $4::jsonb, $5::jsonb, $6)",
          [`base-${j}`, j + 1, processor, JSON.stringify(body), '{"select":[{"aggregate":"count"}]}', 'SELECT COUNT(*)'],
        )
      }
      base.push(ms(t0))

      t0 = performance.now()
      let next = 0
      const worker = async () => {
        while (next < N) {
          next++
          const res = await call(m.url, 'POST', '/api/v1/queries', { key, body })
          if (res.status !== 201) throw new Error(`post: ${res.status} ${JSON.stringify(res.body)}`)
        }
      }
      await Promise.all(Array.from({ length: CONCURRENCY }, worker))
      post.push(ms(t0))

      t0 = performance.now()
      let since = 0
      let seen = 0
      for (;;) {
        const page = (await call(m.url, 'GET', `/api/v1/feed?since=${since}&limit=100`)).body
        seen += page.queries.length
        if (page.next === since) break
        since = page.next
      }
      pages.push(ms(t0))
      if (seen !== N) throw new Error(`feed gave ${seen} of ${N}`)

      t0 = performance.now()
      const all = (await call(m.url, 'GET', '/api/v1/feed?since=0&limit=1000')).body
      whole.push(ms(t0))
      if (all.queries.length !== N) throw new Error(`feed page gave ${all.queries.length}`)
    } finally {
      await m.close()
    }
  }
  console.log(`${storage}: ${N} bare INSERTs (baseline):        median ${median(base).toFixed(0)} ms (${(N / median(base) * 1000).toFixed(0)}/s)`)
  console.log(`${storage}: ${N} posts over HTTP, ${CONCURRENCY} at a time:  median ${median(post).toFixed(0)} ms (${(N / median(post) * 1000).toFixed(0)}/s), ${(median(post) / median(base)).toFixed(1)}x baseline  runs ${post.map((x) => x.toFixed(0)).join(', ')}`)
  console.log(`${storage}: feed of ${N}, pages of 100:            median ${median(pages).toFixed(0)} ms  runs ${pages.map((x) => x.toFixed(0)).join(', ')}`)
  console.log(`${storage}: feed of ${N}, one page of 1000:        median ${median(whole).toFixed(0)} ms  runs ${whole.map((x) => x.toFixed(0)).join(', ')}`)
}

await openTimes()
await postAndRead('postgres')
await postAndRead('pglite')
