/**
 * A throwaway PostgreSQL database per test: created with a random name on the local server
 * (COFFER_TEST_POSTGRES, by default the trust-auth `test` database on 127.0.0.1:5432) and
 * dropped afterwards, connections and all.
 */
import crypto from 'node:crypto'
import pg from 'pg'

export const ADMIN_URL = process.env.COFFER_TEST_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/test'

export interface TempDatabase {
  url: string
  drop(): Promise<void>
}

export async function createTempDatabase(): Promise<TempDatabase> {
  const name = `coffer_market_${crypto.randomBytes(6).toString('hex')}`
  await admin(`CREATE DATABASE ${name}`)
  const url = new URL(ADMIN_URL)
  url.pathname = `/${name}`
  return { url: url.toString(), drop: () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) }
}

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: ADMIN_URL })
  await client.connect()
  try {
    await client.query(sql)
  } finally {
    await client.end()
  }
}
