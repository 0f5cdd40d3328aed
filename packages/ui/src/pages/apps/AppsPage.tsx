import { lazy, Suspense, useState, type FormEvent } from 'react'
import { api } from '../../api/client.ts'
import type { AppInfo, Consent, Review } from '@coffer/box'
import { ConfirmDialog } from '../../components/ConfirmDialog.tsx'
import { formatTime } from '../../components/format.ts'
import { ErrorNotice, StatusNotice } from '../../components/Notice.tsx'
import { useAction } from '../../components/useAction.ts'
import { useLoad } from '../../components/useLoad.ts'
import { useTitle } from '../../components/useTitle.ts'
import { AppReview } from './AppReview.tsx'
import { DETAIL, WINDOW } from './options.ts'
import { describeDuration } from '../../../../box/src/duration/index.ts'

const AppViews = lazy(() => import('./AppViews.tsx'))

export default function AppsPage() {
  useTitle('Apps')
  const apps = useLoad((signal) => api.apps(signal), [])
  const [review, setReview] = useState<{ review: Review; current?: Consent } | null>(null)
  const [news, setNews] = useState<string | null>(null)

  const granted = () => {
    setNews(`${review?.review.app.name ?? 'The app'} may now run with what you granted.`)
    setReview(null)
    apps.reload()
  }

  return (
    <>
      <h1>Apps</h1>
      <p>Apps run inside the box. They read only what you grant, at the detail you grant, and send data out only where you allow.</p>
      {news && <StatusNotice>{news}</StatusNotice>}
      {review
        ? <AppReview key={review.review.app.id} review={review.review} current={review.current} onGranted={granted} onCancel={() => { setReview(null); apps.reload() }} />
        : <Install onInstalled={(r) => { setNews(null); setReview({ review: r }); apps.reload() }} />}
      <section aria-labelledby="installed-heading">
        <h2 id="installed-heading">Installed</h2>
        <ErrorNotice error={apps.error} />
        {apps.data?.length === 0 && <p>No apps yet.</p>}
        <ul className="cards apps">
          {apps.data?.map((app) => <AppCard key={app.id} app={app} onReview={setReview} onChanged={apps.reload} />)}
        </ul>
      </section>
    </>
  )
}

function Install({ onInstalled }: { onInstalled: (review: Review) => void }) {
  const [file, setFile] = useState<File | null>(null)
  const { busy, error, setError, run } = useAction()
  function install(e: FormEvent) {
    e.preventDefault()
    if (!file) {
      setError('Choose the app file first (a .tar.gz).')
      return
    }
    void run(async () => onInstalled((await api.installApp(file)).review))
  }
  return (
    <section aria-labelledby="install-heading">
      <h2 id="install-heading">Install an app</h2>
      <form onSubmit={install} className="inline-form" noValidate>
        <div>
          <label htmlFor="app-file">App file (.tar.gz)</label>
          <input id="app-file" type="file" accept=".tar.gz,.tgz,application/gzip" onChange={(e) => setFile(e.target.files?.[0] ?? null)} />
        </div>
        <button type="submit" disabled={busy}>{busy ? 'Reading…' : 'Review and install'}</button>
      </form>
      <p className="muted">Nothing runs until you have read what it asks for and granted it.</p>
      {error && <p role="alert" className="notice error">{error}</p>}
    </section>
  )
}

function label(list: { seconds: number; label: string }[], seconds: number, fallback: string) {
  return list.find((o) => o.seconds === seconds)?.label ?? fallback
}

function AppCard({ app, onReview, onChanged }: { app: AppInfo; onReview: (r: { review: Review; current?: Consent }) => void; onChanged: () => void }) {
  const [showViews, setShowViews] = useState(false)
  const [confirmRevoke, setConfirmRevoke] = useState(false)
  const action = useAction()
  const { busy, error } = action
  const [news, setNews] = useState<string | null>(null)
  const headingId = `app-${app.id}`

  const act = (what: () => Promise<string>) => action.run(async () => {
    setNews(null)
    setNews(await what())
    onChanged()
  })
  const run = () => act(async () => {
    const result = await api.run(app.id)
    setShowViews(false)
    return result.ok ? 'It ran.' : `It stopped: ${result.error ?? 'unknown error'}`
  })
  const revoke = () => act(async () => {
    await api.revoke(app.id)
    setConfirmRevoke(false)
    setShowViews(false)
    return `${app.name} can no longer read anything or send anything out.`
  })
  const review = () => act(async () => {
    onReview({ review: await api.review(app.id) })
    return ''
  })
  const change = () => act(async () => {
    onReview({ review: await api.review(app.id), current: app.consent ?? undefined })
    return ''
  })

  return (
    <li className="card" aria-labelledby={headingId}>
      <h3 id={headingId}>{app.name}</h3>
      <p className="muted">{app.id} {app.version} · <span className={`state state-${app.state}`}>{STATE[app.state]}</span>{app.update !== null ? ' · an update waits for your consent' : ''}</p>
      {app.state === 'active' && app.consent && (
        <ul className="granted">
          {app.consent.sources.map((s) => (
            <li key={s.request}>Reads {s.sources.join(', ') || 'nothing yet'} as {label(DETAIL, s.granularity, `totals and averages per ${describeDuration(s.granularity)}`)}, from {label(WINDOW, s.window, `the last ${describeDuration(s.window)}`)}</li>
          ))}
          {Object.entries(app.consent.exports).map(([id, policy]) => <li key={id}>Export “{id}”: {POLICY[policy]}</li>)}
        </ul>
      )}
      {app.lastRun && <p className="muted">Last run {formatTime(app.lastRun.startedAt)}: {app.lastRun.ok ? 'fine' : `stopped (${app.lastRun.error ?? 'error'})`}</p>}
      <div className="actions">
        {(app.state !== 'active' || app.update !== null) && <button type="button" onClick={review} disabled={busy}>Review and grant</button>}
        {app.state === 'active' && <button type="button" onClick={run} disabled={busy}>Run now</button>}
        {app.state === 'active' && app.update === null && <button type="button" onClick={change} disabled={busy}>Change what it may do</button>}
        {app.state === 'active' && <button type="button" onClick={() => setShowViews(!showViews)} aria-expanded={showViews}>{showViews ? 'Hide views' : 'Show views'}</button>}
        {app.state === 'active' && <button type="button" className="danger" onClick={() => setConfirmRevoke(true)} disabled={busy}>Revoke…</button>}
      </div>
      {news && <StatusNotice>{news}</StatusNotice>}
      {error && <p role="alert" className="notice error">{error}</p>}
      {showViews && <Suspense fallback={<p role="status">Loading the chart library…</p>}><AppViews app={app.id} /></Suspense>}
      <ConfirmDialog open={confirmRevoke} title={`Revoke ${app.name}?`} confirm="Revoke" onConfirm={revoke} onCancel={() => setConfirmRevoke(false)} busy={busy}>
        <p>It stops at once and can no longer read your data or send anything out. Its own results stay in the box. You can grant it again later.</p>
      </ConfirmDialog>
    </li>
  )
}

const STATE: Record<AppInfo['state'], string> = { pending: 'waiting for your consent', active: 'granted', revoked: 'revoked' }
const POLICY = { auto: 'sent without asking', ask: 'asks you each time', deny: 'never sent' }
