/** Founding a group, joining one with an invite, inviting a box to one, and the sealed invite to hand over. */
import { useId, useState, type FormEvent } from 'react'
import { Copyable } from '../../components/Copyable.tsx'
import { formatTime } from '../../components/format.ts'
import { useAction } from '../../components/useAction.ts'
import { groups, type GroupView, type MadeInvite, type Nearby } from './api.ts'
import { INVITE_EXPIRIES, readPublicKey } from '../../components/invites.ts'
import { joinCommand } from './words.ts'
import { NearbyBoxes } from './Nearby.tsx'

export function CreateForm({ onCreated }: { onCreated: (group: GroupView) => void }) {
  const form = useId()
  const [name, setName] = useState('')
  const [as, setAs] = useState('')
  const { busy, error, setError, run } = useAction()

  function create(e: FormEvent) {
    e.preventDefault()
    if (name.trim() === '') {
      setError('Give the group a name its members will know it by, like “Household”.')
      return
    }
    void run(async () => {
      onCreated(await groups.create({ name: name.trim(), ...(as.trim() ? { as: as.trim() } : {}) }))
      setName('')
      setAs('')
    })
  }

  return (
    <form className="driver-form" onSubmit={create} aria-labelledby={`${form}-heading`} noValidate>
      <h3 id={`${form}-heading`}>Found a group</h3>
      <p className="muted">You are its first admin: you invite the other boxes, and may make them admins too.</p>
      <div className="inline-form">
        <div className="wide">
          <label htmlFor={`${form}-name`}>Group name</label>
          <input id={`${form}-name`} value={name} onChange={(e) => setName(e.target.value)} placeholder="Household" maxLength={100} autoComplete="off" />
        </div>
        <div>
          <label htmlFor={`${form}-as`}>Your name in it</label>
          <input id={`${form}-as`} value={as} onChange={(e) => setAs(e.target.value)} placeholder="owner" maxLength={100} autoComplete="off" />
        </div>
      </div>
      <div className="actions"><button type="submit" disabled={busy}>{busy ? 'Founding…' : 'Found the group'}</button></div>
      {error && <p role="alert" className="notice error">{error}</p>}
    </form>
  )
}

export function JoinForm({ onJoined }: { onJoined: (group: GroupView) => void }) {
  const form = useId()
  const [code, setCode] = useState('')
  const [as, setAs] = useState('')
  const { busy, error, setError, run } = useAction()

  function join(e: FormEvent) {
    e.preventDefault()
    // The whole command pasted is fine too: the code is its last word.
    const text = code.trim().split(/\s+/).pop() ?? ''
    if (text === '') {
      setError('Paste the invite the group’s admin gave you: it starts with “coffer-group:”.')
      return
    }
    void run(async () => {
      onJoined(await groups.join({ code: text, ...(as.trim() ? { as: as.trim() } : {}) }))
      setCode('')
      setAs('')
    })
  }

  return (
    <form className="driver-form" onSubmit={join} aria-labelledby={`${form}-heading`} noValidate>
      <h3 id={`${form}-heading`}>Join a group</h3>
      <p className="muted">
        Give the group’s admin this box’s key (above). The invite they send back is sealed to it: only this box can use it, once.
        The admin’s box must be running while you join.
      </p>
      <div className="inline-form">
        <div className="wide">
          <label htmlFor={`${form}-code`}>Invite</label>
          <textarea id={`${form}-code`} value={code} onChange={(e) => setCode(e.target.value)} rows={3} spellCheck={false} autoComplete="off" aria-describedby={`${form}-code-hint`} />
          <span id={`${form}-code-hint`} className="hint">coffer-group:…, or the whole command</span>
        </div>
        <div>
          <label htmlFor={`${form}-as`}>Your name in it</label>
          <input id={`${form}-as`} value={as} onChange={(e) => setAs(e.target.value)} placeholder="as the admin named you" maxLength={100} autoComplete="off" />
        </div>
      </div>
      <div className="actions"><button type="submit" disabled={busy}>{busy ? 'Joining…' : 'Join'}</button></div>
      {busy && <p role="status" className="muted">Reaching the admin’s box and waiting to be let in: this can take up to a minute.</p>}
      {error && <p role="alert" className="notice error">{error}</p>}
    </form>
  )
}

export function InviteForm({ group, onInvited }: { group: GroupView; onInvited: (invited: MadeInvite) => void }) {
  const form = useId()
  const [publicKey, setPublicKey] = useState('')
  const [name, setName] = useState('')
  const [role, setRole] = useState<'member' | 'admin'>('member')
  const [expiresIn, setExpiresIn] = useState('1d')
  const { busy, error, setError, run } = useAction()

  function invite(e: FormEvent) {
    e.preventDefault()
    const key = readPublicKey(publicKey)
    if (!key) {
      setError('A box’s key is 64 hex characters: its owner finds it at the top of their Groups page, or with `coffer groups list`.')
      return
    }
    if (name.trim() === '') {
      setError('Give the new member a name the group will know them by, like “Bea”.')
      return
    }
    void run(async () => {
      const invited = await groups.invite(group.key, { publicKey: key, name: name.trim(), role, expiresIn })
      onInvited({ ...invited, name: name.trim(), publicKey: key })
      setPublicKey('')
      setName('')
      setRole('member')
    })
  }

  /** The same invite for a box asking nearby, picked by its fingerprint, and sent to it on the local network. */
  function inviteNearby(box: Nearby) {
    const chosen = name.trim() || box.name
    if (!chosen) {
      setError(`The box ${box.fingerprint} asks to join under no name: give the new member a name above.`)
      return
    }
    void run(async () => {
      const sent = await groups.inviteNearby(group.key, { to: box.fingerprint, ...(name.trim() ? { name: name.trim() } : {}), role, expiresIn })
      onInvited({
        invite: sent.invite, expiresAt: sent.expiresAt, name: chosen, publicKey: sent.to.boxKey,
        lan: { fingerprint: sent.to.fingerprint, adminFingerprint: sent.adminFingerprint, arrived: sent.arrived },
      })
      setName('')
      setRole('member')
    })
  }

  return (
    <form onSubmit={invite} aria-label={`Invite a member to ${group.name}`} noValidate>
      <div className="inline-form">
        <div className="wide">
          <label htmlFor={`${form}-key`}>Their box’s key</label>
          <input id={`${form}-key`} value={publicKey} onChange={(e) => setPublicKey(e.target.value)} autoComplete="off" spellCheck={false} aria-describedby={`${form}-key-hint`} />
          <span id={`${form}-key-hint`} className="hint">64 hex characters, from their Groups page</span>
        </div>
        <div>
          <label htmlFor={`${form}-name`}>Name</label>
          <input id={`${form}-name`} value={name} onChange={(e) => setName(e.target.value)} placeholder="Bea" maxLength={100} autoComplete="off" />
        </div>
        <div>
          <label htmlFor={`${form}-role`}>Role</label>
          <select id={`${form}-role`} value={role} onChange={(e) => setRole(e.target.value as 'member' | 'admin')} aria-describedby={`${form}-role-hint`}>
            <option value="member">Member</option>
            <option value="admin">Admin</option>
          </select>
          <span id={`${form}-role-hint`} className="hint">an admin may invite and remove</span>
        </div>
        <div>
          <label htmlFor={`${form}-expires`}>Invite good for</label>
          <select id={`${form}-expires`} value={expiresIn} onChange={(e) => setExpiresIn(e.target.value)}>
            {INVITE_EXPIRIES.map((x) => <option key={x.value} value={x.value}>{x.label}</option>)}
          </select>
        </div>
      </div>
      <div className="actions"><button type="submit" disabled={busy}>{busy ? 'Inviting…' : 'Invite'}</button></div>
      <NearbyBoxes group={group} busy={busy} onInvite={inviteNearby} />
      {error && <p role="alert" className="notice error">{error}</p>}
    </form>
  )
}

/** The invite, once: sealed to the invited box's key, so only that box can open it, and it lets it in once. */
export function InviteCode({ group, invited, following, onDone }: {
  group: GroupView; invited: MadeInvite; following: boolean; onDone: () => void
}) {
  const heading = useId()
  const lan = invited.lan
  return (
    <section className="invite-code review" aria-labelledby={heading}>
      <h4 id={heading}>Invite for {invited.name}</h4>
      {lan && (
        <p>
          Sent on this network to the box {lan.fingerprint}.{' '}
          {lan.arrived ? 'Their box has it.' : 'Their box did not say it has it: if nothing arrives there, send them the invite below.'}
          {' '}Their screen shows your fingerprint, <strong className="fingerprint">{lan.adminFingerprint}</strong>: they compare it before they join.
        </p>
      )}
      {!lan && <p>
        Send this to {invited.name}’s owner before {formatTime(Date.parse(invited.expiresAt) / 1000)}. It is sealed to their box’s key:
        only that box can open it, and it lets it in once. They paste it into Join a group on their Groups page, or run the command.
        Your box must be running when they join.
      </p>}
      <Copyable label="Invite" copy="Copy invite" text={invited.invite} />
      <Copyable label="Command for their box" copy="Copy command" text={joinCommand(invited.invite)} />
      {following && <p className="muted" role="status">Waiting for {invited.name} to join {group.name}: this page updates when they do.</p>}
      <div className="actions"><button type="button" onClick={onDone}>Done</button></div>
    </section>
  )
}
