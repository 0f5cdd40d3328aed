/** Driver configurations: their schemas (validation and API docs at once) and checks. */
import { Type, type Static, type TSchema } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import { InvalidInput } from '../errors/index.ts'

const SourceId = Type.String({ pattern: '^[a-z0-9][a-z0-9._-]{0,62}$', description: 'Source id' })
const BrokerUrl = Type.String({ pattern: '^mqtts?://[^\\s]+$', description: 'mqtt://host:port or mqtts://…' })

export const OwntracksConfig = Type.Object({
  source: Type.Optional(SourceId),
  mode: Type.Union([Type.Literal('http'), Type.Literal('mqtt')]),
  broker: Type.Optional(BrokerUrl),
  topic: Type.Optional(Type.String({ minLength: 1, maxLength: 256, description: 'Topic filter; default owntracks/+/+' })),
  devices: Type.Optional(Type.Array(Type.Object({
    user: Type.String(), device: Type.String(),
    secretHash: Type.Optional(Type.String({ description: 'SHA-256 of the device password (set by the box)' })),
  }, { additionalProperties: false }), { maxItems: 1000 })),
}, { additionalProperties: false })

export const MqttConfig = Type.Object({
  broker: BrokerUrl,
  username: Type.Optional(Type.String()),
  password: Type.Optional(Type.String()),
  mappings: Type.Array(Type.Object({
    topic: Type.String({ minLength: 1, maxLength: 256, description: 'Topic filter, e.g. zigbee2mqtt/+' }),
    source: SourceId,
    time: Type.Optional(Type.String({ description: 'Payload field holding the time (epoch seconds, epoch ms or ISO 8601); default: time of receipt' })),
    fields: Type.Array(Type.Object({
      field: Type.String({ minLength: 1, maxLength: 128, description: 'Payload field' }),
      name: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9:./_-]*$', maxLength: 128, description: 'Record name; default: the field' })),
      unit: Type.Optional(Type.String({ maxLength: 32 })),
    }, { additionalProperties: false }), { minItems: 1, maxItems: 64 }),
  }, { additionalProperties: false }), { minItems: 1, maxItems: 256 }),
}, { additionalProperties: false })

export type OwntracksConfig = Static<typeof OwntracksConfig>
export type MqttConfig = Static<typeof MqttConfig>
export type DriverKind = 'owntracks' | 'mqtt'
export const DRIVER_KINDS: DriverKind[] = ['owntracks', 'mqtt']
export type DriverConfig = OwntracksConfig | MqttConfig

const SCHEMAS: Record<DriverKind, TSchema> = { owntracks: OwntracksConfig, mqtt: MqttConfig }

/** Validates a configuration up front, naming the first field at fault. */
export function checkConfig(kind: string, config: unknown): DriverConfig {
  const schema = SCHEMAS[kind as DriverKind]
  if (!schema) throw new InvalidInput(`Unknown driver kind "${kind}": use one of ${DRIVER_KINDS.join(', ')}.`, { field: 'kind' })
  const error = Value.Errors(schema, config).First()
  if (error) throw new InvalidInput(`${kind} configuration${error.path ? ` ${error.path}` : ''}: ${error.message}.`, { field: error.path.replace(/^\//, '') || 'config' })
  const checked = config as DriverConfig
  if (kind === 'owntracks' && (checked as OwntracksConfig).mode === 'mqtt' && !(checked as OwntracksConfig).broker) {
    throw new InvalidInput('An OwnTracks driver in mqtt mode needs `broker`, e.g. mqtt://127.0.0.1:1883.', { field: 'broker' })
  }
  return checked
}

export function sourcesOf(kind: DriverKind, config: DriverConfig): string[] {
  if (kind === 'owntracks') return [(config as OwntracksConfig).source ?? 'location']
  return [...new Set((config as MqttConfig).mappings.map((m) => m.source))]
}
