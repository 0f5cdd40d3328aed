/** The sources a group holds: who shares each and under which rules, this box's read-only copies, and sharing one of this box's own. */
import { useEffect, useId, useState, type FormEvent } from 'react'
import { Link } from '../../router.tsx'
import { formatTime } from '../../components/format.ts'
import { TableWrap } from '../../components/TableWrap.tsx'
import { useAction } from '../../components/useAction.ts'
import { api } from '../../api/client.ts'
import { groups, type GroupView, type RulesInput, type SharedSourceView } from './api.ts'
import { rulesWords } from './words.ts'

const time = (iso: string) => formatTime(Date.parse(iso) / 1000)

export function SharedSources({ group: g, onChanged }: { group: GroupView; onChanged: () => void }) {
  const [stopping, setStopping] = useState<string | null>(null)
  const { busy, error, run } = useAction()
  const member = g.role !== null && !g.removed
  const stop = (source: string) => void run(async () => {
    await groups.stopSharing(g.key, source)
    setStopping(null)
    onChanged()
  })
  return (
    <section aria-label={`Sources shared with ${g.name}`}>
      <h4>Shared sources</h4>
      {g.sources.length === 0
        ? <p className="muted">No source is shared with {g.name} yet. A source you share, like a household meter, reaches every member’s box as a read-only copy their apps may be granted, under the rules you set.</p>
        : (
          <TableWrap label={`Sources shared with ${g.name}`}>
            <table>
              <thead>
                <tr>
                  <th scope="col">Source</th><th scope="col">Shared by</th><th scope="col">On this box</th><th scope="col">Records here</th><th scope="col">State</th><th scope="col">Rules</th>
                  <th scope="col"><span className="visually-hidden">Actions</span></th>
                </tr>
              </thead>
              <tbody>
                {g.sources.map((s) => (
                  <tr key={`${s.sharedBy}/${s.source}`}>
                    <th scope="row">{s.source}</th>
                    <td>{s.you ? `${s.sharedBy} (you)` : s.sharedBy}</td>
                    <td>{s.records === null ? 'No copy yet' : <Link to={`/sources/${encodeURIComponent(s.id)}`}><code>{s.id}</code></Link>}{!s.you && s.records !== null && <span className="hint"> Read-only, held by the group</span>}</td>
                    <td>{s.records === null ? '—' : s.records.toLocaleString('en')}</td>
                    <td className={s.stopped ? 'state-offline' : 'state-active'}>{s.stopped ? `Stopped ${time(s.stopped)}` : `Live since ${time(s.since)}`}</td>
                    <td>{rulesWords(s.rules)}</td>
                    <td className="row-actions">
                      {s.you && !s.stopped && member && (stopping === s.source
                        ? <><button type="button" className="danger" disabled={busy} onClick={() => stop(s.source)}>Stop sharing {s.source}</button> <button type="button" onClick={() => setStopping(null)}>Cancel</button></>
                        : <button type="button" className="danger" onClick={() => setStopping(s.source)} aria-label={`Stop sharing ${s.source}…`}>Stop sharing…</button>)}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableWrap>
        )}
      {stopping && <p className="notice">No new record reaches the members. What they already hold stays with them; each may delete their copy.</p>}
      {g.sources.some((s) => !s.you && s.stopped) && <p className="hint">A source its sharer stopped sharing stays on this box as it was: delete it from its page if you no longer want it.</p>}
      {error && <p role="alert" className="notice error">{error}</p>}
      {member && g.writable && (
        <>
          {g.sources.filter((s) => s.you && !s.stopped).map((s) => <RulesForm key={s.source} group={g} shared={s} onChanged={onChanged} />)}
          <details className="invite">
            <summary>Share a source with {g.name}</summary>
            <ShareForm group={g} onShared={onChanged} />
          </details>
        </>
      )}
    </section>
  )
}

/** The rules' fields, as the share and rules forms both ask them. */
function RulesFields({ id, rules, onChange }: { id: string; rules: Required<RulesInput>; onChange: (rules: Required<RulesInput>) => void }) {
  return (
    <fieldset className="inline-form">
      <legend>What members’ boxes may do with it</legend>
      <div>
        <label htmlFor={`${id}-apps`}>Their apps may read</label>
        <select id={`${id}-apps`} value={rules.apps} onChange={(e) => onChange({ ...rules, apps: e.target.value as Required<RulesInput>['apps'] })}>
          <option value="aggregates">Totals and averages only</option>
          <option value="raw">Every reading</option>
          <option value="none">Nothing: no app may be granted it</option>
        </select>
      </div>
      {rules.apps === 'aggregates' && (
        <div>
          <label htmlFor={`${id}-finest`}>Over at least</label>
          <select id={`${id}-finest`} value={rules.finest} onChange={(e) => onChange({ ...rules, finest: e.target.value })}>
            <option value="15m">15 minutes</option>
            <option value="1h">1 hour</option>
            <option value="1d">1 day</option>
            <option value="1w">1 week</option>
          </select>
        </div>
      )}
      <div>
        <label><input type="checkbox" checked={rules.gateway} onChange={(e) => onChange({ ...rules, gateway: e.target.checked })} /> An app reading it may send data out of their box</label>
        <label><input type="checkbox" checked={rules.market} onChange={(e) => onChange({ ...rules, market: e.target.checked })} /> It may answer data markets</label>
      </div>
    </fieldset>
  )
}

const DEFAULTS: Required<RulesInput> = { apps: 'aggregates', finest: '1h', gateway: false, market: false }

function finestText(seconds: number): string {
  return seconds % 604800 === 0 ? `${seconds / 604800}w` : seconds % 86400 === 0 ? `${seconds / 86400}d` : seconds % 3600 === 0 ? `${seconds / 3600}h` : `${seconds / 60}m`
}

function RulesForm({ group, shared, onChanged }: { group: GroupView; shared: SharedSourceView; onChanged: () => void }) {
  const id = useId()
  const [rules, setRules] = useState<Required<RulesInput>>({ ...shared.rules, finest: finestText(shared.rules.finest) })
  const { busy, error, run } = useAction()
  function save(e: FormEvent) {
    e.preventDefault()
    void run(async () => {
      await groups.shareRules(group.key, shared.source, rules)
      onChanged()
    })
  }
  return (
    <details className="invite">
      <summary>Change the rules of {shared.source}</summary>
      <form onSubmit={save} aria-label={`Rules of ${shared.source}`} noValidate>
        <RulesFields id={id} rules={rules} onChange={setRules} />
        <p className="hint">Each member’s box enforces the new rules once it hears them, on every grant and every read.</p>
        <div className="actions"><button type="submit" disabled={busy}>{busy ? 'Saving…' : 'Save the rules'}</button></div>
        {error && <p role="alert" className="notice error">{error}</p>}
      </form>
    </details>
  )
}

function ShareForm({ group, onShared }: { group: GroupView; onShared: () => void }) {
  const id = useId()
  const [choices, setChoices] = useState<string[]>([])
  const [source, setSource] = useState('')
  const [rules, setRules] = useState(DEFAULTS)
  const { busy, error, setError, run } = useAction()
  useEffect(() => {
    const abort = new AbortController()
    // This box's own time series; a copy another member shares is theirs to share.
    api.sources(abort.signal).then((all) => setChoices(all.filter((s) => s.kind === 'timeseries' && !s.id.startsWith('group.')).map((s) => s.id)), () => {})
    return () => abort.abort()
  }, [])
  function share(e: FormEvent) {
    e.preventDefault()
    if (source === '') return setError('Choose the source to share.')
    void run(async () => {
      await groups.share(group.key, { source, ...rules })
      setSource('')
      onShared()
    })
  }
  return (
    <form onSubmit={share} aria-label={`Share a source with ${group.name}`} noValidate>
      <div className="inline-form">
        <div className="wide">
          <label htmlFor={`${id}-source`}>Source</label>
          <select id={`${id}-source`} value={source} onChange={(e) => setSource(e.target.value)}>
            <option value="">Choose…</option>
            {choices.map((c) => <option key={c} value={c}>{c}</option>)}
          </select>
        </div>
      </div>
      <RulesFields id={id} rules={rules} onChange={setRules} />
      <p className="hint">What it holds now and every new record reach each member’s box, encrypted with the group’s key. A member removed later gets nothing shared after.</p>
      <div className="actions"><button type="submit" disabled={busy}>{busy ? 'Sharing…' : 'Share it'}</button></div>
      {error && <p role="alert" className="notice error">{error}</p>}
    </form>
  )
}
