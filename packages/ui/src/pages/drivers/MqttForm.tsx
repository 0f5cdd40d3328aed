/**
 * A generic MQTT driver: which broker, which topics go to which source, and which payload fields
 * become which named values with which units. The box validates the whole configuration and its
 * answer is shown beside the form, so the rules live in one place.
 */
import { useId, useState, type FormEvent } from 'react'
import type { MqttConfig } from '@coffer/box'
import { useAction } from '../../components/useAction.ts'

interface FieldRow { key: number; field: string; name: string; unit: string }
interface MappingRow { key: number; topic: string; source: string; time: string; fields: FieldRow[] }

let nextKey = 0
const key = () => ++nextKey
const newField = (): FieldRow => ({ key: key(), field: '', name: '', unit: '' })
const newMapping = (): MappingRow => ({ key: key(), topic: '', source: '', time: '', fields: [newField()] })

function rowsOf(config: MqttConfig | undefined): MappingRow[] {
  if (!config) return [newMapping()]
  return config.mappings.map((m) => ({
    key: key(), topic: m.topic, source: m.source, time: m.time ?? '',
    fields: m.fields.map((f) => ({ key: key(), field: f.field, name: f.name ?? '', unit: f.unit ?? '' })),
  }))
}

/** Empty optional inputs are left out rather than sent as empty strings the box would refuse. */
const optional = (value: string) => value.trim() === '' ? undefined : value.trim()

export function MqttForm({ heading, initial, withId, submitLabel, onSubmit, onCancel }: {
  heading: string
  initial?: MqttConfig
  withId: boolean
  submitLabel: string
  onSubmit: (id: string, config: MqttConfig) => Promise<void>
  onCancel?: () => void
}) {
  const form = useId()
  const [id, setId] = useState('')
  const [broker, setBroker] = useState(initial?.broker ?? 'mqtt://127.0.0.1:1883')
  const [username, setUsername] = useState(initial?.username ?? '')
  const [password, setPassword] = useState('')
  const [mappings, setMappings] = useState<MappingRow[]>(() => rowsOf(initial))
  const { busy, error, run } = useAction()
  const keepsPassword = initial?.password !== undefined

  const setMapping = (k: number, change: Partial<MappingRow>) => setMappings((all) => all.map((m) => m.key === k ? { ...m, ...change } : m))
  const setField = (m: MappingRow, k: number, change: Partial<FieldRow>) => setMapping(m.key, { fields: m.fields.map((f) => f.key === k ? { ...f, ...change } : f) })

  function submit(e: FormEvent) {
    e.preventDefault()
    const config: MqttConfig = {
      broker: broker.trim(),
      username: optional(username),
      password: optional(password) ?? (keepsPassword && optional(username) ? '(set)' : undefined),
      mappings: mappings.map((m) => ({
        topic: m.topic.trim(), source: m.source.trim(), time: optional(m.time),
        fields: m.fields.map((f) => ({ field: f.field.trim(), name: optional(f.name), unit: optional(f.unit) })),
      })),
    }
    void run(() => onSubmit(id.trim(), config))
  }

  return (
    <form className="driver-form" onSubmit={submit} aria-labelledby={`${form}-heading`} noValidate>
      <h3 id={`${form}-heading`}>{heading}</h3>
      <div className="inline-form">
        {withId && (
          <div>
            <label htmlFor={`${form}-id`}>Driver name</label>
            <input id={`${form}-id`} value={id} onChange={(e) => setId(e.target.value)} aria-describedby={`${form}-id-hint`} autoComplete="off" spellCheck={false} required />
            <span id={`${form}-id-hint`} className="hint">lower-case letters, digits, . _ -</span>
          </div>
        )}
        <div>
          <label htmlFor={`${form}-broker`}>Broker URL</label>
          <input id={`${form}-broker`} type="url" value={broker} onChange={(e) => setBroker(e.target.value)} placeholder="mqtt://host:1883" spellCheck={false} required />
        </div>
        <div>
          <label htmlFor={`${form}-user`}>Broker user (optional)</label>
          <input id={`${form}-user`} value={username} onChange={(e) => setUsername(e.target.value)} autoComplete="off" spellCheck={false} />
        </div>
        <div>
          <label htmlFor={`${form}-password`}>Broker password (optional)</label>
          <input id={`${form}-password`} type="password" value={password} onChange={(e) => setPassword(e.target.value)} autoComplete="new-password" aria-describedby={keepsPassword ? `${form}-password-hint` : undefined} />
          {keepsPassword && <span id={`${form}-password-hint`} className="hint">leave empty to keep the one saved</span>}
        </div>
      </div>

      {mappings.map((m, i) => (
        <fieldset key={m.key} className="request mapping">
          <legend>Mapping {i + 1}</legend>
          <div className="inline-form">
            <div>
              <label htmlFor={`${form}-${m.key}-topic`}>Topic filter</label>
              <input id={`${form}-${m.key}-topic`} value={m.topic} onChange={(e) => setMapping(m.key, { topic: e.target.value })} placeholder="zigbee2mqtt/+" spellCheck={false} required />
            </div>
            <div>
              <label htmlFor={`${form}-${m.key}-source`}>Source</label>
              <input id={`${form}-${m.key}-source`} value={m.source} onChange={(e) => setMapping(m.key, { source: e.target.value })} placeholder="climate" spellCheck={false} required />
            </div>
            <div>
              <label htmlFor={`${form}-${m.key}-time`}>Time field (optional)</label>
              <input id={`${form}-${m.key}-time`} value={m.time} onChange={(e) => setMapping(m.key, { time: e.target.value })} aria-describedby={`${form}-${m.key}-time-hint`} spellCheck={false} />
              <span id={`${form}-${m.key}-time-hint`} className="hint">empty: the time it arrives</span>
            </div>
          </div>
          <table className="field-rows">
            <caption className="visually-hidden">Payload fields of mapping {i + 1}</caption>
            <thead><tr><th scope="col">Payload field</th><th scope="col">Record name (optional)</th><th scope="col">Unit (optional)</th><th scope="col"><span className="visually-hidden">Remove</span></th></tr></thead>
            <tbody>
              {m.fields.map((f, j) => (
                <tr key={f.key}>
                  <td>
                    <label className="cell-label" htmlFor={`${form}-${f.key}-field`}>Payload field {j + 1}</label>
                    <input id={`${form}-${f.key}-field`} value={f.field} onChange={(e) => setField(m, f.key, { field: e.target.value })} placeholder="temperature" spellCheck={false} required />
                  </td>
                  <td>
                    <label className="cell-label" htmlFor={`${form}-${f.key}-name`}>Record name {j + 1}</label>
                    <input id={`${form}-${f.key}-name`} value={f.name} onChange={(e) => setField(m, f.key, { name: e.target.value })} spellCheck={false} />
                  </td>
                  <td>
                    <label className="cell-label" htmlFor={`${form}-${f.key}-unit`}>Unit {j + 1}</label>
                    <input id={`${form}-${f.key}-unit`} value={f.unit} onChange={(e) => setField(m, f.key, { unit: e.target.value })} placeholder="Cel" spellCheck={false} />
                  </td>
                  <td>
                    {m.fields.length > 1 && (
                      <button type="button" onClick={() => setMapping(m.key, { fields: m.fields.filter((x) => x.key !== f.key) })} aria-label={`Remove payload field ${j + 1}`}>Remove</button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <div className="actions">
            <button type="button" onClick={() => setMapping(m.key, { fields: [...m.fields, newField()] })}>Add a payload field</button>
            {mappings.length > 1 && <button type="button" className="danger" onClick={() => setMappings((all) => all.filter((x) => x.key !== m.key))}>Remove mapping {i + 1}</button>}
          </div>
        </fieldset>
      ))}
      <div className="actions">
        <button type="button" onClick={() => setMappings((all) => [...all, newMapping()])}>Add a mapping</button>
        <button type="submit" disabled={busy}>{busy ? 'Saving…' : submitLabel}</button>
        {onCancel && <button type="button" onClick={onCancel}>Cancel</button>}
      </div>
      {error && <p role="alert" className="notice error">{error}</p>}
    </form>
  )
}
