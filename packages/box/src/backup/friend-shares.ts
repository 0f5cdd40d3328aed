/**
 * A blind replicator's operator as a friend in social recovery: the owner's box may send, over
 * their paired connection, a share of its seed sealed to the replicator's key. The replicator keeps
 * it as a friend's box keeps one (the same table, the same checks, still sealed), cannot use it
 * alone, and releases it only when its operator seals it to a recovering owner's code.
 *
 * The share names the owner by their box identity; the replicator knows the owner by the box's
 * backup key. It learns which identity goes with which key from the first share, and refuses a
 * share of that seed from any other box.
 */
import type Database from 'better-sqlite3'
import { Conflict, InvalidInput, NotFound } from '../errors/index.ts'
import { BadShare, HELD_SHARES_TABLE, RecoveryRecords, checkShare, releaseHeld, type HeldShare } from '../recovery/index.ts'
import type { KeyPair } from '../keys/index.ts'

export const FRIEND_SHARES_TABLES = `${HELD_SHARES_TABLE};
  CREATE TABLE IF NOT EXISTS share_owners (key TEXT PRIMARY KEY, identity TEXT NOT NULL UNIQUE)`

/** A share held here, with the backup key of the box that sent it. */
export interface FriendShare extends HeldShare {
  key: string
}

const now = () => Date.now() / 1000

/**
 * Takes what an owner's box said of its split in force (`set`): keeps the share sealed to this
 * replicator (replacing an older split's), or, for none, drops a share of an older split. Throws,
 * saying why, when the share is refused.
 */
export function takeShare(db: Database.Database, keyPair: KeyPair, owner: { key: string; name: string }, message: { set: number; file: string | null }): void {
  const records = new RecoveryRecords(db)
  const known = db.prepare('SELECT identity FROM share_owners WHERE key = ?').pluck().get(owner.key) as string | undefined
  if (message.file === null) {
    if (known) records.retire(known, message.set)
    return
  }
  const payload = checkShare(message.file, keyPair)
  if (payload.set !== message.set) throw new BadShare(`The box said its split is version ${message.set}, and the share it sent is of version ${payload.set}. Nothing was changed.`)
  db.transaction(() => {
    const holder = db.prepare('SELECT key FROM share_owners WHERE identity = ?').pluck().get(payload.owner) as string | undefined
    if (holder !== undefined && holder !== owner.key) throw new Conflict('This replicator holds a share of that seed for another box already. Nothing was changed.')
    if (known !== undefined && known !== payload.owner) records.forget(known)
    db.prepare('INSERT INTO share_owners (key, identity) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET identity = excluded.identity').run(owner.key, payload.owner)
    records.hold(payload, message.file!, owner.name, now())
  })()
}

/** The shares held here, each with the key of the box it came from. */
export function friendShares(db: Database.Database): FriendShare[] {
  const keys = new Map((db.prepare('SELECT identity, key FROM share_owners').all() as { identity: string; key: string }[]).map((r) => [r.identity, r.key]))
  return new RecoveryRecords(db).held().map((held) => ({ ...held, key: keys.get(held.owner) ?? '' }))
}

/**
 * Releases the share held for an owner — named by their box's key (as `coffer replicator status`
 * shows it), their identity, a prefix of either, or their name — sealed to the one-time recovery
 * code their new home printed.
 */
export function releaseFriendShare(db: Database.Database, keyPair: KeyPair, ref: string, to: string): { share: FriendShare; file: string } {
  const wanted = ref.toLowerCase()
  const found = friendShares(db).filter((s) => s.label === ref || (/^[0-9a-f]{4,64}$/.test(wanted) && (s.key.startsWith(wanted) || s.owner.startsWith(wanted))))
  if (found.length === 0) throw new NotFound(`This replicator holds no share for "${ref}": \`coffer replicator shares list\` shows the shares it holds.`)
  if (found.length > 1) throw new InvalidInput(`"${ref}" names the shares of several owners: give more of the key.`)
  const records = new RecoveryRecords(db)
  const { owner } = found[0]!
  const file = releaseHeld(records.heldFor(owner)!.file, keyPair, to)
  return { share: { ...records.markReleased(owner, to, now()), key: found[0]!.key }, file }
}

/** Forgets the share an owner's box sent, when the replicator stops serving that box. */
export function forgetShare(db: Database.Database, key: string): void {
  const identity = db.prepare('SELECT identity FROM share_owners WHERE key = ?').pluck().get(key) as string | undefined
  if (identity) new RecoveryRecords(db).forget(identity)
  db.prepare('DELETE FROM share_owners WHERE key = ?').run(key)
}
