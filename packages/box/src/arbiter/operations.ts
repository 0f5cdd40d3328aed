/**
 * Grants and the tokens minted from them, for the owner: create a grant and mint its token,
 * list grants, revoke one. Owner only, audited as admin actions.
 */
import { Type, type Static } from '@sinclair/typebox'
import { defineOperation, ownerOnly } from '../operations/index.ts'
import { parseBucket, type Store } from '../store/index.ts'
import { parseDuration } from '../duration/index.ts'
import { SOURCE_ID } from '../store/meta.ts'
import { CofferError, InvalidInput } from '../errors/index.ts'
import { OPERATIONS, parseBound, type Arbiter, type Op, type Window } from './index.ts'

const Name = Type.String({ pattern: SOURCE_ID.source, description: 'Spelled like a source id' })
const Subject = Type.Union([Type.Literal('device'), Type.Literal('driver'), Type.Literal('app'), Type.Literal('owner')])

const TimeBound = Type.Union([
  Type.Object({ at: Type.Number({ description: 'Epoch seconds' }) }),
  Type.Object({ ago: Type.Number({ description: 'Seconds before the request' }) }),
])

export const GrantSchema = Type.Object({
  id: Type.String(),
  subject: Type.String({ description: 'owner, device:ID, driver:ID or app:ID' }),
  epoch: Type.Integer({ description: 'Bumped on revocation: tokens carry it, so older ones fail' }),
  revoked: Type.Boolean(),
  createdAt: Type.String(),
  description: Type.String(),
  sources: Type.Union([Type.Literal('*'), Type.Array(Type.String())]),
  ops: Type.Array(Type.Union(OPERATIONS.map((o) => Type.Literal(o)))),
  windows: Type.Array(Type.Object({ from: Type.Optional(TimeBound), to: Type.Optional(TimeBound) }), { description: 'Data time windows; every one must hold' }),
  granularity: Type.Integer({ description: 'Finest detail readable, in seconds; 0 is raw points' }),
})

const TokenInput = Type.Object({
  subject: Subject,
  name: Type.Optional(Name),
  sources: Type.Optional(Type.Array(Name, { minItems: 1, maxItems: 256 })),
  ops: Type.Optional(Type.Array(Type.Union(OPERATIONS.filter((o) => o !== 'admin').map((o) => Type.Literal(o))), { minItems: 1 })),
  window: Type.Optional(Type.String({ description: 'FROM..TO, each epoch seconds, now-DURATION (now-30d) or empty' })),
  granularity: Type.Optional(Type.String({ description: 'raw, or the smallest bucket readable (1h, 1d …)' })),
  expiresIn: Type.Optional(Type.String({ description: 'Token lifetime: 30m, 12h, 90d …' })),
  description: Type.Optional(Type.String({ maxLength: 1024 })),
}, { additionalProperties: false })

export interface GrantOperationsDeps {
  arbiter: Arbiter
  store: Store
}

export function grantOperations({ arbiter, store }: GrantOperationsDeps) {

  return {
    mint: defineOperation({
      name: 'tokens.mint', summary: 'Create a grant and mint a token from it', audit: 'admin', status: 201,
      input: TokenInput,
      output: Type.Object({
        token: Type.String({ description: 'A macaroon, base64url' }),
        expires: Type.Optional(Type.Number({ description: 'Epoch seconds' })),
        grant: GrantSchema,
      }),
      access: ownerOnly,
      run: async (input) => {
        const ttlSeconds = input.expiresIn === undefined ? undefined : parseDuration(input.expiresIn, 'expiresIn')
        let grant = arbiter.grant('owner')
        if (input.subject !== 'owner') {
          const request = grantRequest(input)
          for (const id of request.sources) store.get(id)
          grant = arbiter.createGrant(request)
        }
        const { token, expires } = arbiter.mint(grant.id, { ttlSeconds })
        return { token, expires, grant }
      },
    }),

    list: defineOperation({
      name: 'grants.list', summary: 'List grants', audit: 'admin',
      input: Type.Object({}), output: Type.Array(GrantSchema),
      access: ownerOnly,
      run: async () => arbiter.grants(),
    }),

    revoke: defineOperation({
      name: 'grants.revoke', summary: 'Revoke a grant: its tokens fail from the next request', audit: 'admin',
      input: Type.Object({ id: Type.String({ maxLength: 128 }) }), output: GrantSchema,
      access: ownerOnly,
      run: async ({ id }) => arbiter.revoke(id),
    }),
  }
}

export type GrantOperations = ReturnType<typeof grantOperations>

const SUBJECT_OPS: Record<Static<typeof Subject>, Op[]> = { device: ['write'], driver: ['write'], app: ['read'], owner: [] }

function grantRequest(body: Static<typeof TokenInput>) {
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
