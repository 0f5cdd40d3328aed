/**
 * box.db, the box's own records: sources, grants, drivers, imports, exports and apps. This is
 * its one door. Opening it brings its tables up to date with the migrations below, numbered by
 * SQLite's user_version; each runs in its own transaction, so a crash mid-upgrade leaves the
 * file at the last version that completed, and the next open carries on from there.
 */
import Database from 'better-sqlite3'
import { CofferError } from '../errors/index.ts'

/**
 * Migration i takes box.db from version i to i + 1. A released migration is never edited,
 * only followed by a new one: homes in the wild have already run it.
 */
export const MIGRATIONS: readonly string[] = [
  // 1: the tables as every release before versioning made them. IF NOT EXISTS, because homes
  // written by those releases hold them already (at user_version 0) and must open unchanged.
  `CREATE TABLE IF NOT EXISTS sources (id TEXT PRIMARY KEY, meta TEXT NOT NULL, generation INTEGER NOT NULL, deleted INTEGER NOT NULL DEFAULT 0);
  CREATE TABLE IF NOT EXISTS grants (id TEXT PRIMARY KEY, subject TEXT NOT NULL, epoch INTEGER NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL, description TEXT NOT NULL, scope TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS drivers (id TEXT PRIMARY KEY, kind TEXT NOT NULL, config TEXT NOT NULL, grant_id TEXT NOT NULL, created_at TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS imports (id TEXT PRIMARY KEY, hash TEXT NOT NULL, name TEXT NOT NULL, format TEXT NOT NULL,
    source TEXT NOT NULL, state TEXT NOT NULL, records INTEGER NOT NULL, first_block INTEGER NOT NULL, error TEXT, started_at REAL NOT NULL, finished_at REAL);
  CREATE TABLE IF NOT EXISTS csv_profiles (name TEXT PRIMARY KEY, profile TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS exports (id TEXT PRIMARY KEY, app TEXT NOT NULL, destination TEXT NOT NULL,
    state TEXT NOT NULL, bytes INTEGER NOT NULL, sha256 TEXT NOT NULL, preview TEXT NOT NULL, payload BLOB NOT NULL,
    created_at REAL NOT NULL, decided_at REAL, response_status INTEGER, error TEXT);
  CREATE INDEX IF NOT EXISTS exports_by_app ON exports (app, destination, created_at);
  CREATE TABLE IF NOT EXISTS apps (id TEXT PRIMARY KEY, version TEXT NOT NULL, state TEXT NOT NULL, manifest TEXT NOT NULL,
    consent TEXT, grants TEXT NOT NULL, update_manifest TEXT, installed_at REAL NOT NULL, updated_at REAL NOT NULL, last_run TEXT);
  CREATE TABLE IF NOT EXISTS app_views (app TEXT NOT NULL, view TEXT NOT NULL, spec TEXT NOT NULL, updated_at REAL NOT NULL, PRIMARY KEY (app, view));`,
  // 2: the audit log's signed checkpoint, anchored here as well as beside the log, and what was
  // found whenever the log did not match it: deleting or rolling back the audit folder erases neither.
  `CREATE TABLE IF NOT EXISTS audit_anchor (id INTEGER PRIMARY KEY CHECK (id = 1), length INTEGER NOT NULL, tree_hash TEXT NOT NULL, signature TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS audit_damage (found_at TEXT NOT NULL, length INTEGER NOT NULL, problems TEXT NOT NULL, evidence TEXT NOT NULL);`,
  // 3: the data markets the owner joined, the queries they published and what the box did with
  // each, and the owner's market settings (privacy levels, rules, attribute mapping).
  `CREATE TABLE IF NOT EXISTS markets (id TEXT PRIMARY KEY, url TEXT NOT NULL UNIQUE, vocabulary TEXT NOT NULL, joined_at REAL NOT NULL,
    next_seq INTEGER NOT NULL DEFAULT 0, synced_at REAL, last_error TEXT);
  CREATE TABLE IF NOT EXISTS market_queries (market TEXT NOT NULL, id TEXT NOT NULL, seq INTEGER NOT NULL, query TEXT NOT NULL,
    state TEXT NOT NULL, decided_by TEXT, decided_at REAL, reason TEXT, received_at REAL NOT NULL, spent TEXT, answered_at REAL,
    PRIMARY KEY (market, id));
  CREATE INDEX IF NOT EXISTS market_queries_by_state ON market_queries (state, received_at);
  CREATE TABLE IF NOT EXISTS market_settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);`,
  // 4: backup: the replicas the owner paired or invited (the invite's secret kept only as a hash),
  // each replica's schedule and last health, and the block clears every replica must hear, in order,
  // with how far each replica has heard them.
  `CREATE TABLE IF NOT EXISTS replicas (id TEXT PRIMARY KEY, name TEXT NOT NULL, kind TEXT NOT NULL, public_key TEXT UNIQUE, state TEXT NOT NULL,
    invite_hash TEXT, expires_at REAL, created_at REAL NOT NULL, paired_at REAL, settings TEXT NOT NULL, health TEXT,
    last_seen REAL, clears_heard INTEGER NOT NULL DEFAULT 0);
  CREATE TABLE IF NOT EXISTS replica_clears (seq INTEGER PRIMARY KEY AUTOINCREMENT, core TEXT NOT NULL, blocks TEXT NOT NULL, at REAL NOT NULL);`,
  // 5: social recovery: each split of the root seed into friends' shares (the newest is the one in
  // force) and, on a friend's box, the one share it holds per owner, still sealed to it, with whom
  // it last released that share to.
  `CREATE TABLE IF NOT EXISTS recovery_splits (version INTEGER PRIMARY KEY, threshold INTEGER NOT NULL, friends TEXT NOT NULL, created_at REAL NOT NULL);
  CREATE TABLE IF NOT EXISTS held_shares (owner TEXT PRIMARY KEY, version INTEGER NOT NULL, share_index INTEGER NOT NULL, threshold INTEGER NOT NULL,
    count INTEGER NOT NULL, label TEXT, share TEXT NOT NULL, received_at REAL NOT NULL, released_to TEXT, released_at REAL);`,
  // 6: groups: each group this box is in, by its key (its first base's, which names it for good),
  // with the admin that let this box in (dialled until the group's log names the other members);
  // each epoch of it — the base written in then and the content key that reads it, derived on the
  // founder's box and handed to every other member sealed to that member (a new epoch comes with a
  // new key when a member is removed); and the invites this box's admins made, the secret kept
  // only as a hash, until used or expired.
  `CREATE TABLE IF NOT EXISTS groups (key TEXT PRIMARY KEY, name TEXT NOT NULL, joined_at REAL NOT NULL, invited_by TEXT);
  CREATE TABLE IF NOT EXISTS group_epochs (group_key TEXT NOT NULL, epoch INTEGER NOT NULL, base TEXT NOT NULL, content_key TEXT NOT NULL,
    started_at REAL NOT NULL, PRIMARY KEY (group_key, epoch));
  CREATE TABLE IF NOT EXISTS group_invites (id TEXT PRIMARY KEY, group_key TEXT NOT NULL, invitee TEXT NOT NULL, name TEXT NOT NULL, role TEXT NOT NULL,
    secret_hash TEXT NOT NULL UNIQUE, expires_at REAL NOT NULL, created_at REAL NOT NULL, used_at REAL);
  CREATE INDEX IF NOT EXISTS group_invites_by_group ON group_invites (group_key, created_at);`,
]

/** The version this code writes and reads. */
export const SCHEMA_VERSION = MIGRATIONS.length

/** box.db was last opened by a newer Coffer, whose tables this one may misread or damage. */
export class DatabaseTooNew extends CofferError {
  constructor(file: string, version: number) {
    super(500, 'database-too-new', 'Box database from a newer Coffer',
      `${file} is at schema version ${version}, and this Coffer knows versions up to ${SCHEMA_VERSION}. A newer Coffer has opened this home: run that one (or a later one) on it. Nothing has been changed.`)
  }
}

/** Opens box.db (or `:memory:`), waiting up to 5 s for another process's write, and brings it to SCHEMA_VERSION. */
export function openMetaDb(file: string): Database.Database {
  const db = new Database(file)
  try {
    db.pragma('journal_mode = WAL')
    db.pragma('busy_timeout = 5000')
    migrate(db, file)
    return db
  } catch (err) {
    db.close()
    throw err
  }
}

function userVersion(db: Database.Database): number {
  return db.pragma('user_version', { simple: true }) as number
}

/**
 * The version is read again inside each write transaction: the CLI minting a token and a box
 * starting may open the same new file at once, and only one of them should run each step.
 */
function migrate(db: Database.Database, file: string): void {
  const step = db.transaction((): boolean => {
    const version = userVersion(db)
    if (version > SCHEMA_VERSION) throw new DatabaseTooNew(file, version)
    if (version === SCHEMA_VERSION) return false
    db.exec(MIGRATIONS[version]!)
    db.pragma(`user_version = ${version + 1}`)
    return true
  })
  const version = userVersion(db)
  if (version > SCHEMA_VERSION) throw new DatabaseTooNew(file, version)
  if (version === SCHEMA_VERSION) return
  while (step.immediate()) { /* one migration per transaction, until none is left */ }
}
