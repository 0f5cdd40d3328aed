import { useEffect, useState, type FormEvent } from 'react'
import { api, message, type Registered } from '../../api/client.ts'
import { signIn } from '../../auth/session.ts'
import { Link, navigate } from '../../router.tsx'
import { useTitle } from '../../components/useTitle.ts'

/** Sign in with the API key the market gave at registration. The key is checked before it is kept. */
export function SignInPage() {
  useTitle('Sign in')
  const [key, setKey] = useState('')
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  useEffect(() => { document.getElementById('api-key')?.focus() }, [])

  async function submit(e: FormEvent) {
    e.preventDefault()
    const trimmed = key.trim()
    if (trimmed === '') {
      setError('Enter your API key. It starts with cmk_ and was shown once when you registered.')
      return
    }
    setBusy(true)
    setError(null)
    try {
      const res = await api.whoIs(trimmed)
      if (res.status === 401) throw new Error('The market does not know this key. Check that it was copied whole, or register to get a new one.')
      if (!res.ok) throw new Error(`The market answered ${res.status}. Try again; if it persists, tell the market's operator.`)
      signIn(trimmed)
      if (location.pathname === '/' || location.pathname === '/register') navigate('/queries')
    } catch (err) {
      setError(err instanceof TypeError ? 'The market did not answer. Check your connection, then try again.' : message(err))
      setBusy(false)
    }
  }

  return (
    <main id="main" className="signin">
      <h1>Coffer market</h1>
      <p>Ask many people's data boxes an aggregate question. Each box decides, and answers with privacy; you receive only protected totals.</p>
      <form onSubmit={submit} noValidate>
        <label htmlFor="api-key">API key</label>
        <input
          id="api-key" name="api-key" type="password" autoComplete="current-password" required spellCheck={false}
          value={key} onChange={(e) => setKey(e.target.value)}
          aria-invalid={error ? true : undefined} aria-describedby={error ? 'signin-error key-hint' : 'key-hint'}
        />
        <p id="key-hint" className="hint">Kept in this tab only, until you sign out or close it.</p>
        {error && <p id="signin-error" role="alert" className="notice error">{error}</p>}
        <button type="submit" disabled={busy}>{busy ? 'Signing in…' : 'Sign in'}</button>
      </form>
      <p>No key yet? <Link to="/register">Register as a processor</Link>.</p>
    </main>
  )
}

/** Register a processor: the market answers its API key once, here, and never again. */
export function RegisterPage() {
  useTitle('Register')
  const [name, setName] = useState('')
  const [contact, setContact] = useState('')
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  const [registered, setRegistered] = useState<Registered | null>(null)
  const [copied, setCopied] = useState(false)
  useEffect(() => { document.getElementById(registered ? 'new-key' : 'processor-name')?.focus() }, [registered])

  async function submit(e: FormEvent) {
    e.preventDefault()
    if (name.trim() === '') {
      setError('Enter a name: box owners see it as who asks them.')
      return
    }
    setBusy(true)
    setError(null)
    try {
      setRegistered(await api.register(name.trim(), contact.trim() || undefined))
    } catch (err) {
      setError(message(err))
    } finally {
      setBusy(false)
    }
  }

  async function copy(key: string) {
    try {
      await navigator.clipboard.writeText(key)
      setCopied(true)
    } catch {
      setCopied(false)
      setError('This browser did not let the page copy. Select the key and copy it yourself.')
    }
  }

  if (registered) {
    return (
      <main id="main" className="signin">
        <h1>Your API key</h1>
        <p>Registered as <strong>{registered.processor.name}</strong>. This is the only time the market shows your key: keep it somewhere safe, such as a password manager. Programs send it as <code>Authorization: Bearer &lt;key&gt;</code>.</p>
        <label htmlFor="new-key">API key</label>
        <input id="new-key" readOnly value={registered.key} className="key" spellCheck={false} onFocus={(e) => e.currentTarget.select()} />
        <div className="actions">
          <button type="button" onClick={() => void copy(registered.key)}>Copy the key</button>
          <button type="button" className="primary" onClick={() => { signIn(registered.key); navigate('/queries/new') }}>I have kept it: continue</button>
        </div>
        {copied && <p role="status" className="notice ok">Copied.</p>}
        {error && <p role="alert" className="notice error">{error}</p>}
      </main>
    )
  }

  return (
    <main id="main" className="signin">
      <h1>Register a processor</h1>
      <p>Box owners see your name and contact with every query you post, and decide on that whether to answer.</p>
      <form onSubmit={submit} noValidate>
        <label htmlFor="processor-name">Name</label>
        <input
          id="processor-name" name="name" required maxLength={200} autoComplete="organization"
          value={name} onChange={(e) => setName(e.target.value)}
          aria-invalid={error ? true : undefined} aria-describedby={error ? 'register-error' : undefined}
        />
        <label htmlFor="processor-contact">Contact <span className="muted">(optional)</span></label>
        <input
          id="processor-contact" name="contact" maxLength={500} autoComplete="email" aria-describedby="contact-hint"
          value={contact} onChange={(e) => setContact(e.target.value)}
        />
        <p id="contact-hint" className="hint">An email address or a web page where owners can reach you.</p>
        {error && <p id="register-error" role="alert" className="notice error">{error}</p>}
        <button type="submit" disabled={busy}>{busy ? 'Registering…' : 'Register'}</button>
      </form>
      <p>Already registered? <Link to="/">Sign in with your key</Link>.</p>
    </main>
  )
}
