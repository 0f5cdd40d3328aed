/**
 * The gateway's queue and history, for the owner: what left the box, what waits for approval,
 * and the owner's decision on each waiting export. Owner only, audited as admin actions; the
 * gateway audits each send or refusal itself as an export.
 */
import { Type } from '@sinclair/typebox'
import { defineOperation, ownerOnly, EpochSeconds } from '../operations/index.ts'
import { EXPORT_STATES, type Gateway } from './index.ts'

const IdInput = Type.Object({ id: Type.String({ maxLength: 64 }) })

const ExportRecordSchema = Type.Object({
  id: Type.String(),
  app: Type.String(),
  destination: Type.String({ description: 'The URL the payload is POSTed to' }),
  state: Type.Union(EXPORT_STATES.map((s) => Type.Literal(s))),
  bytes: Type.Integer(),
  sha256: Type.String({ description: 'Of the payload\'s bytes' }),
  preview: Type.String({ description: 'The payload\'s first characters' }),
  createdAt: EpochSeconds,
  decidedAt: Type.Union([EpochSeconds, Type.Null()]),
  responseStatus: Type.Union([Type.Integer(), Type.Null()], { description: 'What the destination answered' }),
  error: Type.Union([Type.String(), Type.Null()]),
})

export interface ExportOperationsDeps {
  gateway: Gateway
}

export function exportOperations({ gateway }: ExportOperationsDeps) {

  return {
    list: defineOperation({
      name: 'exports.list', summary: 'Exports: waiting for approval, sent, denied or failed', audit: 'admin',
      input: Type.Object({
        state: Type.Optional(Type.Union(EXPORT_STATES.map((s) => Type.Literal(s)))),
        app: Type.Optional(Type.String()),
        limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
      }),
      output: Type.Array(ExportRecordSchema, { description: 'Newest first' }),
      access: ownerOnly,
      run: async (filter) => gateway.list(filter),
    }),

    get: defineOperation({
      name: 'exports.get', summary: 'One export with the exact payload', audit: 'admin',
      input: IdInput,
      output: Type.Composite([ExportRecordSchema, Type.Object({ payload: Type.Unknown({ description: 'The JSON value that left, or would leave' }) })]),
      access: ownerOnly,
      run: async ({ id }) => gateway.get(id),
    }),

    approve: defineOperation({
      name: 'exports.approve', summary: 'Approve a waiting export: it is sent now', audit: 'admin',
      input: IdInput, output: ExportRecordSchema,
      access: ownerOnly,
      run: async ({ id }) => gateway.approve(id),
    }),

    deny: defineOperation({
      name: 'exports.deny', summary: 'Deny a waiting export: it never leaves', audit: 'admin',
      input: IdInput, output: ExportRecordSchema,
      access: ownerOnly,
      run: async ({ id }) => gateway.deny(id),
    }),
  }
}

export type ExportOperations = ReturnType<typeof exportOperations>
