import type { BucketValue } from '@coffer/box'
import { linePath } from './runs.ts'

/** A tiny line of bucket means; gaps where a bucket is empty. Decorative beside its numbers, so described in words. */
export function Sparkline({ buckets, label, width = 160, height = 36 }: { buckets: BucketValue[]; label: string; width?: number; height?: number }) {
  const values = buckets.map((b) => b.value).filter((v): v is number => v !== null)
  if (values.length === 0 || buckets.length === 0) return <svg width={width} height={height} role="img" aria-label={`${label}: no data in this period`} className="sparkline" />
  const min = Math.min(...values)
  const max = Math.max(...values)
  const t0 = buckets[0]!.start
  const t1 = buckets[buckets.length - 1]!.end
  const x = (t: number) => ((t - t0) / (t1 - t0 || 1)) * (width - 2) + 1
  const y = (v: number) => height - 2 - ((v - min) / (max - min || 1)) * (height - 4)
  const d = linePath(buckets, (t) => x(t), y)
  return (
    <svg width={width} height={height} viewBox={`0 0 ${width} ${height}`} role="img" aria-label={`${label}: from ${fmt(min)} to ${fmt(max)}`} className="sparkline">
      <path d={d} fill="none" stroke="currentColor" strokeWidth="1.5" />
    </svg>
  )
}

const fmt = (n: number) => n.toLocaleString(undefined, { maximumFractionDigits: 2 })
