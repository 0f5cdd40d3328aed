/**
 * The newest point of each series, kept in its own table on ingest so a current value is one
 * row, not a search of the points; and kept in memory too once read, so asking for a current
 * value — the commonest read there is — costs no SQLite call at all.
 *
 * The memory holds exactly what the table holds. Every change to the table goes through here
 * (a batch's upsert, a rebuild after points were dropped) and changes the memory alike; a
 * transaction that fails after changing both leaves the memory ahead of the table, so the view
 * makes this forget everything then (see View.transaction), and the next read asks the table.
 */
import type Database from 'better-sqlite3'
import type { SenmlRecord } from '../senml/index.ts'
import { MultiRow } from './multirow.ts'
import { keyOf, SEQ_SPACE, type PointRow } from './points.ts'
import { toRecord, type Series } from './series.ts'

/** A series' row in the latest table, as read: null when it has none (every point of it was dropped). */
type Newest = PointRow | null

export class Latest {
  readonly #upsert: MultiRow
  readonly #latest: Database.Statement
  readonly #latestIn: Database.Statement
  readonly #clear: Database.Statement
  readonly #rebuild: Database.Statement
  /** The table's row of each series read or written since the view opened. */
  readonly #rows = new Map<number, Newest>()

  constructor(db: Database.Database) {
    this.#upsert = new MultiRow(db, 5, (rows) => `INSERT INTO latest (series, t, val, s, ut) VALUES ${rows}
      ON CONFLICT DO UPDATE SET t = excluded.t, val = excluded.val, s = excluded.s, ut = excluded.ut WHERE excluded.t >= latest.t`)
    this.#latest = db.prepare('SELECT series, t, val, s, ut FROM latest WHERE series = ?')
    this.#latestIn = db.prepare('SELECT t, val, s, ut FROM points WHERE series = ? AND id >= ? AND id < ? AND t >= ? AND t < ? ORDER BY id DESC LIMIT 1')
    this.#clear = db.prepare('DELETE FROM latest WHERE series = ?')
    this.#rebuild = db.prepare('INSERT INTO latest (series, t, val, s, ut) SELECT series, t, val, s, ut FROM points WHERE series = ? ORDER BY id DESC LIMIT 1')
  }

  /** Starts taking consecutive log blocks' points. Call inside a transaction, and finish the batch in it. */
  batch(): LatestBatch {
    return new LatestBatch(this.#upsert, this.#rows)
  }

  /** The newest point of each series, optionally only among points in [from, to). */
  of(series: Series[], window?: { from: number; to: number }): SenmlRecord[] {
    const out: SenmlRecord[] = []
    for (const s of series) {
      let row = this.#newest(s.id)
      // The newest point of all is the newest in the window when it falls inside it; else the points are searched.
      if (row && window && !(row.t >= window.from && row.t < window.to)) {
        row = this.#latestIn.get(s.id, keyOf(window.from), keyOf(window.to) + SEQ_SPACE, window.from, window.to) as PointRow | undefined ?? null
      }
      if (row) out.push(toRecord(s, row.t, row.val, row.s, row.ut))
    }
    return out.sort((a, b) => a.t - b.t)
  }

  /** The time of a series' newest point. */
  time(series: number): number | undefined {
    return this.#newest(series)?.t
  }

  #newest(series: number): Newest {
    let row = this.#rows.get(series)
    if (row === undefined) {
      row = (this.#latest.get(series) as PointRow | undefined) ?? null
      this.#rows.set(series, row)
    }
    return row
  }

  /** Finds these series' newest points again, after points were dropped. Call inside a transaction. */
  rebuild(series: Iterable<number>): void {
    for (const id of series) {
      this.#clear.run(id)
      this.#rebuild.run(id)
      // Read again when next asked for: the table now holds what is left.
      this.#rows.delete(id)
    }
  }

  /** Drops what is in memory: the table is the truth again (after a transaction that failed). */
  forget(): void {
    this.#rows.clear()
  }
}

/** One group of blocks' newest point per series, written as one upsert per series. */
class LatestBatch {
  readonly #upsert: MultiRow
  readonly #rows: Map<number, Newest>
  readonly #newest = new Map<number, PointRow>()

  constructor(upsert: MultiRow, rows: Map<number, Newest>) {
    this.#upsert = upsert
    this.#rows = rows
  }

  add(series: number, t: number, val: number | string | null, s: number | null, ut: number | null): void {
    const prev = this.#newest.get(series)
    // Later blocks win ties, as one upsert per block would have it.
    if (!prev || t >= prev.t) this.#newest.set(series, { t, series, val, s, ut })
  }

  finish(): void {
    const values: (number | string | null)[] = []
    for (const p of this.#newest.values()) {
      values.push(p.series, p.t, p.val, p.s, p.ut)
      // The memory follows the upsert: a point replaces the row unless the row is newer. A series
      // not in memory stays out of it, to be read from the table when asked for.
      const known = this.#rows.get(p.series)
      if (known === null || (known !== undefined && p.t >= known.t)) this.#rows.set(p.series, p)
    }
    this.#upsert.run(values)
  }
}
