import { useEffect, useRef, useSyncExternalStore } from 'react'
import { currentKey, onKeyChange, signOut } from './auth/session.ts'
import { Link, usePath } from './router.tsx'
import { useLoad } from './components/useLoad.ts'
import { api } from './api/client.ts'
import { RegisterPage, SignInPage } from './pages/signin/SignInPage.tsx'
import { QueriesPage } from './pages/queries/QueriesPage.tsx'
import { EditorPage } from './pages/editor/EditorPage.tsx'
import { QueryPage } from './pages/query/QueryPage.tsx'
import { AccountPage } from './pages/account/AccountPage.tsx'

const NAV = [
  { to: '/queries', label: 'Your queries' },
  { to: '/queries/new', label: 'New query' },
  { to: '/account', label: 'Account' },
]

function useSignedIn(): boolean {
  return useSyncExternalStore(onKeyChange, () => currentKey() !== null)
}

export function App() {
  const signedIn = useSignedIn()
  const path = usePath()
  if (!signedIn) return path === '/register' ? <RegisterPage /> : <SignInPage />
  return <SignedIn path={path} />
}

function SignedIn({ path }: { path: string }) {
  const me = useLoad((signal) => api.me(signal), [])
  return (
    <>
      <a className="skip" href="#main">Skip to content</a>
      <header className="top">
        <span className="brand">Coffer market</span>
        <nav aria-label="Main">
          <ul>
            {NAV.map((item) => (
              <li key={item.to}><Link to={item.to} aria-current={current(path) === item.to ? 'page' : undefined}>{item.label}</Link></li>
            ))}
          </ul>
        </nav>
        {me.data && <span className="who">Signed in as <strong>{me.data.name}</strong></span>}
        <button type="button" className="signout" onClick={signOut}>Sign out</button>
      </header>
      <Main path={path} />
    </>
  )
}

function current(path: string): string {
  return path === '/queries/new' || path === '/account' ? path : '/queries'
}

function Main({ path }: { path: string }) {
  const ref = useRef<HTMLElement>(null)
  // Moving focus to the new page tells keyboard and screen-reader users the page changed.
  const first = useRef(true)
  useEffect(() => {
    if (first.current) {
      first.current = false
      return
    }
    ref.current?.focus()
  }, [path])
  return <main id="main" ref={ref} tabIndex={-1}>{page(path)}</main>
}

function page(path: string) {
  const query = /^\/queries\/([^/]+)$/.exec(path)
  if (path === '/queries/new') return <EditorPage />
  if (path === '/account') return <AccountPage />
  if (query) return <QueryPage id={decodeURIComponent(query[1]!)} />
  if (path === '/' || path === '/queries' || path === '/register') return <QueriesPage />
  return <NotFound />
}

function NotFound() {
  useEffect(() => { document.title = 'Not found · Coffer market' }, [])
  return (
    <>
      <h1>Nothing here</h1>
      <p>This page does not exist. <Link to="/queries">Go to your queries</Link>.</p>
    </>
  )
}
