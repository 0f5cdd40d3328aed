/** One group: what this box is in it, its members and who is connected, conflicting versions, inviting, its drive, and leaving it. */
import { useId } from 'react'
import { formatTime } from '../../components/format.ts'
import { TableWrap } from '../../components/TableWrap.tsx'
import { drive, type DriveEntry, type GroupView, type MadeInvite, type MemberView } from './api.ts'
import { Drive } from './Drive.tsx'
import { Replicators } from './Replicators.tsx'
import { SharedSources } from './SharedSources.tsx'
import { InviteCode, InviteForm } from './Forms.tsx'
import { connectedWords, connectionWords, removable, roleWords, short } from './words.ts'

const time = (iso: string) => formatTime(Date.parse(iso) / 1000)

export type Pending = MadeInvite & { group: string }

export function GroupCard({ group: g, pending, refreshed, onInvited, onInviteDone, onRemove, onLeave, onDelete, onChanged }: {
  group: GroupView
  /** The invite made last in this group, shown until the owner is done with it. */
  pending: Pending | null
  refreshed: number
  onInvited: (pending: Pending) => void
  onInviteDone: () => void
  onRemove: (group: GroupView, member: MemberView) => void
  onLeave: (group: GroupView) => void
  onDelete: (group: GroupView, entry: DriveEntry, done: () => void) => void
  /** Something changed that the group's view shows: read it again. */
  onChanged: () => void
}) {
  const heading = useId()
  const address = drive.address(g.key)
  const admin = g.role === 'admin' && !g.removed
  const waiting = pending !== null && Date.parse(pending.expiresAt) > Date.now() && !g.members.some((m) => m.box === pending.publicKey)

  return (
    <li className={`card group${g.removed ? ' removed' : ''}`} aria-labelledby={heading}>
      <h3 id={heading}>{g.name}</h3>
      {g.removed && (
        <p className="notice error">
          An admin removed this box from {g.name}. It keeps what it had, and gets nothing written since. Leave the group to delete your copy.
        </p>
      )}
      {!g.removed && !g.writable && <p className="notice" role="status">This box is not let write yet: a member who can reach the admin must be online. It keeps trying.</p>}
      <dl className="facts">
        <div><dt>Your role</dt><dd>{roleWords(g)}</dd></div>
        <div><dt>Members</dt><dd>{g.members.length}</dd></div>
        <div><dt>Connected</dt><dd>{connectedWords(g)}</dd></div>
        <div><dt>Content key</dt><dd>{g.epoch === 0 ? 'The first' : `Changed ${g.epoch} ${g.epoch === 1 ? 'time' : 'times'}`}</dd></div>
        <div><dt>Joined</dt><dd>{time(g.joinedAt)}</dd></div>
      </dl>
      <dl className="keys">
        <div><dt>Group key</dt><dd><code>{g.key}</code></dd></div>
        <div><dt>Address on the network</dt><dd><code>{g.address}</code></dd></div>
        <div>
          <dt>Drive over WebDAV</dt>
          <dd>
            <code>{address}</code>
            <p className="hint">
              Mount it from a file manager (Finder’s Connect to Server, Windows’ Map network drive, GNOME Files’ Other Locations):
              any user name, and your owner passphrase as the password.
            </p>
          </dd>
        </div>
      </dl>

      <TableWrap label={`Members of ${g.name}`}>
        <table>
          <thead>
            <tr>
              <th scope="col">Name</th><th scope="col">Role</th><th scope="col">Connection</th><th scope="col">Since</th><th scope="col">Added by</th><th scope="col">Box key</th>
              {admin && <th scope="col"><span className="visually-hidden">Actions</span></th>}
            </tr>
          </thead>
          <tbody>
            {g.members.map((m) => (
              <tr key={m.writer}>
                <th scope="row">{m.name}{m.you ? ' (you)' : ''}</th>
                <td>{m.role === 'admin' ? 'Admin' : 'Member'}</td>
                <td className={m.you ? undefined : m.connected ? 'state-active' : 'state-offline'}>{connectionWords(m)}</td>
                <td>{time(m.since)}</td>
                <td>{m.addedBy ?? 'Founded it'}</td>
                <td><code title={m.box}>{short(m.box)}</code></td>
                {admin && <td className="row-actions">{removable(g, m) && <button type="button" className="danger" onClick={() => onRemove(g, m)} aria-label={`Remove ${m.name}…`}>Remove…</button>}</td>}
              </tr>
            ))}
          </tbody>
        </table>
      </TableWrap>

      {g.conflicts.length > 0 && (
        <div className="notice conflicts" role="group" aria-label={`Conflicting versions in ${g.name}’s drive`}>
          <p><strong>Conflicting versions.</strong> Members wrote these files at the same time; every version is kept in the drive, each other one as a copy beside the file. Delete the copies you do not want.</p>
          <ul>
            {g.conflicts.map((c) => (
              <li key={c.path}>
                <code>{c.path}</code>: {c.versions.map((v) => `${v.author} at ${time(v.mtime)}`).join(', ')}
              </li>
            ))}
          </ul>
        </div>
      )}

      {admin && (
        <details className="invite" open={pending !== null || undefined}>
          <summary>Invite a member to {g.name}</summary>
          {pending && <InviteCode group={g} invited={pending} following={waiting} onDone={onInviteDone} />}
          <InviteForm group={g} onInvited={(invited) => onInvited({ ...invited, group: g.key })} />
        </details>
      )}

      <Replicators group={g} admin={admin} onChanged={onChanged} />

      <SharedSources group={g} onChanged={onChanged} />

      <Drive group={g} refreshed={refreshed} onDelete={(entry, done) => onDelete(g, entry, done)} />

      <div className="actions">
        <button type="button" className="danger" onClick={() => onLeave(g)}>{g.removed ? `Delete your copy of ${g.name}…` : `Leave ${g.name}…`}</button>
      </div>
    </li>
  )
}
