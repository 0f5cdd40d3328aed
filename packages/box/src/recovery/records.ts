/**
 * What box.db keeps for social recovery: on the owner's box, each split made (never a share in
 * the clear: each leaves sealed to its friend; one going through a replica is kept, sealed, until
 * that replica says it holds it); on a friend's box, and on a blind replicator, the newest share
 * per owner, still sealed.
 */
import type Database from 'better-sqlite3'
import { Conflict } from '../errors/index.ts'
import type { Friend, SharePayload } from './shares.ts'

export interface Split {
  version: number
  threshold: number
  friends: ShareHolder[]
  /** Epoch seconds. */
  createdAt: number
}

/** A friend holding a share of a split, and how the share reached them. */
export interface ShareHolder extends Friend {
  /** The paired blind replica the box delivers the share through; null when it was handed over as a file. */
  replica: { id: string; name: string } | null
  /** When the replica said it holds the share (epoch seconds); null until then, and for a file. */
  deliveredAt: number | null
  /** Why the replica refused the share, if it did. */
  problem: string | null
}

/** A holder as box.db keeps it: a share on its way through a replica is kept, sealed to it, until delivered. */
type StoredHolder = Friend & Partial<Omit<ShareHolder, keyof Friend>> & { file?: string }

/** What a replica is to be told of the split in force: its own share of it, or (file null) that it holds none of it. */
export interface ShareForReplica {
  version: number
  file: string | null
}

/**
 * The table a friend's box (box.db's migration 5) and a blind replicator (its own database) keep
 * the shares they hold in: the same rows, so they are held and released by the same code.
 */
export const HELD_SHARES_TABLE = `CREATE TABLE IF NOT EXISTS held_shares (owner TEXT PRIMARY KEY, version INTEGER NOT NULL, share_index INTEGER NOT NULL, threshold INTEGER NOT NULL,
    count INTEGER NOT NULL, label TEXT, share TEXT NOT NULL, received_at REAL NOT NULL, released_to TEXT, released_at REAL)`

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
    const split = this.#latest()
    return split && { ...split, friends: split.friends.map(({ file: _, ...holder }) => ({ replica: null, deliveredAt: null, problem: null, ...holder })) }
  }

  #latest(): (Omit<Split, 'friends'> & { friends: StoredHolder[] }) | null {
    const row = this.#db.prepare('SELECT version, threshold, friends, created_at FROM recovery_splits ORDER BY version DESC LIMIT 1')
      .get() as { version: number; threshold: number; friends: string; created_at: number } | undefined
    return row ? { version: row.version, threshold: row.threshold, friends: JSON.parse(row.friends) as StoredHolder[], createdAt: row.created_at } : null
  }

  /**
   * The version a new split takes: above every earlier one, and no lower than the time in seconds,
   * so a box recovered from its words (whose new box.db remembers no split) still numbers its
   * next split above the ones its friends hold.
   */
  nextVersion(now: number): number {
    return Math.max((this.latestSplit()?.version ?? 0) + 1, Math.floor(now))
  }

  /** Records a split; a share going through a replica is kept, sealed to it, in `file` until delivered. */
  recordSplit(split: Omit<Split, 'friends'> & { friends: (ShareHolder & { file?: string })[] }): void {
    try {
      this.#db.prepare('INSERT INTO recovery_splits (version, threshold, friends, created_at) VALUES (?, ?, ?, ?)')
        .run(split.version, split.threshold, JSON.stringify(split.friends.map(({ file, ...holder }) => holder.replica && file ? { ...holder, file } : holder)), split.createdAt)
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') throw new Conflict('Another split was made at the same moment: split again.')
      throw err
    }
  }

  /**
   * What a replica (by its key) is to be told of the split in force: its share, while not yet
   * delivered; or that it holds none of this split, so it drops one of an earlier split. Undefined
   * when there is nothing to say: no split, or its share delivered.
   */
  shareFor(replicaKey: string): ShareForReplica | undefined {
    const split = this.#latest()
    if (!split) return undefined
    const holder = split.friends.find((f) => f.replica && f.identity === replicaKey)
    if (!holder) return { version: split.version, file: null }
    return holder.file ? { version: split.version, file: holder.file } : undefined
  }

  /** A replica's answer to the share of split `version` sent to it: held (its sealed copy is no longer kept here), or refused and why. */
  delivered(version: number, replicaKey: string, answer: { at: number } | { problem: string }): void {
    this.#db.transaction(() => {
      const split = this.#latest()
      if (split?.version !== version) return
      const holder = split.friends.find((f) => f.replica && f.identity === replicaKey)
      if (!holder?.file) return
      if ('at' in answer) {
        delete holder.file
        Object.assign(holder, { deliveredAt: Math.floor(answer.at), problem: null })
      } else {
        holder.problem = answer.problem
      }
      this.#db.prepare('UPDATE recovery_splits SET friends = ? WHERE version = ?').run(JSON.stringify(split.friends), version)
    }).immediate()
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

  /** Drops the share held for an owner if it is of a split older than `version`; true if one was dropped. */
  retire(owner: string, version: number): boolean {
    return this.#db.prepare('DELETE FROM held_shares WHERE owner = ? AND version < ?').run(owner, version).changes > 0
  }

  forget(owner: string): void {
    this.#db.prepare('DELETE FROM held_shares WHERE owner = ?').run(owner)
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
