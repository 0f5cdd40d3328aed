import { useState } from 'react'
import { api, message, type QueryWithParticipation } from '../../api/client.ts'
import type { QueryResult } from '@coffer/market'
import { decimal, dateTime, sats } from '../../components/format.ts'

type Json = null | boolean | number | string | Json[] | { [key: string]: Json }

type Interval = [number, number]
type Dataset = NonNullable<QueryResult['dataset']>

/** The most rows the page shows; the downloads hold them all. */
const SHOWN_ROWS = 200

const LEVELS = ['low', 'medium', 'high'] as const

/**
 * A query's result: its state and who took part per privacy class; once released, the merged
 * value with its standard deviation and 95 % interval, each class's value with its ε and error
 * bars, the parameters used, and the downloads. Until then, says so and when to expect one.
 */
export function ResultView({ query, result, error, loading }: { query: QueryWithParticipation; result: unknown; error: unknown; loading: boolean }) {
  if (loading) return <p role="status">Looking for a result…</p>
  if (error) return <p role="alert" className="notice error">{message(error)}</p>
  const r = isObject(result as Json) ? result as QueryResult : undefined
  const { min } = query.spec.participants
  if (!r || r.state === 'pending' || r.state === 'cancelled' || r.state === 'not_enough') {
    const why = r?.state === 'cancelled' || query.status === 'cancelled' ? 'This query was withdrawn, so none will be released.'
      : r?.state === 'not_enough' ? `Fewer than ${r.minimum ?? min} boxes took part by the deadline, so nothing is released.`
        : `The market gathers the answers at the deadline, ${dateTime(query.spec.deadline)}, and releases a result only if at least ${min} boxes took part.`
    return (
      <>
        <p className="notice" id="no-result">No result yet. {why}{r?.message ? ` ${r.message}` : ''}</p>
        {r?.participants && <Participants participants={r.participants} label="Answers so far" />}
        {r?.payment && <Payment payment={r.payment} />}
      </>
    )
  }
  if (r.state === 'released' && r.dataset) return <DatasetView query={query} result={r} dataset={r.dataset} />
  if (r.state !== 'released' || r.value === undefined) return <Fields value={result as Json} />
  const buckets = r.statistic?.buckets
  const values = Array.isArray(r.value) ? r.value : [r.value]
  const intervals = (Array.isArray(r.interval95?.[0]) ? r.interval95 : [r.interval95]) as (Interval | undefined)[]
  return (
    <>
      <p>Released {r.releasedAt ? dateTime(r.releasedAt) : ''}: the {r.statistic?.kind ?? 'value'}{r.statistic?.attribute ? <> of <code>{r.statistic.attribute}</code></> : null}{r.matched !== undefined ? `, over about ${decimal(r.matched)} who matched (a noised count)` : ''}.</p>
      <div className="table-wrap">
        <table className="result">
          <caption>The merged result, with the error to expect</caption>
          <thead><tr>{buckets && <th scope="col">Bucket</th>}<th scope="col">Value</th><th scope="col">Standard deviation</th><th scope="col">95 % interval</th></tr></thead>
          <tbody>
            {values.map((v, i) => (
              <tr key={i}>
                {buckets && <th scope="row">{bucketWords(buckets[i])}</th>}
                <td>{decimal(v)}</td>
                <td>{r.standardDeviation === undefined ? '—' : `± ${decimal(r.standardDeviation)}`}</td>
                <td>{intervals[i] ? `${decimal(intervals[i][0])} to ${decimal(intervals[i][1])}` : '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {r.participants && <Participants participants={r.participants} label="Participants" />}
      {r.payment && <Payment payment={r.payment} />}
      {r.classes && r.classes.length > 0 && (
        <div className="table-wrap">
          <table>
            <caption>Each privacy class, noised at its own ε</caption>
            <thead><tr><th scope="col">Class</th><th scope="col">ε</th><th scope="col">Reports</th><th scope="col">Value</th><th scope="col">Standard deviation</th><th scope="col">95 % half-width</th></tr></thead>
            <tbody>
              {r.classes.map((c) => (
                <tr key={c.level}>
                  <th scope="row">{c.level}</th><td>{c.epsilon}</td><td>{c.reports}</td>
                  <td>{Array.isArray(c.value) ? c.value.map(decimal).join(', ') : decimal(c.value)}</td>
                  <td>± {decimal(c.standardDeviation)}</td><td>± {decimal(c.halfWidth95)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {r.parameters && (
        <>
          <h3>Parameters</h3>
          <Fields value={{ ...(r.statistic?.bounds ? { bounds: r.statistic.bounds } : {}), ...r.parameters }} />
        </>
      )}
      <Downloads query={query} />
    </>
  )
}

/** A released dataset: its equivalence classes, what was suppressed, and the rows (the first few hundred; the downloads hold all). */
function DatasetView({ query, result, dataset }: { query: QueryWithParticipation; result: QueryResult; dataset: Dataset }) {
  const shown = dataset.rows.slice(0, SHOWN_ROWS)
  return (
    <>
      <p>Released {result.releasedAt ? dateTime(result.releasedAt) : ''}: {dataset.rows.length} {dataset.rows.length === 1 ? 'record' : 'records'} in {dataset.classes.length} {dataset.classes.length === 1 ? 'class' : 'classes'}. {dataset.suppressed} suppressed (in a class smaller than k or less diverse than l, or from a box that did not match: the two look the same){dataset.rejected > 0 ? `; ${dataset.rejected} rejected as forged` : ''}.</p>
      {result.participants && <Participants participants={result.participants} label="Participants" />}
      {result.payment && <Payment payment={result.payment} />}
      <div className="table-wrap">
        <table>
          <caption>Each released class: records alike in every column that is not sensitive</caption>
          <thead><tr><th scope="col">Class</th><th scope="col">k</th><th scope="col">l</th><th scope="col">Records</th><th scope="col">Shared values</th></tr></thead>
          <tbody>
            {dataset.classes.map((c, i) => (
              <tr key={i}><th scope="row">{c.level}</th><td>{c.k}</td><td>{c.l}</td><td>{c.records}</td><td>{c.values.map(cellText).join(', ')}</td></tr>
            ))}
          </tbody>
        </table>
      </div>
      {shown.length > 0 && (
        <div className="table-wrap">
          <table className="result">
            <caption>{shown.length < dataset.rows.length ? `The first ${shown.length} of ${dataset.rows.length} records, in random order` : 'The records, in random order'}</caption>
            <thead><tr>{dataset.columns.map((c) => <th scope="col" key={c.name}><code>{c.name}</code></th>)}</tr></thead>
            <tbody>
              {shown.map((row, i) => <tr key={i}>{row.map((v, j) => <td key={j}>{cellText(v)}</td>)}</tr>)}
            </tbody>
          </table>
        </div>
      )}
      {result.parameters && (
        <>
          <h3>Parameters</h3>
          <Fields value={result.parameters as Json} />
        </>
      )}
      <Downloads query={query} />
    </>
  )
}

function cellText(v: string | number | boolean | null): string {
  return v === null ? '—' : typeof v === 'number' ? decimal(v) : String(v)
}

function bucketWords(bucket: { from: number | null; to: number | null } | undefined): string {
  if (!bucket) return '—'
  if (bucket.from === null) return `below ${bucket.to}`
  if (bucket.to === null) return `${bucket.from} and above`
  return `${bucket.from} to ${bucket.to}`
}

/** What the query cost once it ended: the owners paid out of its escrow, and what came back to the balance. */
function Payment({ payment }: { payment: NonNullable<QueryResult['payment']> }) {
  return <p>What it cost: {sats(payment.paid)} to {payment.owners} {payment.owners === 1 ? 'owner' : 'owners'} whose answers were counted; {sats(payment.refunded)} of the escrow came back to your balance.</p>
}

function Participants({ participants, label }: { participants: NonNullable<QueryResult['participants']>; label: string }) {
  const byClass = LEVELS.filter((l) => participants[l] !== undefined).map((l) => `${participants[l]} at ${l}`)
  return <p>{label}: {participants.total}{byClass.length ? ` (${byClass.join(', ')})` : ''}.</p>
}

/** Every other field as the market sent it, with its path: nothing of the result is hidden. */
function Fields({ value }: { value: Json }) {
  return (
    <div className="table-wrap">
      <table>
        <thead><tr><th scope="col">Field</th><th scope="col">Value</th></tr></thead>
        <tbody>
          {flatten(value).map(([path, v]) => (
            <tr key={path}><th scope="row"><code>{path}</code></th><td>{typeof v === 'number' ? decimal(v) : String(v)}</td></tr>
          ))}
        </tbody>
      </table>
    </div>
  )
}

function isObject(v: Json): v is { [key: string]: Json } {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** Every leaf with its path (`classes.0.epsilon`), in the market's order: nothing of the result is hidden. */
function flatten(value: Json, prefix = ''): [string, Json][] {
  if (Array.isArray(value)) return value.length === 0 ? [[prefix, '(none)']] : value.flatMap((v, i) => flatten(v, prefix ? `${prefix}.${i}` : String(i)))
  if (isObject(value)) {
    const entries = Object.entries(value)
    return entries.length === 0 ? [[prefix, '(none)']] : entries.flatMap(([k, v]) => flatten(v, prefix ? `${prefix}.${k}` : k))
  }
  return [[prefix || 'value', value]]
}

/** Downloads made in the page: the result needs the API key, which a plain link could not send. */
function Downloads({ query }: { query: QueryWithParticipation }) {
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  async function download(format: 'json' | 'csv') {
    setBusy(true)
    setError(null)
    try {
      const blob = await api.resultFile(query.id, format)
      const url = URL.createObjectURL(blob)
      const a = document.createElement('a')
      a.href = url
      a.download = `coffer-query-${query.seq}-result.${format}`
      document.body.append(a)
      a.click()
      a.remove()
      setTimeout(() => URL.revokeObjectURL(url), 10_000)
    } catch (err) {
      setError(`The download failed: ${message(err)}`)
    } finally {
      setBusy(false)
    }
  }
  return (
    <>
      <div className="actions">
        <button type="button" disabled={busy} onClick={() => void download('json')}>Download JSON</button>
        <button type="button" disabled={busy} onClick={() => void download('csv')}>Download CSV</button>
      </div>
      <p className="hint">{query.spec.answer === 'dataset'
        ? 'The JSON file holds the records with their classes, what was suppressed and the parameters used (k and l per privacy class); the CSV file, one row per record.'
        : 'Both files hold the figures with the parameters used (bounds, ε per privacy class, participants) and the error to expect.'}</p>
      {error && <p role="alert" className="notice error">{error}</p>}
    </>
  )
}
