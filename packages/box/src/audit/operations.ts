/**
 * The audit log, for the owner: its entries, newest first, and a check of the whole log against
 * its signed Merkle tree. Owner only; reading the log is itself an admin action in it.
 */
import { Type } from '@sinclair/typebox'
import { defineOperation, ownerOnly, TimeText } from '../operations/index.ts'
import { parseTime } from '../sources/index.ts'
import type { AuditLog } from './index.ts'

const OPERATIONS = ['read', 'write', 'observe', 'delete', 'admin', 'login', 'export', 'run'] as const

export const AuditEntrySchema = Type.Object({
  time: Type.Number({ description: 'Epoch seconds' }),
  subject: Type.String({ description: 'owner, device:ID, driver:ID, app:ID or anonymous' }),
  grant: Type.Union([Type.String(), Type.Null()]),
  source: Type.Union([Type.String(), Type.Null()]),
  operation: Type.Union(OPERATIONS.map((o) => Type.Literal(o))),
  action: Type.String({ description: 'The request or call, e.g. GET /api/v1/sources/:source/records' }),
  records: Type.Integer(),
  bytes: Type.Integer(),
  outcome: Type.Union([Type.Literal('allow'), Type.Literal('deny')]),
  status: Type.Integer(),
  reason: Type.Optional(Type.String({ description: 'Why it was refused or failed' })),
  granularity: Type.Optional(Type.Number({ description: 'Reads: the finest detail asked for, in seconds; 0 is raw points' })),
  destination: Type.Optional(Type.String({ description: 'Exports: where the data went, or was to go' })),
  sha256: Type.Optional(Type.String({ description: 'Exports: of the payload' })),
  preview: Type.Optional(Type.String({ description: 'Exports: the start of the payload' })),
  seq: Type.Integer({ description: 'The entry\'s position in the log' }),
})

export const VerifyReportSchema = Type.Object({
  ok: Type.Boolean(),
  length: Type.Integer({ description: 'Entries in the log' }),
  checkpointLength: Type.Integer({ description: 'Entries covered by the last signed checkpoint' }),
  problems: Type.Array(Type.String()),
})

export interface AuditOperationsDeps {
  audit: AuditLog
}

export function auditOperations({ audit }: AuditOperationsDeps) {

  return {
    list: defineOperation({
      name: 'audit.list', summary: 'Audit entries, newest first', audit: 'admin',
      input: Type.Object({
        subject: Type.Optional(Type.String()),
        source: Type.Optional(Type.String()),
        operation: Type.Optional(Type.String()),
        outcome: Type.Optional(Type.Union([Type.Literal('allow'), Type.Literal('deny')])),
        from: Type.Optional(TimeText),
        to: Type.Optional(TimeText),
        limit: Type.Integer({ minimum: 1, maximum: 10_000, default: 100 }),
      }),
      output: Type.Array(AuditEntrySchema),
      access: ownerOnly,
      run: async (filter, ctx) => {
        // `source` only filters: reading the log touches no source's data.
        ctx.source = null
        const entries = await audit.list({ ...filter, from: parseTime(filter.from, 'from'), to: parseTime(filter.to, 'to') })
        ctx.records = entries.length
        return entries
      },
    }),

    verify: defineOperation({
      name: 'audit.verify', summary: 'Verify the whole audit log against its signed Merkle tree', audit: 'admin',
      input: Type.Object({}), output: VerifyReportSchema,
      access: ownerOnly,
      run: async () => audit.verify(),
    }),
  }
}

export type AuditOperations = ReturnType<typeof auditOperations>
