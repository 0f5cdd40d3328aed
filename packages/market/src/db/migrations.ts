/**
 * The market's schema, as numbered migrations. A migration, once released, is never edited:
 * a change is a new one at the end. Each is a list of single statements, so it runs the same
 * way on PostgreSQL and PGlite.
 */
export interface Migration {
  version: number
  name: string
  statements: string[]
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'processors, queries and their feed sequence, participation',
    statements: [
      `CREATE TABLE processors (
        id text PRIMARY KEY,
        name text NOT NULL,
        contact text,
        key_hash text NOT NULL UNIQUE,
        created_at timestamptz NOT NULL DEFAULT now()
      )`,
      // The feed's order. A sequence, not max()+1, so two market processes never hand out the same number.
      'CREATE SEQUENCE query_feed_seq AS bigint',
      `CREATE TABLE queries (
        id text PRIMARY KEY,
        seq bigint NOT NULL UNIQUE,
        processor_id text NOT NULL REFERENCES processors (id),
        status text NOT NULL CHECK (status IN ('open', 'closed', 'cancelled')),
        spec jsonb NOT NULL,
        question jsonb NOT NULL,
        text text NOT NULL,
        posted_at timestamptz NOT NULL DEFAULT now(),
        ended_at timestamptz
      )`,
      'CREATE INDEX queries_by_processor ON queries (processor_id, seq)',
      // One row per box that decided on a query; the counts a processor follows come from here.
      `CREATE TABLE participations (
        query_id text NOT NULL REFERENCES queries (id),
        box text NOT NULL,
        state text NOT NULL CHECK (state IN ('accepted', 'declined', 'answered')),
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (query_id, box)
      )`,
    ],
  },
]
