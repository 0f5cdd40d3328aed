/**
 * The box as a whole: what it is and how it is doing, for any token that may read, and the
 * settings in its home's config, for the owner.
 */
import { Type } from '@sinclair/typebox'
import { defineOperation, ownerOnly } from '../operations/index.ts'
import type { AuditLog } from '../audit/index.ts'
import type { Drivers } from '../drivers/index.ts'
import { finished, type Importers } from '../importers/index.ts'
import type { Store } from '../store/index.ts'
import { MapTiles, checkMapTiles, updateConfig, type Home, type Settings } from './index.ts'

const StatusSchema = Type.Object({
  identity: Type.String({ description: 'The box\'s public identity key, in hex' }),
  createdAt: Type.String(),
  subject: Type.String({ description: 'Who the token asking belongs to' }),
  sources: Type.Integer(),
  auditEntries: Type.Integer(),
  uptimeSeconds: Type.Integer(),
  rssBytes: Type.Integer(),
  drivers: Type.Array(Type.Object({ id: Type.String(), kind: Type.String(), state: Type.String(), lastError: Type.Union([Type.String(), Type.Null()]) })),
  importsRunning: Type.Integer(),
})

const SettingsSchema = Type.Object({
  timeZone: Type.String({ description: 'The owner\'s IANA time zone, fixed when the box was made' }),
  map: Type.Union([MapTiles, Type.Null()], { description: 'The tile server location tracks are drawn over; none unless the owner chose one' }),
})

export interface HomeOperationsDeps {
  home: Home
  store: Store
  audit: AuditLog
  drivers: Drivers
  importers: Importers
}

export function homeOperations({ home, store, audit, drivers, importers }: HomeOperationsDeps) {
  const settings = (): Settings => ({ timeZone: home.config.timeZone ?? 'UTC', map: home.config.map ?? null })

  return {
    status: defineOperation({
      name: 'box.status', summary: 'What this box is and how it is doing', audit: 'read',
      input: Type.Object({}), output: StatusSchema,
      access: () => ({ op: 'read' }),
      run: async (_input, ctx) => ({
        identity: home.config.identity,
        createdAt: home.config.createdAt,
        subject: ctx.scope.subject,
        sources: store.list().length,
        auditEntries: audit.length,
        uptimeSeconds: Math.round(process.uptime()),
        rssBytes: process.memoryUsage().rss,
        drivers: drivers.list().map((d) => ({ id: d.id, kind: d.kind, state: d.status.state, lastError: d.status.lastError?.message ?? null })),
        importsRunning: importers.jobs().filter((j) => !finished(j)).length,
      }),
    }),

    settings: defineOperation({
      name: 'settings.get', summary: 'The box\'s settings: its time zone and the map tile server, if any', audit: 'admin',
      input: Type.Object({}), output: SettingsSchema,
      access: ownerOnly,
      run: async () => settings(),
    }),

    setMap: defineOperation({
      name: 'settings.setMap',
      summary: 'Draw location tracks over map tiles from this server (the browser fetches them, so the server sees which areas are viewed)',
      audit: 'admin',
      input: Type.Object({
        tiles: Type.String({ maxLength: 512, description: 'URL template with {z}, {x} and {y}' }),
        attribution: Type.Optional(Type.String({ maxLength: 200, pattern: '^[^\\u0000-\\u001f\\u007f]*$', description: 'Credit the tile server asks for, shown under the map: one line of text' })),
      }, { additionalProperties: false }),
      output: SettingsSchema,
      access: ownerOnly,
      run: async (input) => {
        updateConfig(home, { map: checkMapTiles(input).map })
        return settings()
      },
    }),

    clearMap: defineOperation({
      name: 'settings.clearMap', summary: 'Stop using a tile server: tracks are drawn on their own again', audit: 'admin',
      input: Type.Object({}), output: SettingsSchema,
      access: ownerOnly,
      run: async () => {
        updateConfig(home, { map: undefined })
        return settings()
      },
    }),
  }
}

export type HomeOperations = ReturnType<typeof homeOperations>
