import { api } from '../../api/client.ts'
import type { AggregateResult, Driver, SenmlRecord, SourceSummary } from '@coffer/box'
import { formatBytes, formatTime, recordValue } from '../../components/format.ts'
import { ErrorNotice } from '../../components/Notice.tsx'
import { Sparkline } from '../../components/Sparkline.tsx'
import { useLoad } from '../../components/useLoad.ts'
import { TableWrap } from '../../components/TableWrap.tsx'
import { useTitle } from '../../components/useTitle.ts'
import { Link } from '../../router.tsx'
import { DAY, WEEK } from '../../../../box/src/duration/index.ts'

export function OverviewPage() {
  useTitle('Overview')
  const sources = useLoad((signal) => api.sources(signal), [])
  const drivers = useLoad((signal) => api.drivers(signal), [])
  return (
    <>
      <h1>Overview</h1>
      <section aria-labelledby="sources-heading">
        <h2 id="sources-heading">Sources</h2>
        <ErrorNotice error={sources.error} />
        {sources.loading && !sources.data && <p role="status">Loading sources…</p>}
        {sources.data?.length === 0 && <p>No data yet. <Link to="/import">Import a file</Link> or add a driver to bring data in.</p>}
        <ul className="cards">
          {sources.data?.map((s) => <SourceCard key={s.id} source={s} />)}
        </ul>
      </section>
      <section aria-labelledby="drivers-heading">
        <h2 id="drivers-heading">Drivers</h2>
        <ErrorNotice error={drivers.error} />
        {drivers.data?.length === 0 && <p>No drivers. Drivers bring data in continuously, for example from the OwnTracks phone app or an MQTT broker.</p>}
        {drivers.data && drivers.data.length > 0 && <DriverTable drivers={drivers.data} />}
      </section>
    </>
  )
}

/** The series a card draws: the first numeric one. */
function plotted(source: SourceSummary) {
  return source.series.find((s) => s.type === 'number')
}

function SourceCard({ source }: { source: SourceSummary }) {
  const series = plotted(source)
  const spark = useLoad<AggregateResult | null>((signal) => {
    if (!series || source.last === null || source.first === null) return Promise.resolve(null)
    const to = Math.floor(source.last) + 1
    const from = Math.max(Math.floor(source.first), to - WEEK)
    return api.aggregate(source.id, { fn: 'mean', bucket: to - from > 2 * DAY ? '1h' : '5m', from, to, name: series.name }, signal)
  }, [source.id, source.last])
  const latest = useLoad<SenmlRecord[]>((signal) => source.kind === 'timeseries' ? api.latest(source.id, signal) : Promise.resolve([]), [source.id, source.last])
  const newest = latest.data?.find((r) => r.n === series?.name) ?? latest.data?.[0]
  const headingId = `source-${source.id}`
  return (
    <li className="card" aria-labelledby={headingId}>
      <h3 id={headingId}><Link to={`/sources/${encodeURIComponent(source.id)}`}>{source.id}</Link></h3>
      {source.description && <p className="muted">{source.description}</p>}
      {spark.data && <Sparkline buckets={spark.data.buckets} label={`${series?.name ?? source.id}, last week`} />}
      <dl className="facts">
        <div><dt>Last value</dt><dd>{newest ? `${newest.n}: ${recordValue(newest)}` : '—'}</dd></div>
        <div><dt>Last time</dt><dd>{formatTime(source.last)}</dd></div>
        <div><dt>Size</dt><dd>{source.kind === 'kv' ? `${source.keys.toLocaleString()} keys` : `${source.points.toLocaleString()} points`}, {formatBytes(source.bytes)}</dd></div>
      </dl>
      <ErrorNotice error={spark.error ?? latest.error} />
    </li>
  )
}

function DriverTable({ drivers }: { drivers: Driver[] }) {
  return (
    <TableWrap label="Drivers">
      <table>
        <caption className="visually-hidden">Drivers and their status</caption>
        <thead><tr><th scope="col">Driver</th><th scope="col">Kind</th><th scope="col">Status</th><th scope="col">Last data</th><th scope="col">Last error</th></tr></thead>
        <tbody>
          {drivers.map((d) => (
            <tr key={d.id}>
              <th scope="row">{d.id}</th>
              <td>{d.kind}</td>
              <td><span className={`state state-${d.status.state}`}>{d.status.state}</span></td>
              <td>{formatTime(d.status.lastData)}</td>
              <td>{d.status.lastError ? `${d.status.lastError.message} (${formatTime(d.status.lastError.at)})` : 'none'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </TableWrap>
  )
}
