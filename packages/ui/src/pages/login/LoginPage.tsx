import { useEffect, useState, type FormEvent } from 'react'
import { api, message } from '../../api/client.ts'
import { startSession } from '../../auth/session.ts'
import { useTitle } from '../../components/useTitle.ts'

export function LoginPage() {
  useTitle('Log in')
  const [passphrase, setPassphrase] = useState('')
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  useEffect(() => { document.getElementById('passphrase')?.focus() }, [])

  async function submit(e: FormEvent) {
    e.preventDefault()
    if (passphrase === '') {
      setError('Enter the passphrase.')
      return
    }
    setBusy(true)
    setError(null)
    try {
      const { token, expires } = await api.login(passphrase)
      startSession({ token, expires: expires ?? null })
    } catch (err) {
      setError(message(err))
      setBusy(false)
    }
  }

  return (
    <main id="main" className="login">
      <h1>Coffer</h1>
      <p>Your personal data box. Log in with the owner passphrase you chose when the box was created.</p>
      <form onSubmit={submit} noValidate>
        <label htmlFor="passphrase">Passphrase</label>
        <input
          id="passphrase" name="passphrase" type="password" autoComplete="current-password" required
          value={passphrase} onChange={(e) => setPassphrase(e.target.value)}
          aria-invalid={error ? true : undefined} aria-describedby={error ? 'login-error' : undefined}
        />
        {error && <p id="login-error" role="alert" className="notice error">{error}</p>}
        <button type="submit" disabled={busy}>{busy ? 'Logging in…' : 'Log in'}</button>
      </form>
      <p className="hint">The session lasts 12 hours or until you close this tab.</p>
    </main>
  )
}
