/**
 * Invites on the local network: this box asking to join, with the fingerprint of its key, and the
 * invites sealed to it that arrive; and, for an admin, the boxes asking nearby, each with its
 * fingerprint. Nothing is copied between the boxes: the owners compare fingerprints.
 */
import { useEffect, useId, useState, type FormEvent } from 'react'
import { formatTime } from '../../components/format.ts'
import { TableWrap } from '../../components/TableWrap.tsx'
import { useAction } from '../../components/useAction.ts'
import { message } from '../../api/client.ts'
import { groups, type Asking, type GroupView, type Nearby, type Offer } from './api.ts'

/** While asking or looking, the page looks again this often. */
const LOOK_MS = 2000
/** How long this box asks, from the page. */
const ASK_SECONDS = 600

const time = (iso: string) => formatTime(Date.parse(iso) / 1000)

export function AskNearby({ onJoined }: { onJoined: (group: GroupView) => void }) {
  const form = useId()
  const [as, setAs] = useState('')
  const [status, setStatus] = useState<Asking | null>(null)
  const { busy, error, setError, run } = useAction()

  useEffect(() => {
    if (!status?.asking) return
    const controller = new AbortController()
    const timer = setTimeout(() => groups.asking(controller.signal).then(setStatus, (err: unknown) => controller.signal.aborted || setError(message(err))), LOOK_MS)
    return () => {
      clearTimeout(timer)
      controller.abort()
    }
  }, [status])

  function ask(e: FormEvent) {
    e.preventDefault()
    void run(async () => setStatus(await groups.ask({ ...(as.trim() ? { as: as.trim() } : {}), wait: ASK_SECONDS })))
  }

  const join = (offer: Offer) => run(async () => {
    const group = await groups.joinNearby({ offer: offer.id })
    setStatus(null)
    setAs('')
    onJoined(group)
  })

  const stop = () => run(async () => setStatus(await groups.stopAsking()))

  return (
    <form className="driver-form" onSubmit={ask} aria-labelledby={`${form}-heading`} noValidate>
      <h3 id={`${form}-heading`}>Ask to join on this network</h3>
      <p className="muted">
        An admin’s box on the same local network sees this box asking, with a short fingerprint of its key. Nothing to copy:
        you compare the fingerprints on both screens.
      </p>
      {!status?.asking && (
        <>
          <div className="inline-form">
            <div>
              <label htmlFor={`${form}-as`}>Your name in the group</label>
              <input id={`${form}-as`} value={as} onChange={(e) => setAs(e.target.value)} placeholder="Bea" maxLength={100} autoComplete="off" />
            </div>
          </div>
          <div className="actions"><button type="submit" disabled={busy}>Ask to join</button></div>
        </>
      )}
      {status && (
        <div role="status">
          <p>This box’s fingerprint: <strong className="fingerprint">{status.fingerprint}</strong></p>
          <p className="muted">
            {status.asking
              ? `Asking until ${time(status.until!)}. The admin’s screen shows this fingerprint beside ${status.as ?? 'this box'}: they invite the box with it.`
              : 'Not asking any more.'}
          </p>
        </div>
      )}
      {status?.offers.map((offer) => (
        <section key={offer.id} className="review" aria-label={`Invite to ${offer.groupName}`}>
          <p>Invited to <strong>{offer.groupName}</strong> as {offer.as} ({offer.role === 'admin' ? 'an admin' : 'a member'}), until {time(offer.expiresAt)}.</p>
          <p>By the admin whose fingerprint is <strong className="fingerprint">{offer.adminFingerprint}</strong>: check it on their screen before you join.</p>
          <div className="actions"><button type="button" disabled={busy} onClick={() => void join(offer)}>Join {offer.groupName}</button></div>
        </section>
      ))}
      {status && status.refused.length > 0 && (
        <ul className="notice" aria-label="Refused on this network">
          {status.refused.map((r) => <li key={`${r.at}${r.reason}`}>{r.reason}</li>)}
        </ul>
      )}
      {status?.asking && <div className="actions"><button type="button" onClick={() => void stop()}>Stop asking</button></div>}
      {busy && status?.asking && <p role="status" className="muted">Reaching the admin’s box and waiting to be let in: this can take up to a minute.</p>}
      {error && <p role="alert" className="notice error">{error}</p>}
    </form>
  )
}

/** The boxes asking to join nearby, for an admin to invite one by its fingerprint. */
export function NearbyBoxes({ group, busy, onInvite }: { group: GroupView; busy: boolean; onInvite: (box: Nearby) => void }) {
  const [looking, setLooking] = useState(false)
  const [nearby, setNearby] = useState<Nearby[] | null>(null)
  const [error, setError] = useState<string | null>(null)

  useEffect(() => {
    if (!looking) return
    const controller = new AbortController()
    const look = () => groups.nearby(controller.signal).then(({ nearby: heard }) => {
      setNearby(heard)
      setError(null)
      timer = setTimeout(look, LOOK_MS)
    }, (err: unknown) => {
      if (controller.signal.aborted) return
      setError(message(err))
      setLooking(false)
    })
    let timer = setTimeout(look, 0)
    return () => {
      clearTimeout(timer)
      controller.abort()
    }
  }, [looking])

  return (
    <div className="nearby">
      <h4>Boxes asking nearby</h4>
      <p className="muted">
        A box on this local network asking to join (“Ask to join on this network” on its Groups page, or <code>coffer groups join --lan</code>)
        shows here with its fingerprint. Invite the one whose fingerprint its owner’s screen shows: the name is only what it says.
      </p>
      {!looking && <div className="actions"><button type="button" onClick={() => { setNearby(null); setLooking(true) }}>Look for boxes nearby</button></div>}
      {looking && nearby?.length === 0 && <p role="status" className="muted">Listening… no box is asking yet.</p>}
      {nearby && nearby.length > 0 && (
        <TableWrap label={`Boxes asking to join nearby, for ${group.name}`}>
          <table>
            <thead><tr><th scope="col">Fingerprint</th><th scope="col">Asks to join as</th><th scope="col"><span className="visually-hidden">Actions</span></th></tr></thead>
            <tbody>
              {nearby.map((box) => (
                <tr key={box.boxKey}>
                  <th scope="row"><code className="fingerprint">{box.fingerprint}</code></th>
                  <td>{box.name ?? '—'}</td>
                  <td className="row-actions">
                    <button type="button" disabled={busy} onClick={() => onInvite(box)} aria-label={`Invite the box ${box.fingerprint}`}>Invite</button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
      {looking && <div className="actions"><button type="button" onClick={() => setLooking(false)}>Stop looking</button></div>}
      {error && <p role="alert" className="notice error">{error}</p>}
    </div>
  )
}
