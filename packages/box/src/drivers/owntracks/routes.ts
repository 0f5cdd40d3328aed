/**
 * OwnTracks' own routes: the endpoint the app posts to in HTTP mode, and adding a device, whose
 * password is shown once.
 */
import type { FastifyInstance } from 'fastify'
import { Type } from '@sinclair/typebox'
import { audited, ownerOnly } from '../../api/guard.ts'
import { CofferError, InvalidInput, NotFound } from '../../errors/index.ts'
import type { KindHost } from '../kind.ts'
import { authenticate, withDevice, type NewDevice } from './devices.ts'
import type { OwntracksConfig, OwntracksHandle } from './index.ts'

const Id = Type.Object({ id: Type.String({ maxLength: 63 }) })

export function owntracksRoutes(api: FastifyInstance, host: KindHost<OwntracksConfig, OwntracksHandle>): void {
  api.post('/drivers/:id/devices', {
    schema: { summary: 'Add an OwnTracks device; returns its password once', tags: ['drivers'], params: Id, body: Type.Object({ user: Type.String(), device: Type.String() }, { additionalProperties: false }) },
  }, ownerOnly(host.guard, async (req, reply) => {
    const id = req.params.id!
    const { user, device } = req.body as { user: string; device: string }
    const driver = host.driver(id)
    if (!driver) throw new InvalidInput(`Driver "${id}" is a ${host.kindOf(id)} driver; devices belong to OwnTracks drivers.`)
    const { config, password } = withDevice(driver.config, { user, device })
    await host.configure(id, config)
    reply.status(201)
    return { user, device, password, url: `${req.protocol}://${req.host}/api/v1/owntracks/${id}` } satisfies NewDevice
  }))

  api.post('/owntracks/:id', {
    bodyLimit: 64 * 1024,
    schema: {
      summary: 'OwnTracks HTTP mode: the app posts here with HTTP Basic auth (user, device password) and the X-Limit-D header', tags: ['drivers'],
      params: Id, security: [{ basic: [] }],
    },
  }, audited(host.guard, 'write', async (req, reply, ctx) => {
    const id = req.params.id!
    ctx.subject = `driver:${id}`
    const driver = host.driver(id)
    if (!driver || driver.config.mode !== 'http') throw new NotFound(`There is no OwnTracks HTTP driver "${id}".`)
    if (!driver.handle) throw new CofferError(503, 'driver-stopped', 'Driver stopped', `Driver "${id}" is stopped; start it with \`coffer drivers start ${id}\`. The app will retry.`)
    const header = req.headers['x-limit-d']
    const device = authenticate(driver.config, req.headers.authorization, typeof header === 'string' ? header : undefined)
    await driver.handle.receive(device, req.body)
    // The app reads the answer as messages for it: there are none.
    reply.type('application/json')
    return []
  }))
}
