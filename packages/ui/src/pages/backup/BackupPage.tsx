import { useEffect, useState } from 'react'
import { api } from '../../api/client.ts'
import { ConfirmDialog } from '../../components/ConfirmDialog.tsx'
import { ErrorNotice, StatusNotice } from '../../components/Notice.tsx'
import { useAction } from '../../components/useAction.ts'
import { useLoad } from '../../components/useLoad.ts'
import { useTitle } from '../../components/useTitle.ts'
import { backup, type Invited, type ReplicaView } from './api.ts'
import { InviteCode, InviteForm } from './Invite.tsx'
import { ReplicaCard } from './ReplicaCard.tsx'
import { Recovery } from './Recovery.tsx'
import { unsettled } from './words.ts'
import './backup.css'

/**
 * While a replica pairs or catches up, the page looks again this often. Each look is an audited
 * request, so a page left open on settled replicas does not keep asking.
 */
const FOLLOW_MS = 2000

export default function BackupPage() {
  useTitle('Backup')
  const replicas = useLoad((signal) => backup.replicas(signal), [])
  const settings = useLoad((signal) => api.settings(signal), [])
  const [invited, setInvited] = useState<Invited | null>(null)
  const [news, setNews] = useState<string | null>(null)
  const [removing, setRemoving] = useState<ReplicaView | null>(null)
  const removal = useAction()

  // Following lasts from the first unsettled answer to the first settled one, through the looks in between.
  const following = replicas.data !== undefined && unsettled(replicas.data.replicas)
  useEffect(() => {
    if (!following || replicas.loading) return
    const timer = setTimeout(replicas.reload, FOLLOW_MS)
    return () => clearTimeout(timer)
  }, [following, replicas.loading, replicas.data])

  const remove = () => removal.run(async () => {
    if (!removing) return
    await backup.remove(removing.id)
    setNews(`Removed ${removing.name}: it is disconnected and refused from now on. What it held stays encrypted; its operator can delete it with coffer replicator remove.`)
    if (invited?.replica.id === removing.id) setInvited(null)
    setRemoving(null)
    replicas.reload()
  })

  const list = replicas.data?.replicas
  const flagged = list?.filter((r) => r.stale).length ?? 0
  return (
    <>
      <h1>Backup</h1>
      <p>
        Your box keeps every source and its audit log as signed, encrypted logs. Replicas hold copies of those logs — a friend’s machine,
        a co-op’s device — without being able to read them, so that if this machine is lost, your 24 words and any replica bring every record back.
      </p>
      {news && <StatusNotice>{news}</StatusNotice>}

      <section aria-labelledby="replicas-heading">
        <div className="section-head">
          <h2 id="replicas-heading">Replicas</h2>
          <button type="button" onClick={replicas.reload}>Refresh</button>
        </div>
        <ErrorNotice error={replicas.error} />
        {replicas.data && <p>This box’s key on the backup network: <code className="identity">{replicas.data.boxKey}</code></p>}
        {list?.length === 0 && <p>No replica holds a copy of your data yet: invite one below.</p>}
        {flagged > 0 && <p className="notice error">{flagged === 1 ? '1 replica needs' : `${flagged} replicas need`} attention.</p>}
        {following && <p className="muted" role="status">Following: this page updates while a replica pairs or catches up.</p>}
        <ul className="cards replicas">
          {list?.map((r) => (
            <ReplicaCard key={r.id} replica={r} timeZone={settings.data?.timeZone} onNews={setNews} onChanged={replicas.reload} onRemove={setRemoving} />
          ))}
        </ul>
        <ConfirmDialog open={removing !== null} title={`Remove ${removing?.name ?? 'the replica'}?`} confirm="Remove" onConfirm={() => void remove()} onCancel={() => setRemoving(null)} busy={removal.busy}>
          <p>Its connection drops at once and it is refused from then on. It no longer counts as a copy of your data; you can invite it again later.</p>
          {removal.error && <p role="alert" className="notice error">{removal.error}</p>}
        </ConfirmDialog>
      </section>

      <section aria-labelledby="add-heading">
        <h2 id="add-heading">Add a replica</h2>
        {invited && <InviteCode invited={invited} onDone={() => setInvited(null)} />}
        <InviteForm onInvited={(made) => { setInvited(made); setNews(null); replicas.reload() }} />
      </section>

      <section aria-labelledby="recovery-heading">
        <h2 id="recovery-heading">Recovery</h2>
        <Recovery />
      </section>
    </>
  )
}
