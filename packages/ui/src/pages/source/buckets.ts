/** Bucket sizes the plot asks the box for, finest first. Many sit on the box's 5-minute and hourly rollup grids. */
const SIZES: [string, number][] = [
  ['1s', 1], ['5s', 5], ['15s', 15], ['30s', 30], ['1m', 60], ['5m', 300], ['15m', 900], ['30m', 1800],
  ['1h', 3600], ['3h', 10800], ['6h', 21600], ['12h', 43200], ['1d', 86400], ['1w', 604800], ['4w', 2419200],
]

/** The finest bucket that keeps a range to at most `target` buckets, so the answer stays small however many points lie beneath. */
export function bucketFor(seconds: number, target: number): { spec: string; seconds: number } {
  for (const [spec, size] of SIZES) if (seconds / size <= target) return { spec, seconds: size }
  const last = SIZES[SIZES.length - 1]!
  return { spec: last[0], seconds: last[1] }
}
