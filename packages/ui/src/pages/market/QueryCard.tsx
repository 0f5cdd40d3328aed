import { useState } from 'react'
import { formatTime } from '../../components/format.ts'
import { StatusNotice } from '../../components/Notice.tsx'
import { useAction } from '../../components/useAction.ts'
import { market, type PrivacyLevels, type QueryDetail } from './api.ts'
import { capitalised, earnedWords, outcome, protection, retentionWords, stateWords, whatLeaves } from './words.ts'

/** One query as the owner decides it: who asks, why, what would leave, how it is protected, what it pays. */
export function QueryCard({ query, levels, onChanged }: { query: QueryDetail; levels: PrivacyLevels; onChanged: () => void }) {
  const { busy, error, run } = useAction()
  const [news, setNews] = useState<string | null>(null)
  const { processor, spec, deadline } = query.published
  const headingId = `query-${query.market}-${query.id}`
  const closes = Date.parse(deadline) / 1000
  const earned = earnedWords(query)

  const decide = (accept: boolean) => run(async () => {
    setNews(null)
    const decided = accept ? await market.accept(query.id) : await market.decline(query.id)
    setNews(accept ? outcome(decided) : 'Declined: your box will not answer it.')
    onChanged()
  })

  return (
    <li className="card" aria-labelledby={headingId}>
      <h3 id={headingId}>{capitalised(query.description)}.</h3>
      <p className="muted">
        Query {query.id} on {query.market} · <span className={`state state-${query.state}`}>{stateWords(query)}</span>
      </p>
      <dl className="facts query-facts">
        <div><dt>Who asks</dt><dd>{processor.name}{processor.contact ? ` <${processor.contact}>` : ''}</dd></div>
        <div><dt>Why</dt><dd>{spec.purpose}</dd></div>
        <div><dt>What leaves</dt><dd>{whatLeaves(query)}</dd></div>
        <div><dt>How it is protected</dt><dd>{protection(query, levels)}</dd></div>
        <div><dt>What it pays</dt><dd>{spec.price.amount.toLocaleString('en')} sat to each participant</dd></div>
        {earned !== null && <div><dt>Earned</dt><dd>{earned}</dd></div>}
        <div><dt>Closes</dt><dd>{formatTime(closes)}</dd></div>
        <div><dt>Participants</dt><dd>at least {spec.participants.min.toLocaleString('en')}, at most {spec.participants.max.toLocaleString('en')}; fewer by the deadline and nothing is released</dd></div>
        <div><dt>Kept by the processor</dt><dd>{retentionWords(spec.retention)}</dd></div>
      </dl>
      {query.published.text && (
        <details>
          <summary>The query as the processor wrote it</summary>
          <pre className="preview">{query.published.text}</pre>
        </details>
      )}
      {query.state === 'waiting' && (
        <div className="actions">
          <button type="button" onClick={() => decide(true)} disabled={busy} aria-describedby={headingId}>Accept</button>
          <button type="button" className="danger" onClick={() => decide(false)} disabled={busy} aria-describedby={headingId}>Decline</button>
        </div>
      )}
      {news && <StatusNotice>{news}</StatusNotice>}
      {error && <p role="alert" className="notice error">{error}</p>}
    </li>
  )
}

