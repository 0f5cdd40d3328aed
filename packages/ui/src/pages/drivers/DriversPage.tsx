/** Drivers bring data in continuously: see how each is doing, start, stop or remove it, add OwnTracks phones and MQTT mappings. */
import { useEffect, useState } from 'react'
import { api, message } from '../../api/client.ts'
import type { Driver, MqttConfig, NewDevice } from '@coffer/box'
import { ConfirmDialog } from '../../components/ConfirmDialog.tsx'
import { formatTime } from '../../components/format.ts'
import { ErrorNotice, StatusNotice } from '../../components/Notice.tsx'
import { useAction } from '../../components/useAction.ts'
import { useLoad } from '../../components/useLoad.ts'
import { useTitle } from '../../components/useTitle.ts'
import { Link } from '../../router.tsx'
import { MqttForm } from './MqttForm.tsx'
import { AddOwntracks, AddPhone, HttpPhoneSettings, MqttPhone } from './Owntracks.tsx'

/** States that change by themselves, soon: while a driver is in one, the page asks again. */
const SETTLING = new Set(['starting', 'reconnecting'])
const STATE: Record<string, string> = {
  stopped: 'stopped', starting: 'starting', running: 'running', reconnecting: 'reconnecting to its broker', offline: 'broker offline', error: 'stopped by an error',
}

export default function DriversPage() {
  useTitle('Drivers')
  const drivers = useLoad((signal) => api.drivers(signal), [])
  const [news, setNews] = useState<string | null>(null)
  const [removing, setRemoving] = useState<Driver | null>(null)
  const [removeError, setRemoveError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  // A new key gives a fresh, empty form once a driver was added from it.
  const [formKey, setFormKey] = useState(0)
  const { reload } = drivers

  const settling = drivers.data?.some((d) => SETTLING.has(d.status.state)) ?? false
  useEffect(() => {
    if (!settling) return
    const timer = setTimeout(reload, 1000)
    return () => clearTimeout(timer)
  }, [settling, drivers.data, reload])

  async function remove() {
    if (!removing) return
    setBusy(true)
    setRemoveError(null)
    try {
      await api.removeDriver(removing.id)
      setNews(`Driver ${removing.id} is removed; its sources and their data stay.`)
      setRemoving(null)
      reload()
    } catch (err) {
      setRemoveError(message(err))
    } finally {
      setBusy(false)
    }
  }

  const added = (what: string) => {
    setNews(what)
    setFormKey((k) => k + 1)
    reload()
  }

  return (
    <>
      <h1>Drivers</h1>
      <p>Drivers bring data in as it happens: locations from the OwnTracks phone app, readings from sensors through an MQTT broker. Each writes only to its own sources.</p>
      {news && <StatusNotice>{news}</StatusNotice>}
      <section aria-labelledby="drivers-heading">
        <div className="section-head">
          <h2 id="drivers-heading">Your drivers</h2>
          <button type="button" onClick={reload} disabled={drivers.loading}>Refresh</button>
        </div>
        <ErrorNotice error={drivers.error} />
        {drivers.loading && !drivers.data && <p role="status">Loading drivers…</p>}
        {drivers.data?.length === 0 && <p>No drivers yet. Add one below.</p>}
        <ul className="cards drivers">
          {drivers.data?.map((d) => <DriverCard key={d.id} driver={d} onChanged={reload} onRemove={() => { setRemoveError(null); setRemoving(d) }} />)}
        </ul>
      </section>
      <section aria-labelledby="add-heading">
        <h2 id="add-heading">Add a driver</h2>
        <div className="add-drivers">
          <AddOwntracks key={`owntracks-${formKey}`} onAdded={(id) => added(`OwnTracks driver ${id} is added. Add a phone to it below.`)} />
          <MqttForm key={`mqtt-${formKey}`} heading="Add an MQTT driver" withId submitLabel="Add MQTT driver"
            onSubmit={async (id, config) => {
              await api.addDriver({ id, kind: 'mqtt', config })
              added(`MQTT driver ${id} is added and connecting to ${config.broker}.`)
            }} />
        </div>
      </section>
      <ConfirmDialog open={removing !== null} title={`Remove driver ${removing?.id ?? ''}?`} confirm="Remove" onConfirm={remove} onCancel={() => setRemoving(null)} busy={busy}>
        <p>It stops at once and its permission to write is revoked{removing?.kind === 'owntracks' ? '; phones sending to it are refused' : ''}. Its sources and the data already in them stay.</p>
        {removeError && <p role="alert" className="notice error">{removeError}</p>}
      </ConfirmDialog>
    </>
  )
}

function DriverCard({ driver, onChanged, onRemove }: { driver: Driver; onChanged: () => void; onRemove: () => void }) {
  const { busy, error, run } = useAction()
  const [phone, setPhone] = useState<NewDevice | null>(null)
  const [editing, setEditing] = useState(false)
  const headingId = `driver-${driver.id}`
  const { status } = driver
  const running = status.state !== 'stopped' && status.state !== 'error'

  const act = (what: () => Promise<unknown>) => run(async () => {
    await what()
    onChanged()
  })

  return (
    <li className="card" aria-labelledby={headingId}>
      <h3 id={headingId}>{driver.id}</h3>
      <p className="muted">{describe(driver)} · <span className={`state state-${status.state}`}>{STATE[status.state] ?? status.state}</span> since {formatTime(status.since)}</p>
      <dl className="facts">
        <div><dt>Last data</dt><dd>{formatTime(status.lastData)}</dd></div>
        <div><dt>Records written</dt><dd>{status.records.toLocaleString()}</dd></div>
        <div><dt>Writes to</dt><dd>{driver.sources.map((s, i) => <span key={s}>{i > 0 && ', '}<Link to={`/sources/${encodeURIComponent(s)}`}>{s}</Link></span>)}</dd></div>
        <div><dt>Last error</dt><dd>{status.lastError ? `${status.lastError.message} (${formatTime(status.lastError.at)})` : 'none'}</dd></div>
      </dl>
      {driver.kind === 'owntracks' && driver.config.mode === 'http' && (
        <p>Phones: {driver.config.devices?.length ? driver.config.devices.map((d) => `${d.user}/${d.device}`).join(', ') : 'none yet'}</p>
      )}
      {driver.kind === 'owntracks' && driver.config.mode === 'mqtt' && (
        <p>Reads {driver.config.topic ?? 'owntracks/+/+'} from {driver.config.broker}. Set each phone to MQTT mode with that broker; the settings below make a code for it to scan.</p>
      )}
      {driver.kind === 'mqtt' && !editing && <Mappings config={driver.config} />}
      <div className="actions">
        {running
          ? <button type="button" onClick={() => act(() => api.stopDriver(driver.id))} disabled={busy}>Stop</button>
          : <button type="button" onClick={() => act(() => api.startDriver(driver.id))} disabled={busy}>Start</button>}
        {driver.kind === 'mqtt' && !editing && <button type="button" onClick={() => setEditing(true)}>Change mappings</button>}
        <button type="button" className="danger" onClick={onRemove}>Remove…</button>
      </div>
      {error && <p role="alert" className="notice error">{error}</p>}
      {driver.kind === 'mqtt' && editing && (
        <MqttForm heading={`Change ${driver.id}`} initial={driver.config} withId={false} submitLabel="Save and restart"
          onCancel={() => setEditing(false)}
          onSubmit={async (_id, config) => {
            await api.configureDriver(driver.id, config)
            setEditing(false)
            onChanged()
          }} />
      )}
      {driver.kind === 'owntracks' && driver.config.mode === 'http' && (
        phone
          ? <HttpPhoneSettings device={phone} onDone={() => setPhone(null)} />
          : <AddPhone driver={driver.id} onAdded={(device) => { setPhone(device); onChanged() }} />
      )}
      {driver.kind === 'owntracks' && driver.config.mode === 'mqtt' && driver.config.broker && <MqttPhone broker={driver.config.broker} />}
    </li>
  )
}

function describe(driver: Driver): string {
  if (driver.kind === 'owntracks') return driver.config.mode === 'http' ? 'OwnTracks, phones post to the box' : 'OwnTracks over MQTT'
  return `MQTT from ${driver.config.broker}`
}

function Mappings({ config }: { config: MqttConfig }) {
  return (
    <ul className="granted">
      {config.mappings.map((m, i) => (
        <li key={i}>
          <code>{m.topic}</code> → {m.source}: {m.fields.map((f) => `${f.field}${f.name && f.name !== f.field ? ` as ${f.name}` : ''}${f.unit ? ` (${f.unit})` : ''}`).join(', ')}
          {m.time ? `, timed by ${m.time}` : ''}
        </li>
      ))}
    </ul>
  )
}
