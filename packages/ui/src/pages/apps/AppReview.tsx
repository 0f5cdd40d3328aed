/**
 * The permission review: what the app asks for in plain words, and controls that can only
 * narrow it — coarser detail, a shorter window, fewer sources, refusing what is optional,
 * and for each destination whether to send by itself, ask each time, or never.
 */
import { useState, type FormEvent } from 'react'
import { api, message } from '../../api/client.ts'
import type { Consent, ConsentInput, ExportPolicy, Review } from '@coffer/box'
import { askedOption, detailChoices, windowChoices, DETAIL, WINDOW } from './options.ts'

interface ReadAnswer { refuse: boolean; granularity: string; window: string; sources: string[] }

const POLICIES: { value: ExportPolicy; label: string }[] = [
  { value: 'ask', label: 'Ask me each time' },
  { value: 'auto', label: 'Send without asking' },
  { value: 'deny', label: 'Never send' },
]

/** `current`: the grant in force, when the owner is changing it rather than answering for the first time. */
export function AppReview({ review, current, onGranted, onCancel }: { review: Review; current?: Consent; onGranted: () => void; onCancel: () => void }) {
  const [reads, setReads] = useState<Record<string, ReadAnswer>>(() => Object.fromEntries(review.reads.map((r) => {
    const given = current?.sources.find((s) => s.request === r.request)
    return [r.request, {
      refuse: current !== undefined && given === undefined,
      granularity: (given && DETAIL.find((d) => d.seconds === given.granularity)?.value) ?? askedOption(DETAIL, r.granularity, r.detail).value,
      window: (given && WINDOW.find((w) => w.seconds === given.window)?.value) ?? askedOption(WINDOW, r.window, r.period).value,
      sources: given?.sources ?? r.matches,
    }]
  })))
  const [exports, setExports] = useState<Record<string, ExportPolicy>>(() => Object.fromEntries(review.exports.map((e) => [e.id, current?.exports[e.id] ?? 'ask'])))
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  const app = review.app
  const update = (request: string, change: Partial<ReadAnswer>) => setReads({ ...reads, [request]: { ...reads[request]!, ...change } })

  async function grant(e: FormEvent) {
    e.preventDefault()
    setBusy(true)
    setError(null)
    const consent: ConsentInput = { sources: {}, exports }
    for (const r of review.reads) {
      const a = reads[r.request]!
      consent.sources![r.request] = a.refuse ? { refuse: true } : {
        sources: a.sources,
        ...(a.granularity ? { granularity: a.granularity } : {}),
        ...(a.window ? { window: a.window } : {}),
      }
    }
    try {
      await api.grant(app.id, consent)
      onGranted()
    } catch (err) {
      setError(message(err))
      setBusy(false)
    }
  }

  return (
    <form className="review" onSubmit={grant} aria-labelledby="review-heading">
      <h2 id="review-heading">{current ? `Change what ${app.name} may do` : `${app.name} asks for your permission`}</h2>
      <p className="muted">Version {app.version}, by {app.author}.</p>
      <div className="review-text">{review.text.map((line, i) => <p key={i}>{line}</p>)}</div>

      {review.reads.length > 0 && <h3>What it may read</h3>}
      {review.reads.map((r) => {
        const a = reads[r.request]!
        const detail = detailChoices(r.granularity)
        const windows = windowChoices(r.window)
        const id = `req-${r.request}`
        return (
          <fieldset key={r.request} className="request">
            <legend>{r.summary.split('. Why:')[0]}</legend>
            <p><strong>Why:</strong> {r.justification}</p>
            {!r.required && (
              <p><label><input type="checkbox" checked={a.refuse} onChange={(e) => update(r.request, { refuse: e.target.checked })} /> Refuse this (it is optional)</label></p>
            )}
            {r.matches.length === 0 && <p className="notice">You have no such source yet; the app will see nothing here until you do.</p>}
            {!a.refuse && (
              <div className="choices">
                {r.matches.length > 1 && (
                  <fieldset>
                    <legend>From which sources</legend>
                    {r.matches.map((s) => (
                      <label key={s}><input type="checkbox" checked={a.sources.includes(s)} onChange={(e) => update(r.request, { sources: e.target.checked ? [...a.sources, s] : a.sources.filter((x) => x !== s) })} /> {s}</label>
                    ))}
                  </fieldset>
                )}
                <div>
                  <label htmlFor={`${id}-detail`}>At what detail</label>
                  <select id={`${id}-detail`} value={a.granularity} onChange={(e) => update(r.request, { granularity: e.target.value })}>
                    {!DETAIL.some((d) => d.seconds === r.granularity) && <option value="">{r.detail} (as asked)</option>}
                    {detail.map((d) => <option key={d.value} value={d.value}>{d.label}{d.seconds === r.granularity ? ' (as asked)' : ''}</option>)}
                  </select>
                </div>
                <div>
                  <label htmlFor={`${id}-window`}>How far back</label>
                  <select id={`${id}-window`} value={a.window} onChange={(e) => update(r.request, { window: e.target.value })}>
                    {!WINDOW.some((w) => w.seconds === r.window) && <option value="">{r.period} (as asked)</option>}
                    {windows.map((w) => <option key={w.value} value={w.value}>{w.label}{w.seconds === r.window ? ' (as asked)' : ''}</option>)}
                  </select>
                </div>
              </div>
            )}
          </fieldset>
        )
      })}

      {review.exports.length > 0 && <h3>Where it may send data</h3>}
      {review.exports.length === 0 && <p><strong>It cannot send anything out of the box.</strong></p>}
      {review.exports.map((e) => (
        <fieldset key={e.id} className="request">
          <legend>To {e.host}: {e.sends}</legend>
          <p>{e.summary}</p>
          <div className="radios">
            {POLICIES.map((p) => (
              <label key={p.value}>
                <input type="radio" name={`export-${e.id}`} value={p.value} checked={exports[e.id] === p.value} onChange={() => setExports({ ...exports, [e.id]: p.value })} /> {p.label}
              </label>
            ))}
          </div>
        </fieldset>
      ))}

      {error && <p role="alert" className="notice error">{error}</p>}
      <div className="actions">
        <button type="submit" disabled={busy}>{busy ? 'Granting…' : 'Grant as chosen'}</button>
        <button type="button" onClick={onCancel}>Not now</button>
      </div>
    </form>
  )
}
