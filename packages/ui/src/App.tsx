import { lazy, Suspense, useEffect, useRef, useSyncExternalStore } from 'react'
import { currentSession, endSession, onSessionChange } from './auth/session.ts'
import { Link, usePath } from './router.tsx'
import { LoginPage } from './pages/login/LoginPage.tsx'
import { OverviewPage } from './pages/overview/OverviewPage.tsx'

// Pages beyond the first are loaded when visited, which keeps the first load small.
const SourcePage = lazy(() => import('./pages/source/SourcePage.tsx'))
const AuditPage = lazy(() => import('./pages/audit/AuditPage.tsx'))
const AppsPage = lazy(() => import('./pages/apps/AppsPage.tsx'))
const ExportsPage = lazy(() => import('./pages/exports/ExportsPage.tsx'))
const ImportPage = lazy(() => import('./pages/imports/ImportPage.tsx'))
const DriversPage = lazy(() => import('./pages/drivers/DriversPage.tsx'))
const StatementPage = lazy(() => import('./pages/statement/StatementPage.tsx'))
const SettingsPage = lazy(() => import('./pages/settings/SettingsPage.tsx'))
const MarketPage = lazy(() => import('./pages/market/MarketPage.tsx'))
const BackupPage = lazy(() => import('./pages/backup/BackupPage.tsx'))
const GroupsPage = lazy(() => import('./pages/groups/GroupsPage.tsx'))

const NAV = [
  { to: '/', label: 'Overview' },
  { to: '/import', label: 'Import' },
  { to: '/drivers', label: 'Drivers' },
  { to: '/apps', label: 'Apps' },
  { to: '/exports', label: 'Exports' },
  { to: '/market', label: 'Market' },
  { to: '/backup', label: 'Backup' },
  { to: '/groups', label: 'Groups' },
  { to: '/audit', label: 'Audit' },
  { to: '/statement', label: 'Statement' },
  { to: '/settings', label: 'Settings' },
]

function useSignedIn(): boolean {
  return useSyncExternalStore(onSessionChange, () => currentSession() !== null)
}

export function App() {
  const signedIn = useSignedIn()
  const path = usePath()

  // A session ends by itself when its token expires, even on an idle page.
  useEffect(() => {
    const session = currentSession()
    if (!session?.expires) return
    const timer = setTimeout(endSession, Math.max(0, session.expires * 1000 - Date.now()))
    return () => clearTimeout(timer)
  }, [signedIn])

  if (!signedIn) return <LoginPage />
  return (
    <>
      <a className="skip" href="#main">Skip to content</a>
      <header className="top">
        <span className="brand">Coffer</span>
        <nav aria-label="Main">
          <ul>
            {NAV.map((item) => (
              <li key={item.to}><Link to={item.to} aria-current={current(path, item.to) ? 'page' : undefined}>{item.label}</Link></li>
            ))}
          </ul>
        </nav>
        <button type="button" className="logout" onClick={endSession}>Log out</button>
      </header>
      <Main path={path} />
    </>
  )
}

function current(path: string, to: string): boolean {
  return to === '/' ? path === '/' || path.startsWith('/sources/') : path.startsWith(to)
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
  return (
    <main id="main" ref={ref} tabIndex={-1}>
      <Suspense fallback={<p role="status">Loading…</p>}>{page(path)}</Suspense>
    </main>
  )
}

function page(path: string) {
  const source = /^\/sources\/([^/]+)$/.exec(path)
  if (source) return <SourcePage id={decodeURIComponent(source[1]!)} />
  switch (path) {
    case '/': return <OverviewPage />
    case '/audit': return <AuditPage />
    case '/apps': return <AppsPage />
    case '/exports': return <ExportsPage />
    case '/market': return <MarketPage />
    case '/backup': return <BackupPage />
    case '/groups': return <GroupsPage />
    case '/import': return <ImportPage />
    case '/drivers': return <DriversPage />
    case '/statement': return <StatementPage />
    case '/settings': return <SettingsPage />
    default: return <NotFound />
  }
}

function NotFound() {
  useEffect(() => { document.title = 'Not found · Coffer' }, [])
  return (
    <>
      <h1>Nothing here</h1>
      <p>This page does not exist. <Link to="/">Go to the overview</Link>.</p>
    </>
  )
}
