import type { BucketValue } from '@coffer/box'

/**
 * Filled buckets grouped into runs to draw as connected lines. Buckets finer than the data
 * leave regular empty ones between readings, which are not gaps; a stretch much longer than
 * the usual spacing is a real gap and breaks the line.
 */
export function runs<T extends { start: number; end: number }>(buckets: (T & { value: number | null })[]): (T & { value: number })[][] {
  const filled = buckets.map((b, i) => ({ b, i })).filter((x) => x.b.value !== null)
  if (filled.length === 0) return []
  const steps = filled.slice(1).map((x, k) => x.i - filled[k]!.i).sort((a, b) => a - b)
  const usual = steps[Math.floor(steps.length / 2)] ?? 1
  const out: (T & { value: number })[][] = []
  let run: (T & { value: number })[] = []
  filled.forEach((x, k) => {
    if (k > 0 && x.i - filled[k - 1]!.i > Math.max(2, 3 * usual)) {
      out.push(run)
      run = []
    }
    run.push(x.b as T & { value: number })
  })
  out.push(run)
  return out
}

export function linePath(buckets: BucketValue[], x: (t: number) => number, y: (v: number) => number): string {
  return runs(buckets).map((run) => run.map((b, i) => `${i === 0 ? 'M' : 'L'}${x((b.start + b.end) / 2).toFixed(1)},${y(b.value).toFixed(1)}`).join('')).join('')
}
