import { useEffect, useState } from 'react'
import { describeQuery } from '@coffer/market/protocol'
import { api, message, type QueryWithParticipation } from '../../api/client.ts'
import { Link } from '../../router.tsx'
import { ErrorNotice } from '../../components/Notice.tsx'
import { useLoad } from '../../components/useLoad.ts'
import { useTitle } from '../../components/useTitle.ts'
import { ANSWER_WORDS, count, dateTime, retention, sats } from '../../components/format.ts'
import { PrivacyLevels } from '../../components/Privacy.tsx'
import { logicalTypes } from '../../components/spec.ts'
import { participationWords } from '../queries/QueriesPage.tsx'
import { ResultView } from './ResultView.tsx'

/** How often an open query's page looks again at its participation and result. */
const FOLLOW_MS = 10_000

export function QueryPage({ id }: { id: string }) {
  const loaded = useLoad((signal) => api.get(id, signal), [id])
  const vocabulary = useLoad((signal) => api.vocabulary(signal), [])
  const privacy = useLoad((signal) => api.privacy(signal), [])
  const result = useLoad((signal) => api.result(id, signal), [id])
  const q = loaded.data
  useTitle(q ? `Query #${q.seq}` : 'Query')

  // Following: participation and the result are asked for again while the page is open.
  const { reload } = loaded
  const reloadResult = result.reload
  useEffect(() => {
    const timer = setInterval(() => {
      if (document.visibilityState !== 'visible') return
      reload()
      reloadResult()
    }, FOLLOW_MS)
    return () => clearInterval(timer)
  }, [reload, reloadResult])

  if (!q) {
    return (
      <>
        <h1>Query</h1>
        <ErrorNotice error={loaded.error} />
        {loaded.error ? <p><Link to="/queries">Back to your queries</Link></p> : <p role="status">Loading…</p>}
      </>
    )
  }

  let plain: string | undefined
  try {
    plain = vocabulary.data ? describeQuery(q.query, vocabulary.data) : undefined
  } catch {
    plain = undefined
  }
  const { spec } = q
  return (
    <>
      <p className="crumbs"><Link to="/queries">Your queries</Link></p>
      <h1>Query #{q.seq}</h1>
      <p className="canonical"><code>{q.text}</code></p>
      {plain && <p className="plain">Owners read: “{plain}”</p>}
      <dl className="facts">
        <div><dt>State</dt><dd><span className={`state state-${q.status}`}>{q.status}</span>{q.endedAt ? ` since ${dateTime(q.endedAt)}` : ''}</dd></div>
        <div><dt>Posted</dt><dd>{dateTime(q.postedAt)}</dd></div>
        <div><dt>Deadline</dt><dd>{dateTime(spec.deadline)}</dd></div>
        <div><dt>Price</dt><dd>{sats(spec.price.amount)} each; at most {sats(spec.price.amount * spec.participants.max)}</dd></div>
        <div><dt>Participants</dt><dd>{count(spec.participants.min)} to {count(spec.participants.max)}</dd></div>
        <div><dt>Answer</dt><dd>{ANSWER_WORDS[spec.answer]}, kept for {retention(spec.retention)}</dd></div>
      </dl>
      <p><strong>Purpose:</strong> {spec.purpose}</p>
      {Object.keys(spec.bounds).length > 0 && (
        <p><strong>Declared bounds:</strong> {Object.entries(spec.bounds).map(([name, b]) => `${name} from ${b.lo} to ${b.hi}`).join('; ')}</p>
      )}

      <h2>Participation</h2>
      <Participation query={q} />
      <ErrorNotice error={loaded.error} />

      <h2>Result</h2>
      <ResultView query={q} result={result.data} error={result.error} loading={result.loading && result.data === undefined} />

      <h2>Privacy</h2>
      <PrivacyLevels table={privacy.error ? null : privacy.data} types={logicalTypes(q.query)} answer={spec.answer} />

      {q.status === 'open' && <End query={q} onEnded={reload} />}
    </>
  )
}

function Participation({ query }: { query: QueryWithParticipation }) {
  const p = query.participation
  const { min, max } = query.spec.participants
  const taking = p.accepted + p.answered
  return (
    <>
      <p>{participationWords(p, max)}.</p>
      <label htmlFor="participation-progress">Towards the fewest needed ({count(min)})</label>
      <progress id="participation-progress" max={min} value={Math.min(taking, min)}>{count(taking)} of {count(min)}</progress>
      <p className="hint">{taking >= min ? 'Enough boxes take part for a result to be released at the deadline.' : `${count(min - taking)} more needed by the deadline, or nothing is released.`} This page looks again every {FOLLOW_MS / 1000} seconds.</p>
    </>
  )
}

/** Closing stops new participants; cancelling withdraws the query. Each asks once more before it acts, since neither can be undone. */
function End({ query, onEnded }: { query: QueryWithParticipation; onEnded: () => void }) {
  const [asking, setAsking] = useState<'close' | 'cancel' | null>(null)
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)
  async function act(what: 'close' | 'cancel') {
    setBusy(true)
    setError(null)
    try {
      await (what === 'close' ? api.close(query.id) : api.cancel(query.id))
      setAsking(null)
      onEnded()
    } catch (err) {
      setError(message(err))
    } finally {
      setBusy(false)
    }
  }
  return (
    <section aria-labelledby="end-heading">
      <h2 id="end-heading">End it early</h2>
      {asking === null && (
        <div className="actions">
          <button type="button" onClick={() => setAsking('close')}>Close to new participants…</button>
          <button type="button" className="danger" onClick={() => setAsking('cancel')}>Withdraw the query…</button>
        </div>
      )}
      {asking && (
        <div className="confirm" role="group" aria-labelledby="end-question">
          <p id="end-question">{asking === 'close'
            ? 'Close it? No more boxes join after this.'
            : 'Withdraw it? Nothing will be released, and this cannot be undone.'}</p>
          <div className="actions">
            <button type="button" className={asking === 'cancel' ? 'danger' : 'primary'} disabled={busy} onClick={() => void act(asking)}>{asking === 'close' ? 'Close it' : 'Withdraw it'}</button>
            <button type="button" onClick={() => setAsking(null)}>Keep it open</button>
          </div>
        </div>
      )}
      {error && <p role="alert" className="notice error">{error}</p>}
    </section>
  )
}
