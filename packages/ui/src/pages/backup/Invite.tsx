/** Inviting a blind replicator by its key, and handing its operator the one-time code. */
import { useId, useState, type FormEvent } from 'react'
import { Copyable } from '../../components/Copyable.tsx'
import { formatTime } from '../../components/format.ts'
import { useAction } from '../../components/useAction.ts'
import { INVITE_EXPIRIES, readPublicKey } from '../../components/invites.ts'
import { backup, type Invited } from './api.ts'
import { SUGGESTED_QUOTA, acceptCommand } from './words.ts'

export function InviteForm({ onInvited }: { onInvited: (invited: Invited) => void }) {
  const form = useId()
  const [publicKey, setPublicKey] = useState('')
  const [name, setName] = useState('')
  const [expiresIn, setExpiresIn] = useState('1h')
  const { busy, error, setError, run } = useAction()

  function invite(e: FormEvent) {
    e.preventDefault()
    const key = readPublicKey(publicKey)
    if (!key) {
      setError('The replicator’s key is the 64 hex characters its operator gets from `coffer replicator id`.')
      return
    }
    if (name.trim() === '') {
      setError('Give the replica a name you will know it by, like “Anna’s NAS”.')
      return
    }
    void run(async () => {
      onInvited(await backup.invite({ publicKey: key, name: name.trim(), expiresIn }))
      setPublicKey('')
      setName('')
    })
  }

  return (
    <form className="driver-form" onSubmit={invite} aria-labelledby={`${form}-heading`} noValidate>
      <h3 id={`${form}-heading`}>Invite a blind replicator</h3>
      <p className="muted">
        A blind replicator — a friend’s machine or a co-op’s — keeps encrypted copies of your logs and never holds a key that reads them.
        Its operator runs <code>coffer replicator id</code> and gives you the key it prints.
      </p>
      <div className="inline-form">
        <div className="wide">
          <label htmlFor={`${form}-key`}>Replicator’s key</label>
          <input id={`${form}-key`} value={publicKey} onChange={(e) => setPublicKey(e.target.value)} autoComplete="off" spellCheck={false} aria-describedby={`${form}-key-hint`} />
          <span id={`${form}-key-hint`} className="hint">64 hex characters</span>
        </div>
        <div>
          <label htmlFor={`${form}-name`}>Name</label>
          <input id={`${form}-name`} value={name} onChange={(e) => setName(e.target.value)} placeholder="Anna’s NAS" maxLength={100} autoComplete="off" />
        </div>
        <div>
          <label htmlFor={`${form}-expires`}>Invite good for</label>
          <select id={`${form}-expires`} value={expiresIn} onChange={(e) => setExpiresIn(e.target.value)}>
            {INVITE_EXPIRIES.map((x) => <option key={x.value} value={x.value}>{x.label}</option>)}
          </select>
        </div>
      </div>
      <div className="actions"><button type="submit" disabled={busy}>{busy ? 'Inviting…' : 'Invite'}</button></div>
      {error && <p role="alert" className="notice error">{error}</p>}
    </form>
  )
}

/** The code, once: sealed to the replicator's key, so only that replicator can open it, and it pairs once. */
export function InviteCode({ invited, onDone }: { invited: Invited; onDone: () => void }) {
  const command = acceptCommand(invited.invite)
  const { replica } = invited
  return (
    <section className="invite-code review" aria-labelledby="invite-code-heading">
      <h3 id="invite-code-heading">Invite for {replica.name}</h3>
      <p>
        Give this command to the replicator’s operator{replica.inviteExpiresAt ? <> before {formatTime(Date.parse(replica.inviteExpiresAt) / 1000)}</> : null}.
        Only that replicator can open the code, and it pairs once; it holds no key to your data.
        The quota of {SUGGESTED_QUOTA} is a suggestion: the operator chooses how much room to give you.
      </p>
      <Copyable label="Command for the replicator’s operator" copy="Copy command" text={command} />
      <Copyable label="Invite code alone" copy="Copy code" text={invited.invite} />
      <div className="actions"><button type="button" onClick={onDone}>Done</button></div>
    </section>
  )
}
