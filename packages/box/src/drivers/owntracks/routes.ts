/**
 * OwnTracks' own route: the endpoint the app posts to in HTTP mode. It authenticates a device by
 * its password (HTTP Basic auth), not a token, so it is not an operation (adding a device is, in
 * drivers/operations.ts); the operation layer still files its decisions, through host.audited().
 */
import type { FastifyInstance } from 'fastify'
import { Type, type Static } from '@sinclair/typebox'
import { CofferError } from '../../errors/index.ts'
import type { KindHost } from '../kind.ts'
import { authenticate, wrongCredentials } from './devices.ts'
import type { OwntracksConfig, OwntracksHandle } from './index.ts'

const Id = Type.Object({ id: Type.String({ maxLength: 63 }) })

export function owntracksRoutes(api: FastifyInstance, host: KindHost<OwntracksConfig, OwntracksHandle>): void {
  api.post<{ Params: Static<typeof Id> }>('/owntracks/:id', {
    bodyLimit: 64 * 1024,
    schema: {
      summary: 'OwnTracks HTTP mode: the app posts here with HTTP Basic auth (user, device password) and the X-Limit-D header', tags: ['drivers'],
      params: Id, security: [{ basic: [] }],
      response: { 200: Type.Array(Type.Unknown(), { description: 'Messages for the app: none' }) },
    },
  }, async (req, reply) => host.audited('write', `${req.method} ${req.routeOptions.url}`, null, async (decision) => {
    const id = req.params.id
    decision.subject = `driver:${id}`
    const driver = host.driver(id)
    // Whoever has no device password learns nothing, not even whether the driver exists.
    if (!driver || driver.config.mode !== 'http') throw wrongCredentials()
    const header = req.headers['x-limit-d']
    const device = authenticate(driver.config, req.headers.authorization, typeof header === 'string' ? header : undefined)
    if (!driver.handle) throw new CofferError(503, 'driver-stopped', 'Driver stopped', `Driver "${id}" is stopped; start it with \`coffer drivers start ${id}\`. The app will retry.`)
    await driver.handle.receive(device, req.body)
    // The app reads the answer as messages for it: there are none.
    reply.type('application/json')
    return []
  }))
}
