/**
 * Apps: the owner's operations on installed apps — install, review, consent, run, revoke,
 * uninstall, and the views they showed. All of them are the owner's alone and filed in the
 * audit log as admin actions. The schemas below describe what Apps answers with; each
 * operation's `run` returning the Apps result is what keeps the two in step.
 */
import { Type } from '@sinclair/typebox'
import { EXPORT_POLICIES } from '../gateway/index.ts'
import { InvalidInput } from '../errors/index.ts'
import { defineOperation, ownerOnly, EpochSeconds } from '../operations/index.ts'
import { readTarball, type Bundle } from './bundle.ts'
import { Manifest as ManifestSchema } from './manifest.ts'
import type { Apps } from './index.ts'

const AppId = Type.String({ maxLength: 64 })
const IdInput = Type.Object({ id: AppId })
const Duration = Type.String({ maxLength: 8 })
const Seconds = (description: string) => Type.Number({ description })

const SourceConsentSchema = Type.Object({
  request: Type.String({ description: 'The manifest\'s source request this answers' }),
  sources: Type.Array(Type.String()),
  ops: Type.Array(Type.Union([Type.Literal('read'), Type.Literal('observe')])),
  granularity: Seconds('Finest detail, in seconds; 0 is raw points'),
  window: Seconds('How far back, in seconds; 0 is all time'),
})

const ConsentSchema = Type.Object({
  sources: Type.Array(SourceConsentSchema),
  exports: Type.Record(Type.String(), Type.Union(EXPORT_POLICIES.map((p) => Type.Literal(p)))),
}, { description: 'What the owner granted' })

const RunSummarySchema = Type.Object({
  trigger: Type.Union([Type.Literal('owner'), Type.Literal('schedule'), Type.Literal('new-data')]),
  startedAt: EpochSeconds,
  ok: Type.Boolean(),
  cpuMs: Type.Optional(Type.Number()),
  wallMs: Type.Optional(Type.Number()),
  calls: Type.Optional(Type.Integer({ description: 'Host calls the run made' })),
  error: Type.Optional(Type.String()),
})

const AppInfoSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  version: Type.String(),
  state: Type.Union([Type.Literal('pending'), Type.Literal('active'), Type.Literal('revoked')]),
  manifest: ManifestSchema,
  consent: Type.Union([ConsentSchema, Type.Null()]),
  update: Type.Union([ManifestSchema, Type.Null()], { description: 'An update that asks for more than the consent, waiting for the owner' }),
  installedAt: EpochSeconds,
  updatedAt: EpochSeconds,
  running: Type.Boolean(),
  lastRun: Type.Union([RunSummarySchema, Type.Null()]),
})

const ReviewSchema = Type.Object({
  app: Type.Object({
    id: Type.String(), name: Type.String(), version: Type.String(), author: Type.String(), description: Type.String(), purposes: Type.Array(Type.String()),
  }),
  reads: Type.Array(Type.Object({
    request: Type.String(), required: Type.Boolean(), justification: Type.String(), ops: Type.Array(Type.String()),
    granularity: Seconds('Finest detail asked for, in seconds; 0 is raw points'), detail: Type.String(),
    window: Seconds('How far back, in seconds; 0 is all time'), period: Type.String(),
    matches: Type.Array(Type.String(), { description: 'The sources the request may be answered from' }), summary: Type.String(),
  })),
  exports: Type.Array(Type.Object({
    id: Type.String(), url: Type.String(), host: Type.String(), purpose: Type.String(), sends: Type.String(),
    frequency: Type.String(), maxBytes: Type.Integer(), summary: Type.String(),
  })),
  views: Type.Array(Type.Object({ id: Type.String(), title: Type.String() })),
  ownSources: Type.Array(Type.String()),
  schedule: Type.String(),
  text: Type.Array(Type.String(), { description: 'The review as plain sentences, in the order a person reads them' }),
}, { description: 'What the app asks for, in plain words' })

const InstallResultSchema = Type.Object({
  app: AppInfoSchema,
  review: ReviewSchema,
  needsConsent: Type.Boolean({ description: 'True when the owner must consent (a new app, or an update that asks for more) before it runs' }),
})

const RunReportSchema = Type.Composite([RunSummarySchema, Type.Object({
  value: Type.Unknown({ description: 'What the app\'s code returned' }),
  logs: Type.Array(Type.String()),
})])

const AppViewSchema = Type.Object({
  app: Type.String(),
  view: Type.String(),
  title: Type.String(),
  spec: Type.Unknown({ description: 'A Vega-Lite spec with its data inline' }),
  updatedAt: EpochSeconds,
})

const ConsentAnswers = {
  sources: Type.Optional(Type.Record(Type.String(), Type.Object({
    refuse: Type.Optional(Type.Boolean()),
    sources: Type.Optional(Type.Array(Type.String({ maxLength: 64 }), { maxItems: 256 })),
    granularity: Type.Optional(Duration),
    window: Type.Optional(Duration),
  }, { additionalProperties: false }))),
  exports: Type.Optional(Type.Record(Type.String(), Type.Union(EXPORT_POLICIES.map((p) => Type.Literal(p))))),
}

/** The owner's answers to a review, as a request body: anything left out is granted as asked, with exports asked each time. */
export const ConsentInputSchema = Type.Object(ConsentAnswers, {
  additionalProperties: false, description: 'What the owner narrows; anything left out is granted as asked, with exports asked each time',
})

/** A bundle as JSON, the other form an install takes besides the tarball itself. */
export const BundleJsonSchema = Type.Object({
  manifest: Type.Unknown({ description: 'The app manifest (see /api/v1/apps/manifest-schema)' }),
  code: Type.String({ description: 'The bundled script' }),
})

export interface AppOperationsDeps {
  apps: Apps
}

export function appOperations({ apps }: AppOperationsDeps) {

  return {
    list: defineOperation({
      name: 'apps.list', summary: 'Installed apps with their consent and last run', audit: 'admin',
      input: Type.Object({}), output: Type.Array(AppInfoSchema),
      access: ownerOnly,
      run: async () => apps.list(),
    }),

    get: defineOperation({
      name: 'apps.get', summary: 'One app', audit: 'admin',
      input: IdInput, output: AppInfoSchema,
      access: ownerOnly,
      run: async ({ id }) => apps.get(id),
    }),

    install: defineOperation({
      name: 'apps.install', summary: 'Install or update an app from its bundle; answers with the review the owner consents to', audit: 'admin',
      input: Type.Object({
        bundle: Type.Unknown({ description: 'The bundle\'s tarball bytes, or JSON { manifest, code }' }),
      }),
      output: InstallResultSchema,
      statusOf: (result) => result.needsConsent ? 202 : 200,
      access: ownerOnly,
      // The tarball is unpacked only here, once the token is known to be the owner's.
      run: async ({ bundle }) => apps.install(Buffer.isBuffer(bundle) ? await readTarball(bundle) : bundleFromJson(bundle)),
    }),

    review: defineOperation({
      name: 'apps.review', summary: 'What the app (or its waiting update) asks for, in plain words', audit: 'admin',
      input: IdInput, output: ReviewSchema,
      access: ownerOnly,
      run: async ({ id }) => apps.review(id),
    }),

    grant: defineOperation({
      name: 'apps.grant', summary: 'Consent: grant what the app asks, or a narrower part of it', audit: 'admin',
      input: Type.Object({ id: AppId, ...ConsentAnswers }, { additionalProperties: false }),
      output: AppInfoSchema,
      access: ownerOnly,
      run: async ({ id, ...consent }) => apps.grant(id, consent),
    }),

    revoke: defineOperation({
      name: 'apps.revoke', summary: 'Revoke every grant of the app and stop it if it runs', audit: 'admin',
      input: IdInput, output: AppInfoSchema,
      access: ownerOnly,
      run: async ({ id }) => apps.revoke(id),
    }),

    uninstall: defineOperation({
      name: 'apps.uninstall', summary: 'Uninstall: tokens, views and code go; its own sources too with deleteData=true', audit: 'admin',
      input: Type.Object({ id: AppId, deleteData: Type.Boolean({ default: false }) }),
      output: Type.Object({ deletedSources: Type.Array(Type.String()) }),
      access: ownerOnly,
      run: async ({ id, deleteData }) => apps.uninstall(id, { deleteData }),
    }),

    run: defineOperation({
      name: 'apps.run', summary: 'Run the app now; answers with its result, logs and usage', audit: 'admin',
      input: Type.Object({ id: AppId, event: Type.Optional(Type.Unknown({ description: 'What the app\'s code receives as its event' })) }),
      output: RunReportSchema,
      access: ownerOnly,
      run: async ({ id, event }) => apps.run(id, { event, trigger: 'owner' }),
    }),

    views: defineOperation({
      name: 'apps.views', summary: 'The views the app has shown (Vega-Lite specs with inline data)', audit: 'admin',
      input: IdInput, output: Type.Array(AppViewSchema),
      access: ownerOnly,
      run: async ({ id }) => apps.views(id),
    }),

    view: defineOperation({
      name: 'apps.view', summary: 'One view', audit: 'admin',
      input: Type.Object({ id: AppId, view: Type.String({ maxLength: 64 }) }), output: AppViewSchema,
      access: ownerOnly,
      run: async ({ id, view }) => apps.view(id, view),
    }),
  }
}

export type AppOperations = ReturnType<typeof appOperations>

function bundleFromJson(body: unknown): Bundle {
  const { manifest, code } = (body ?? {}) as { manifest?: unknown; code?: unknown }
  if (manifest === undefined || typeof code !== 'string') throw new InvalidInput('Send the bundle as JSON { "manifest": {…}, "code": "…" } or as its tarball (application/gzip).')
  return { manifest, code }
}
