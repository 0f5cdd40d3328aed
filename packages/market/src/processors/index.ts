/**
 * Processors: whoever asks the boxes questions. Registering gives an API key, shown once and
 * stored only as its SHA-256 hash. The key carries 256 random bits, so a fast hash is enough:
 * there is no password to guess, and a stolen table yields no usable key.
 */
import crypto from 'node:crypto'
import type { Database } from '../db/index.ts'
import { Unauthorized } from '../errors/index.ts'

export interface Processor {
  id: string
  name: string
  contact: string | null
  registeredAt: string
}

export interface Registration {
  processor: Processor
  /** The API key, which the market cannot show again. */
  key: string
}

export interface Processors {
  register(input: { name: string; contact?: string }): Promise<Registration>
  /** The processor an `Authorization` header's bearer key belongs to; Unauthorized when it is missing or unknown. */
  authenticate(authorization: string | undefined): Promise<Processor>
}

const KEY_PREFIX = 'cmk_'

export function createProcessors(db: Database): Processors {
  return {
    async register({ name, contact }) {
      const id = crypto.randomUUID()
      const key = KEY_PREFIX + crypto.randomBytes(32).toString('base64url')
      const [row] = await db.query<ProcessorRow>(
        'INSERT INTO processors (id, name, contact, key_hash) VALUES ($1, $2, $3, $4) RETURNING id, name, contact, created_at',
        [id, name.trim(), contact?.trim() || null, hashKey(key)],
      )
      return { processor: toProcessor(row!), key }
    },

    async authenticate(authorization) {
      const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')
      if (!match) {
        throw new Unauthorized('This needs a processor API key, sent as `Authorization: Bearer <key>`. Register with `coffer-market processor register --name <name>` to get one.')
      }
      const [row] = await db.query<ProcessorRow>('SELECT id, name, contact, created_at FROM processors WHERE key_hash = $1', [hashKey(match[1]!)])
      if (!row) throw new Unauthorized('This market does not know that API key. Check it was copied whole, or register again to get a new one.')
      return toProcessor(row)
    },
  }
}

interface ProcessorRow extends Record<string, unknown> {
  id: string
  name: string
  contact: string | null
  created_at: Date
}

function toProcessor(row: ProcessorRow): Processor {
  return { id: row.id, name: row.name, contact: row.contact, registeredAt: new Date(row.created_at).toISOString() }
}

function hashKey(key: string): string {
  return crypto.createHash('sha256').update(key).digest('hex')
}
