/** Owner login, status, settings, tokens and grants, and the audit log. */
import type { FastifyInstance } from 'fastify'
import { Type } from '@sinclair/typebox'
import { checkPassphrase } from '../keys/index.ts'
import { Unauthorized } from '../errors/index.ts'
import { audited } from './guard.ts'
import { Problem, operationRoute, type RouteFn } from './routes.ts'
import type { ApiDeps } from './index.ts'

export const SESSION_SECONDS = 12 * 3600
const LOGIN_FAILURES_BEFORE_DELAY = 5

export function adminRoutes(api: FastifyInstance, deps: ApiDeps): void {
  const { arbiter, ops, homeOps, grantOps, auditOps } = deps
  const route: RouteFn = (method, url, op, opts) => operationRoute(api, ops, method, url, op, opts)
  let failures = 0

  // Login is how the owner gets a token, so it cannot be an operation run with one: it stays a
  // route, audited like the rest.
  api.post('/login', {
    schema: {
      summary: 'Owner login with the passphrase; returns a session token', tags: ['auth'], security: [],
      body: Type.Object({ passphrase: Type.String({ minLength: 1, maxLength: 1024 }) }),
      response: {
        200: Type.Object({ token: Type.String({ description: 'An owner token, for `Authorization: Bearer`' }), expires: Type.Number({ description: 'Epoch seconds' }) }),
        400: Problem, 401: Problem,
      },
    },
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

  route('GET', '/status', homeOps.status, { tags: ['box'] })
  route('GET', '/settings', homeOps.settings, { tags: ['box'] })
  route('PUT', '/settings/map', homeOps.setMap, { tags: ['box'] })
  route('DELETE', '/settings/map', homeOps.clearMap, { tags: ['box'] })

  route('POST', '/tokens', grantOps.mint, { tags: ['auth'] })
  route('GET', '/grants', grantOps.list, { tags: ['auth'] })
  route('DELETE', '/grants/:id', grantOps.revoke, { tags: ['auth'] })

  route('GET', '/audit', auditOps.list, { tags: ['audit'] })
  route('POST', '/audit/verify', auditOps.verify, { tags: ['audit'] })
}
