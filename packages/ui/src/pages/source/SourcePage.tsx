import { useEffect, useState } from 'react'
import { api, message } from '../../api/client.ts'
import type { SourceSummary } from '@coffer/box'
import { formatBytes, formatTime, fromLocalInput, recordValue, toLocalInput } from '../../components/format.ts'
import { ConfirmDialog } from '../../components/ConfirmDialog.tsx'
import { ErrorNotice, StatusNotice } from '../../components/Notice.tsx'
import { useLoad } from '../../components/useLoad.ts'
import { TableWrap } from '../../components/TableWrap.tsx'
import { useTitle } from '../../components/useTitle.ts'
import { Link } from '../../router.tsx'
import { TimePlot, type Range } from './TimePlot.tsx'
import { TrackView, trackSeries } from './TrackView.tsx'

const TABLE_ROWS = 20

export default function SourcePage({ id }: { id: string }) {
  useTitle(id)
  const [version, setVersion] = useState(0)
  const source = useLoad((signal) => api.source(id, signal), [id, version])
  return (
    <>
      <p><Link to="/">← Overview</Link></p>
      <h1>{id}</h1>
      <ErrorNotice error={source.error} />
      {source.loading && !source.data && <p role="status">Loading…</p>}
      {source.data && <SourceDetail source={source.data} onChanged={() => setVersion((v) => v + 1)} />}
    </>
  )
}

function SourceDetail({ source, onChanged }: { source: SourceSummary; onChanged: () => void }) {
  const numeric = source.series.filter((s) => s.type === 'number')
  const track = trackSeries(numeric.map((s) => s.name))
  const [name, setName] = useState(numeric[0]?.name)
  const full: Range | null = source.first !== null && source.last !== null ? { from: Math.floor(source.first), to: Math.floor(source.last) + 1 } : null
  const [range, setRange] = useState<Range | null>(full)
  const settings = useLoad((signal) => api.settings(signal), [])
  useEffect(() => { if (!range && full) setRange(full) }, [range, full])

  return (
    <>
      {source.description && <p>{source.description}</p>}
      <dl className="facts">
        <div><dt>Kind</dt><dd>{source.kind}{source.logicalType ? `, ${source.logicalType}` : ''}</dd></div>
        <div><dt>Points</dt><dd>{source.points.toLocaleString()}</dd></div>
        <div><dt>Size</dt><dd>{formatBytes(source.bytes)}</dd></div>
        <div><dt>From</dt><dd>{formatTime(source.first)}</dd></div>
        <div><dt>To</dt><dd>{formatTime(source.last)}</dd></div>
      </dl>
      {!full && <p>This source holds no records yet.</p>}
      {full && range && (
        <>
          <section aria-labelledby="plot-heading">
            <h2 id="plot-heading">Plot</h2>
            {numeric.length > 1 && (
              <p>
                <label htmlFor="series">Series </label>
                <select id="series" value={name} onChange={(e) => setName(e.target.value)}>
                  {numeric.map((s) => <option key={s.name} value={s.name}>{s.name}{s.unit ? ` (${s.unit})` : ''}</option>)}
                </select>
              </p>
            )}
            {name ? <TimePlot source={source.id} name={name} range={range} full={full} onRange={setRange} /> : <p>This source has no numeric series to plot.</p>}
          </section>
          {track && (
            <section aria-labelledby="track-heading">
              <h2 id="track-heading">Track</h2>
              <p className="muted">
                Positions averaged per bucket over the range shown in the plot; the green dot is the start, the red one the end, and numbered circles are places.
                {settings.data && !settings.data.map && <> To draw a map underneath, choose a tile server in <Link to="/settings">Settings</Link>.</>}
              </p>
              {settings.data && <TrackView source={source.id} lat={track.lat} lon={track.lon} range={range} map={settings.data.map} />}
              <ErrorNotice error={settings.error} />
            </section>
          )}
          <RecordTable source={source.id} range={range} />
          <DeleteRange source={source.id} range={range} onDeleted={onChanged} />
        </>
      )}
    </>
  )
}

function RecordTable({ source, range }: { source: string; range: Range }) {
  // The table follows the plot, but only once it has settled.
  const records = useLoad((signal) => api.records(source, { from: range.from, to: range.to, limit: TABLE_ROWS, order: 'desc' }, signal), [source, range.from, range.to], { delay: 250 })
  return (
    <section aria-labelledby="table-heading">
      <h2 id="table-heading">Values</h2>
      <p className="muted">The newest {TABLE_ROWS} records in the range shown above.</p>
      <ErrorNotice error={records.error} />
      <TableWrap label="Values">
        <table>
          <thead><tr><th scope="col">Time</th><th scope="col">Name</th><th scope="col">Value</th></tr></thead>
          <tbody>
            {records.data?.map((r, i) => (
              <tr key={`${r.t}-${r.n}-${i}`}><td>{formatTime(r.t)}</td><td>{r.n}</td><td>{recordValue(r)}</td></tr>
            ))}
            {records.data?.length === 0 && <tr><td colSpan={3}>No records in this range.</td></tr>}
          </tbody>
        </table>
      </TableWrap>
    </section>
  )
}

function DeleteRange({ source, range, onDeleted }: { source: string; range: Range; onDeleted: () => void }) {
  const [from, setFrom] = useState(toLocalInput(range.from))
  const [to, setTo] = useState(toLocalInput(range.to))
  const [asking, setAsking] = useState(false)
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const [done, setDone] = useState<string | null>(null)
  const fromT = fromLocalInput(from)
  const toT = fromLocalInput(to)

  function ask() {
    setDone(null)
    if (fromT === null || toT === null || toT <= fromT) {
      setError('Choose a start and an end, with the end after the start.')
      return
    }
    setError(null)
    setAsking(true)
  }
  async function remove() {
    if (fromT === null || toT === null) return
    setBusy(true)
    try {
      const result = await api.deleteRecords(source, fromT, toT)
      setDone(`Deleted ${result.deleted.toLocaleString()} records.`)
      setAsking(false)
      onDeleted()
    } catch (err) {
      setError(message(err))
      setAsking(false)
    } finally {
      setBusy(false)
    }
  }

  return (
    <section aria-labelledby="delete-heading">
      <h2 id="delete-heading">Delete a time range</h2>
      <form className="inline-form" onSubmit={(e) => { e.preventDefault(); ask() }} noValidate>
        <div>
          <label htmlFor="delete-from">From</label>
          <input id="delete-from" type="datetime-local" value={from} onChange={(e) => setFrom(e.target.value)} />
        </div>
        <div>
          <label htmlFor="delete-to">To (not included)</label>
          <input id="delete-to" type="datetime-local" value={to} onChange={(e) => setTo(e.target.value)} />
        </div>
        <button type="submit" className="danger">Delete…</button>
      </form>
      {error && <p role="alert" className="notice error">{error}</p>}
      {done && <StatusNotice>{done}</StatusNotice>}
      <ConfirmDialog open={asking} title="Delete these records?" confirm="Delete for good" onConfirm={remove} onCancel={() => setAsking(false)} busy={busy}>
        <p>
          Every record in <strong>{source}</strong> from <strong>{fromT !== null ? formatTime(fromT) : ''}</strong> up to{' '}
          <strong>{toT !== null ? formatTime(toT) : ''}</strong> will be removed from the box and cleared from its log.
        </p>
        <p>This cannot be undone. The deletion itself is recorded in the audit log.</p>
      </ConfirmDialog>
    </section>
  )
}
