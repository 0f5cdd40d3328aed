/** OwnTracks: add a driver, add a phone to it, and hand the phone its settings once (HTTP or MQTT mode). */
import { useId, useState, type FormEvent } from 'react'
import { api } from '../../api/client.ts'
import type { NewDevice, OwntracksConfig } from '@coffer/box'
import { useAction } from '../../components/useAction.ts'
import { appConfig, configUrl, mqttAppConfig, onlyThisMachine, type OwntracksAppConfig } from './owntracks.ts'
import { QrCode } from './QrCode.tsx'

export function AddOwntracks({ onAdded }: { onAdded: (id: string) => void }) {
  const form = useId()
  const [id, setId] = useState('phone')
  const [source, setSource] = useState('location')
  const [mode, setMode] = useState<OwntracksConfig['mode']>('http')
  const [broker, setBroker] = useState('mqtt://127.0.0.1:1883')
  const { busy, error, run } = useAction()

  function add(e: FormEvent) {
    e.preventDefault()
    void run(async () => {
      const config: OwntracksConfig = { mode, source: source.trim() || undefined, broker: mode === 'mqtt' ? broker.trim() : undefined }
      await api.addDriver({ id: id.trim(), kind: 'owntracks', config })
      onAdded(id.trim())
    })
  }

  return (
    <form className="driver-form" onSubmit={add} aria-labelledby={`${form}-heading`} noValidate>
      <h3 id={`${form}-heading`}>Add OwnTracks</h3>
      <p className="muted">The OwnTracks phone app records where you are. In HTTP mode it sends each location straight to this box; in MQTT mode the box reads it from your broker.</p>
      <div className="inline-form">
        <div>
          <label htmlFor={`${form}-id`}>Driver name</label>
          <input id={`${form}-id`} value={id} onChange={(e) => setId(e.target.value)} aria-describedby={`${form}-id-hint`} autoComplete="off" spellCheck={false} required />
          <span id={`${form}-id-hint`} className="hint">lower-case letters, digits, . _ -</span>
        </div>
        <div>
          <label htmlFor={`${form}-source`}>Source</label>
          <input id={`${form}-source`} value={source} onChange={(e) => setSource(e.target.value)} spellCheck={false} />
        </div>
        <fieldset className="radios">
          <legend>The phone sends</legend>
          <label><input type="radio" name={`${form}-mode`} checked={mode === 'http'} onChange={() => setMode('http')} /> to this box (HTTP)</label>
          <label><input type="radio" name={`${form}-mode`} checked={mode === 'mqtt'} onChange={() => setMode('mqtt')} /> to an MQTT broker</label>
        </fieldset>
        {mode === 'mqtt' && (
          <div>
            <label htmlFor={`${form}-broker`}>Broker URL</label>
            <input id={`${form}-broker`} type="url" value={broker} onChange={(e) => setBroker(e.target.value)} spellCheck={false} required />
          </div>
        )}
      </div>
      <div className="actions"><button type="submit" disabled={busy}>{busy ? 'Adding…' : 'Add OwnTracks'}</button></div>
      {error && <p role="alert" className="notice error">{error}</p>}
    </form>
  )
}

export function AddPhone({ driver, onAdded }: { driver: string; onAdded: (device: NewDevice) => void }) {
  const form = useId()
  const [user, setUser] = useState('')
  const [device, setDevice] = useState('')
  const { busy, error, run } = useAction()

  function add(e: FormEvent) {
    e.preventDefault()
    void run(async () => {
      onAdded(await api.addDevice(driver, { user: user.trim(), device: device.trim() }))
      setUser('')
      setDevice('')
    })
  }

  return (
    <form className="add-phone" onSubmit={add} aria-label={`Add a phone to ${driver}`} noValidate>
      <div className="inline-form">
        <div>
          <label htmlFor={`${form}-user`}>User</label>
          <input id={`${form}-user`} value={user} onChange={(e) => setUser(e.target.value)} placeholder="alice" autoComplete="off" spellCheck={false} required />
        </div>
        <div>
          <label htmlFor={`${form}-device`}>Device</label>
          <input id={`${form}-device`} value={device} onChange={(e) => setDevice(e.target.value)} placeholder="pixel" autoComplete="off" spellCheck={false} required />
        </div>
        <button type="submit" disabled={busy}>{busy ? 'Adding…' : 'Add a phone'}</button>
      </div>
      {error && <p role="alert" className="notice error">{error}</p>}
    </form>
  )
}

/** HTTP mode: the settings for a phone just added. The box keeps only a hash of the password, so this is the one time it can be shown. */
export function HttpPhoneSettings({ device, onDone }: { device: NewDevice; onDone: () => void }) {
  const config = appConfig(device)
  return (
    <PhoneSettings who={`${device.user}/${device.device}`} config={config} onDone={onDone}
      note="The password is shown only now. Scan the code with the OwnTracks app (or type the settings in), then close this."
      warning={onlyThisMachine(device.url) && <>This address, {new URL(device.url).host}, reaches the box only from this computer. For a phone, open the cockpit at an address the phone can reach (start the box with <code>--host</code> set to one) and add the phone again.</>}
      rows={[['Mode', 'HTTP'], ['URL', device.url], ['Authentication', 'on'], ['User ID', device.user], ['Password', device.password], ['Device ID', device.device], ['Tracker ID', config.tid]]} />
  )
}

/**
 * MQTT mode: the phone publishes to the broker the driver reads. Nothing is sent to the box; the
 * settings, broker password included, are put together here in the page for the phone to scan.
 */
export function MqttPhone({ broker }: { broker: string }) {
  const form = useId()
  const [user, setUser] = useState('')
  const [device, setDevice] = useState('')
  const [password, setPassword] = useState('')
  const [shown, setShown] = useState<{ who: string; config: OwntracksAppConfig } | null>(null)
  const [error, setError] = useState<string | null>(null)

  function show(e: FormEvent) {
    e.preventDefault()
    if (!/^[^/+#\s]+$/.test(user.trim()) || !/^[^/+#\s]+$/.test(device.trim())) {
      setError('Give a broker user and a device name, without spaces, /, + or #: they become the topic the phone publishes to.')
      return
    }
    setError(null)
    setShown({ who: `${user.trim()}/${device.trim()}`, config: mqttAppConfig({ broker, user: user.trim(), device: device.trim(), password }) })
  }

  if (shown) {
    const c = shown.config
    return (
      <PhoneSettings who={shown.who} config={c} onDone={() => { setShown(null); setPassword('') }}
        note="Scan the code with the OwnTracks app (or type the settings in). The box does not keep the broker password; it is only in this code."
        warning={onlyThisMachine(broker) && <>The broker address, {c.host}, is this computer&apos;s own: a phone cannot reach it there. Change the driver to the broker&apos;s address on your network, then set up the phone again.</>}
        rows={[['Mode', 'MQTT'], ['Host', c.host!], ['Port', String(c.port)], ['TLS', c.tls ? 'on' : 'off'], ['Authentication', c.auth ? 'on' : 'off'],
          ['User ID', c.username], ...(c.password ? [['Password', c.password] as [string, string]] : []), ['Device ID', c.deviceId], ['Tracker ID', c.tid],
          ['Publishes to', `owntracks/${c.username}/${c.deviceId}`]]} />
    )
  }
  return (
    <form className="add-phone" onSubmit={show} aria-label="Set up a phone for MQTT" noValidate>
      <div className="inline-form">
        <div>
          <label htmlFor={`${form}-user`}>Broker user</label>
          <input id={`${form}-user`} value={user} onChange={(e) => setUser(e.target.value)} placeholder="alice" autoComplete="off" spellCheck={false} required />
        </div>
        <div>
          <label htmlFor={`${form}-device`}>Device</label>
          <input id={`${form}-device`} value={device} onChange={(e) => setDevice(e.target.value)} placeholder="pixel" autoComplete="off" spellCheck={false} required />
        </div>
        <div>
          <label htmlFor={`${form}-password`}>Broker password (if it has one)</label>
          <input id={`${form}-password`} type="password" value={password} onChange={(e) => setPassword(e.target.value)} autoComplete="off" />
        </div>
        <button type="submit">Show the phone's settings</button>
      </div>
      {error && <p role="alert" className="notice error">{error}</p>}
    </form>
  )
}

function PhoneSettings({ who, config, rows, note, warning, onDone }: {
  who: string; config: OwntracksAppConfig; rows: [string, string][]; note: string; warning?: React.ReactNode; onDone: () => void
}) {
  const heading = useId()
  const link = configUrl(config)
  return (
    <section className="phone-settings" aria-labelledby={heading}>
      <h4 id={heading}>Settings for {who}</h4>
      <p className="notice">{note}</p>
      {warning && <p className="notice">{warning}</p>}
      <div className="qr-settings">
        <figure>
          <QrCode text={link} label={`QR code of the OwnTracks configuration for ${who}: the same settings as listed beside it`} />
          <figcaption>In OwnTracks, scan this to import the settings. On this phone, <a href={link}>open them in OwnTracks</a>.</figcaption>
        </figure>
        <dl className="settings" aria-label={`OwnTracks settings for ${who}`}>
          {rows.map(([label, value]) => <div key={label}><dt>{label}</dt><dd>{label === 'Mode' || label === 'Authentication' || label === 'TLS' ? value : <code>{value}</code>}</dd></div>)}
        </dl>
      </div>
      <div className="actions"><button type="button" onClick={onDone}>I have set up the phone</button></div>
    </section>
  )
}
