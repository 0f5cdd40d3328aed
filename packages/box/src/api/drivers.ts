/** Drivers: manage them (owner only); each kind adds the routes particular to it. */
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { Type } from '@sinclair/typebox'
import { kinds } from '../drivers/index.ts'
import { operationRoute, type RouteFn } from './routes.ts'
import type { ApiDeps } from './index.ts'

export function driverRoutes(api: FastifyInstance, deps: ApiDeps): void {
  const { drivers, ops, driverOps } = deps
  const route: RouteFn = (method, url, op, opts) => operationRoute(api, ops, method, url, op, opts)

  route('GET', '/drivers', driverOps.list, { tags: ['drivers'] })
  route('POST', '/drivers', driverOps.add, { tags: ['drivers'] })
  route('GET', '/drivers/:id', driverOps.get, { tags: ['drivers'] })
  route('PUT', '/drivers/:id', driverOps.configure, { tags: ['drivers'] })
  route('DELETE', '/drivers/:id', driverOps.remove, { tags: ['drivers'] })
  route('POST', '/drivers/:id/start', driverOps.start, { tags: ['drivers'] })
  route('POST', '/drivers/:id/stop', driverOps.stop, { tags: ['drivers'] })
  route('POST', '/drivers/:id/devices', driverOps.addDevice, {
    tags: ['drivers'],
    body: Type.Object({ user: Type.String(), device: Type.String() }, { additionalProperties: false }),
    // The app posts to the box at the address this request reached it by.
    input: (req) => withOrigin(req),
  })

  for (const kind of kinds) kind.routes?.(api, drivers.hostFor(kind))
}

/** The body and the path's id, with the box's origin as the request reached it; any other body is handed on for the operation to refuse. */
function withOrigin(req: FastifyRequest): unknown {
  const body = req.body ?? {}
  if (typeof body !== 'object' || Array.isArray(body)) return body
  return { ...body, ...(req.params as object), origin: `${req.protocol}://${req.host}` }
}
