/**
 * A group's blind replicators: what each holds and how far behind, this box's sync windows and
 * bandwidth limits to each (read and said as the Backup page says a replica's), inviting one (the
 * sealed code for its operator), and removing one.
 */
import { useId, useState, type FormEvent } from 'react'
import { Copyable } from '../../components/Copyable.tsx'
import { formatBytes, formatTime } from '../../components/format.ts'
import { TableWrap } from '../../components/TableWrap.tsx'
import { SyncFields, type SyncText } from '../../components/SyncFields.tsx'
import { useAction } from '../../components/useAction.ts'
import { groups, type GroupView, type ReplicatorInvited, type ReplicatorView } from './api.ts'
import { readPublicKey } from '../../components/invites.ts'
import { limitWords, readSync, settingsText, windowsWords } from '../backup/words.ts'
import { replicatorConnectionWords, short } from './words.ts'

const time = (iso: string) => formatTime(Date.parse(iso) / 1000)

export function Replicators({ group: g, admin, onChanged }: { group: GroupView; admin: boolean; onChanged: () => void }) {
  const [news, setNews] = useState<string | null>(null)
  const [invited, setInvited] = useState<ReplicatorInvited | null>(null)
  const [removing, setRemoving] = useState<string | null>(null)
  const { busy, error, run } = useAction()
  const remove = (box: string) => void run(async () => {
    await groups.removeReplicator(g.key, box)
    setRemoving(null)
    onChanged()
  })
  return (
    <section aria-label={`Replicators of ${g.name}`}>
      <h4>Blind replicators</h4>
      {g.replicators.length === 0
        ? <p className="muted">No replicator holds {g.name} yet. A replicator keeps the group’s data, encrypted, for members who are offline; it cannot read it.</p>
        : (
          <TableWrap label={`Replicators of ${g.name}`}>
            <table>
              <thead>
                <tr>
                  <th scope="col">Name</th><th scope="col">Connection</th><th scope="col">Syncs</th><th scope="col">Holds</th><th scope="col">Behind this box</th><th scope="col">Last held everything</th><th scope="col">Key</th>
                  {admin && <th scope="col"><span className="visually-hidden">Actions</span></th>}
                </tr>
              </thead>
              <tbody>
                {g.replicators.map((r) => (
                  <tr key={r.box}>
                    <th scope="row">{r.name}</th>
                    <td className={r.connected ? 'state-active' : 'state-offline'}>{replicatorConnectionWords(r)}</td>
                    <td>{windowsWords(r.windows)}</td>
                    <td>{r.holds ? `${formatBytes(r.holds.bytes)} in ${r.holds.blocks.toLocaleString('en')} blocks${r.holds.overQuota ? ' (over its quota)' : ''}` : 'Nothing reported yet'}</td>
                    <td>{r.holds ? (r.holds.behindBlocks === 0 ? 'Nothing' : `${r.holds.behindBlocks.toLocaleString('en')} blocks`) : '—'}</td>
                    <td>{r.lastSynced ? time(r.lastSynced) : 'Not yet'}</td>
                    <td><code title={r.box}>{short(r.box)}</code></td>
                    {admin && (
                      <td className="row-actions">
                        {removing === r.box
                          ? <><button type="button" className="danger" disabled={busy} onClick={() => remove(r.box)}>Remove {r.name}</button> <button type="button" onClick={() => setRemoving(null)}>Cancel</button></>
                          : <button type="button" className="danger" onClick={() => setRemoving(r.box)} aria-label={`Remove ${r.name}…`}>Remove…</button>}
                      </td>
                    )}
                  </tr>
                ))}
              </tbody>
            </table>
          </TableWrap>
        )}
      {g.replicators.map((r) => <Settings key={`${r.box} ${r.windows.join()} ${JSON.stringify(r.limits)}`} group={g} replicator={r} onNews={setNews} onChanged={onChanged} />)}
      {news && <p className="notice" role="status">{news}</p>}
      {removing && <p className="notice">Every member stops admitting it. What it already holds stays on its disk, encrypted: ask its operator to delete it.</p>}
      {error && <p role="alert" className="notice error">{error}</p>}
      {admin && (
        <details className="invite">
          <summary>Add a replicator to {g.name}</summary>
          {invited && (
            <div className="invite-code">
              <p>Give its operator this command. Only that replicator can open the code, it pairs once, and it is good until {time(invited.expiresAt)}.</p>
              <Copyable label="Command for the replicator’s operator" copy="Copy command" text={`coffer replicator accept ${invited.invite} --quota 10GiB`} />
            </div>
          )}
          <ReplicatorForm group={g} onInvited={setInvited} />
        </details>
      )}
    </section>
  )
}

function ReplicatorForm({ group, onInvited }: { group: GroupView; onInvited: (invited: ReplicatorInvited) => void }) {
  const form = useId()
  const [publicKey, setPublicKey] = useState('')
  const [name, setName] = useState('')
  const { busy, error, setError, run } = useAction()
  function invite(e: FormEvent) {
    e.preventDefault()
    const key = readPublicKey(publicKey)
    if (!key) return setError('A replicator’s key is 64 hex characters: its operator prints it with `coffer replicator id`.')
    if (name.trim() === '') return setError('Give the replicator a name the group will know it by, like “Co-op server”.')
    void run(async () => {
      onInvited(await groups.addReplicator(group.key, { publicKey: key, name: name.trim() }))
      setPublicKey('')
      setName('')
    })
  }
  return (
    <form onSubmit={invite} aria-label={`Add a replicator to ${group.name}`} noValidate>
      <div className="inline-form">
        <div className="wide">
          <label htmlFor={`${form}-key`}>Its key</label>
          <input id={`${form}-key`} value={publicKey} onChange={(e) => setPublicKey(e.target.value)} autoComplete="off" spellCheck={false} aria-describedby={`${form}-key-hint`} />
          <span id={`${form}-key-hint`} className="hint">64 hex characters, from <code>coffer replicator id</code></span>
        </div>
        <div>
          <label htmlFor={`${form}-name`}>Name</label>
          <input id={`${form}-name`} value={name} onChange={(e) => setName(e.target.value)} placeholder="Co-op server" maxLength={100} autoComplete="off" />
        </div>
      </div>
      <div className="actions"><button type="submit" disabled={busy}>{busy ? 'Inviting…' : 'Invite the replicator'}</button></div>
      {error && <p role="alert" className="notice error">{error}</p>}
    </form>
  )
}

/** This box's sync windows and bandwidth limits to one replicator: shown as set, edited in place. Each member sets its own. */
function Settings({ group, replicator: r, onNews, onChanged }: { group: GroupView; replicator: ReplicatorView; onNews: (news: string) => void; onChanged: () => void }) {
  const form = useId()
  const [sync, setSync] = useState<SyncText>(() => settingsText({ windows: r.windows, ...r.limits, staleAfterSeconds: 0 }))
  const { busy, error, setError, run } = useAction()

  function save(e: FormEvent) {
    e.preventDefault()
    const read = readSync(sync)
    if (read.error !== undefined) return setError(read.error)
    void run(async () => {
      const saved = await groups.configureReplicator(group.key, r.box, read.value)
      onNews(`${saved.name}: syncs ${windowsWords(saved.windows).toLowerCase()}${saved.inWindow ? '' : ' (outside its windows now: this box lets it go until one opens)'}; upload ${limitWords(saved.limits.uploadBytesPerSecond).toLowerCase()}, download ${limitWords(saved.limits.downloadBytesPerSecond).toLowerCase()}.`)
      onChanged()
    })
  }

  return (
    <details className="invite">
      <summary>Sync of {r.name}: {windowsWords(r.windows).toLowerCase()}, upload {limitWords(r.limits.uploadBytesPerSecond).toLowerCase()}, download {limitWords(r.limits.downloadBytesPerSecond).toLowerCase()}</summary>
      <form onSubmit={save} aria-label={`Sync of ${r.name}`} noValidate>
        <div className="inline-form">
          <SyncFields id={form} value={sync} onChange={setSync} windowsHint="HH:MM-HH:MM in the box’s time zone, several separated by commas; empty to sync at any time. Outside them this box neither reaches nor lets in the replicator." />
        </div>
        <div className="actions"><button type="submit" disabled={busy}>{busy ? 'Saving…' : 'Save'}</button></div>
        {error && <p role="alert" className="notice error">{error}</p>}
      </form>
    </details>
  )
}
