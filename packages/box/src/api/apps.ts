/** Apps (install, review, grant, run, revoke, uninstall, views) and the export gateway's queue and history. All owner only. */
import type { FastifyInstance } from 'fastify'
import { Type } from '@sinclair/typebox'
import { ManifestSchema, readTarball, type ConsentInput } from '../apps/index.ts'
import { EXPORT_POLICIES, EXPORT_STATES, type ExportState } from '../gateway/index.ts'
import { InvalidInput } from '../errors/index.ts'
import { ownerOnly } from './guard.ts'
import type { ApiDeps } from './index.ts'

const Id = Type.Object({ id: Type.String({ maxLength: 64 }) })
const Duration = Type.String({ maxLength: 8 })
const Consent = Type.Object({
  sources: Type.Optional(Type.Record(Type.String(), Type.Object({
    refuse: Type.Optional(Type.Boolean()),
    sources: Type.Optional(Type.Array(Type.String({ maxLength: 64 }), { maxItems: 256 })),
    granularity: Type.Optional(Duration),
    window: Type.Optional(Duration),
  }, { additionalProperties: false }))),
  exports: Type.Optional(Type.Record(Type.String(), Type.Union(EXPORT_POLICIES.map((p) => Type.Literal(p))))),
}, { additionalProperties: false, description: 'What the owner narrows; anything left out is granted as asked, with exports asked each time' })

export function appRoutes(api: FastifyInstance, deps: ApiDeps): void {
  const { apps, gateway } = deps
  const admin = (handler: Parameters<typeof ownerOnly>[1]) => ownerOnly(deps, handler)

  api.get('/apps/manifest-schema', { schema: { summary: 'The JSON Schema of app manifests (version 1)', tags: ['apps'] } }, async () => ManifestSchema)

  api.get('/apps', { schema: { summary: 'Installed apps with their consent and last run', tags: ['apps'] } }, admin(async () => apps.list()))

  // A bundle comes as JSON ({ manifest, code }) or as the tarball itself.
  api.register(async (scope) => {
    for (const type of ['application/gzip', 'application/x-gzip', 'application/x-tar', 'application/octet-stream']) {
      scope.addContentTypeParser(type, { parseAs: 'buffer' }, (_req, body, done) => done(null, body))
    }
    scope.post('/apps', {
      schema: { summary: 'Install or update an app from its bundle; answers with the review the owner consents to', tags: ['apps'] },
    }, admin(async (req, reply) => {
      const bundle = Buffer.isBuffer(req.body) ? await readTarball(req.body) : bundleFromJson(req.body)
      const result = await apps.install(bundle)
      reply.status(result.needsConsent ? 202 : 200)
      return result
    }))
  })

  api.get('/apps/:id', { schema: { summary: 'One app', tags: ['apps'], params: Id } }, admin(async (req) => apps.get(req.params.id!)))
  api.get('/apps/:id/review', { schema: { summary: 'What the app (or its waiting update) asks for, in plain words', tags: ['apps'], params: Id } },
    admin(async (req) => apps.review(req.params.id!)))
  api.post('/apps/:id/grant', { schema: { summary: 'Consent: grant what the app asks, or a narrower part of it', tags: ['apps'], params: Id, body: Type.Optional(Consent) } },
    admin(async (req) => apps.grant(req.params.id!, (req.body ?? {}) as ConsentInput)))
  api.post('/apps/:id/revoke', { schema: { summary: 'Revoke every grant of the app and stop it if it runs', tags: ['apps'], params: Id } },
    admin(async (req) => apps.revoke(req.params.id!)))
  api.delete('/apps/:id', {
    schema: { summary: 'Uninstall: tokens, views and code go; its own sources too with deleteData=true', tags: ['apps'], params: Id, querystring: Type.Object({ deleteData: Type.Optional(Type.Boolean()) }) },
  }, admin(async (req) => apps.uninstall(req.params.id!, { deleteData: String(req.query.deleteData) === 'true' })))
  api.post('/apps/:id/run', { schema: { summary: 'Run the app now; answers with its result, logs and usage', tags: ['apps'], params: Id, body: Type.Optional(Type.Object({ event: Type.Optional(Type.Unknown()) })) } },
    admin(async (req) => apps.run(req.params.id!, { event: (req.body as { event?: unknown } | undefined)?.event, trigger: 'owner' })))
  api.get('/apps/:id/views', { schema: { summary: 'The views the app has shown (Vega-Lite specs with inline data)', tags: ['apps'], params: Id } },
    admin(async (req) => apps.views(req.params.id!)))
  api.get('/apps/:id/views/:view', { schema: { summary: 'One view', tags: ['apps'], params: Type.Object({ id: Type.String({ maxLength: 64 }), view: Type.String({ maxLength: 64 }) }) } },
    admin(async (req) => apps.view(req.params.id!, req.params.view!)))

  api.get('/exports', {
    schema: { summary: 'Exports: waiting for approval, sent, denied or failed', tags: ['exports'], querystring: Type.Object({ state: Type.Optional(Type.Union(EXPORT_STATES.map((s) => Type.Literal(s)))), app: Type.Optional(Type.String()), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })) }) },
  }, admin(async (req) => gateway.list({ state: req.query.state as ExportState | undefined, app: req.query.app, limit: req.query.limit ? Number(req.query.limit) : undefined })))
  api.get('/exports/:id', { schema: { summary: 'One export with the exact payload', tags: ['exports'], params: Id } }, admin(async (req) => gateway.get(req.params.id!)))
  api.post('/exports/:id/approve', { schema: { summary: 'Approve a waiting export: it is sent now', tags: ['exports'], params: Id } }, admin(async (req) => gateway.approve(req.params.id!)))
  api.post('/exports/:id/deny', { schema: { summary: 'Deny a waiting export: it never leaves', tags: ['exports'], params: Id } }, admin(async (req) => gateway.deny(req.params.id!)))
}

function bundleFromJson(body: unknown): { manifest: unknown; code: string } {
  const { manifest, code } = (body ?? {}) as { manifest?: unknown; code?: unknown }
  if (manifest === undefined || typeof code !== 'string') throw new InvalidInput('Send the bundle as JSON { "manifest": {…}, "code": "…" } or as its tarball (application/gzip).')
  return { manifest, code }
}
