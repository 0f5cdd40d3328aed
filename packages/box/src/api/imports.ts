/** Imports: upload a file as the request body; watch its progress; list recent imports. */
import type { FastifyInstance } from 'fastify'
import { Type } from '@sinclair/typebox'
import { CsvProfile, FORMATS, HEAD_BYTES, finished, previewCsv } from '../importers/index.ts'
import { eventStream, ownerOnly } from './guard.ts'
import type { ApiDeps } from './index.ts'

export const IMPORT_LIMIT = 8 * 1024 ** 3

export function importRoutes(api: FastifyInstance, deps: ApiDeps): void {
  const { importers } = deps
  const admin = (handler: Parameters<typeof ownerOnly>[1]) => ownerOnly(deps, handler)

  // The upload is streamed to disk as it arrives, never held in memory, whatever its content type says.
  api.register(async (scope) => {
    scope.removeAllContentTypeParsers()
    scope.addContentTypeParser('*', (_req, payload, done) => done(null, payload))
    scope.post('/imports', {
      bodyLimit: IMPORT_LIMIT,
      schema: {
        summary: 'Import a file sent as the body (GPX, Apple Health export.xml or zip, Google location history, iCalendar, CSV with a profile); answers when it is done', tags: ['imports'],
        querystring: Type.Object({
          id: Type.Optional(Type.String({ description: 'A new UUID chosen by the client, to follow progress at /imports/{id} while uploading' })),
          name: Type.Optional(Type.String({ maxLength: 256, description: 'The file name, for the record' })),
          source: Type.Optional(Type.String({ description: 'Source to import into; default by format' })),
          format: Type.Optional(Type.Union(FORMATS.map((f) => Type.Literal(f)), { description: 'Skip sniffing' })),
          profile: Type.Optional(Type.String({ description: 'A saved CSV profile (column mapping); implies format=csv' })),
        }),
      },
    }, admin(async (req, _reply, ctx) => {
      const q = req.query
      const size = Number(req.headers['content-length'] ?? 0)
      const job = await importers.upload(req.body as NodeJS.ReadableStream, { id: q.id, name: q.name ?? 'upload', size, source: q.source, format: q.format, profile: q.profile })
      ctx.records = job.records
      ctx.bytes = job.size
      ctx.source = job.source
      return job
    }))
  })

  api.register(async (scope) => {
    scope.removeAllContentTypeParsers()
    scope.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body))
    scope.post('/imports/csv-preview', {
      bodyLimit: HEAD_BYTES,
      schema: { summary: `How the start of a CSV file (up to ${HEAD_BYTES / 1024} KiB, as the body) reads: encoding, delimiter, columns, a few rows, and a guessed mapping`, tags: ['imports'] },
    }, admin(async (req) => previewCsv(req.body as Buffer)))
  })

  const Name = Type.Object({ name: Type.String({ maxLength: 63 }) })
  const { csvProfiles } = importers
  api.get('/csv-profiles', { schema: { summary: 'Saved CSV profiles (column mappings)', tags: ['imports'] } }, admin(async () => csvProfiles.list()))
  api.get('/csv-profiles/:name', { schema: { summary: 'One CSV profile', tags: ['imports'], params: Name } }, admin(async (req) => csvProfiles.get(req.params.name!)))
  api.put('/csv-profiles/:name', { schema: { summary: 'Save a CSV profile: time column and format, value columns with names, units and types', tags: ['imports'], params: Name, body: CsvProfile } },
    admin(async (req) => csvProfiles.save(req.params.name!, req.body)))
  api.delete('/csv-profiles/:name', { schema: { summary: 'Delete a CSV profile', tags: ['imports'], params: Name } }, admin(async (req) => {
    csvProfiles.delete(req.params.name!)
    return { deleted: req.params.name }
  }))

  api.get('/imports', { schema: { summary: 'Recent imports with their progress', tags: ['imports'] } }, admin(async () => importers.jobs()))
  api.get('/imports/:id/events', {
    schema: { summary: 'Server-sent events: `progress` with the import every quarter second, then `end` when it finishes', tags: ['imports'], params: Type.Object({ id: Type.String() }) },
  }, admin(async (req, reply) => {
    const id = req.params.id!
    importers.job(id) // 404 before the stream starts
    const stream = eventStream(reply)
    const send = () => {
      const job = importers.job(id)
      stream.write(`event: ${finished(job) ? 'end' : 'progress'}\ndata: ${JSON.stringify(job)}\n\n`)
      if (finished(job)) {
        clearInterval(timer)
        stream.end()
      }
    }
    const timer = setInterval(send, 250)
    stream.on('close', () => clearInterval(timer))
    send()
  }))

  api.get('/imports/:id', { schema: { summary: 'One import and its progress (bytes read, records)', tags: ['imports'], params: Type.Object({ id: Type.String() }) } },
    admin(async (req) => importers.job(req.params.id!)))
}
