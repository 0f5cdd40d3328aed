/** A key-value source's items: JSON values by key, each with the time it was put. */
import type Database from 'better-sqlite3'

export class KeyValues {
  readonly #db: Database.Database
  readonly #get: Database.Statement
  readonly #put: Database.Statement
  readonly #delete: Database.Statement

  constructor(db: Database.Database) {
    this.#db = db
    this.#get = db.prepare('SELECT value, t FROM kv WHERE key = ?')
    this.#put = db.prepare('INSERT OR REPLACE INTO kv (key, value, t) VALUES (?, ?, ?)')
    this.#delete = db.prepare('DELETE FROM kv WHERE key = ?')
  }

  get(key: string): { value: unknown; t: number } | undefined {
    const row = this.#get.get(key) as { value: string; t: number } | undefined
    return row && { value: JSON.parse(row.value), t: row.t }
  }

  /** Up to `limit` keys starting with `prefix`, in order. */
  keys(prefix: string, limit: number): string[] {
    return (this.#db.prepare('SELECT key FROM kv WHERE key >= ? AND key < ? || char(1114111) ORDER BY key LIMIT ?').all(prefix, prefix, limit) as { key: string }[]).map((r) => r.key)
  }

  put(key: string, value: unknown, t: number): void {
    this.#put.run(key, JSON.stringify(value), t)
  }

  delete(key: string): void {
    this.#delete.run(key)
  }

  count(): number {
    return (this.#db.prepare('SELECT count(*) AS n FROM kv').get() as { n: number }).n
  }
}
