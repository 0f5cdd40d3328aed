/** Apps (install, review, grant, run, revoke, uninstall, views) and the export gateway's queue and history, over HTTP. All owner only. */
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { Type } from '@sinclair/typebox'
import { ManifestSchema } from '../apps/index.ts'
import { BundleJsonSchema, ConsentInputSchema } from '../apps/operations.ts'
import { operationRoute, type RouteFn } from './routes.ts'
import type { ApiDeps } from './index.ts'

const TARBALL_TYPES = ['application/gzip', 'application/x-gzip', 'application/x-tar', 'application/octet-stream']

export function appRoutes(api: FastifyInstance, deps: ApiDeps): void {
  const { ops, appOps, exportOps } = deps
  const route: RouteFn = (method, url, op, opts) => operationRoute(api, ops, method, url, op, opts)

  // The manifest format is public, for app authors: it needs no token, and the document says so.
  api.get('/apps/manifest-schema', { schema: { summary: 'The JSON Schema of app manifests (version 1); needs no token', tags: ['apps'], security: [], response: { 200: Type.Unknown({ description: 'A JSON Schema (draft 7)' }) } } }, async () => ManifestSchema)

  route('GET', '/apps', appOps.list, { tags: ['apps'] })

  // A bundle comes as JSON ({ manifest, code }) or as the tarball itself; either is read by the operation, after authentication.
  api.register(async (scope) => {
    for (const type of TARBALL_TYPES) {
      scope.addContentTypeParser(type, { parseAs: 'buffer' }, (_req, body, done) => done(null, body))
    }
    operationRoute(scope, ops, 'POST', '/apps', appOps.install, {
      tags: ['apps'],
      description: 'Answers 202 when the owner must consent before the app runs, 200 when an update carries the consent over.',
      // Fastify's form for a body whose schema depends on its content type.
      body: Type.Unsafe({
        content: {
          'application/json': { schema: BundleJsonSchema },
          ...Object.fromEntries(TARBALL_TYPES.map((type) => [type, { schema: Type.String({ format: 'binary', description: 'The bundle\'s tarball (.tar or .tar.gz)' }) }])),
        },
      }),
      input: (req) => ({ bundle: req.body }),
      statuses: [200, 202],
    })
  })

  route('GET', '/apps/:id', appOps.get, { tags: ['apps'] })
  route('GET', '/apps/:id/review', appOps.review, { tags: ['apps'] })
  route('POST', '/apps/:id/grant', appOps.grant, { tags: ['apps'], body: Type.Optional(ConsentInputSchema), input: paramsOverBody })
  route('POST', '/apps/:id/revoke', appOps.revoke, { tags: ['apps'] })
  route('DELETE', '/apps/:id', appOps.uninstall, { tags: ['apps'] })
  route('POST', '/apps/:id/run', appOps.run, { tags: ['apps'], input: paramsOverBody })
  route('GET', '/apps/:id/views', appOps.views, { tags: ['apps'] })
  route('GET', '/apps/:id/views/:view', appOps.view, { tags: ['apps'] })

  route('GET', '/exports', exportOps.list, { tags: ['exports'] })
  route('GET', '/exports/:id', exportOps.get, { tags: ['exports'] })
  route('POST', '/exports/:id/approve', exportOps.approve, { tags: ['exports'] })
  route('POST', '/exports/:id/deny', exportOps.deny, { tags: ['exports'] })
}

/**
 * The path's parameters over an optional JSON object body. Any other body (an array, a string)
 * is handed on whole, so the operation refuses it after authentication instead of acting as if
 * nothing had been sent.
 */
function paramsOverBody(req: FastifyRequest): unknown {
  const body = req.body ?? {}
  return typeof body === 'object' && !Array.isArray(body) ? { ...body, ...(req.params as object) } : body
}
