/**
 * What one box puts into its report. The box clips its own value to the query's declared
 * bounds before anything is encrypted: bounds taken from the data would leak it, and a value
 * outside them would let one box move the result further than the noise hides.
 */
import { InvalidTask } from './errors.ts'
import { maxEncoded, type TaskDescription } from './task.ts'

/** The input a task's Prio3 instance takes: a bit, an integer, a [value, count] pair, a bucket index. */
export type VdafMeasurement = boolean | number | number[]

export interface Measurement {
  taskId: string
  vdaf: VdafMeasurement
  /** Whether this box's value counts in the result; a box that does not match still sends a report. */
  matches: boolean
  /** The value after clipping (and fixed-point rounding), as the box may show its owner. */
  value: number | null
  clipped: boolean
}

/**
 * Encodes a box's value for a task. `null` means the box does not match the query's conditions
 * (or has no value): it still sends a report, one that adds nothing, so the aggregators learn
 * who answered but not who matched. For a count, `true` counts and `false`/`null` does not.
 *
 * - sum: round(clip(v) × 10^decimals), in [0, round(upper × 10^decimals)]
 * - mean: [round((clip(v) − lower) × 10^decimals), 1]; a non-matching box sends [0, 0]
 * - histogram: the index of the bucket (number of edges ≤ v); a non-matching box uses the
 *   extra last bucket, which the result leaves out
 */
export function measurementFor(task: TaskDescription, value: number | boolean | null): Measurement {
  const base = { taskId: task.id }
  if (task.kind === 'count') {
    if (value !== null && typeof value !== 'boolean') throw new InvalidTask('a count takes true, false or null', 'value')
    return { ...base, vdaf: value === true, matches: value === true, value: value === true ? 1 : null, clipped: false }
  }
  if (value !== null && (typeof value !== 'number' || !Number.isFinite(value))) throw new InvalidTask(`a ${task.kind} takes a finite number or null`, 'value')
  if (task.kind === 'histogram') {
    const edges = task.edges ?? []
    if (value === null) return { ...base, vdaf: edges.length + 1, matches: false, value: null, clipped: false }
    return { ...base, vdaf: edges.filter((edge) => edge <= value).length, matches: true, value, clipped: false }
  }
  const bounds = task.bounds
  if (bounds === undefined) throw new InvalidTask(`a ${task.kind} needs declared bounds`, 'bounds')
  const kind = task.kind
  if (value === null) return { ...base, vdaf: kind === 'sum' ? 0 : [0, 0], matches: false, value: null, clipped: false }
  const scale = 10 ** bounds.decimals
  const clippedValue = Math.min(bounds.upper, Math.max(bounds.lower, value))
  const origin = kind === 'sum' ? 0 : bounds.lower
  // Clip again after rounding: (upper − lower) × scale may round one unit past the top.
  const encoded = Math.min(maxEncoded(bounds, kind), Math.max(0, Math.round((clippedValue - origin) * scale)))
  return {
    ...base,
    vdaf: kind === 'sum' ? encoded : [encoded, 1],
    matches: true,
    value: encoded / scale + origin,
    clipped: clippedValue !== value,
  }
}
