/**
 * The shapes of a secure-aggregation task, apart from the code that uses them: plain TypeBox,
 * no cryptography and no Node modules, so the protocol a box imports can carry a task beside
 * its query without loading Prio3. task.ts builds and checks tasks against these.
 */
import { FormatRegistry, Type, type Static } from '@sinclair/typebox'

// TypeBox refuses a format it does not know; a box checking a published task must know 'uri'.
if (!FormatRegistry.Has('uri')) {
  FormatRegistry.Set('uri', (value) => {
    try {
      const url = new URL(value)
      return url.protocol === 'https:' || url.protocol === 'http:'
    } catch {
      return false
    }
  })
}

export const PROTOCOL = 'coffer-prio3/dap-09+vdaf-08'

export const AggregationKind = Type.Union([Type.Literal('count'), Type.Literal('sum'), Type.Literal('mean'), Type.Literal('histogram')])
export type AggregationKind = Static<typeof AggregationKind>

export const DeclaredBounds = Type.Object({
  lower: Type.Number(),
  upper: Type.Number(),
  /** Fixed point: values are rounded to this many decimal places, i.e. encoded as round(value × 10^decimals). */
  decimals: Type.Integer({ minimum: 0, maximum: 12, default: 0 }),
})
export type DeclaredBounds = Static<typeof DeclaredBounds>

export const AggregatorEndpoint = Type.Object({
  url: Type.String({ format: 'uri' }),
  /** The aggregator's DAP HpkeConfig (id, KEM, KDF, AEAD, public key), base64url. */
  hpkeConfig: Type.String({ pattern: '^[A-Za-z0-9_-]+$' }),
})
export type AggregatorEndpoint = Static<typeof AggregatorEndpoint>

/** The Prio3 instance the kind and bounds imply, spelled as @divviup/dap spells a VDAF. */
export const VdafSpec = Type.Union([
  Type.Object({ type: Type.Literal('count') }),
  Type.Object({ type: Type.Literal('sum'), bits: Type.Integer({ minimum: 1, maximum: 52 }) }),
  Type.Object({ type: Type.Literal('sumVec'), length: Type.Integer({ minimum: 1 }), bits: Type.Integer({ minimum: 1, maximum: 52 }), chunkLength: Type.Integer({ minimum: 1 }) }),
  Type.Object({ type: Type.Literal('histogram'), length: Type.Integer({ minimum: 2 }), chunkLength: Type.Integer({ minimum: 1 }) }),
])
export type VdafSpec = Static<typeof VdafSpec>

export const TaskDescription = Type.Object({
  protocol: Type.Literal(PROTOCOL),
  /** 32 bytes, base64url: SHA-256 of the query id and the partition (see deriveTaskId). */
  id: Type.String({ pattern: '^[A-Za-z0-9_-]{43}$' }),
  queryId: Type.String({ minLength: 1 }),
  /** Which slice of the query's answers: a privacy class is aggregated and noised on its own. '' for all. */
  partition: Type.String(),
  kind: AggregationKind,
  /** For sum and mean: what a box clips its value to, and the fixed-point scaling. */
  bounds: Type.Optional(DeclaredBounds),
  /** For a histogram: the inner bucket edges, increasing; n edges make n + 1 buckets. */
  edges: Type.Optional(Type.Array(Type.Number(), { minItems: 1 })),
  vdaf: VdafSpec,
  /** Report times are rounded down to a multiple of this, as in DAP. */
  timePrecisionSeconds: Type.Integer({ minimum: 1 }),
  /** Reports whose time falls outside [start, end] (Unix seconds) are refused. */
  window: Type.Object({ start: Type.Integer(), end: Type.Integer() }),
  /** Below this many verified reports neither aggregator releases its share. */
  minReports: Type.Integer({ minimum: 1 }),
  leader: AggregatorEndpoint,
  helper: AggregatorEndpoint,
})
export type TaskDescription = Static<typeof TaskDescription>
