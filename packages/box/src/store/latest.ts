/**
 * The newest point of each series, kept in its own table on ingest so a current value is one
 * row, not a search of the points; and its time remembered in memory, so a driver asking
 * whether a reading is already stored seldom has to search at all.
 */
import type Database from 'better-sqlite3'
import type { SenmlRecord } from '../senml/index.ts'
import { MultiRow } from './multirow.ts'
import { keyOf, SEQ_SPACE, type PointRow } from './points.ts'
import { toRecord, type Series } from './series.ts'

export class Latest {
  readonly #db: Database.Database
  readonly #upsert: MultiRow
  readonly #latest: Database.Statement
  readonly #latestIn: Database.Statement
  readonly #latestTime: Database.Statement
  /**
   * The time of a series' newest point, remembered after the first look. The memory may run ahead
   * of the table (a transaction that failed), never behind it, so it never hides a point.
   */
  readonly #times = new Map<number, number>()

  constructor(db: Database.Database) {
    this.#db = db
    this.#upsert = new MultiRow(db, 5, (rows) => `INSERT INTO latest (series, t, val, s, ut) VALUES ${rows}
      ON CONFLICT DO UPDATE SET t = excluded.t, val = excluded.val, s = excluded.s, ut = excluded.ut WHERE excluded.t >= latest.t`)
    this.#latest = db.prepare('SELECT t, val, s, ut FROM latest WHERE series = ?')
    this.#latestIn = db.prepare('SELECT t, val, s, ut FROM points WHERE series = ? AND id >= ? AND id < ? AND t >= ? AND t < ? ORDER BY id DESC LIMIT 1')
    this.#latestTime = db.prepare('SELECT t FROM latest WHERE series = ?')
  }

  /** Starts taking consecutive log blocks' points. Call inside a transaction, and finish the batch in it. */
  batch(): LatestBatch {
    return new LatestBatch(this.#upsert, this.#times)
  }

  /** The newest point of each series, optionally only among points in [from, to). */
  of(series: Series[], window?: { from: number; to: number }): SenmlRecord[] {
    const out: SenmlRecord[] = []
    for (const s of series) {
      const row = (window
        ? this.#latestIn.get(s.id, keyOf(window.from), keyOf(window.to) + SEQ_SPACE, window.from, window.to)
        : this.#latest.get(s.id)) as PointRow | undefined
      if (row) out.push(toRecord(s, row.t, row.val, row.s, row.ut))
    }
    return out.sort((a, b) => a.t - b.t)
  }

  /** The time of a series' newest point. */
  time(series: number): number | undefined {
    let t = this.#times.get(series)
    if (t === undefined) {
      t = (this.#latestTime.get(series) as { t: number } | undefined)?.t
      if (t !== undefined) this.#times.set(series, t)
    }
    return t
  }

  /** Finds these series' newest points again, after points were dropped. Call inside a transaction. */
  rebuild(series: Iterable<number>): void {
    const clearLatest = this.#db.prepare('DELETE FROM latest WHERE series = ?')
    const rebuildLatest = this.#db.prepare('INSERT INTO latest (series, t, val, s, ut) SELECT series, t, val, s, ut FROM points WHERE series = ? ORDER BY id DESC LIMIT 1')
    for (const id of series) {
      clearLatest.run(id)
      rebuildLatest.run(id)
      this.#times.delete(id)
    }
  }
}

/** One group of blocks' newest point per series, written as one upsert per series. */
class LatestBatch {
  readonly #upsert: MultiRow
  readonly #times: Map<number, number>
  readonly #newest = new Map<number, PointRow>()

  constructor(upsert: MultiRow, times: Map<number, number>) {
    this.#upsert = upsert
    this.#times = times
  }

  add(series: number, t: number, val: number | string | null, s: number | null, ut: number | null): void {
    const prev = this.#newest.get(series)
    // Later blocks win ties, as one upsert per block would have it.
    if (!prev || t >= prev.t) this.#newest.set(series, { t, series, val, s, ut })
  }

  finish(): void {
    const rows: (number | string | null)[] = []
    for (const p of this.#newest.values()) {
      rows.push(p.series, p.t, p.val, p.s, p.ut)
      const known = this.#times.get(p.series)
      if (known !== undefined && p.t > known) this.#times.set(p.series, p.t)
    }
    this.#upsert.run(rows)
  }
}
