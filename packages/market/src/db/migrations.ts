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
  {
    version: 2,
    name: 'statistics answers: tasks per query, signed answers, released results, aggregator keys, helper batches',
    statements: [
      // The deadline as a column, so the release loop finds due queries by an index instead of reading every spec.
      'ALTER TABLE queries ADD COLUMN deadline timestamptz',
      "UPDATE queries SET deadline = (spec->>'deadline')::timestamptz",
      'ALTER TABLE queries ALTER COLUMN deadline SET NOT NULL',
      // One secure-aggregation task per privacy class, made at posting (absent for datasets).
      'ALTER TABLE queries ADD COLUMN tasks jsonb',
      'CREATE INDEX queries_due ON queries (deadline) WHERE status IN (\'open\', \'closed\')',
      // One answer per box per query, one use of a report id per task: both are unique keys, so
      // two market processes cannot both take a second answer or a replayed upload.
      `CREATE TABLE answers (
        id bigserial PRIMARY KEY,
        query_id text NOT NULL REFERENCES queries (id),
        box_id text NOT NULL,
        level text NOT NULL CHECK (level IN ('low', 'medium', 'high')),
        task_id text NOT NULL,
        report_id text NOT NULL,
        leader bytea NOT NULL,
        helper bytea NOT NULL,
        received_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (query_id, box_id),
        UNIQUE (task_id, report_id)
      )`,
      `CREATE TABLE results (
        query_id text PRIMARY KEY REFERENCES queries (id),
        state text NOT NULL CHECK (state IN ('released', 'not_enough', 'cancelled')),
        result jsonb NOT NULL,
        released_at timestamptz NOT NULL DEFAULT now()
      )`,
      // This market's own HPKE key pair per role, made once and shared by every process on the database.
      `CREATE TABLE aggregator_keys (
        role text PRIMARY KEY CHECK (role IN ('leader', 'helper')),
        hpke_config text NOT NULL,
        private_key text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`,
      // The helper's side of one task's batch: what the leader forwarded, and the share released, once.
      `CREATE TABLE helper_batches (
        task_id text PRIMARY KEY,
        task jsonb NOT NULL,
        uploads jsonb NOT NULL,
        prepare_init bytea NOT NULL,
        share bytea,
        released_at timestamptz
      )`,
    ],
  },
]
