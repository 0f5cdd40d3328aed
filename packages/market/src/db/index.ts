/**
 * The market's storage: one small SQL interface over PostgreSQL (`pg`, given a connection
 * string) or PGlite (Postgres compiled to WebAssembly, in-process, with a data directory on
 * disk), so the same SQL runs on both. State lives here, not in a process: two market
 * processes on one PostgreSQL serve the same market.
 *
 * Migrations are applied at open, each once, recorded in a table of their own. They run in one
 * transaction under an advisory lock, so two processes opening the same database at once take
 * turns instead of both creating the same tables.
 */
import fs from 'node:fs'
import path from 'node:path'
import { Unavailable } from '../errors/index.ts'
import { MIGRATIONS, type Migration } from './migrations.ts'

export type Row = Record<string, unknown>

export interface Sql {
  query<R extends Row = Row>(text: string, params?: unknown[]): Promise<R[]>
}

export interface Database extends Sql {
  readonly kind: 'postgres' | 'pglite'
  /** Runs fn in one transaction: committed when fn resolves, rolled back when it throws. */
  transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T>
  /** Calls onNotify for each NOTIFY on channel (from any process on PostgreSQL); resolves to a function that stops listening. */
  listen(channel: string, onNotify: (payload: string) => void): Promise<() => Promise<void>>
  close(): Promise<void>
}

export interface DatabaseOptions {
  /** A PostgreSQL connection string; when given, dataDir is ignored. */
  url?: string
  /** PGlite's data directory; omitted (and no url), the database lives in memory and dies with the process. */
  dataDir?: string
}

/** Serialises migrations across every process opening the same database ("coffer-market" as bytes). */
const MIGRATION_LOCK = 0x636f66666572

export async function openDatabase(opts: DatabaseOptions): Promise<Database> {
  const db = opts.url ? await openPostgres(opts.url) : await openPglite(opts.dataDir)
  try {
    await migrate(db, MIGRATIONS)
  } catch (err) {
    await db.close()
    throw err
  }
  return db
}

/** Applies, in order, each migration the database has not recorded yet; returns the versions it applied. */
export async function migrate(db: Database, migrations: readonly Migration[]): Promise<number[]> {
  return db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK])
    await tx.query('CREATE TABLE IF NOT EXISTS market_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())')
    const done = new Set((await tx.query<{ version: number }>('SELECT version FROM market_migrations')).map((r) => Number(r.version)))
    const applied: number[] = []
    for (const m of migrations) {
      if (done.has(m.version)) continue
      for (const statement of m.statements) await tx.query(statement)
      await tx.query('INSERT INTO market_migrations (version, name) VALUES ($1, $2)', [m.version, m.name])
      applied.push(m.version)
    }
    return applied
  })
}

async function openPostgres(url: string): Promise<Database> {
  const { default: pg } = await import('pg')
  const pool = new pg.Pool({ connectionString: url, max: 10 })
  // An idle connection the server drops must not take the process down; the next query reconnects.
  pool.on('error', () => undefined)
  try {
    const client = await pool.connect()
    client.release()
  } catch (err) {
    await pool.end()
    throw new Unavailable(`Cannot reach PostgreSQL at ${redact(url)}: ${(err as Error).message}. Check that it runs and that the connection string is right, or leave --database out to use the embedded database.`)
  }
  const listeners = new Set<import('pg').Client>()
  return {
    kind: 'postgres',
    async query<R extends Row>(text: string, params?: unknown[]) {
      return (await pool.query(text, params)).rows as R[]
    },
    async transaction(fn) {
      const client = await pool.connect()
      try {
        await client.query('BEGIN')
        const result = await fn({ query: async <R extends Row>(text: string, params?: unknown[]) => (await client.query(text, params)).rows as R[] })
        await client.query('COMMIT')
        return result
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined)
        throw err
      } finally {
        client.release()
      }
    },
    async listen(channel, onNotify) {
      // LISTEN holds its connection for as long as it listens, so it gets its own, outside the pool.
      const client = new pg.Client({ connectionString: url })
      client.on('error', () => undefined)
      await client.connect()
      client.on('notification', (n) => {
        if (n.channel === channel) onNotify(n.payload ?? '')
      })
      await client.query(`LISTEN ${quoteIdent(channel)}`)
      listeners.add(client)
      return async () => {
        listeners.delete(client)
        await client.end().catch(() => undefined)
      }
    },
    async close() {
      await Promise.all([...listeners].map((c) => c.end().catch(() => undefined)))
      listeners.clear()
      await pool.end()
    },
  }
}

async function openPglite(dataDir: string | undefined): Promise<Database> {
  const { PGlite } = await import('@electric-sql/pglite')
  // PGlite has no locking of its own: two processes on one data directory would corrupt it.
  const unlock = dataDir ? lockDataDir(dataDir) : () => undefined
  let db: import('@electric-sql/pglite').PGlite
  try {
    db = await PGlite.create(dataDir ? path.resolve(dataDir) : undefined)
  } catch (err) {
    unlock()
    throw err
  }
  return {
    kind: 'pglite',
    async query<R extends Row>(text: string, params?: unknown[]) {
      return (await db.query<R>(text, params)).rows
    },
    transaction(fn) {
      return db.transaction((tx) => fn({ query: async <R extends Row>(text: string, params?: unknown[]) => (await tx.query<R>(text, params)).rows }))
    },
    async listen(channel, onNotify) {
      return db.listen(channel, onNotify)
    },
    async close() {
      try {
        await db.close()
      } finally {
        unlock()
      }
    },
  }
}

/**
 * Takes the data directory for this process with a lock file holding its pid. A lock left by a
 * process that no longer runs is taken over; one held by a live process is refused.
 */
function lockDataDir(dataDir: string): () => void {
  fs.mkdirSync(dataDir, { recursive: true })
  const lock = path.join(dataDir, 'coffer-market.lock')
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(lock, String(process.pid), { flag: 'wx' })
      return () => fs.rmSync(lock, { force: true })
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      const holder = Number(fs.readFileSync(lock, 'utf8'))
      if (isAlive(holder)) {
        throw new Unavailable(`Another market process (pid ${holder}) is using the embedded database in ${dataDir}. Stop it first, or run every process on PostgreSQL (--database URL) to serve one market from several.`)
      }
      fs.rmSync(lock, { force: true })
    }
  }
  throw new Unavailable(`Cannot take the lock on ${dataDir}: another process keeps taking it.`)
}

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`
}

/** A connection string as it may be shown: without its password. */
export function redact(url: string): string {
  try {
    const u = new URL(url)
    if (u.password) u.password = '***'
    return u.toString()
  } catch {
    return 'the given connection string'
  }
}

export type { Migration } from './migrations.ts'
