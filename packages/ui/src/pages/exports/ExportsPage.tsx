import { useState } from 'react'
import { api, message } from '../../api/client.ts'
import type { ExportRecord } from '@coffer/box'
import { formatBytes, formatTime } from '../../components/format.ts'
import { ErrorNotice, StatusNotice } from '../../components/Notice.tsx'
import { useLoad } from '../../components/useLoad.ts'
import { TableWrap } from '../../components/TableWrap.tsx'
import { useTitle } from '../../components/useTitle.ts'

const STATE: Record<ExportRecord['state'], string> = { pending: 'waiting for you', sent: 'sent', denied: 'denied', failed: 'failed' }

export default function ExportsPage() {
  useTitle('Exports')
  const pending = useLoad((signal) => api.exports({ state: 'pending' }, signal), [])
  const history = useLoad((signal) => api.exports({ limit: 200 }, signal), [])
  const [news, setNews] = useState<string | null>(null)
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState<string | null>(null)

  async function decide(item: ExportRecord, approve: boolean) {
    setBusy(item.id)
    setError(null)
    try {
      const result = approve ? await api.approveExport(item.id) : await api.denyExport(item.id)
      setNews(approve
        ? (result.state === 'sent' ? `Sent to ${item.destination}.` : `Could not send to ${item.destination}: ${result.error ?? result.state}.`)
        : `Denied: nothing was sent to ${item.destination}.`)
      pending.reload()
      history.reload()
    } catch (err) {
      setError(message(err))
    } finally {
      setBusy(null)
    }
  }

  return (
    <>
      <h1>Exports</h1>
      <p>Data leaves the box only through here, and only to places you allowed an app to send to.</p>
      {news && <StatusNotice>{news}</StatusNotice>}
      {error && <p role="alert" className="notice error">{error}</p>}
      <section aria-labelledby="queue-heading">
        <h2 id="queue-heading">Waiting for your approval</h2>
        <ErrorNotice error={pending.error} />
        {pending.data?.length === 0 && <p>Nothing is waiting.</p>}
        <ul className="cards">
          {pending.data?.map((item) => (
            <li key={item.id} className="card" aria-labelledby={`export-${item.id}`}>
              <h3 id={`export-${item.id}`}>{item.app} wants to send {formatBytes(item.bytes)} to {hostOf(item.destination)}</h3>
              <p className="muted">{item.destination}, asked {formatTime(item.createdAt)}</p>
              <p>What it would send (the start):</p>
              <pre className="preview" tabIndex={0} aria-label="Preview of the data">{item.preview}</pre>
              <div className="actions">
                <button type="button" onClick={() => decide(item, true)} disabled={busy === item.id}>Approve and send</button>
                <button type="button" className="danger" onClick={() => decide(item, false)} disabled={busy === item.id}>Deny</button>
              </div>
            </li>
          ))}
        </ul>
      </section>
      <section aria-labelledby="history-heading">
        <h2 id="history-heading">History</h2>
        <ErrorNotice error={history.error} />
        {history.data?.length === 0 && <p>Nothing has been sent or asked for yet.</p>}
        {history.data && history.data.length > 0 && (
          <TableWrap label="Export history">
            <table>
              <thead><tr><th scope="col">When</th><th scope="col">App</th><th scope="col">To</th><th scope="col">Size</th><th scope="col">State</th><th scope="col">Preview</th></tr></thead>
              <tbody>
                {history.data.map((item) => (
                  <tr key={item.id}>
                    <td>{formatTime(item.decidedAt ?? item.createdAt)}</td>
                    <td>{item.app}</td>
                    <td>{item.destination}</td>
                    <td>{formatBytes(item.bytes)}</td>
                    <td>{STATE[item.state]}{item.error ? `: ${item.error}` : ''}</td>
                    <td><code className="clip">{item.preview.slice(0, 80)}</code></td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableWrap>
        )}
      </section>
    </>
  )
}

function hostOf(destination: string): string {
  try {
    return new URL(destination).host
  } catch {
    return destination
  }
}
