/**
 * What one box puts into its report. The box clips its own value to the query's declared
 * bounds before anything is encrypted: bounds taken from the data would leak it, and a value
 * outside them would let one box move the result further than the noise hides.
 */
import { decodeSum, encodeValue } from '../privacy/index.ts'
import { InvalidTask } from './errors.ts'
import { carriesCount, fixedPointOf, type TaskDescription } from './task.ts'

/** The input a task's Prio3 instance takes: a bit, an integer, a [value, count] pair, a bucket index. */
export type VdafMeasurement = boolean | number | number[]

export interface Measurement {
  taskId: string
  vdaf: VdafMeasurement
  /** Whether this box's value counts in the result; a box that does not match still sends a report. */
  matches: boolean
  /** The value after clipping and fixed-point rounding, as the box may show its owner. */
  value: number | null
  clipped: boolean
}

/**
 * Encodes a box's value for a task. `null` means the box does not match the query's conditions
 * (or has no value): it still sends a report, one that adds nothing, so the aggregators learn
 * who answered but not who matched. For a count, `true` counts and `false`/`null` does not.
 *
 * Sums and means are fixed point (the privacy module's encodeValue): v is clipped to the
 * declared [lower, upper], scaled by 10^decimals, rounded, and shifted by the scaled lower
 * bound, giving an integer e in [0, hi − lo].
 * - sum with lower = 0: e; a box that does not match sends 0
 * - mean, and sum with lower ≠ 0: [e, 1]; a box that does not match sends [0, 0]
 * - histogram: the index of the bucket (the number of edges ≤ v); a box that does not match
 *   uses the extra last bucket, which the result leaves out
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
  const fixed = fixedPointOf(task)
  const withCount = carriesCount(task)
  if (value === null) return { ...base, vdaf: withCount ? [0, 0] : 0, matches: false, value: null, clipped: false }
  const encoded = encodeValue(value, fixed)
  const bounds = task.bounds as NonNullable<TaskDescription['bounds']>
  return {
    ...base,
    vdaf: withCount ? [Number(encoded), 1] : Number(encoded),
    matches: true,
    value: decodeSum(encoded, 1n, fixed),
    clipped: value < bounds.lower || value > bounds.upper,
  }
}
