/**
 * A secure-aggregation task: what every box and both aggregators must agree on before the first
 * report. It is plain JSON (bytes as base64url) so the protocol can carry it beside the query.
 * It holds no secret: the verify key the two aggregators share is kept apart (see Aggregator),
 * because a box that knew it could forge a proof for a value outside the bounds.
 */
import { createHash } from 'node:crypto'
import { PROTOCOL, type AggregationKind, type AggregatorEndpoint, type DeclaredBounds, type TaskDescription, type VdafSpec } from './schema.ts'
import { Prio3Count, Prio3Histogram, Prio3Sum, Prio3SumVec, type Prio3 } from '@divviup/prio3'
import { fixedPointBounds, type FixedPointBounds } from '../privacy/index.ts'
import { InvalidTask } from './errors.ts'
import { base64url } from './encoding.ts'

export { PROTOCOL, AggregationKind, AggregatorEndpoint, DeclaredBounds, TaskDescription, VdafSpec } from './schema.ts'

export interface TaskInput {
  queryId: string
  partition?: string
  kind: AggregationKind
  bounds?: { lower: number; upper: number; decimals?: number }
  edges?: number[]
  window: { start: number; end: number }
  minReports: number
  timePrecisionSeconds?: number
  leader: AggregatorEndpoint
  helper: AggregatorEndpoint
}

/** A task id bound to the query (and partition), so a report for one query cannot be counted in another. */
export function deriveTaskId(queryId: string, partition = ''): string {
  return base64url(createHash('sha256').update(`coffer market prio3 task\0${queryId}\0${partition}`).digest())
}

export function createTask(input: TaskInput): TaskDescription {
  const partition = input.partition ?? ''
  const bounds = input.bounds === undefined ? undefined : { lower: input.bounds.lower, upper: input.bounds.upper, decimals: input.bounds.decimals ?? 0 }
  const task: TaskDescription = {
    protocol: PROTOCOL,
    id: deriveTaskId(input.queryId, partition),
    queryId: input.queryId,
    partition,
    kind: input.kind,
    ...(bounds === undefined ? {} : { bounds }),
    ...(input.edges === undefined ? {} : { edges: [...input.edges] }),
    vdaf: vdafSpecFor(input.kind, bounds, input.edges),
    timePrecisionSeconds: input.timePrecisionSeconds ?? 3600,
    window: { ...input.window },
    minReports: input.minReports,
    leader: { ...input.leader },
    helper: { ...input.helper },
  }
  checkTask(task)
  return task
}

/**
 * Checks a task description received from elsewhere: the id really is the query's, the VDAF is
 * the one its kind and bounds imply (so nobody can widen a box's range by editing `vdaf`).
 * Throws InvalidTask.
 */
export function checkTask(task: TaskDescription): void {
  if (task.protocol !== PROTOCOL) throw new InvalidTask(`unknown protocol ${String(task.protocol)}`, 'protocol')
  if (task.id !== deriveTaskId(task.queryId, task.partition)) throw new InvalidTask('the task id is not the one derived from its query id and partition', 'id')
  const expected = vdafSpecFor(task.kind, task.bounds, task.edges)
  // Compared field by field: a task that went through a database or another JSON writer may list its keys in another order.
  if (!sameVdaf(expected, task.vdaf)) throw new InvalidTask('the VDAF does not follow from the kind and bounds', 'vdaf')
  if (task.leader.url === task.helper.url) throw new InvalidTask('the leader and the helper must be two different aggregators', 'helper/url')
  if (!(task.window.start <= task.window.end)) throw new InvalidTask('the window ends before it starts', 'window')
  if (!Number.isInteger(task.minReports) || task.minReports < 1) throw new InvalidTask('minReports must be a positive integer', 'minReports')
  if (!Number.isInteger(task.timePrecisionSeconds) || task.timePrecisionSeconds < 1) throw new InvalidTask('timePrecisionSeconds must be a positive integer', 'timePrecisionSeconds')
}

/**
 * The task's bounds in fixed point, as the privacy module plans noise for them: lo and hi are
 * the declared bounds × 10^decimals (lo rounded down, hi up), and a box's value enters the
 * aggregate as its offset from lo, in [0, hi − lo].
 */
export function fixedPointOf(task: Pick<TaskDescription, 'kind' | 'bounds'>): FixedPointBounds {
  if (task.bounds === undefined) throw new InvalidTask(`a ${task.kind} needs declared bounds`, 'bounds')
  try {
    return fixedPointBounds(task.bounds.lower, task.bounds.upper, task.bounds.decimals)
  } catch (error) {
    throw new InvalidTask(error instanceof Error ? error.message : String(error), 'bounds')
  }
}

/**
 * Whether a box's report carries a 0/1 "matches" count beside its value. A mean needs it to
 * divide by, and so does a sum whose lower bound is not 0 (to add the offset back); a box that
 * does not match sends zeros, so nobody but the box knows whether it matched.
 */
export function carriesCount(task: Pick<TaskDescription, 'kind' | 'bounds'>): boolean {
  return task.kind === 'mean' || (task.kind === 'sum' && fixedPointOf(task).lo !== 0n)
}

function sameVdaf(a: VdafSpec, b: VdafSpec): boolean {
  const keys = Object.keys(a)
  return keys.length === Object.keys(b).length && keys.every((k) => (a as Record<string, unknown>)[k] === (b as Record<string, unknown>)[k])
}

function vdafSpecFor(kind: AggregationKind, bounds: DeclaredBounds | undefined, edges: number[] | undefined): VdafSpec {
  if (kind === 'count') return { type: 'count' }
  if (kind === 'histogram') {
    if (edges === undefined || edges.length === 0) throw new InvalidTask('a histogram needs its bucket edges', 'edges')
    for (let i = 0; i < edges.length; i++) {
      const edge = edges[i] as number
      if (!Number.isFinite(edge)) throw new InvalidTask('bucket edges must be finite numbers', `edges/${i}`)
      if (i > 0 && !(edge > (edges[i - 1] as number))) throw new InvalidTask('bucket edges must increase', `edges/${i}`)
    }
    // One bucket more than the edges make: the box that does not match puts its report there,
    // so its report looks like any other and only the processor's result leaves that bucket out.
    const length = edges.length + 2
    return { type: 'histogram', length, chunkLength: chunkLengthFor(length) }
  }
  const fixed = fixedPointOf({ kind, bounds })
  const range = fixed.hi - fixed.lo
  const bits = range.toString(2).length
  if (bits > 52) throw new InvalidTask('the bounds at this precision need more than 52 bits', 'bounds')
  if (!carriesCount({ kind, bounds })) return { type: 'sum', bits }
  // A two-element vector [value − lo, 1] (or [0, 0] from a box that does not match), so the
  // count is aggregated and protected the same way as the sum.
  return { type: 'sumVec', length: 2, bits, chunkLength: chunkLengthFor(2 * bits) }
}

/** The VDAF draft's advice: a chunk length near the square root of the measurement length keeps the proof short. */
function chunkLengthFor(measurementLength: number): number {
  return Math.max(1, Math.round(Math.sqrt(measurementLength)))
}

export type AnyPrio3 = Prio3<never, unknown>

const vdafs = new Map<string, AnyPrio3>()

/** The Prio3 instance for a task (two shares), shared between calls: construction precomputes circuit tables. */
export function vdafFor(task: TaskDescription): AnyPrio3 {
  const key = JSON.stringify(task.vdaf)
  let vdaf = vdafs.get(key)
  if (vdaf === undefined) {
    const spec = task.vdaf
    const shares = 2
    if (spec.type === 'count') vdaf = new Prio3Count({ shares }) as unknown as AnyPrio3
    else if (spec.type === 'sum') vdaf = new Prio3Sum({ shares, bits: spec.bits }) as unknown as AnyPrio3
    else if (spec.type === 'sumVec') vdaf = new Prio3SumVec({ shares, length: spec.length, bits: spec.bits, chunkLength: spec.chunkLength }) as unknown as AnyPrio3
    else vdaf = new Prio3Histogram({ shares, length: spec.length, chunkLength: spec.chunkLength }) as unknown as AnyPrio3
    vdafs.set(key, vdaf)
  }
  return vdaf
}
