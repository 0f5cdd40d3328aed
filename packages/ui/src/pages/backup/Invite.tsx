/**
 * Inviting a replica by its key — a blind replicator, or the owner's own other device — and
 * handing on the one-time code. A device's invite carries the seed, so it asks for the owner
 * passphrase, which goes with that one request and is kept nowhere in the page.
 */
import { useId, useState, type FormEvent } from 'react'
import { Copyable } from '../../components/Copyable.tsx'
import { formatTime } from '../../components/format.ts'
import { useAction } from '../../components/useAction.ts'
import { INVITE_EXPIRIES, readPublicKey } from '../../components/invites.ts'
import { backup, type Invited } from './api.ts'
import { SUGGESTED_QUOTA, acceptCommand, deviceCommands } from './words.ts'

type Kind = 'blind' | 'device'

export function InviteForm({ onInvited }: { onInvited: (invited: Invited) => void }) {
  const form = useId()
  const [kind, setKind] = useState<Kind>('blind')
  const [publicKey, setPublicKey] = useState('')
  const [name, setName] = useState('')
  const [expiresIn, setExpiresIn] = useState('1h')
  const [passphrase, setPassphrase] = useState('')
  const { busy, error, setError, run } = useAction()
  const device = kind === 'device'

  function invite(e: FormEvent) {
    e.preventDefault()
    const key = readPublicKey(publicKey)
    if (!key) {
      setError(device ? 'The device’s key is the 64 hex characters `coffer device id` prints on that device.' : 'The replicator’s key is the 64 hex characters its operator gets from `coffer replicator id`.')
      return
    }
    if (name.trim() === '') {
      setError(`Give the replica a name you will know it by, like “${device ? 'Laptop' : 'Anna’s NAS'}”.`)
      return
    }
    if (device && passphrase === '') {
      setError('Enter your owner passphrase: a device’s invite carries your seed, and is made only for it.')
      return
    }
    const asked = passphrase
    // The passphrase goes with this one request and stays nowhere in the page, whatever the answer.
    setPassphrase('')
    void run(async () => {
      const input = { publicKey: key, name: name.trim(), expiresIn }
      onInvited(device ? await backup.inviteDevice({ ...input, passphrase: asked }) : await backup.invite(input))
      setPublicKey('')
      setName('')
    })
  }

  return (
    <form className="driver-form" onSubmit={invite} aria-labelledby={`${form}-heading`} noValidate>
      <h3 id={`${form}-heading`}>Invite a replica</h3>
      <fieldset className="radios">
        <legend>What to invite</legend>
        <label><input type="radio" name={`${form}-kind`} checked={!device} onChange={() => setKind('blind')} /> a blind replicator</label>
        <label><input type="radio" name={`${form}-kind`} checked={device} onChange={() => setKind('device')} /> your own other device</label>
      </fieldset>
      {device ? (
        <p className="muted">
          Your other device — a laptop, a home server — becomes a full replica: it gets your keys, follows this box, and can take over as your box if this machine is lost.
          On the device, run <code>coffer device id</code> and enter the key it prints.
        </p>
      ) : (
        <p className="muted">
          A blind replicator — a friend’s machine or a co-op’s — keeps encrypted copies of your logs and never holds a key that reads them.
          Its operator runs <code>coffer replicator id</code> and gives you the key it prints.
        </p>
      )}
      <div className="inline-form">
        <div className="wide">
          <label htmlFor={`${form}-key`}>{device ? 'Device’s key' : 'Replicator’s key'}</label>
          <input id={`${form}-key`} value={publicKey} onChange={(e) => setPublicKey(e.target.value)} autoComplete="off" spellCheck={false} aria-describedby={`${form}-key-hint`} />
          <span id={`${form}-key-hint`} className="hint">64 hex characters</span>
        </div>
        <div>
          <label htmlFor={`${form}-name`}>Name</label>
          <input id={`${form}-name`} value={name} onChange={(e) => setName(e.target.value)} placeholder={device ? 'Laptop' : 'Anna’s NAS'} maxLength={100} autoComplete="off" />
        </div>
        <div>
          <label htmlFor={`${form}-expires`}>Invite good for</label>
          <select id={`${form}-expires`} value={expiresIn} onChange={(e) => setExpiresIn(e.target.value)}>
            {INVITE_EXPIRIES.map((x) => <option key={x.value} value={x.value}>{x.label}</option>)}
          </select>
        </div>
        {device && (
          <div className="wide">
            <label htmlFor={`${form}-passphrase`}>Owner passphrase</label>
            <input id={`${form}-passphrase`} type="password" value={passphrase} onChange={(e) => setPassphrase(e.target.value)} autoComplete="current-password" aria-describedby={`${form}-passphrase-hint`} />
            <span id={`${form}-passphrase-hint`} className="hint">
              Asked because the invite carries your box’s seed — every key — sealed so that only that device can open it. It goes with this one request and is kept nowhere.
            </span>
          </div>
        )}
      </div>
      <div className="actions"><button type="submit" disabled={busy}>{busy ? 'Inviting…' : 'Invite'}</button></div>
      {error && <p role="alert" className="notice error">{error}</p>}
    </form>
  )
}

/** The code, once: sealed to the invitee's key, so only it can open the code, and it pairs once. */
export function InviteCode({ invited, onDone }: { invited: Invited; onDone: () => void }) {
  const { replica } = invited
  const before = replica.inviteExpiresAt ? <> before {formatTime(Date.parse(replica.inviteExpiresAt) / 1000)}</> : null
  const commands = deviceCommands(invited.invite)
  return (
    <section className="invite-code review" aria-labelledby="invite-code-heading">
      <h3 id="invite-code-heading">Invite for {replica.name}</h3>
      {replica.kind === 'device' ? (
        <>
          <p>
            On the device, in the folder it printed its key for, run these{before}. The code carries your seed, sealed so that only that device can open it,
            and it pairs once. The device asks for a passphrase of its own, then follows this box while both run.
          </p>
          <Copyable label="Command to take the invite, on the device" copy="Copy the accept command" text={commands.accept} />
          <Copyable label="Then, to follow this box" copy="Copy the start command" text={commands.start} />
        </>
      ) : (
        <>
          <p>
            Give this command to the replicator’s operator{before}.
            Only that replicator can open the code, and it pairs once; it holds no key to your data.
            The quota of {SUGGESTED_QUOTA} is a suggestion: the operator chooses how much room to give you.
          </p>
          <Copyable label="Command for the replicator’s operator" copy="Copy command" text={acceptCommand(invited.invite)} />
        </>
      )}
      <Copyable label="Invite code alone" copy="Copy code" text={invited.invite} />
      <div className="actions"><button type="button" onClick={onDone}>Done</button></div>
    </section>
  )
}
