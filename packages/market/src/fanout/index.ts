/**
 * How a newly published query is announced: to every market process (so each pushes it to the
 * boxes on its event streams) and, with NATS, to boxes subscribed to the subject themselves.
 *
 * Two ways, one interface:
 * - **NATS** (`--nats URL`): after the posting transaction commits, the feed entry itself is
 *   published on one subject. Every process and every subscribed box gets it at once, with no
 *   read of the database and no queue per box. A process that dies between commit and publish
 *   leaves a gap in the sequence numbers a subscriber sees; it fills the gap from the feed by
 *   sequence number, as an offline box catches up.
 * - **PostgreSQL's NOTIFY** (no NATS, and the embedded database): the posting transaction
 *   notifies, delivered at commit, with the sequence number only; each process reads the entry
 *   from the feed.
 *
 * An announcement is only a wake-up: the feed in the database stays the truth, which is why a
 * subscriber can miss one and lose nothing.
 */
import { connect, type NatsConnection, type Subscription } from 'nats'
import type { Database, Sql } from '../db/index.ts'
import { Unavailable } from '../errors/index.ts'
import type { FeedEntry } from '../queries/index.ts'

export interface Fanout {
  readonly kind: 'nats' | 'postgres'
  /** Runs in the posting transaction (NOTIFY is sent at commit, and not at all on a rollback). */
  inTransaction(tx: Sql, entry: FeedEntry): Promise<void>
  /** Runs once the posting transaction has committed. */
  committed(entry: FeedEntry): void
  /** Calls onAnnounce with each announced sequence number, and the entry when the announcement carries it. */
  listen(onAnnounce: (seq: number, entry?: FeedEntry) => void): Promise<() => Promise<void>>
  /** Where boxes may subscribe, when they may. */
  readonly subscription: { nats: string; subject: string } | undefined
  close(): Promise<void>
}

/** The PostgreSQL channel posting notifies on. */
export const FEED_CHANNEL = 'coffer_market_feed'
export const DEFAULT_SUBJECT = 'coffer.market.feed'

export function postgresFanout(db: Database): Fanout {
  return {
    kind: 'postgres',
    subscription: undefined,
    async inTransaction(tx, entry) {
      await tx.query('SELECT pg_notify($1, $2)', [FEED_CHANNEL, String(entry.seq)])
    },
    committed() {},
    listen: (onAnnounce) => db.listen(FEED_CHANNEL, (payload) => onAnnounce(Number(payload) || 0)),
    async close() {},
  }
}

/** A NATS URL as it may be shown or handed to boxes: without the user and password in it. */
export function withoutCredentials(url: string): string {
  return url.replace(/^(\w+:\/\/)?[^@/]*@/, '$1')
}

export async function natsFanout(options: { url: string; subject?: string; onError?: (err: unknown) => void }): Promise<Fanout> {
  const subject = options.subject ?? DEFAULT_SUBJECT
  const onError = options.onError ?? (() => undefined)
  let nc: NatsConnection
  try {
    // Reconnects for as long as the market runs: a NATS restart delays announcements, the feed keeps them.
    nc = await connect({ servers: options.url, name: 'coffer-market', maxReconnectAttempts: -1, reconnectTimeWait: 1000 })
  } catch (err) {
    throw new Unavailable(`Cannot reach NATS at ${withoutCredentials(options.url)}: ${(err as Error).message}. Check that it runs, or leave --nats out to announce queries through the database.`)
  }
  const subscriptions = new Set<Subscription>()
  return {
    kind: 'nats',
    // Boxes bring credentials of their own: the market's never leave it.
    subscription: { nats: withoutCredentials(options.url), subject },
    async inTransaction() {},
    committed(entry) {
      try {
        nc.publish(subject, JSON.stringify(entry))
      } catch (err) {
        // Announcing is best effort: the query is in the feed, where every subscriber's catch-up finds it.
        onError(err)
      }
    },
    async listen(onAnnounce) {
      const sub = nc.subscribe(subject, {
        callback: (err, msg) => {
          if (err) return onError(err)
          try {
            const entry = msg.json<FeedEntry>()
            onAnnounce(Number(entry.seq) || 0, entry)
          } catch (error) {
            onError(error)
          }
        },
      })
      subscriptions.add(sub)
      return async () => {
        subscriptions.delete(sub)
        sub.unsubscribe()
      }
    },
    async close() {
      for (const sub of subscriptions) sub.unsubscribe()
      subscriptions.clear()
      await nc.drain().catch(() => nc.close())
    },
  }
}
