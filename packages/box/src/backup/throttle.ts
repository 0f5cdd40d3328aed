/**
 * Bandwidth limits, honoured by the connection itself: a token bucket per direction, refilled at
 * the rate and holding at most one second's worth. When a direction has spent more than it has,
 * the connection stops reading until the bucket refills. For downloads that is the limit itself;
 * for uploads it works because replication is request and response: a peer whose requests are not
 * read is sent no more blocks.
 */
import type { Connection } from './network.ts'

export interface Rates {
  /** Bytes a second this side may send; 0 or absent: no limit. */
  uploadBytesPerSecond?: number
  downloadBytesPerSecond?: number
}

const TICK_MS = 50

type Counted = Connection & { rawBytesWritten: number; rawBytesRead: number }

export function throttle(conn: Connection, rates: () => Rates): () => void {
  const counted = conn as Counted
  const buckets = { up: 0, down: 0 }
  let seen = { up: counted.rawBytesWritten, down: counted.rawBytesRead }
  let paused = false
  const timer = setInterval(() => {
    const { uploadBytesPerSecond: up = 0, downloadBytesPerSecond: down = 0 } = rates()
    const now = { up: counted.rawBytesWritten, down: counted.rawBytesRead }
    buckets.up = up > 0 ? Math.min(up, buckets.up + (up * TICK_MS) / 1000) - (now.up - seen.up) : 0
    buckets.down = down > 0 ? Math.min(down, buckets.down + (down * TICK_MS) / 1000) - (now.down - seen.down) : 0
    seen = now
    const over = buckets.up < 0 || buckets.down < 0
    if (over && !paused) conn.pause()
    if (!over && paused) conn.resume()
    paused = over
  }, TICK_MS)
  timer.unref()
  const stop = () => {
    clearInterval(timer)
    if (paused) conn.resume()
  }
  conn.once('close', stop)
  return stop
}
