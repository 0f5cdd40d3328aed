/**
 * Pushes newly published queries to subscribers (the feed's server-sent event streams) while
 * they are connected. Subscribers are woken by the fanout's announcements (from any market
 * process: NATS, or PostgreSQL's NOTIFY), and by a poll of the newest sequence number as a
 * safety net for an announcement lost with a dropped connection or a process that died.
 *
 * An announcement that carries its entry (NATS) and follows on from where every subscriber is
 * goes straight to them; otherwise the hub reads the feed once, from the subscriber furthest
 * behind, and gives each subscriber what comes after its own last number. So a post costs one
 * read of the feed per process at most, however many boxes listen, and nothing is pushed twice
 * or skipped.
 */
import type { Database } from '../db/index.ts'
import type { Fanout } from '../fanout/index.ts'
import type { FeedEntry, Queries } from './index.ts'

export interface FeedHub {
  open(): Promise<void>
  /** Calls send with each open query after since, as it is published, until the returned function is called. */
  subscribe(since: number, send: (entries: FeedEntry[]) => void): () => void
  close(): Promise<void>
}

interface Subscriber {
  last: number
  send: (entries: FeedEntry[]) => void
}

const PAGE = 200

export function createFeedHub(db: Database, queries: Queries, fanout: Fanout, opts: { pollMs?: number; onError?: (err: unknown) => void } = {}): FeedHub {
  const subscribers = new Set<Subscriber>()
  const onError = opts.onError ?? (() => undefined)
  let head = 0
  let timer: NodeJS.Timeout | undefined
  let unlisten: (() => Promise<void>) | undefined
  let reading: Promise<void> | undefined
  let again = false
  let closed = false

  // One read at a time for every subscriber; a wake during a read asks for one more after it.
  const catchUp = (): Promise<void> => {
    if (reading) {
      again = true
      return reading
    }
    reading = (async () => {
      try {
        do {
          again = false
          const behind = [...subscribers]
          if (behind.length === 0) break
          let from = Math.min(...behind.map((s) => s.last))
          for (;;) {
            const page = await queries.feed(from, PAGE)
            if (closed) return
            for (const s of behind) {
              if (!subscribers.has(s)) continue
              const fresh = page.queries.filter((e) => e.seq > s.last)
              if (fresh.length > 0) s.send(fresh)
              s.last = Math.max(s.last, page.next)
            }
            head = Math.max(head, page.next)
            if (page.queries.length < PAGE) break
            from = page.next
          }
        } while (again && !closed)
      } catch (err) {
        onError(err)
      }
    })().finally(() => (reading = undefined))
    return reading
  }

  const announced = (seq: number, entry?: FeedEntry) => {
    if (seq <= head && [...subscribers].every((s) => s.last >= seq)) return
    if (entry && !reading && [...subscribers].every((s) => s.last === seq - 1)) {
      head = seq
      for (const s of subscribers) {
        s.last = seq
        s.send([entry])
      }
      return
    }
    head = Math.max(head, seq)
    void catchUp()
  }

  const poll = async () => {
    try {
      const [row] = await db.query<{ head: number | string }>('SELECT coalesce(max(seq), 0) AS head FROM queries')
      const newest = Number(row?.head ?? 0)
      if ([...subscribers].some((s) => s.last < newest)) announced(newest)
    } catch (err) {
      onError(err)
    }
  }

  return {
    async open() {
      unlisten = await fanout.listen(announced)
      timer = setInterval(() => void poll(), opts.pollMs ?? 2000)
      timer.unref()
    },

    subscribe(since, send) {
      const s: Subscriber = { last: since, send }
      subscribers.add(s)
      void catchUp()
      return () => {
        subscribers.delete(s)
      }
    },

    async close() {
      closed = true
      clearInterval(timer)
      subscribers.clear()
      await unlisten?.()
    },
  }
}
