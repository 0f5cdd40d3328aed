/**
 * Getting the box back when its machine is lost: the paper key (for the owner passphrase, asked
 * here for the one request and then forgotten), the seed's split among friends, and the shares
 * this box holds for friends.
 */
import { useId, useState, type FormEvent } from 'react'
import { formatTime } from '../../components/format.ts'
import { ErrorNotice, StatusNotice } from '../../components/Notice.tsx'
import { TableWrap } from '../../components/TableWrap.tsx'
import { useAction } from '../../components/useAction.ts'
import { useLoad } from '../../components/useLoad.ts'
import { backup } from './api.ts'
import { deliveryWords, short } from './words.ts'

export function Recovery() {
  const split = useLoad((signal) => backup.split(signal), [])
  const held = useLoad((signal) => backup.held(signal), [])
  const identity = useLoad((signal) => backup.identity(signal), [])
  return (
    <>
      <PaperKey />

      <section className="recovery-part" aria-labelledby="split-heading">
        <h3 id="split-heading">Your seed among friends</h3>
        <p>
          Your seed can be split among friends: any few of them together can give it back, and none can use its share alone.
          Splitting is done from the command line. A friend who runs a blind replicator for you gets their share through it (<code>--replica</code>, by the replica’s name);
          for any other friend it writes a share file for you to send them (<code>--friend</code>, by their box’s identity):
        </p>
        <pre className="preview">coffer backup shares split --threshold 2 --replica anna=ANNAS-REPLICA --friend ben=BENS-BOX-IDENTITY --friend chloe=CHLOES-BOX-IDENTITY --out shares</pre>
        <ErrorNotice error={split.error} />
        {split.data === null && <p>Your seed is not split among friends.</p>}
        {split.data && (
          <>
            <p>
              Split {formatTime(split.data.createdAt)}: any <strong>{split.data.threshold}</strong> of
              these {split.data.friends.length} friends’ shares rebuild your seed. A new split retires this one.
            </p>
            <ul className="friends">
              {split.data.friends.map((f) => <li key={f.identity}>{f.name} <code title={f.identity}>{short(f.identity)}</code>: {deliveryWords(f)}</li>)}
            </ul>
          </>
        )}
      </section>

      <section className="recovery-part" aria-labelledby="held-heading">
        <h3 id="held-heading">Shares you hold for friends</h3>
        <ErrorNotice error={identity.error} />
        {identity.data && <p>Friends who split their seed with you need your box’s identity: <code className="identity">{identity.data}</code></p>}
        <ErrorNotice error={held.error} />
        {held.data?.length === 0 && <p>Your box holds no friend’s share. A friend’s share file is kept with <code>coffer backup shares hold FILE</code>.</p>}
        {held.data && held.data.length > 0 && (
          <>
            <TableWrap label="Shares held for friends">
              <table>
                <thead><tr><th scope="col">Whose</th><th scope="col">Share</th><th scope="col">Received</th><th scope="col">Released</th></tr></thead>
                <tbody>
                  {held.data.map((h) => (
                    <tr key={h.owner}>
                      <th scope="row">{h.label ?? <code title={h.owner}>{short(h.owner)}</code>}</th>
                      <td>{h.index} of {h.count}; {h.threshold} rebuild the seed</td>
                      <td>{formatTime(h.receivedAt)}</td>
                      <td>{h.releasedAt === null ? 'never' : <>{formatTime(h.releasedAt)} to <code title={h.releasedTo ?? ''}>{short(h.releasedTo ?? '')}</code></>}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </TableWrap>
            <p className="muted">
              When a friend has lost their box, release their share to the recovery code their new machine printed, once you are sure it is them asking:
              {' '}<code>coffer backup shares release THEIR-IDENTITY --to THEIR-RECOVERY-CODE --out FILE</code>
            </p>
          </>
        )}
      </section>
    </>
  )
}

function PaperKey() {
  const form = useId()
  const [passphrase, setPassphrase] = useState('')
  const [done, setDone] = useState<string | null>(null)
  const { busy, error, setError, run } = useAction()

  function download(e: FormEvent) {
    e.preventDefault()
    setDone(null)
    if (passphrase === '') {
      setError('Enter your owner passphrase: the paper key is given only for it.')
      return
    }
    const asked = passphrase
    // The passphrase goes with this one request and stays nowhere in the page, whatever the answer.
    setPassphrase('')
    void run(async () => {
      const pdf = await backup.paperKey(asked)
      const href = URL.createObjectURL(pdf)
      const a = document.createElement('a')
      a.href = href
      a.download = 'coffer-paper-key.pdf'
      a.click()
      setTimeout(() => URL.revokeObjectURL(href), 0)
      setDone('Downloaded coffer-paper-key.pdf. Print it, keep the paper somewhere safe and offline, then delete the file: whoever has these words has your whole box.')
    })
  }

  return (
    <section className="recovery-part" aria-labelledby={`${form}-heading`}>
      <h3 id={`${form}-heading`}>Paper key</h3>
      <p>The 24 words of your box’s root seed, with their QR code and how to recover, as a page to print. With them and any replica, a new machine gets every record back.</p>
      <form onSubmit={download} className="inline-form" noValidate>
        <div>
          <label htmlFor={`${form}-passphrase`}>Owner passphrase</label>
          <input id={`${form}-passphrase`} type="password" value={passphrase} onChange={(e) => setPassphrase(e.target.value)} autoComplete="current-password" />
        </div>
        <button type="submit" disabled={busy}>{busy ? 'Preparing…' : 'Download the paper key (PDF)'}</button>
      </form>
      {error && <p role="alert" className="notice error">{error}</p>}
      {done && <StatusNotice>{done}</StatusNotice>}
    </section>
  )
}
