import { api, type Participation, type PostedQuery } from '../../api/client.ts'
import { Link } from '../../router.tsx'
import { ErrorNotice } from '../../components/Notice.tsx'
import { useLoad } from '../../components/useLoad.ts'
import { useTitle } from '../../components/useTitle.ts'
import { count, dateTime } from '../../components/format.ts'

/** The list answer has no participation; each query's own answer has. Enough rows for a screen are asked for it. */
const WITH_PARTICIPATION = 50

export function QueriesPage() {
  useTitle('Your queries')
  const list = useLoad(async (signal) => {
    const { queries } = await api.list(signal)
    const participation = await Promise.all(queries.slice(0, WITH_PARTICIPATION).map((q) => api.get(q.id, signal).then((full) => full.participation, () => undefined)))
    return queries.map((q, i): [PostedQuery, Participation | undefined] => [q, participation[i]])
  }, [])

  return (
    <>
      <div className="section-head">
        <h1>Your queries</h1>
        <Link to="/queries/new" className="button">Write a new query</Link>
      </div>
      <ErrorNotice error={list.error} />
      {list.loading && !list.data && <p role="status">Loading…</p>}
      {list.data?.length === 0 && <p>You have posted no queries yet. <Link to="/queries/new">Write your first</Link>: the market checks it as you type.</p>}
      {list.data && list.data.length > 0 && (
        <div className="table-wrap">
          <table>
            <caption className="visually-hidden">Your queries, newest first</caption>
            <thead>
              <tr>
                <th scope="col">#</th><th scope="col">Question</th><th scope="col">State</th>
                <th scope="col">Participation</th><th scope="col">Deadline</th><th scope="col">Posted</th>
              </tr>
            </thead>
            <tbody>
              {list.data.map(([q, p]) => (
                <tr key={q.id}>
                  <td>{q.seq}</td>
                  <th scope="row"><Link to={`/queries/${q.id}`}><code>{q.text}</code></Link></th>
                  <td><span className={`state state-${q.status}`}>{q.status}</span></td>
                  <td>{p ? participationWords(p, q.spec.participants.max) : '—'}</td>
                  <td>{dateTime(q.spec.deadline)}</td>
                  <td>{dateTime(q.postedAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {list.data && <p className="actions"><button type="button" onClick={list.reload}>Refresh</button></p>}
    </>
  )
}

export function participationWords(p: Participation, max: number): string {
  return `${count(p.accepted)} accepted, ${count(p.answered)} answered, ${count(p.declined)} declined (of at most ${count(max)})`
}
