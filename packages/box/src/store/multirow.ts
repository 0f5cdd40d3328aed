/**
 * Multi-row INSERTs for ingest: crossing into SQLite once per chunk of rows, not once per row,
 * is most of ingest speed. One statement per row count, prepared on first use and kept.
 */
import type Database from 'better-sqlite3'

/** Rows per multi-row INSERT: 64 × 8 parameters stays well under SQLite's limit of 32,766. */
export const CHUNK_ROWS = 64

export class MultiRow {
  readonly #db: Database.Database
  readonly #width: number
  readonly #sql: (rows: string) => string
  readonly #statements = new Map<number, Database.Statement>()

  /** `sql` takes the VALUES rows; each row has `width` values. */
  constructor(db: Database.Database, width: number, sql: (rows: string) => string) {
    this.#db = db
    this.#width = width
    this.#sql = sql
  }

  /** The statement that writes `rows` rows at once. */
  statement(rows: number): Database.Statement {
    let stmt = this.#statements.get(rows)
    if (!stmt) {
      stmt = this.#db.prepare(this.#sql(Array(rows).fill(`(${Array(this.#width).fill('?').join(', ')})`).join(', ')))
      this.#statements.set(rows, stmt)
    }
    return stmt
  }

  /** Writes `values`, CHUNK_ROWS rows at a time. */
  run(values: (number | string | null)[]): void {
    const width = this.#width
    for (let at = 0; at < values.length; at += CHUNK_ROWS * width) {
      const chunk = values.slice(at, at + CHUNK_ROWS * width)
      this.statement(chunk.length / width).run(chunk)
    }
  }
}
