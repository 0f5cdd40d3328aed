/**
 * Queries: what processors post and boxes receive. A query is checked against the query
 * contract and the vocabulary before it is stored; a stored one gets its place in the feed, a
 * number from a database sequence that boxes page through to catch up, and holds its most cost
 * (price × most participants) in escrow from its processor's balance, or is refused.
 *
 * Sequence numbers are handed out under a transaction-scoped advisory lock, so they become
 * visible in the order they were handed out: a box that has seen number n has seen every
 * published number below it, even with several market processes posting at once. A plain
 * sequence alone gives unique numbers but can commit 7 before 6, and a box reading in between
 * would skip 6 for good.
 */
import crypto from 'node:crypto'
import type { Database, Sql } from '../db/index.ts'
import { Conflict, InvalidInput, NotFound } from '../errors/index.ts'
import type { Processor } from '../processors/index.ts'
import { validateSpec, type Validation } from './validate.ts'
import { escrowQuery, settleQuery } from '../payments/index.ts'
import type { Vocabulary } from '../vocabulary/index.ts'
import type { Query, QueryProblem, QuerySpec } from '../query/index.ts'
import type { FeedPage, PublishedQuery, SharingLevel, TaskDescription } from '../protocol/index.ts'
import type { Fanout } from '../fanout/index.ts'

export { validateSpec, type Validation } from './validate.ts'

export type QueryStatus = 'open' | 'closed' | 'cancelled'

export interface PostedQuery {
  id: string
  seq: number
  status: QueryStatus
  spec: QuerySpec
  /** The question in its JSON form, parsed from the text when that is what was posted. */
  query: Query
  /** The question in canonical text form. */
  text: string
  postedAt: string
  endedAt: string | null
}

export interface Participation {
  accepted: number
  declined: number
  answered: number
  /** Answers received per privacy class. */
  levels: Record<SharingLevel, number>
}

/** A published query as boxes receive it in the feed: the protocol's PublishedQuery and FeedPage, shared with the box. */
export type FeedEntry = PublishedQuery
export type { FeedPage }

export const FEED_PAGE_MAX = 1000
export const LIST_MAX = 1000

/** Keeps the feed's numbers in commit order across every process on the database ("feed" as bytes). */
const FEED_LOCK = 0x66656564

export interface Queries {
  validate(body: unknown): Validation
  post(processor: Processor, body: unknown): Promise<PostedQuery>
  list(processor: Processor, opts?: { status?: QueryStatus; limit?: number }): Promise<PostedQuery[]>
  get(processor: Processor, id: string): Promise<PostedQuery & { participation: Participation }>
  close(processor: Processor, id: string): Promise<PostedQuery>
  cancel(processor: Processor, id: string): Promise<PostedQuery>
  /** Open queries after `since`, in sequence order, and where to go on from. */
  feed(since: number, limit: number): Promise<FeedPage>
}

export interface QueriesOptions {
  /**
   * Makes a query's aggregation tasks as it is posted (the leader's); it may refuse the query
   * with an InvalidInput. Without it queries are published without tasks.
   */
  tasksFor?: (id: string, query: Query, spec: QuerySpec, postedAt: Date) => Promise<Partial<Record<SharingLevel, TaskDescription>> | undefined>
  /** Called once a query is closed or cancelled, so its result can be released without waiting for the deadline. */
  onEnded?: (id: string) => void
  /** Announces each query published, to the other market processes and to subscribed boxes. */
  fanout?: Fanout
}

export function createQueries(db: Database, vocabulary: Vocabulary, options: QueriesOptions = {}): Queries {
  const end = async (processor: Processor, id: string, status: 'closed' | 'cancelled') => {
    return db.transaction(async (tx) => {
      const current = await own(tx, processor, id, true)
      if (current.status !== 'open') throw new Conflict(`Query ${id} is already ${current.status}; only an open query can be ${status}.`)
      const [row] = await tx.query<QueryRow>(`UPDATE queries SET status = $2, ended_at = now() WHERE id = $1 RETURNING ${COLUMNS}`, [id, status])
      // Withdrawn, it pays no one: the whole escrow goes back now. A closed query is settled when its result is released.
      if (status === 'cancelled') await settleQuery(tx, { queryId: id, processorId: processor.id, price: current.spec.price.amount, paid: [] })
      return toPosted(row!)
    }).then((ended) => {
      options.onEnded?.(id)
      return ended
    })
  }

  return {
    validate: (body) => validateSpec(body, vocabulary),

    async post(processor, body) {
      const { query, text, problems } = validateSpec(body, vocabulary)
      if (problems.length > 0 || !query || text === undefined) throw invalid(problems)
      const id = crypto.randomUUID()
      const spec = body as QuerySpec
      const tasks = await options.tasksFor?.(id, query, spec, new Date())
      const row = await db.transaction(async (tx) => {
        await tx.query('SELECT pg_advisory_xact_lock($1)', [FEED_LOCK])
        // Before the query takes its number: a post refused for want of funds leaves no gap in the feed.
        await escrowQuery(tx, processor.id, id, spec)
        const [inserted] = await tx.query<QueryRow & { tasks: FeedRow['tasks'] }>(
          `INSERT INTO queries (id, seq, processor_id, status, spec, question, text, deadline, tasks)
           VALUES ($1, nextval('query_feed_seq'), $2, 'open', $3::jsonb, $4::jsonb, $5, $6, $7::jsonb) RETURNING ${COLUMNS}, tasks`,
          [id, processor.id, JSON.stringify(body), JSON.stringify(query), text, spec.deadline, tasks ? JSON.stringify(tasks) : null],
        )
        await options.fanout?.inTransaction(tx, toEntry({ ...inserted!, processor_id: processor.id, processor_name: processor.name, processor_contact: processor.contact }))
        return inserted!
      })
      options.fanout?.committed(toEntry({ ...row, processor_id: processor.id, processor_name: processor.name, processor_contact: processor.contact }))
      return toPosted(row)
    },

    async list(processor, opts = {}) {
      const limit = clamp(opts.limit ?? 100, 1, LIST_MAX)
      const rows = await db.query<QueryRow>(
        `SELECT ${COLUMNS} FROM queries WHERE processor_id = $1 AND ($2::text IS NULL OR status = $2) ORDER BY seq DESC LIMIT $3`,
        [processor.id, opts.status ?? null, limit],
      )
      return rows.map(toPosted)
    },

    async get(processor, id) {
      const query = await own(db, processor, id, false)
      const counts = await db.query<{ state: 'accepted' | 'declined' | 'answered'; n: number }>('SELECT state, count(*)::integer AS n FROM participations WHERE query_id = $1 GROUP BY state', [id])
      const participation: Participation = { accepted: 0, declined: 0, answered: 0, levels: { low: 0, medium: 0, high: 0 } }
      for (const { state, n } of counts) participation[state] = Number(n)
      const levels = await db.query<{ level: SharingLevel; n: number }>('SELECT level, count(*)::integer AS n FROM answers WHERE query_id = $1 GROUP BY level', [id])
      for (const { level, n } of levels) participation.levels[level] = Number(n)
      return { ...query, participation }
    },

    close: (processor, id) => end(processor, id, 'closed'),
    cancel: (processor, id) => end(processor, id, 'cancelled'),

    async feed(since, limit) {
      limit = clamp(limit, 1, FEED_PAGE_MAX)
      // Read first: every number up to it is committed (see FEED_LOCK), so a page that comes back
      // short has seen them all, and a box can skip past closed queries instead of asking again.
      const [{ head } = { head: 0 }] = await db.query<{ head: number | string }>('SELECT coalesce(max(seq), 0) AS head FROM queries')
      const rows = await db.query<FeedRow>(
        `SELECT q.id, q.seq, q.spec, q.question, q.text, q.posted_at, q.tasks, p.id AS processor_id, p.name AS processor_name, p.contact AS processor_contact
         FROM queries q JOIN processors p ON p.id = q.processor_id
         WHERE q.seq > $1 AND q.status = 'open' ORDER BY q.seq LIMIT $2`,
        [since, limit],
      )
      const queries = rows.map(toEntry)
      const last = queries.at(-1)?.seq ?? since
      return { queries, next: queries.length < limit ? Math.max(last, Number(head)) : last }
    },
  }
}

/** A query of this processor's; one of another processor's is as not found as one that does not exist. */
async function own(sql: Sql, processor: Processor, id: string, forUpdate: boolean): Promise<PostedQuery> {
  const [row] = await sql.query<QueryRow>(`SELECT ${COLUMNS} FROM queries WHERE id = $1 AND processor_id = $2${forUpdate ? ' FOR UPDATE' : ''}`, [id, processor.id])
  if (!row) throw new NotFound(`You have no query ${id}. \`coffer-market query list\` shows yours.`)
  return toPosted(row)
}

function invalid(problems: QueryProblem[]): InvalidInput {
  const first = problems[0]
  const where = (p: QueryProblem) => (p.line !== undefined ? `${p.path} at line ${p.line}, column ${p.column}` : p.path || 'the query')
  const detail = first
    ? `${where(first)}: ${first.message}${problems.length > 1 ? ` (and ${problems.length - 1} more problem${problems.length > 2 ? 's' : ''}, listed in problems)` : ''}`
    : 'The query is not valid.'
  return new InvalidInput(detail, { field: first?.path, problems })
}

const COLUMNS = 'id, seq, status, spec, question, text, posted_at, ended_at'

interface QueryRow extends Record<string, unknown> {
  id: string
  seq: number | string
  status: QueryStatus
  spec: QuerySpec
  question: Query
  text: string
  posted_at: Date
  ended_at: Date | null
}

interface FeedRow extends Record<string, unknown> {
  id: string
  seq: number | string
  spec: QuerySpec
  question: Query
  text: string
  posted_at: Date
  tasks: Partial<Record<SharingLevel, TaskDescription>> | null
  processor_id: string
  processor_name: string
  processor_contact: string | null
}

function toEntry(r: FeedRow): FeedEntry {
  return {
    seq: Number(r.seq),
    id: r.id,
    processor: { id: r.processor_id, name: r.processor_name, contact: r.processor_contact },
    spec: r.spec,
    query: r.question,
    text: r.text,
    postedAt: iso(r.posted_at),
    deadline: iso(r.spec.deadline),
    ...(r.tasks ? { tasks: r.tasks } : {}),
  }
}

function toPosted(row: QueryRow): PostedQuery {
  return {
    id: row.id,
    seq: Number(row.seq),
    status: row.status,
    spec: row.spec,
    query: row.question,
    text: row.text,
    postedAt: iso(row.posted_at),
    endedAt: row.ended_at ? iso(row.ended_at) : null,
  }
}

function iso(t: Date | string): string {
  return new Date(t).toISOString()
}

function clamp(n: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, Math.trunc(n)))
}
