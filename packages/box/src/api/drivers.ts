/** Drivers: manage them (owner only); each kind adds the routes particular to it. */
import type { FastifyInstance } from 'fastify'
import { Type } from '@sinclair/typebox'
import { kinds } from '../drivers/index.ts'
import { ownerOnly } from './guard.ts'
import type { ApiDeps } from './index.ts'

const Id = Type.Object({ id: Type.String({ maxLength: 63 }) })

export function driverRoutes(api: FastifyInstance, deps: ApiDeps): void {
  const { drivers } = deps
  const admin = (handler: Parameters<typeof ownerOnly>[1]) => ownerOnly(deps, handler)

  api.get('/drivers', { schema: { summary: 'Drivers with their configuration and status', tags: ['drivers'] } }, admin(async () => drivers.list()))

  api.post('/drivers', {
    schema: {
      summary: 'Add a driver: creates its sources and a write-only grant, then starts it', tags: ['drivers'],
      body: Type.Object({ id: Type.String(), kind: Type.Union(kinds.map((k) => Type.Literal(k.kind))), config: Type.Unknown() }, { additionalProperties: false }),
    },
  }, admin(async (req, reply) => {
    const { id, kind, config } = req.body as { id: string; kind: string; config: unknown }
    reply.status(201)
    return drivers.add(id, kind, config)
  }))

  api.get('/drivers/:id', { schema: { summary: 'One driver', tags: ['drivers'], params: Id } }, admin(async (req) => drivers.get(req.params.id!)))

  api.put('/drivers/:id', { schema: { summary: 'Replace a driver\'s configuration and restart it', tags: ['drivers'], params: Id, body: Type.Object({ config: Type.Unknown() }) } },
    admin(async (req) => drivers.configure(req.params.id!, (req.body as { config: unknown }).config)))

  api.delete('/drivers/:id', { schema: { summary: 'Remove a driver and revoke its grant (its sources stay)', tags: ['drivers'], params: Id } },
    admin(async (req) => {
      await drivers.remove(req.params.id!)
      return { removed: req.params.id }
    }))

  api.post('/drivers/:id/start', { schema: { summary: 'Start a driver', tags: ['drivers'], params: Id } }, admin(async (req) => drivers.start(req.params.id!)))
  api.post('/drivers/:id/stop', { schema: { summary: 'Stop a driver', tags: ['drivers'], params: Id } }, admin(async (req) => drivers.stop(req.params.id!)))

  for (const kind of kinds) kind.routes?.(api, drivers.hostFor(kind))
}
