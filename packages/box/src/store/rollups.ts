/**
 * Hourly and 5-minute rollups of numeric points (count, sum, min, max, sum of squares and a
 * quantile sketch per series and bucket), kept on ingest the way Home Assistant keeps long-term
 * statistics, so an aggregate over a year reads a row per hour instead of every point. Reading
 * them is the aggregate's business; this module keeps them in step with the points.
 */
import type Database from 'better-sqlite3'
import { CHUNK_ROWS, MultiRow } from './multirow.ts'
import { keyOf } from './points.ts'
import { registerSketchFunctions, sketchOfValues } from './sketch.ts'

/** Coarsest first: an aggregate reads the coarsest cells a bucket covers whole, then finer ones at its edges. */
export const ROLLUP_RESOLUTIONS = [3600, 300] as const

export interface Stats { n: number; sum: number; min: number; max: number; sumsq: number }
/** One block's contribution to a rollup row; its values become the row's sketch. */
interface Rollup extends Stats { res: number; series: number; bucket: number; values: number[] }

export class Rollups {
  readonly #db: Database.Database
  readonly #upsert: MultiRow

  constructor(db: Database.Database) {
    this.#db = db
    registerSketchFunctions(db)
    // Every expression on the right of SET reads the row as it was, so the sketch merge sees the old n, min and max.
    this.#upsert = new MultiRow(db, 9, (rows) => `INSERT INTO rollups (res, series, bucket, n, sum, min, max, sumsq, sketch) VALUES ${rows}
      ON CONFLICT DO UPDATE SET n = n + excluded.n, sum = sum + excluded.sum, min = min(min, excluded.min),
      max = max(max, excluded.max), sumsq = sumsq + excluded.sumsq,
      sketch = coffer_sketch_merge(n, min, max, sketch, excluded.n, excluded.min, excluded.max, excluded.sketch)`)
  }

  /** Starts adding consecutive log blocks' numeric points. Call inside a transaction, and finish the batch in it. */
  batch(): RollupBatch {
    return new RollupBatch(this.#upsert)
  }

  /**
   * Recomputes from the points the rollups of these series over these spans, widened to whole
   * coarsest buckets, after points were dropped. Call inside a transaction.
   */
  rebuild(spans: Map<number, { lo: number; hi: number }>): void {
    const clearRollups = this.#db.prepare(`DELETE FROM rollups WHERE res IN (${ROLLUP_RESOLUTIONS.join(', ')}) AND series = ? AND bucket >= ? AND bucket < ?`)
    const rebuildRollups = this.#db.prepare(`INSERT INTO rollups (res, series, bucket, n, sum, min, max, sumsq, sketch)
      SELECT ?, series, CAST(t / ? AS INTEGER) * ?, count(val), sum(val), min(val), max(val), sum(val * val), coffer_sketch(val)
      FROM points WHERE id >= ? AND id < ? AND series = ? AND val IS NOT NULL GROUP BY 3`)
    const coarsest = ROLLUP_RESOLUTIONS[0]
    for (const [series, span] of spans) {
      const lo = Math.floor(span.lo / coarsest) * coarsest
      const hi = (Math.floor(span.hi / coarsest) + 1) * coarsest
      clearRollups.run(series, lo, hi)
      for (const res of ROLLUP_RESOLUTIONS) rebuildRollups.run(res, res, res, keyOf(lo), keyOf(hi), series)
    }
  }
}

/**
 * One group of blocks' rollup contributions. A rollup row one block adds to is written once per
 * block that touches it, in block order (round r holds each row's r-th contribution), so its
 * floating-point sums come out exactly as a replay of one block at a time computes them.
 */
class RollupBatch {
  readonly #upsert: MultiRow
  readonly #rounds: Map<number, Rollup>[][] = []
  readonly #depth = ROLLUP_RESOLUTIONS.map(() => new Map<number, number>())
  /** The current block's contributions, per resolution. */
  readonly #block = ROLLUP_RESOLUTIONS.map(() => new Map<number, Rollup>())

  constructor(upsert: MultiRow) {
    this.#upsert = upsert
  }

  add(series: number, t: number, v: number): void {
    for (let r = 0; r < ROLLUP_RESOLUTIONS.length; r++) {
      const res = ROLLUP_RESOLUTIONS[r]!
      const slot = Math.floor(t / res)
      // Series ids stay far below 2^20, so this numeric key is unique per (series, bucket).
      const key = slot * 2 ** 20 + series
      const a = this.#block[r]!.get(key)
      if (a) {
        a.values.push(v)
        a.n++
        a.sum += v
        a.sumsq += v * v
        if (v < a.min) a.min = v
        if (v > a.max) a.max = v
      } else {
        this.#block[r]!.set(key, { res, series, bucket: slot * res, n: 1, sum: v, min: v, max: v, sumsq: v * v, values: [v] })
      }
    }
  }

  /** Closes the block whose points were added since the last one: its contributions join the next round of each row. */
  endBlock(): void {
    for (let res = 0; res < this.#block.length; res++) {
      for (const [key, a] of this.#block[res]!) {
        const d = this.#depth[res]!.get(key) ?? 0
        this.#depth[res]!.set(key, d + 1)
        ;(this.#rounds[d] ??= ROLLUP_RESOLUTIONS.map(() => new Map()))[res]!.set(key, a)
      }
      this.#block[res]!.clear()
    }
  }

  /** Writes every round, in order. */
  finish(): void {
    for (const round of this.#rounds) {
      const rows: (number | Buffer | null)[] = []
      for (const map of round) for (const a of map.values()) rows.push(a.res, a.series, a.bucket, a.n, a.sum, a.min, a.max, a.sumsq, sketchOfValues(a.values))
      // Chunked here rather than by MultiRow.run, whose values carry no blobs.
      for (let at = 0; at < rows.length; at += CHUNK_ROWS * 9) {
        const chunk = rows.slice(at, at + CHUNK_ROWS * 9)
        this.#upsert.statement(chunk.length / 9).run(chunk)
      }
    }
  }
}
