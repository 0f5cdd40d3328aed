/**
 * Pushes newly published queries to subscribers (the feed's server-sent event streams) while
 * they are connected. A subscriber is woken by a NOTIFY the posting transaction sends (from any
 * market process, on PostgreSQL), and by a poll of the newest sequence number as a safety net
 * for a notification lost with a dropped connection. Each subscriber then reads the feed after
 * the last number it has, as a box catching up would, so nothing is pushed twice or skipped.
 */
import type { Database } from '../db/index.ts'
import { FEED_CHANNEL, type FeedEntry, type Queries } from './index.ts'

export interface FeedHub {
  open(): Promise<void>
  /** Calls send with each open query after since, as it is published, until the returned function is called. */
  subscribe(since: number, send: (entries: FeedEntry[]) => void): () => void
  close(): Promise<void>
}

interface Subscriber {
  last: number
  send: (entries: FeedEntry[]) => void
  pulling: boolean
  again: boolean
  closed: boolean
}

const PAGE = 200

export function createFeedHub(db: Database, queries: Queries, opts: { pollMs?: number; onError?: (err: unknown) => void } = {}): FeedHub {
  const subscribers = new Set<Subscriber>()
  const onError = opts.onError ?? (() => undefined)
  let head = 0
  let timer: NodeJS.Timeout | undefined
  let unlisten: (() => Promise<void>) | undefined

  const pull = async (s: Subscriber) => {
    if (s.pulling) {
      s.again = true
      return
    }
    s.pulling = true
    try {
      do {
        s.again = false
        for (;;) {
          const page = await queries.feed(s.last, PAGE)
          if (s.closed) return
          s.last = page.next
          if (page.queries.length > 0) s.send(page.queries)
          if (page.queries.length < PAGE) break
        }
      } while (s.again && !s.closed)
    } catch (err) {
      onError(err)
    } finally {
      s.pulling = false
    }
  }

  const wake = (seq: number) => {
    head = Math.max(head, seq)
    for (const s of subscribers) if (s.last < head) void pull(s)
  }

  const poll = async () => {
    try {
      const [row] = await db.query<{ head: number | string }>('SELECT coalesce(max(seq), 0) AS head FROM queries')
      wake(Number(row?.head ?? 0))
    } catch (err) {
      onError(err)
    }
  }

  return {
    async open() {
      unlisten = await db.listen(FEED_CHANNEL, (payload) => wake(Number(payload) || 0))
      timer = setInterval(() => void poll(), opts.pollMs ?? 2000)
      timer.unref()
    },

    subscribe(since, send) {
      const s: Subscriber = { last: since, send, pulling: false, again: false, closed: false }
      subscribers.add(s)
      void pull(s)
      return () => {
        s.closed = true
        subscribers.delete(s)
      }
    },

    async close() {
      clearInterval(timer)
      for (const s of subscribers) s.closed = true
      subscribers.clear()
      await unlisten?.()
    },
  }
}
