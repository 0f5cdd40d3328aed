import { useEffect, useState } from 'react'
import { ConfirmDialog } from '../../components/ConfirmDialog.tsx'
import { ErrorNotice, StatusNotice } from '../../components/Notice.tsx'
import { useAction } from '../../components/useAction.ts'
import { useLoad } from '../../components/useLoad.ts'
import { useTitle } from '../../components/useTitle.ts'
import { drive, groups, type DriveEntry, type GroupView, type MemberView, type UnopenedGroup } from './api.ts'
import { CreateForm, JoinForm } from './Forms.tsx'
import { AskNearby } from './Nearby.tsx'
import { GroupCard, type Pending } from './GroupCard.tsx'
import { driveProblem } from './words.ts'
import './groups.css'

/**
 * While an invited box has not joined yet, or this box waits to be let write, the page looks
 * again this often. Each look is an audited request, so a settled page does not keep asking.
 */
const FOLLOW_MS = 2000

/** What the page's one confirmation asks about. */
type Asking =
  | { kind: 'remove'; group: GroupView; member: MemberView }
  | { kind: 'leave'; group: GroupView }
  | { kind: 'drop'; group: UnopenedGroup }
  | { kind: 'delete'; group: GroupView; entry: DriveEntry; done: () => void }

export default function GroupsPage() {
  useTitle('Groups')
  const list = useLoad((signal) => groups.list(signal), [])
  const [news, setNews] = useState<string | null>(null)
  const [pending, setPending] = useState<Pending | null>(null)
  const [asking, setAsking] = useState<Asking | null>(null)
  const [refreshed, setRefreshed] = useState(0)
  const answer = useAction()

  const all = list.data?.groups
  const inviting = pending !== null && Date.parse(pending.expiresAt) > Date.now() &&
    all?.find((g) => g.key === pending.group)?.members.some((m) => m.box === pending.publicKey) === false
  // Following lasts from the first unsettled answer to the first settled one, through the looks in between.
  const following = all !== undefined && (inviting || all.some((g) => !g.writable && !g.removed))
  useEffect(() => {
    if (!following || list.loading) return
    const timer = setTimeout(list.reload, FOLLOW_MS)
    return () => clearTimeout(timer)
  }, [following, list.loading, list.data])

  // A group the box could not open is looked at again once the box has tried it again.
  const retry = list.data?.unopened.length ? Math.min(...list.data.unopened.map((g) => g.retryInSeconds)) : null
  useEffect(() => {
    if (retry === null || list.loading) return
    const timer = setTimeout(list.reload, (retry + 1) * 1000)
    return () => clearTimeout(timer)
  }, [retry, list.loading, list.data])

  const joined = (g: GroupView) => {
    setNews(`Joined ${g.name} as ${g.members.find((m) => m.you)?.name ?? 'a member'}. Its drive is below its name.`)
    list.reload()
  }

  const refresh = () => {
    list.reload()
    setRefreshed((n) => n + 1)
  }

  const ask = (question: Asking) => {
    answer.setError(null)
    setAsking(question)
  }

  const confirm = () => answer.run(async () => {
    if (!asking) return
    if (asking.kind === 'remove') {
      await groups.remove(asking.group.key, asking.member.box)
      setNews(`Removed ${asking.member.name} from ${asking.group.name}. Their box is cut off and the group has a new content key: they cannot read anything written from now on. What they already had, they keep.`)
      if (pending?.group === asking.group.key && pending.publicKey === asking.member.box) setPending(null)
    } else if (asking.kind === 'leave') {
      await groups.leave(asking.group.key)
      setNews(asking.group.removed ? `Deleted this box’s copy of ${asking.group.name}.` : `Left ${asking.group.name}: its members were told, and this box’s copy of it is deleted.`)
      if (pending?.group === asking.group.key) setPending(null)
    } else if (asking.kind === 'drop') {
      await groups.leave(asking.group.key)
      setNews(`Dropped ${asking.group.name} from this box. Its members were not told: they list this box until an admin removes it.`)
    } else {
      try {
        await drive.remove(asking.group.key, asking.entry.path)
      } catch (err) {
        throw new Error(driveProblem(err, 'delete', asking.entry.name))
      }
      asking.done()
    }
    setAsking(null)
    if (asking.kind !== 'delete') list.reload()
  })

  return (
    <>
      <h1>Groups</h1>
      <p>
        A group is a few boxes — a household’s, friends’, a club’s — sharing one drive. Every member’s box keeps a copy, encrypted with the
        group’s content key, and swaps changes directly with the other members; no server in between holds or reads it.
      </p>
      {news && <StatusNotice>{news}</StatusNotice>}

      <section aria-labelledby="groups-heading">
        <div className="section-head">
          <h2 id="groups-heading">Your groups</h2>
          <button type="button" onClick={refresh}>Refresh</button>
        </div>
        <ErrorNotice error={list.error} />
        {list.data && (
          <p>
            This box’s key, for an admin to invite it: <code className="identity">{list.data.boxKey}</code>
          </p>
        )}
        {list.data?.unopened.map((g) => (
          <div key={g.key} className="notice error" role="group" aria-label={`${g.name}, not opened`}>
            <p>
              <strong>{g.name}</strong> could not be opened: {g.reason}. The box tries again in {g.retryInSeconds} s; until then its drive
              and members cannot be reached. If it never opens, drop it from this box.
            </p>
            <button type="button" onClick={() => ask({ kind: 'drop', group: g })}>Drop {g.name} from this box…</button>
          </div>
        ))}
        {all?.length === 0 && list.data?.unopened.length === 0 && <p>This box is in no group yet: found one, or join one with an invite, below.</p>}
        <ul className="cards groups">
          {all?.map((g) => (
            <GroupCard
              key={g.key} group={g} refreshed={refreshed}
              pending={pending?.group === g.key ? pending : null}
              onInvited={(made) => { setPending(made); setNews(null) }}
              onInviteDone={() => setPending(null)}
              onRemove={(group, member) => ask({ kind: 'remove', group, member })}
              onLeave={(group) => ask({ kind: 'leave', group })}
              onDelete={(group, entry, done) => ask({ kind: 'delete', group, entry, done })}
              onChanged={list.reload}
            />
          ))}
        </ul>
      </section>

      <section aria-labelledby="new-heading">
        <h2 id="new-heading">Found or join a group</h2>
        <div className="group-forms">
          <CreateForm onCreated={(g) => { setNews(`Founded ${g.name}. Invite its members from its card above.`); list.reload() }} />
          <JoinForm onJoined={joined} />
          <AskNearby onJoined={joined} />
        </div>
      </section>

      <ConfirmDialog open={asking !== null} title={title(asking)} confirm={verb(asking)} onConfirm={() => void confirm()} onCancel={() => setAsking(null)} busy={answer.busy}>
        {asking?.kind === 'remove' && (
          <>
            <p>{asking.member.name}’s box is disconnected at once, and {asking.group.name} moves to a new content key that their box never gets.</p>
            <ul>
              <li>Nothing written in the group from now on is readable by them.</li>
              <li>What they already had — the files their box synced before now — they keep. Removing cannot take back a copy.</li>
            </ul>
          </>
        )}
        {asking?.kind === 'leave' && (asking.group.removed
          ? <p>This box deletes what it kept of {asking.group.name} and its drive.</p>
          : <p>The other members hear that you left, and this box deletes its copy of {asking.group.name} and its drive. What you wrote stays with the members who have it. To come back, an admin must invite this box again.</p>)}
        {asking?.kind === 'drop' && (
          <p>
            This box deletes its copy of {asking.group.name}. It cannot write to the group, so the other members are not told: they list this
            box until an admin removes it. To come back, an admin must invite this box again.
          </p>
        )}
        {asking?.kind === 'delete' && (
          <p>
            {asking.entry.type === 'dir' ? `The folder ${asking.entry.name} and everything in it go` : asking.entry.conflictOf ? 'This version goes; the file keeps its others. It goes' : `${asking.entry.name} goes`}
            {' '}from {asking.group.name}’s drive for every member.
          </p>
        )}
        {answer.busy && <p role="status" className="muted">{busyWords(asking)}</p>}
        {answer.error && <p role="alert" className="notice error">{answer.error}</p>}
      </ConfirmDialog>
    </>
  )
}

function title(asking: Asking | null): string {
  if (!asking) return ''
  if (asking.kind === 'remove') return `Remove ${asking.member.name} from ${asking.group.name}?`
  if (asking.kind === 'leave') return asking.group.removed ? `Delete your copy of ${asking.group.name}?` : `Leave ${asking.group.name}?`
  if (asking.kind === 'drop') return `Drop ${asking.group.name} from this box?`
  return `Delete ${asking.entry.name}?`
}

function verb(asking: Asking | null): string {
  if (asking?.kind === 'remove') return 'Remove'
  if (asking?.kind === 'leave') return asking.group.removed ? 'Delete' : 'Leave'
  if (asking?.kind === 'drop') return 'Drop'
  return 'Delete'
}

function busyWords(asking: Asking | null): string {
  if (asking?.kind === 'remove') return 'Moving the group to a new content key…'
  if (asking?.kind === 'leave') return 'Telling the other members…'
  if (asking?.kind === 'drop') return 'Deleting this box’s copy…'
  return 'Deleting…'
}
