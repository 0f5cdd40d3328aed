import { useState, type FormEvent } from 'react'
import { TableWrap } from '../../components/TableWrap.tsx'
import { useAction } from '../../components/useAction.ts'
import { market, type MarketPaymentsView } from './api.ts'
import { payoutState, sat } from './words.ts'

/**
 * The owner's money at one market: the balance as last read, where it is paid out and from what
 * amount, a form to set the payout address (the box signs it and sends it through the gateway),
 * and each payout with its share of the network fee.
 */
export function Payments({ payments, onSaved }: { payments: MarketPaymentsView; onSaved: (news: string) => void }) {
  const [address, setAddress] = useState('')
  const { busy, error, setError, run } = useAction()
  const { account, payoutAddress } = payments
  const field = `payout-address-${payments.market}`

  const save = (e: FormEvent) => {
    e.preventDefault()
    if (address.trim() === '') {
      setError('Enter a Bitcoin address first, one of the market’s network.')
      return
    }
    void run(async () => {
      const saved = await market.setPayoutAddress(payments.market, address.trim())
      setAddress('')
      onSaved(`${payments.market} pays you at ${saved.payoutAddress?.address ?? address.trim()}.`)
    })
  }

  return (
    <div className="payments">
      <dl className="facts">
        <div><dt>Your balance</dt><dd>{account ? sat(account.balance) : 'not read yet'}</dd></div>
        {account && account.inFlight > 0 && <div><dt>On its way to you</dt><dd>{sat(account.inFlight)}</dd></div>}
        <div><dt>Paid out</dt><dd>{account ? `from ${sat(account.threshold)}` : '—'}</dd></div>
        <div><dt>Paid to</dt><dd>{payoutAddress ? <code>{payoutAddress.address}</code> : 'no address yet'}</dd></div>
      </dl>
      {payoutAddress && !payoutAddress.delivered && <p className="notice error">The address did not reach the market: {payoutAddress.problem ?? 'it is on its way'}</p>}
      {payments.lastError && <p className="notice error">The last read of your account failed: {payments.lastError}</p>}
      <form onSubmit={save} className="inline-form" noValidate>
        <div className="wide">
          <label htmlFor={field}>Payout address</label>
          <input id={field} value={address} onChange={(e) => setAddress(e.target.value)} spellCheck={false} autoComplete="off" aria-describedby={`${field}-hint`} />
        </div>
        <button type="submit" disabled={busy}>{busy ? 'Saving…' : 'Save address'}</button>
        <p id={`${field}-hint`} className="muted">A Bitcoin address of yours. Your box signs it and sends it to the market through the export gateway; the market pays your balance there once it is large enough.</p>
        {error && <p role="alert" className="notice error">{error}</p>}
      </form>
      {account && account.payouts.length > 0 && (
        <TableWrap label={`Payouts from ${payments.market}`}>
          <table>
            <thead><tr><th scope="col">Transaction</th><th scope="col">State</th><th scope="col">Sent to you</th><th scope="col">Your share of the fee</th><th scope="col">Made</th></tr></thead>
            <tbody>
              {account.payouts.map((p) => (
                <tr key={p.id}>
                  <th scope="row"><code>{p.txid.slice(0, 16)}…</code></th>
                  <td>{payoutState(p.state)}</td>
                  <td>{sat(p.sent)}</td>
                  <td>{sat(p.fee)}</td>
                  <td>{p.createdAt.slice(0, 16).replace('T', ' ')}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
    </div>
  )
}
