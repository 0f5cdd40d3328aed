/**
 * What box.db keeps for social recovery: on the owner's box, each split made (never the shares:
 * those leave sealed to friends); on a friend's box, the newest share per owner, still sealed.
 */
import type Database from 'better-sqlite3'
import { Conflict } from '../errors/index.ts'
import type { Friend, SharePayload } from './shares.ts'

export interface Split {
  version: number
  threshold: number
  friends: Friend[]
  /** Epoch seconds. */
  createdAt: number
}

export interface HeldShare {
  owner: string
  /** The split it belongs to. */
  version: number
  index: number
  threshold: number
  count: number
  /** What this box's owner calls the owner of the share, if they said. */
  label: string | null
  receivedAt: number
  releasedTo: string | null
  releasedAt: number | null
}

interface HeldRow {
  owner: string
  version: number
  share_index: number
  threshold: number
  count: number
  label: string | null
  share: string
  received_at: number
  released_to: string | null
  released_at: number | null
}

export class RecoveryRecords {
  readonly #db: Database.Database

  constructor(db: Database.Database) {
    this.#db = db
  }

  latestSplit(): Split | null {
    const row = this.#db.prepare('SELECT version, threshold, friends, created_at FROM recovery_splits ORDER BY version DESC LIMIT 1')
      .get() as { version: number; threshold: number; friends: string; created_at: number } | undefined
    return row ? { version: row.version, threshold: row.threshold, friends: JSON.parse(row.friends) as Friend[], createdAt: row.created_at } : null
  }

  /**
   * The version a new split takes: above every earlier one, and no lower than the time in seconds,
   * so a box recovered from its words (whose new box.db remembers no split) still numbers its
   * next split above the ones its friends hold.
   */
  nextVersion(now: number): number {
    return Math.max((this.latestSplit()?.version ?? 0) + 1, Math.floor(now))
  }

  recordSplit(split: Split): void {
    try {
      this.#db.prepare('INSERT INTO recovery_splits (version, threshold, friends, created_at) VALUES (?, ?, ?, ?)')
        .run(split.version, split.threshold, JSON.stringify(split.friends), split.createdAt)
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') throw new Conflict('Another split was made at the same moment: split again.')
      throw err
    }
  }

  held(): HeldShare[] {
    return (this.#db.prepare('SELECT * FROM held_shares ORDER BY received_at, owner').all() as HeldRow[]).map(heldShare)
  }

  /** The share held for an owner, with its sealed file. */
  heldFor(owner: string): { held: HeldShare; file: string } | undefined {
    const row = this.#db.prepare('SELECT * FROM held_shares WHERE owner = ?').get(owner) as HeldRow | undefined
    return row && { held: heldShare(row), file: row.share }
  }

  /**
   * Keeps a share: the only one for its owner, replacing an older split's. A share of an older split
   * is refused, and so is another share of the same split; the same share again changes nothing.
   */
  hold(payload: SharePayload, file: string, label: string | undefined, now: number): HeldShare {
    return this.#db.transaction(() => {
      const current = this.heldFor(payload.owner)?.held
      if (current && current.version > payload.set) {
        throw new Conflict(`This share is from an older split (version ${payload.set}) than the one this box holds for that owner (version ${current.version}): the owner retired it by splitting again. Nothing was changed.`)
      }
      if (current && current.version === payload.set) {
        if (current.index !== payload.index) throw new Conflict(`This box already holds share ${current.index} of that owner's split version ${current.version}; a box holds one share of a split, and this is share ${payload.index}. Nothing was changed.`)
        if (label !== undefined && label !== current.label) this.#db.prepare('UPDATE held_shares SET label = ? WHERE owner = ?').run(label, payload.owner)
        return this.heldFor(payload.owner)!.held
      }
      this.#db.prepare(`INSERT INTO held_shares (owner, version, share_index, threshold, count, label, share, received_at, released_to, released_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL)
        ON CONFLICT (owner) DO UPDATE SET version = excluded.version, share_index = excluded.share_index, threshold = excluded.threshold, count = excluded.count,
          label = COALESCE(excluded.label, held_shares.label), share = excluded.share, received_at = excluded.received_at, released_to = NULL, released_at = NULL`)
        .run(payload.owner, payload.set, payload.index, payload.threshold, payload.count, label ?? null, file, now)
      return this.heldFor(payload.owner)!.held
    }).immediate()
  }

  markReleased(owner: string, to: string, now: number): HeldShare {
    this.#db.prepare('UPDATE held_shares SET released_to = ?, released_at = ? WHERE owner = ?').run(to, now, owner)
    return this.heldFor(owner)!.held
  }
}

function heldShare(row: HeldRow): HeldShare {
  return {
    owner: row.owner, version: row.version, index: row.share_index, threshold: row.threshold, count: row.count, label: row.label,
    receivedAt: row.received_at, releasedTo: row.released_to, releasedAt: row.released_at,
  }
}
