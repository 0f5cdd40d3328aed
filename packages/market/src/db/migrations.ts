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
  {
    version: 3,
    name: 'payments: a double-entry ledger, owners\' payout addresses, the market wallet\'s coins and payout batches',
    statements: [
      // What each account holds, kept beside its lines so a transfer locks and checks one row per
      // account. Only the outside world's side of deposits may go below zero: nothing is spent
      // that was not paid in first.
      `CREATE TABLE ledger_accounts (
        id text PRIMARY KEY,
        kind text NOT NULL CHECK (kind IN ('processor', 'escrow', 'owner', 'payouts', 'fees', 'deposits', 'paid')),
        balance bigint NOT NULL DEFAULT 0,
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT ledger_no_overdraft CHECK (balance >= 0 OR kind = 'deposits')
      )`,
      // The key makes an entry idempotent: a release, a deposit or a payout posted twice is written once.
      `CREATE TABLE ledger_entries (
        id bigserial PRIMARY KEY,
        key text NOT NULL UNIQUE,
        kind text NOT NULL CHECK (kind IN ('deposit', 'escrow', 'settlement', 'payout', 'payout_returned', 'payout_confirmed')),
        memo text,
        query_id text,
        payout_id text,
        created_at timestamptz NOT NULL DEFAULT now()
      )`,
      `CREATE TABLE ledger_lines (
        entry_id bigint NOT NULL REFERENCES ledger_entries (id),
        account_id text NOT NULL REFERENCES ledger_accounts (id),
        amount bigint NOT NULL CHECK (amount <> 0),
        PRIMARY KEY (entry_id, account_id)
      )`,
      'CREATE INDEX ledger_lines_by_account ON ledger_lines (account_id, entry_id)',
      // The newest signed address of each owner (box identity); signed_at only moves forward, so an old message replayed changes nothing.
      `CREATE TABLE payout_addresses (
        box_id text PRIMARY KEY,
        address text NOT NULL,
        signed_at timestamptz NOT NULL,
        signature text NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`,
      // One Bitcoin transaction paying many owners. Its bytes are signed once and kept: whoever
      // broadcasts it again, after a crash, sends the very same transaction, so no one is paid twice.
      `CREATE TABLE payouts (
        id text PRIMARY KEY,
        state text NOT NULL CHECK (state IN ('signed', 'broadcast', 'confirmed', 'failed')),
        txid text NOT NULL,
        tx bytea NOT NULL,
        vbytes integer NOT NULL,
        fee bigint NOT NULL,
        fee_per_owner bigint NOT NULL,
        owners integer NOT NULL,
        sent bigint NOT NULL,
        error text,
        created_at timestamptz NOT NULL DEFAULT now(),
        broadcast_at timestamptz,
        settled_at timestamptz
      )`,
      'CREATE INDEX payouts_unsettled ON payouts (created_at) WHERE state IN (\'signed\', \'broadcast\')',
      // Not unique: a payout the network refused may be made again from the same coins, to the same owners, as the same transaction.
      'CREATE INDEX payouts_by_txid ON payouts (txid)',
      `CREATE TABLE payout_lines (
        payout_id text NOT NULL REFERENCES payouts (id),
        box_id text NOT NULL,
        address text NOT NULL,
        amount bigint NOT NULL,
        fee bigint NOT NULL,
        vout integer NOT NULL,
        PRIMARY KEY (payout_id, box_id)
      )`,
      'CREATE INDEX payout_lines_by_box ON payout_lines (box_id)',
      // The market wallet's coins: what the operator funded it with, and each payout's change, which
      // is spent only once its payout is confirmed.
      `CREATE TABLE wallet_coins (
        txid text NOT NULL,
        vout integer NOT NULL,
        amount bigint NOT NULL CHECK (amount > 0),
        state text NOT NULL CHECK (state IN ('available', 'pending', 'spent')),
        spent_by text REFERENCES payouts (id),
        change_of text REFERENCES payouts (id),
        added_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (txid, vout)
      )`,
    ],
  },
]
