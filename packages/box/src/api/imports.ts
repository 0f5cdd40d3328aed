/** Imports: upload a file as the request body; watch its progress; list recent imports; CSV profiles and previews. */
import type { FastifyInstance } from 'fastify'
import { Type } from '@sinclair/typebox'
import { HEAD_BYTES, finished } from '../importers/index.ts'
import { eventStream, ownerOnly } from './guard.ts'
import { operationRoute, type RouteFn } from './routes.ts'
import type { ApiDeps } from './index.ts'

export const IMPORT_LIMIT = 8 * 1024 ** 3

const Bytes = (description: string) => Type.Unsafe({ content: { 'application/octet-stream': { schema: Type.String({ format: 'binary', description }) } } })

export function importRoutes(api: FastifyInstance, deps: ApiDeps): void {
  const { importers, ops, importOps } = deps
  const route: RouteFn = (method, url, op, opts) => operationRoute(api, ops, method, url, op, opts)

  // The upload is streamed to disk as it arrives, never held in memory, whatever its content type
  // says: the operation gets the body's stream and reads it only once the token is the owner's.
  api.register(async (scope) => {
    scope.removeAllContentTypeParsers()
    scope.addContentTypeParser('*', (_req, payload, done) => done(null, payload))
    operationRoute(scope, ops, 'POST', '/imports', importOps.upload, {
      tags: ['imports'], bodyLimit: IMPORT_LIMIT,
      body: Bytes('The file, in any content type'),
      querystring: Type.Omit(importOps.upload.input, ['file', 'size']),
      input: (req) => ({ ...(req.query as object), file: req.body, size: req.headers['content-length'] }),
    })
  })

  api.register(async (scope) => {
    scope.removeAllContentTypeParsers()
    scope.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body))
    operationRoute(scope, ops, 'POST', '/imports/csv-preview', importOps.preview, {
      tags: ['imports'], bodyLimit: HEAD_BYTES,
      description: `The body is the start of the file, up to ${HEAD_BYTES / 1024} KiB.`,
      body: Bytes('The start of a CSV file'),
      input: (req) => ({ head: req.body }),
    })
  })

  route('GET', '/csv-profiles', importOps.profiles, { tags: ['imports'] })
  route('GET', '/csv-profiles/:name', importOps.profile, { tags: ['imports'] })
  route('PUT', '/csv-profiles/:name', importOps.saveProfile, {
    tags: ['imports'], body: importOps.saveProfile.input.properties.profile,
    input: (req) => ({ profile: req.body, name: (req.params as { name: string }).name }),
  })
  route('DELETE', '/csv-profiles/:name', importOps.deleteProfile, { tags: ['imports'] })

  route('GET', '/imports', importOps.list, { tags: ['imports'] })
  // Server-sent events hold the response open and send as the import goes: not one answer, so not an operation.
  api.get('/imports/:id/events', {
    schema: {
      summary: 'Server-sent events: `progress` with the import every quarter second, then `end` when it finishes', tags: ['imports'], params: Type.Object({ id: Type.String() }),
      response: { 200: Type.Unsafe({ content: { 'text/event-stream': { schema: Type.String({ description: '`progress` and `end` events, each with the import as JSON' }) } } }) },
    },
  }, ownerOnly(deps, async (req, reply) => {
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
  route('GET', '/imports/:id', importOps.get, { tags: ['imports'] })
}
