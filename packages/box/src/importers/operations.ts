/**
 * Imports, for the owner: import a file as it arrives, follow imports, keep CSV profiles, and
 * preview how a CSV file reads. Owner only, audited as admin actions; the records an import
 * writes are audited as its writes.
 */
import { Type } from '@sinclair/typebox'
import { defineOperation, ownerOnly, EpochSeconds } from '../operations/index.ts'
import { InvalidInput } from '../errors/index.ts'
import { CsvProfile, FORMATS, previewCsv, type Importers } from './index.ts'

const FormatSchema = Type.Union(FORMATS.map((f) => Type.Literal(f)))
const ProfileName = Type.Object({ name: Type.String({ maxLength: 63 }) })

const ImportJobSchema = Type.Object({
  id: Type.String(),
  name: Type.String({ description: 'The file name, for the record' }),
  format: Type.Union([FormatSchema, Type.Null()]),
  source: Type.Union([Type.String(), Type.Null()]),
  state: Type.Union((['receiving', 'checking', 'importing', 'done', 'duplicate', 'failed'] as const).map((s) => Type.Literal(s))),
  size: Type.Integer({ description: 'Bytes: as announced while receiving, as received after' }),
  bytesRead: Type.Integer(),
  records: Type.Integer(),
  error: Type.Union([Type.String(), Type.Null()]),
  startedAt: EpochSeconds,
  finishedAt: Type.Union([EpochSeconds, Type.Null()]),
})

const CsvPreviewSchema = Type.Object({
  encoding: Type.String(),
  delimiter: Type.String(),
  columns: Type.Array(Type.String()),
  rows: Type.Array(Type.Array(Type.String()), { description: 'Up to five rows after the header, as text' }),
  guess: Type.Object({
    time: Type.Union([Type.Object({ column: Type.String(), format: Type.String() }), Type.Null()]),
    values: Type.Array(Type.Object({ column: Type.String(), type: Type.Union([Type.Literal('number'), Type.Literal('string')]) })),
    decimal: Type.Union([Type.Literal('.'), Type.Literal(',')]),
  }, { description: 'A mapping to start from: the time column and format if one is recognised, every other column as a value' }),
})

export interface ImportOperationsDeps {
  importers: Importers
}

export function importOperations({ importers }: ImportOperationsDeps) {
  const { csvProfiles } = importers

  return {
    upload: defineOperation({
      name: 'imports.upload',
      summary: 'Import a file sent as the body (GPX, Apple Health export.xml or zip, Google location history, iCalendar, CSV with a profile); answers when it is done',
      audit: 'admin',
      input: Type.Object({
        file: Type.Unknown({ description: 'The file as a stream of bytes, read only once the caller is known to be the owner' }),
        size: Type.Integer({ minimum: 0, default: 0, description: 'The file\'s size in bytes, if known, for progress' }),
        id: Type.Optional(Type.String({ description: 'A new UUID chosen by the client, to follow progress at /imports/{id} while uploading' })),
        name: Type.String({ maxLength: 256, default: 'upload', description: 'The file name, for the record' }),
        source: Type.Optional(Type.String({ description: 'Source to import into; default by format' })),
        format: Type.Optional(Type.Union(FORMATS.map((f) => Type.Literal(f)), { description: 'Skip sniffing' })),
        profile: Type.Optional(Type.String({ description: 'A saved CSV profile (column mapping); implies format=csv' })),
      }),
      output: ImportJobSchema,
      access: ownerOnly,
      run: async ({ file, ...options }, ctx) => {
        if (!isReadable(file)) throw new InvalidInput('Send the file as the body.')
        const job = await importers.upload(file, options)
        ctx.records = job.records
        ctx.bytes = job.size
        ctx.source = job.source
        return job
      },
    }),

    list: defineOperation({
      name: 'imports.list', summary: 'Recent imports with their progress', audit: 'admin',
      input: Type.Object({}), output: Type.Array(ImportJobSchema, { description: 'Newest first' }),
      access: ownerOnly,
      run: async () => importers.jobs(),
    }),

    get: defineOperation({
      name: 'imports.get', summary: 'One import and its progress (bytes read, records)', audit: 'admin',
      input: Type.Object({ id: Type.String() }), output: ImportJobSchema,
      access: ownerOnly,
      run: async ({ id }) => importers.job(id),
    }),

    preview: defineOperation({
      name: 'csv.preview', summary: 'How the start of a CSV file reads: encoding, delimiter, columns, a few rows, and a guessed mapping', audit: 'admin',
      input: Type.Object({ head: Type.Uint8Array({ description: 'The first bytes of the file' }) }),
      output: CsvPreviewSchema,
      access: ownerOnly,
      run: async ({ head }) => previewCsv(Buffer.from(head.buffer, head.byteOffset, head.byteLength)),
    }),

    profiles: defineOperation({
      name: 'csvProfiles.list', summary: 'Saved CSV profiles (column mappings)', audit: 'admin',
      input: Type.Object({}), output: Type.Array(Type.Object({ name: Type.String(), profile: CsvProfile })),
      access: ownerOnly,
      run: async () => csvProfiles.list(),
    }),

    profile: defineOperation({
      name: 'csvProfiles.get', summary: 'One CSV profile', audit: 'admin',
      input: ProfileName, output: CsvProfile,
      access: ownerOnly,
      run: async ({ name }) => csvProfiles.get(name),
    }),

    saveProfile: defineOperation({
      name: 'csvProfiles.save', summary: 'Save a CSV profile: time column and format, value columns with names, units and types', audit: 'admin',
      input: Type.Object({ name: ProfileName.properties.name, profile: CsvProfile }), output: CsvProfile,
      access: ownerOnly,
      run: async ({ name, profile }) => csvProfiles.save(name, profile),
    }),

    deleteProfile: defineOperation({
      name: 'csvProfiles.delete', summary: 'Delete a CSV profile', audit: 'admin',
      input: ProfileName, output: Type.Object({ deleted: Type.String() }),
      access: ownerOnly,
      run: async ({ name }) => {
        csvProfiles.delete(name)
        return { deleted: name }
      },
    }),
  }
}

export type ImportOperations = ReturnType<typeof importOperations>

function isReadable(value: unknown): value is NodeJS.ReadableStream {
  return typeof (value as NodeJS.ReadableStream | null | undefined)?.pipe === 'function'
}
