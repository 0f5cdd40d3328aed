import { useState } from 'react'
import { api, message, type QueryWithParticipation } from '../../api/client.ts'
import { decimal, dateTime } from '../../components/format.ts'

type Json = null | boolean | number | string | Json[] | { [key: string]: Json }

/**
 * A query's result: its state, and every figure in it with the parameters it was made with,
 * as the market sends it; then the downloads. Until the market has a result, says so and when
 * to expect one.
 */
export function ResultView({ query, result, error, loading }: { query: QueryWithParticipation; result: unknown; error: unknown; loading: boolean }) {
  if (loading) return <p role="status">Looking for a result…</p>
  if (error) return <p role="alert" className="notice error">{message(error)}</p>
  if (result === null || result === undefined) {
    const { min } = query.spec.participants
    return (
      <p className="notice" id="no-result">
        No result yet. {query.status === 'cancelled'
          ? 'This query was withdrawn, so none will be released.'
          : `The market gathers the answers at the deadline, ${dateTime(query.spec.deadline)}, and releases a result only if at least ${min} boxes took part.`}
      </p>
    )
  }
  const body = result as Json
  const state = isObject(body) && typeof body.state === 'string' ? body.state : undefined
  const rows = flatten(body)
  return (
    <>
      {state && <p>State: <span className="state">{state}</span></p>}
      <div className="table-wrap">
        <table className="result">
          <caption className="visually-hidden">Every figure of the result, with its parameters</caption>
          <thead><tr><th scope="col">Field</th><th scope="col">Value</th></tr></thead>
          <tbody>
            {rows.map(([path, value]) => (
              <tr key={path}><th scope="row"><code>{path}</code></th><td>{typeof value === 'number' ? decimal(value) : String(value)}</td></tr>
            ))}
          </tbody>
        </table>
      </div>
      <Downloads query={query} />
    </>
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
      <p className="hint">Both files hold the figures with the parameters used (bounds, ε per privacy class, participants) and the error to expect.</p>
      {error && <p role="alert" className="notice error">{error}</p>}
    </>
  )
}
