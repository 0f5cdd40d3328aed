/** One replica: how it is doing, each log in detail, its settings, and checking or removing it. */
import { useId, useState, type FormEvent } from 'react'
import { describeDuration } from '../../../../box/src/duration/index.ts'
import { formatBytes, formatTime } from '../../components/format.ts'
import { TableWrap } from '../../components/TableWrap.tsx'
import { SyncFields, type SyncText } from '../../components/SyncFields.tsx'
import { useAction } from '../../components/useAction.ts'
import { backup, type ReplicaView } from './api.ts'
import {
  checkWords, connectionWords, limitWords, logName, quotaWords, readStaleHours, readSync, settingsText, short, syncWords, windowsWords,
} from './words.ts'

const time = (iso: string | null) => iso === null ? 'never' : formatTime(Date.parse(iso) / 1000)

export function ReplicaCard({ replica: r, timeZone, onNews, onChanged, onRemove }: {
  replica: ReplicaView; timeZone: string | undefined; onNews: (news: string) => void; onChanged: () => void; onRemove: (r: ReplicaView) => void
}) {
  const heading = useId()
  const sync = syncWords(r)
  const checking = useAction()
  const check = () => checking.run(async () => {
    const checked = await backup.check(r.id)
    onNews(`${r.name}: ${checkWords(checked.health?.check ?? null).toLowerCase()}.`)
    onChanged()
  })

  return (
    <li className={`card replica${r.stale ? ' stale' : ''}`} aria-labelledby={heading}>
      <div className="replica-head">
        <h3 id={heading}>{r.name}</h3>
        {r.stale && <span className="flag">Needs attention</span>}
      </div>
      <p className="muted">{r.kind === 'device' ? 'Your device' : 'Blind replicator'} <code title={r.publicKey}>{short(r.publicKey)}</code></p>
      {r.problems.length > 0 && (
        <ul className="notice error problems" aria-label={`Problems with ${r.name}`}>
          {r.problems.map((p) => <li key={p}>{p}</li>)}
        </ul>
      )}
      <dl className="facts">
        <div><dt>State</dt><dd className={`state state-${r.state}`}>{r.state === 'paired' ? 'Paired' : 'Invited'}</dd></div>
        <div><dt>Connection</dt><dd>{connectionWords(r)}</dd></div>
        <div><dt>Last seen</dt><dd>{time(r.lastSeen)}</dd></div>
        <div><dt>Sync</dt><dd className={`state sync-${sync.tone}`}>{sync.text}</dd></div>
        <div><dt>Kind</dt><dd>{r.kind === 'device' ? 'Your device: holds your keys, and can take over as the box' : 'Blind: cannot read what it holds'}</dd></div>
        {r.health && (r.kind === 'device'
          ? <div><dt>Holds</dt><dd>{formatBytes(r.health.usedBytes)} on its own disk</dd></div>
          : <div><dt>Quota used</dt><dd>{quotaWords(r.health)}</dd></div>)}
        {r.health && <div><dt>Last check</dt><dd>{checkWords(r.health.check)}{r.health.check && r.health.check.blocks > 0 ? `, ${time(r.health.check.at)}` : ''}</dd></div>}
        <div><dt>Sent</dt><dd>{formatBytes(r.traffic.sentBytes)}</dd></div>
        <div><dt>Received</dt><dd>{formatBytes(r.traffic.receivedBytes)}</dd></div>
        {r.state === 'invited' && r.inviteExpiresAt && <div><dt>Invite good until</dt><dd>{time(r.inviteExpiresAt)}</dd></div>}
        {r.pairedAt && <div><dt>Paired</dt><dd>{time(r.pairedAt)}</dd></div>}
      </dl>
      {r.health && (
        <details className="logs">
          <summary>Each log, as of its report at {time(r.health.reportedAt)}</summary>
          <TableWrap label={`Logs held by ${r.name}`}>
            <table>
              <thead><tr><th scope="col">Log</th><th scope="col">Blocks held</th><th scope="col">Behind (blocks)</th><th scope="col">Behind (bytes)</th></tr></thead>
              <tbody>
                {r.health.cores.map((c) => (
                  <tr key={c.key}>
                    <th scope="row">{logName(c.log)}</th>
                    <td>{c.heldBlocks.toLocaleString('en')}</td>
                    <td>{c.behindBlocks.toLocaleString('en')}</td>
                    <td>{formatBytes(c.behindBytes)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableWrap>
        </details>
      )}
      <Settings replica={r} timeZone={timeZone} onNews={onNews} onChanged={onChanged} key={JSON.stringify(r.settings)} />
      <div className="actions">
        <button type="button" onClick={() => void check()} disabled={checking.busy || r.state !== 'paired'} aria-label={`Check now ${r.name}`}>{checking.busy ? 'Checking…' : 'Check now'}</button>
        <button type="button" className="danger" onClick={() => onRemove(r)} aria-label={`Remove ${r.name}…`}>Remove…</button>
      </div>
      {checking.error && <p role="alert" className="notice error">{checking.error}</p>}
    </li>
  )
}

/** Sync windows, rate limits and when it is flagged; shown as set, edited in place. */
function Settings({ replica: r, timeZone, onNews, onChanged }: { replica: ReplicaView; timeZone: string | undefined; onNews: (news: string) => void; onChanged: () => void }) {
  const form = useId()
  const initial = settingsText(r.settings)
  const [sync, setSync] = useState<SyncText>(initial)
  const [stale, setStale] = useState(initial.stale)
  const { busy, error, setError, run } = useAction()

  function save(e: FormEvent) {
    e.preventDefault()
    const read = readSync(sync)
    const st = readStaleHours(stale)
    const bad = read.error ?? st.error
    if (bad !== undefined) {
      setError(bad)
      return
    }
    void run(async () => {
      const saved = await backup.configure(r.id, { ...read.value!, staleAfterSeconds: st.value! })
      onNews(`${r.name}: syncs ${windowsWords(saved.settings.windows).toLowerCase()}; upload ${limitWords(saved.settings.uploadBytesPerSecond).toLowerCase()}, download ${limitWords(saved.settings.downloadBytesPerSecond).toLowerCase()}; flagged after ${describeDuration(saved.settings.staleAfterSeconds)} out of sync.`)
      onChanged()
    })
  }

  return (
    <details className="replica-settings">
      <summary>
        Settings: syncs {windowsWords(r.settings.windows).toLowerCase()}, upload {limitWords(r.settings.uploadBytesPerSecond).toLowerCase()},
        download {limitWords(r.settings.downloadBytesPerSecond).toLowerCase()}, flagged after {describeDuration(r.settings.staleAfterSeconds)}
      </summary>
      <form onSubmit={save} aria-label={`Settings of ${r.name}`} noValidate>
        <div className="inline-form">
          <SyncFields id={form} value={sync} onChange={setSync} windowsHint={`HH:MM-HH:MM${timeZone ? ` in ${timeZone}` : ''}, several separated by commas; empty to sync at any time`} />
          <div>
            <label htmlFor={`${form}-stale`}>Flag after (hours)</label>
            <input id={`${form}-stale`} inputMode="decimal" value={stale} onChange={(e) => setStale(e.target.value)} autoComplete="off" size={6} aria-describedby={`${form}-stale-hint`} />
            <span id={`${form}-stale-hint`} className="hint">not in sync for this long</span>
          </div>
        </div>
        <div className="actions"><button type="submit" disabled={busy}>{busy ? 'Saving…' : 'Save settings'}</button></div>
        {error && <p role="alert" className="notice error">{error}</p>}
      </form>
    </details>
  )
}
