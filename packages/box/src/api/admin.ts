/** Owner login, status, settings, tokens and grants, and the audit log. */
import type { FastifyInstance } from 'fastify'
import { Type } from '@sinclair/typebox'
import { checkPassphrase } from '../keys/index.ts'
import { OPERATIONS, parseBound, type Op, type Window } from '../arbiter/index.ts'
import { parseBucket } from '../store/index.ts'
import { parseDuration } from '../duration/index.ts'
import { CofferError, InvalidInput, Unauthorized } from '../errors/index.ts'
import { audited, authorized, ownerOnly } from './guard.ts'
import { parseTime } from '../sources/index.ts'
import { finished } from '../importers/index.ts'
import { checkMapTiles, updateConfig, type Settings } from '../home/index.ts'
import type { ApiDeps } from './index.ts'

export const SESSION_SECONDS = 12 * 3600
const LOGIN_FAILURES_BEFORE_DELAY = 5

const TokenBody = Type.Object({
  subject: Type.Union([Type.Literal('device'), Type.Literal('driver'), Type.Literal('app'), Type.Literal('owner')]),
  name: Type.Optional(Type.String({ pattern: '^[a-z0-9][a-z0-9._-]{0,62}$' })),
  sources: Type.Optional(Type.Array(Type.String({ pattern: '^[a-z0-9][a-z0-9._-]{0,62}$' }), { minItems: 1, maxItems: 256 })),
  ops: Type.Optional(Type.Array(Type.Union(OPERATIONS.filter((o) => o !== 'admin').map((o) => Type.Literal(o))), { minItems: 1 })),
  window: Type.Optional(Type.String({ description: 'FROM..TO, each epoch seconds, now-DURATION (now-30d) or empty' })),
  granularity: Type.Optional(Type.String({ description: 'raw, or the smallest bucket readable (1h, 1d …)' })),
  expiresIn: Type.Optional(Type.String({ description: 'Token lifetime: 30m, 12h, 90d …' })),
  description: Type.Optional(Type.String({ maxLength: 1024 })),
}, { additionalProperties: false })

type TokenRequest = {
  subject: 'device' | 'driver' | 'app' | 'owner'
  name?: string
  sources?: string[]
  ops?: Op[]
  window?: string
  granularity?: string
  expiresIn?: string
  description?: string
}

export function adminRoutes(api: FastifyInstance, deps: ApiDeps): void {
  const { arbiter, audit, store } = deps
  let failures = 0

  api.post('/login', {
    schema: { summary: 'Owner login with the passphrase; returns a session token', tags: ['auth'], security: [], body: Type.Object({ passphrase: Type.String({ minLength: 1, maxLength: 1024 }) }) },
  }, audited(deps, 'login', async (req, _reply, ctx) => {
    ctx.subject = 'owner'
    // Each failure in a row slows the next answer, so guessing the passphrase online is slow.
    if (failures >= LOGIN_FAILURES_BEFORE_DELAY) await new Promise((r) => setTimeout(r, Math.min(5000, 250 * 2 ** (failures - LOGIN_FAILURES_BEFORE_DELAY))))
    if (!checkPassphrase(deps.home.config.passphraseHash, (req.body as { passphrase: string }).passphrase)) {
      failures++
      throw new Unauthorized('Wrong passphrase.')
    }
    failures = 0
    const { token, expires } = arbiter.ownerToken(SESSION_SECONDS)
    return { token, expires }
  }))

  api.get('/status', { schema: { summary: 'What this box is and how it is doing', tags: ['box'] } },
    audited(deps, 'read', authorized(deps, () => ({ op: 'read' }), async (_req, _reply, ctx) => ({
      identity: deps.home.config.identity,
      createdAt: deps.home.config.createdAt,
      subject: ctx.scope.subject,
      sources: store.list().length,
      auditEntries: audit.length,
      uptimeSeconds: Math.round(process.uptime()),
      rssBytes: process.memoryUsage().rss,
      drivers: deps.drivers.list().map((d) => ({ id: d.id, kind: d.kind, state: d.status.state, lastError: d.status.lastError?.message ?? null })),
      importsRunning: deps.importers.jobs().filter((j) => !finished(j)).length,
    }))))

  const settings = (): Settings => ({ timeZone: deps.home.config.timeZone ?? 'UTC', map: deps.home.config.map ?? null })
  api.get('/settings', { schema: { summary: 'The box\'s settings: its time zone and the map tile server, if any', tags: ['box'] } }, ownerOnly(deps, async () => settings()))
  api.put('/settings/map', {
    schema: {
      summary: 'Draw location tracks over map tiles from this server (the browser fetches them, so the server sees which areas are viewed)', tags: ['box'],
      body: Type.Object({
        tiles: Type.String({ maxLength: 512, description: 'URL template with {z}, {x} and {y}' }),
        attribution: Type.Optional(Type.String({ maxLength: 200, pattern: '^[^\\u0000-\\u001f\\u007f]*$', description: 'Credit the tile server asks for, shown under the map: one line of text' })),
      }, { additionalProperties: false }),
    },
  }, ownerOnly(deps, async (req) => {
    updateConfig(deps.home, { map: checkMapTiles(req.body as { tiles: string; attribution?: string }).map })
    return settings()
  }))
  api.delete('/settings/map', { schema: { summary: 'Stop using a tile server: tracks are drawn on their own again', tags: ['box'] } }, ownerOnly(deps, async () => {
    updateConfig(deps.home, { map: undefined })
    return settings()
  }))

  api.post('/tokens', { schema: { summary: 'Create a grant and mint a token from it', tags: ['auth'], body: TokenBody } },
    ownerOnly(deps, async (req, reply) => {
      const body = req.body as TokenRequest
      const ttlSeconds = body.expiresIn === undefined ? undefined : parseDuration(body.expiresIn, 'expiresIn')
      let grant = arbiter.grant('owner')
      if (body.subject !== 'owner') {
        const request = grantRequest(body)
        for (const id of request.sources) store.get(id)
        grant = arbiter.createGrant(request)
      }
      const { token, expires } = arbiter.mint(grant.id, { ttlSeconds })
      reply.status(201)
      return { token, expires, grant }
    }))

  api.get('/grants', { schema: { summary: 'List grants', tags: ['auth'] } }, ownerOnly(deps, async () => arbiter.grants()))

  api.delete('/grants/:id', { schema: { summary: 'Revoke a grant: its tokens fail from the next request', tags: ['auth'], params: Type.Object({ id: Type.String({ maxLength: 128 }) }) } },
    ownerOnly(deps, async (req) => arbiter.revoke(req.params.id!)))

  api.get('/audit', {
    schema: {
      summary: 'Audit entries, newest first', tags: ['audit'],
      querystring: Type.Object({
        subject: Type.Optional(Type.String()), source: Type.Optional(Type.String()), operation: Type.Optional(Type.String()),
        outcome: Type.Optional(Type.Union([Type.Literal('allow'), Type.Literal('deny')])),
        from: Type.Optional(Type.String()), to: Type.Optional(Type.String()),
        limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000, default: 100 })),
      }),
    },
  }, ownerOnly(deps, async (req, _reply, ctx) => {
    const q = req.query
    const entries = await audit.list({
      subject: q.subject, source: q.source, operation: q.operation, outcome: q.outcome as 'allow' | 'deny' | undefined,
      from: parseTime(q.from, 'from'), to: parseTime(q.to, 'to'), limit: Number(q.limit ?? 100),
    })
    ctx.records = entries.length
    return entries
  }))

  api.post('/audit/verify', { schema: { summary: 'Verify the whole audit log against its signed Merkle tree', tags: ['audit'] } },
    ownerOnly(deps, async () => audit.verify()))
}

const SUBJECT_OPS: Record<TokenRequest['subject'], Op[]> = { device: ['write'], driver: ['write'], app: ['read'], owner: [] }

function grantRequest(body: TokenRequest) {
  if (!body.sources) throw new InvalidInput(`A ${body.subject} token needs the sources it may use.`, { field: 'sources' })
  const name = body.name ?? body.sources[0]!
  let windows: Window[] = []
  if (body.window !== undefined) {
    const [from, to, extra] = body.window.split('..')
    if (from === undefined || to === undefined || extra !== undefined) throw new InvalidInput('window must look like FROM..TO, e.g. now-30d.. or 1735689600..1767225600.', { field: 'window' })
    try {
      windows = [{ from: parseBound(from), to: parseBound(to) }]
    } catch (err) {
      throw err instanceof CofferError ? new InvalidInput(`window: ${err.message}`, { field: 'window' }) : err
    }
  }
  return {
    subject: `${body.subject}:${name}`,
    description: body.description ?? `${body.subject} ${name}`,
    sources: body.sources,
    ops: body.ops ?? SUBJECT_OPS[body.subject],
    windows,
    granularity: body.granularity === undefined || body.granularity === 'raw' ? 0 : parseBucket(body.granularity).seconds,
  }
}
