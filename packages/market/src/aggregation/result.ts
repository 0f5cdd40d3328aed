/**
 * The processor's side: two aggregate shares become the result. The shares must cover the same
 * reports (same count, same checksum of report ids) or nothing is decoded. Sums are read as
 * signed integers, because noise may push a small total below zero and a field element would
 * wrap around to a huge number.
 */
import { AggregationProtocolError } from './errors.ts'
import { base64url, FramingError, Reader } from './encoding.ts'
import { AGGREGATE_SHARE_MESSAGE, ROLE_BYTES, type NoiseStatement } from './aggregator.ts'
import { decodeSum } from '../privacy/index.ts'
import { carriesCount, checkTask, fixedPointOf, vdafFor, type TaskDescription } from './task.ts'

interface ResultBase {
  /** Reports both aggregators verified and counted (boxes that do not match included). */
  reports: number
  /** The noise each aggregator says it added, in encoded units per coordinate; null for none. */
  noise: { leader: NoiseStatement | null; helper: NoiseStatement | null }
  /** The aggregate in encoded integers (decimal strings), before scaling back. */
  encoded: string[]
}

export type AggregateResult =
  | (ResultBase & { kind: 'count'; count: number })
  | (ResultBase & { kind: 'sum'; sum: number })
  | (ResultBase & { kind: 'mean'; sum: number; count: number; mean: number | null })
  | (ResultBase & { kind: 'histogram'; buckets: { from: number | null; to: number | null; count: number }[] })

interface ParsedShare {
  role: number
  count: bigint
  checksum: string
  noise: NoiseStatement | null
  share: bigint[]
}

function parseShare(task: TaskDescription, bytes: Uint8Array, which: string): ParsedShare {
  const vdaf = vdafFor(task)
  const reader = new Reader(bytes)
  try {
    if (reader.u8() !== AGGREGATE_SHARE_MESSAGE) throw new AggregationProtocolError(`the ${which} share is not an aggregate share`)
    if (base64url(reader.bytes(32)) !== task.id) throw new AggregationProtocolError(`the ${which} share is for another task`)
    const role = reader.u8()
    const count = reader.u64()
    const checksum = base64url(reader.bytes(32))
    const statement = Buffer.from(reader.opaque16()).toString('utf8')
    const noise = statement === '' ? null : (JSON.parse(statement) as NoiseStatement)
    const encoded = reader.opaque32()
    reader.end()
    if (encoded.length !== vdaf.flp.outputLen * vdaf.flp.field.encodedSize) throw new FramingError('the share has the wrong length')
    return { role, count, checksum, noise, share: vdaf.flp.field.decode(encoded) }
  } catch (error) {
    if (error instanceof AggregationProtocolError) throw error
    throw new AggregationProtocolError(`the ${which} share does not parse: ${error instanceof Error ? error.message : String(error)}`)
  }
}

/** Combines the leader's and the helper's aggregate shares (from Aggregator.aggregateShare) into the result. */
export function unshard(task: TaskDescription, leaderShare: Uint8Array, helperShare: Uint8Array): AggregateResult {
  checkTask(task)
  const leader = parseShare(task, leaderShare, 'leader')
  const helper = parseShare(task, helperShare, 'helper')
  if (leader.role !== ROLE_BYTES.leader || helper.role !== ROLE_BYTES.helper) throw new AggregationProtocolError('one share from the leader and one from the helper are needed')
  if (leader.count !== helper.count || leader.checksum !== helper.checksum) {
    throw new AggregationProtocolError(`the shares cover different reports (${leader.count} and ${helper.count}); nothing can be released from them`)
  }
  const field = vdafFor(task).flp.field
  const half = field.modulus / 2n
  const totals = field.vecAdd(leader.share, helper.share).map((v) => (v > half ? v - field.modulus : v))
  const base: ResultBase = { reports: Number(leader.count), noise: { leader: leader.noise, helper: helper.noise }, encoded: totals.map(String) }
  const at = (i: number) => totals[i] as bigint

  switch (task.kind) {
    case 'count':
      return { ...base, kind: 'count', count: Number(at(0)) }
    case 'sum':
    case 'mean': {
      const fixed = fixedPointOf(task)
      // With a count, each value went in as its offset from the lower bound, and the count adds the bound back.
      const count = carriesCount(task) ? at(1) : 0n
      const sum = decodeSum(at(0), count, fixed)
      if (task.kind === 'sum') return { ...base, kind: 'sum', sum }
      return { ...base, kind: 'mean', sum, count: Number(count), mean: count > 0n ? sum / Number(count) : null }
    }
    case 'histogram': {
      const edges = task.edges ?? []
      // The last bucket holds the boxes that do not match; it is not part of the answer.
      const buckets = edges.length + 1
      return {
        ...base,
        kind: 'histogram',
        encoded: base.encoded.slice(0, buckets),
        buckets: Array.from({ length: buckets }, (_, i) => ({ from: i === 0 ? null : (edges[i - 1] as number), to: i === edges.length ? null : (edges[i] as number), count: Number(at(i)) })),
      }
    }
  }
}

