import { api, type ProcessorAccount } from '../../api/client.ts'
import { ErrorNotice } from '../../components/Notice.tsx'
import { useLoad } from '../../components/useLoad.ts'
import { useTitle } from '../../components/useTitle.ts'
import { dateTime, sats } from '../../components/format.ts'
import { Link } from '../../router.tsx'

const KIND_WORDS: Record<ProcessorAccount['entries'][number]['kind'], string> = {
  deposit: 'Deposit',
  escrow: 'Held for a query',
  settlement: 'Back from a query',
  payout: 'Payout',
  payout_returned: 'Payout returned',
  payout_confirmed: 'Payout confirmed',
}

/** What the processor has paid in, what its queries hold, and every movement of its money. */
export function AccountPage() {
  useTitle('Account')
  const me = useLoad((signal) => api.me(signal), [])
  const account = useLoad((signal) => api.account(signal), [])
  const a = account.data
  return (
    <>
      <h1>Account</h1>
      <ErrorNotice error={account.error ?? me.error} />
      {account.loading && !a && <p role="status">Loading…</p>}
      {a && (
        <dl className="facts">
          <div><dt>Balance</dt><dd><strong>{sats(a.balance)}</strong></dd></div>
          <div><dt>Held for your queries</dt><dd>{sats(a.escrowed)}</dd></div>
        </dl>
      )}
      <p>
        Posting a query holds its price × its most participants from your balance. When it ends, each owner whose answer was counted
        is paid the price and the rest comes back; a query you cancel, or that too few answer, gives it all back.
      </p>
      <p>
        To pay in, send the market’s operator your payment with your processor id{me.data ? <>, <code>{me.data.id}</code></> : ''}: they record it here once it has arrived.
      </p>
      {a && a.entries.length === 0 && <p>No money has moved yet.</p>}
      {a && a.entries.length > 0 && (
        <div className="table-wrap">
          <table>
            <caption className="visually-hidden">Your balance’s movements, newest first</caption>
            <thead>
              <tr><th scope="col">When</th><th scope="col">What</th><th scope="col">Amount</th><th scope="col">Query</th><th scope="col">Note</th></tr>
            </thead>
            <tbody>
              {a.entries.map((e, i) => (
                <tr key={i}>
                  <td>{dateTime(e.at)}</td>
                  <th scope="row">{KIND_WORDS[e.kind]}</th>
                  <td className="number">{e.amount > 0 ? '+' : '−'}{sats(Math.abs(e.amount))}</td>
                  <td>{e.queryId ? <Link to={`/queries/${e.queryId}`}>{e.queryId.slice(0, 8)}</Link> : '—'}</td>
                  <td>{e.memo ?? ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {a && <p className="actions"><button type="button" onClick={account.reload}>Refresh</button></p>}
    </>
  )
}
