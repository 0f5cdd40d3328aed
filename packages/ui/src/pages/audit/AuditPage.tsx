import { useState, type FormEvent } from 'react'
import { api } from '../../api/client.ts'
import type { VerifyReport } from '@coffer/box'
import { formatTime } from '../../components/format.ts'
import { ErrorNotice } from '../../components/Notice.tsx'
import { useAction } from '../../components/useAction.ts'
import { useLoad } from '../../components/useLoad.ts'
import { TableWrap } from '../../components/TableWrap.tsx'
import { useTitle } from '../../components/useTitle.ts'

const OPERATIONS = ['read', 'write', 'observe', 'delete', 'admin', 'login', 'export', 'run']

interface Filter { subject: string; source: string; operation: string; outcome: string }
const NO_FILTER: Filter = { subject: '', source: '', operation: '', outcome: '' }

export default function AuditPage() {
  useTitle('Audit')
  const [draft, setDraft] = useState<Filter>(NO_FILTER)
  const [filter, setFilter] = useState<Filter>(NO_FILTER)
  const entries = useLoad((signal) => api.audit({ ...filter, limit: 200 }, signal), [filter])
  const set = (key: keyof Filter) => (e: { target: { value: string } }) => setDraft({ ...draft, [key]: e.target.value })

  function apply(e: FormEvent) {
    e.preventDefault()
    setFilter({ ...draft, subject: draft.subject.trim(), source: draft.source.trim() })
  }

  return (
    <>
      <h1>Audit log</h1>
      <p>Every request to this box, allowed or refused, is written to a signed log that cannot be changed without it showing.</p>
      <Verify />
      <section aria-labelledby="entries-heading">
        <h2 id="entries-heading">Entries</h2>
        <form className="filters" onSubmit={apply} role="search" aria-label="Filter the audit log">
          <div><label htmlFor="f-subject">Who</label><input id="f-subject" value={draft.subject} onChange={set('subject')} placeholder="owner, app:places…" /></div>
          <div><label htmlFor="f-source">Source</label><input id="f-source" value={draft.source} onChange={set('source')} /></div>
          <div>
            <label htmlFor="f-operation">Operation</label>
            <select id="f-operation" value={draft.operation} onChange={set('operation')}>
              <option value="">any</option>
              {OPERATIONS.map((o) => <option key={o}>{o}</option>)}
            </select>
          </div>
          <div>
            <label htmlFor="f-outcome">Outcome</label>
            <select id="f-outcome" value={draft.outcome} onChange={set('outcome')}>
              <option value="">any</option>
              <option value="allow">allowed</option>
              <option value="deny">refused</option>
            </select>
          </div>
          <div className="buttons">
            <button type="submit">Filter</button>
            <button type="button" onClick={() => { setDraft(NO_FILTER); setFilter(NO_FILTER) }}>Clear</button>
          </div>
        </form>
        <ErrorNotice error={entries.error} />
        <p className="muted" role="status">{entries.loading ? 'Loading…' : `${entries.data?.length ?? 0} entries, newest first${entries.data?.length === 200 ? ' (the newest 200)' : ''}.`}</p>
        <TableWrap label="Audit entries">
          <table className="audit">
            <thead><tr><th scope="col">Time</th><th scope="col">Who</th><th scope="col">What</th><th scope="col">Source</th><th scope="col">Outcome</th><th scope="col">Records</th></tr></thead>
            <tbody>
              {entries.data?.map((e, i) => (
                <tr key={`${e.time}-${i}`}>
                  <td>{formatTime(e.time)}</td>
                  <td>{e.subject}</td>
                  <td><span className="op">{e.operation}</span> <code>{e.action}</code>{e.destination ? ` → ${e.destination}` : ''}</td>
                  <td>{e.source ?? '—'}</td>
                  <td>{e.outcome === 'allow' ? 'allowed' : <strong className="denied">refused</strong>} ({e.status}){e.reason ? `: ${e.reason}` : ''}</td>
                  <td>{e.records.toLocaleString()}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      </section>
    </>
  )
}

function Verify() {
  const [report, setReport] = useState<VerifyReport | null>(null)
  const { busy, error, run } = useAction()
  const verify = () => run(async () => {
    setReport(null)
    setReport(await api.verifyAudit())
  })
  return (
    <section aria-labelledby="verify-heading">
      <h2 id="verify-heading">Is the log intact?</h2>
      <button type="button" onClick={verify} disabled={busy}>{busy ? 'Verifying…' : 'Verify the audit log'}</button>
      <div aria-live="polite">
        {report?.ok && <p className="notice ok">The audit log is intact: all {report.length.toLocaleString()} entries check out against its signature.</p>}
        {report && !report.ok && (
          <div className="notice error" role="alert">
            <p><strong>The audit log has been altered or damaged.</strong></p>
            <ul>{report.problems.map((p) => <li key={p}>{p}</li>)}</ul>
          </div>
        )}
      </div>
      {error && <p role="alert" className="notice error">{error}</p>}
    </section>
  )
}
