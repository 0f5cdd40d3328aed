/**
 * OwnTracks' own route: the endpoint the app posts to in HTTP mode. It authenticates a device by
 * its password (HTTP Basic auth), not a token, so it is not an operation; adding a device is
 * (drivers/operations.ts).
 */
import type { FastifyInstance } from 'fastify'
import { Type } from '@sinclair/typebox'
import { audited } from '../../api/guard.ts'
import { CofferError } from '../../errors/index.ts'
import type { KindHost } from '../kind.ts'
import { authenticate, wrongCredentials } from './devices.ts'
import type { OwntracksConfig, OwntracksHandle } from './index.ts'

const Id = Type.Object({ id: Type.String({ maxLength: 63 }) })

export function owntracksRoutes(api: FastifyInstance, host: KindHost<OwntracksConfig, OwntracksHandle>): void {
  api.post('/owntracks/:id', {
    bodyLimit: 64 * 1024,
    schema: {
      summary: 'OwnTracks HTTP mode: the app posts here with HTTP Basic auth (user, device password) and the X-Limit-D header', tags: ['drivers'],
      params: Id, security: [{ basic: [] }],
      response: { 200: Type.Array(Type.Unknown(), { description: 'Messages for the app: none' }) },
    },
  }, audited(host.guard, 'write', async (req, reply, ctx) => {
    const id = req.params.id!
    ctx.subject = `driver:${id}`
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
