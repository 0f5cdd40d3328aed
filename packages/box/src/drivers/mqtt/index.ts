/**
 * The generic MQTT driver: it subscribes to the topics its mappings name and turns each JSON
 * payload into records by field (mapping.ts). Its broker password stays in the box.
 */
import { Type, type Static } from '@sinclair/typebox'
import { SourceId } from '../../store/index.ts'
import { BrokerUrl, connect } from '../broker.ts'
import type { DriverKind } from '../kind.ts'
import { mappedRecords, topicMatches } from './mapping.ts'

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
export type MqttConfig = Static<typeof MqttConfig>

/** Shown in place of a broker password; sent back, it keeps the password. */
const HIDDEN = '(set)'

export const mqtt: DriverKind<MqttConfig> = {
  kind: 'mqtt',
  configSchema: MqttConfig,
  logicalType: 'other',
  sources: (config) => [...new Set(config.mappings.map((m) => m.source))],
  publicConfig: (config) => (config.password === undefined ? { ...config } : { ...config, password: HIDDEN }),
  keepSecrets(next, previous) {
    if (next.password === HIDDEN) next.password = previous.password
  },
  start(ctx) {
    const { id, config } = ctx
    const topics = [...new Set(config.mappings.map((m) => m.topic))]
    const connection = connect({ url: config.broker, clientId: `coffer-${id}`, topics, username: config.username, password: config.password }, {
      onState: ctx.setState,
      onMessage: async (topic, payload) => {
        for (const mapping of config.mappings.filter((m) => topicMatches(m.topic, topic))) {
          await ctx.safely(async () => {
            const records = mappedRecords(mapping, payload, Date.now() / 1000)
            if (records.length > 0) await ctx.write(mapping.source, records, `mqtt ${topic}`)
          })
        }
      },
    })
    return { stop: () => connection.close() }
  },
}
