import { parseDuration } from '../../../../box/src/duration/index.ts'

/**
 * Bucket sizes the plot asks the box for, finest first. Many sit on the box's 5-minute and hourly
 * rollup grids; months and years are the owner's calendar months and years.
 */
const SIZES: [string, number][] = ['1s', '5s', '15s', '30s', '1m', '5m', '15m', '30m', '1h', '3h', '6h', '12h', '1d', '1w', '1mo', '3mo', '1y']
  .map((spec) => [spec, parseDuration(spec)])

/** The finest bucket that keeps a range to at most `target` buckets, so the answer stays small however many points lie beneath. */
export function bucketFor(seconds: number, target: number): { spec: string; seconds: number } {
  for (const [spec, size] of SIZES) if (seconds / size <= target) return { spec, seconds: size }
  const last = SIZES[SIZES.length - 1]!
  return { spec: last[0], seconds: last[1] }
}
