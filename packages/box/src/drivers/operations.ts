/**
 * Drivers, for the owner: add, configure, start, stop and remove them, and add a device to an
 * OwnTracks driver. Owner only, audited as admin actions; what a driver writes is audited as
 * its own writes.
 */
import { Type } from '@sinclair/typebox'
import { defineOperation, ownerOnly, EpochSeconds } from '../operations/index.ts'
import { InvalidInput } from '../errors/index.ts'
import { kinds, type Drivers } from './index.ts'
import { owntracks } from './owntracks/index.ts'
import { withDevice } from './owntracks/devices.ts'

const DriverId = Type.String({ maxLength: 63 })
const IdInput = Type.Object({ id: DriverId })

const DriverSchema = Type.Object({
  id: Type.String(),
  kind: Type.Union(kinds.map((k) => Type.Literal(k.kind))),
  config: Type.Union(kinds.map((k) => k.configSchema), { description: 'As its kind describes it; secrets are left out' }),
  grant: Type.String({ description: 'The write-only grant the driver writes with' }),
  sources: Type.Array(Type.String()),
  createdAt: Type.String(),
  status: Type.Object({
    state: Type.Union((['stopped', 'starting', 'running', 'reconnecting', 'offline', 'error'] as const).map((s) => Type.Literal(s))),
    since: EpochSeconds,
    lastData: Type.Union([EpochSeconds, Type.Null()]),
    lastError: Type.Union([Type.Object({ at: EpochSeconds, message: Type.String() }), Type.Null()]),
    records: Type.Integer(),
  }),
})

export interface DriverOperationsDeps {
  drivers: Drivers
}

export function driverOperations({ drivers }: DriverOperationsDeps) {
  const owntracksDrivers = drivers.hostFor(owntracks)

  return {
    list: defineOperation({
      name: 'drivers.list', summary: 'Drivers with their configuration and status', audit: 'admin',
      input: Type.Object({}), output: Type.Array(DriverSchema),
      access: ownerOnly,
      run: async () => drivers.list(),
    }),

    add: defineOperation({
      name: 'drivers.add', summary: 'Add a driver: creates its sources and a write-only grant, then starts it', audit: 'admin', status: 201,
      input: Type.Object({ id: Type.String(), kind: Type.Union(kinds.map((k) => Type.Literal(k.kind))), config: Type.Unknown() }, { additionalProperties: false }),
      output: DriverSchema,
      access: ownerOnly,
      run: async ({ id, kind, config }) => drivers.add(id, kind, config),
    }),

    get: defineOperation({
      name: 'drivers.get', summary: 'One driver', audit: 'admin',
      input: IdInput, output: DriverSchema,
      access: ownerOnly,
      run: async ({ id }) => drivers.get(id),
    }),

    configure: defineOperation({
      name: 'drivers.configure', summary: 'Replace a driver\'s configuration and restart it', audit: 'admin',
      input: Type.Object({ id: DriverId, config: Type.Unknown() }), output: DriverSchema,
      access: ownerOnly,
      run: async ({ id, config }) => drivers.configure(id, config),
    }),

    remove: defineOperation({
      name: 'drivers.remove', summary: 'Remove a driver and revoke its grant (its sources stay)', audit: 'admin',
      input: IdInput, output: Type.Object({ removed: Type.String() }),
      access: ownerOnly,
      run: async ({ id }) => {
        await drivers.remove(id)
        return { removed: id }
      },
    }),

    start: defineOperation({
      name: 'drivers.start', summary: 'Start a driver', audit: 'admin',
      input: IdInput, output: DriverSchema,
      access: ownerOnly,
      run: async ({ id }) => drivers.start(id),
    }),

    stop: defineOperation({
      name: 'drivers.stop', summary: 'Stop a driver', audit: 'admin',
      input: IdInput, output: DriverSchema,
      access: ownerOnly,
      run: async ({ id }) => drivers.stop(id),
    }),

    addDevice: defineOperation({
      name: 'drivers.addDevice', summary: 'Add an OwnTracks device; returns its password once', audit: 'admin', status: 201,
      input: Type.Object({
        id: DriverId, user: Type.String(), device: Type.String(),
        origin: Type.String({ description: 'The box\'s scheme and host as the phone reaches them, e.g. https://box.example.org: the app posts there' }),
      }, { additionalProperties: false }),
      output: Type.Object({
        user: Type.String(), device: Type.String(),
        password: Type.String({ description: 'Shown this once: the box keeps only its digest' }),
        url: Type.String({ description: 'Where the app posts, in HTTP mode' }),
      }),
      access: ownerOnly,
      run: async ({ id, user, device, origin }) => {
        const driver = owntracksDrivers.driver(id)
        if (!driver) throw new InvalidInput(`Driver "${id}" is a ${owntracksDrivers.kindOf(id)} driver; devices belong to OwnTracks drivers.`)
        const { config, password } = withDevice(driver.config, { user, device })
        await owntracksDrivers.configure(id, config)
        return { user, device, password, url: `${origin}/api/v1/owntracks/${id}` }
      },
    }),
  }
}

export type DriverOperations = ReturnType<typeof driverOperations>
