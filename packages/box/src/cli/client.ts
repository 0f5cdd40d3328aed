/**
 * An owner token minted straight from the box home: for `coffer token owner`, and for commands
 * when the running box left none for them (see connect.ts). Whoever can read the home holds the
 * seed anyway. Kept apart from connect.ts because it loads the arbiter and SQLite, which a
 * command that only talks to the box does not need.
 */
import type { Home } from '../home/index.ts'
import { Arbiter, type IssuedToken } from '../arbiter/index.ts'
import { openMetaDb } from '../db/index.ts'

export function mintOwnerToken(home: Home, ttlSeconds: number): IssuedToken {
  const db = openMetaDb(home.paths.meta)
  try {
    return new Arbiter(db, home.keys.macaroonRootKey).ownerToken(ttlSeconds)
  } finally {
    db.close()
  }
}
