/**
 * Writing as someone: drivers and importers write records the box itself resolved through the
 * same `records.append` operation as any HTTP client — with the writer's own token, checked by
 * the arbiter and audited — without the trip through HTTP.
 */
import type { Operations } from '../operations/index.ts'
import { RESOLVED, type SourceOperations } from '../sources/index.ts'
import type { SenmlRecord } from '../senml/index.ts'

export interface IngestDeps {
  ops: Operations
  sources: SourceOperations
}

export interface Written {
  count: number
  /** The log blocks written: [first, first + blocks). */
  first: number
  blocks: number
}

export async function writeAs(deps: IngestDeps, token: string, source: string, records: SenmlRecord[], action: string, origin?: string): Promise<Written> {
  const { stored, log } = await deps.ops.call(deps.sources.append, { source, pack: records, format: RESOLVED, ...(origin ? { origin } : {}) }, { token, action })
  return { count: stored, first: log.first, blocks: log.blocks }
}
