/**
 * Writing as someone: every write that does not come through the HTTP API (drivers, imports)
 * still goes through the arbiter with the writer's own token and is audited like a request.
 */
import type { Arbiter } from '../arbiter/index.ts'
import type { AuditLog } from '../audit/index.ts'
import type { Store, WriteResult } from '../store/index.ts'
import type { SenmlRecord } from '../senml/index.ts'
import { CofferError } from '../errors/index.ts'

export interface IngestDeps {
  store: Store
  arbiter: Arbiter
  audit: AuditLog
}

export async function writeAs(deps: IngestDeps, token: string, source: string, records: SenmlRecord[], action: string, origin?: string): Promise<WriteResult> {
  const scope = deps.arbiter.authenticate(token)
  const entry = { time: Date.now() / 1000, subject: scope.subject, grant: scope.grant.id, source, operation: 'write' as const, action }
  try {
    deps.arbiter.authorize(scope, { op: 'write', source })
  } catch (err) {
    await deps.audit.record({ ...entry, records: 0, bytes: 0, outcome: 'deny', status: 403, reason: (err as Error).message })
    throw err
  }
  try {
    const result = await deps.store.get(source).appendRecords(records, { origin })
    await deps.audit.record({ ...entry, records: result.count, bytes: result.bytes, outcome: 'allow', status: 201 })
    return result
  } catch (err) {
    await deps.audit.record({ ...entry, records: 0, bytes: 0, outcome: 'allow', status: err instanceof CofferError ? err.status : 500, reason: (err as Error).message })
    throw err
  }
}
