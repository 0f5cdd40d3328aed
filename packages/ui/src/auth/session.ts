/**
 * The owner's session: the token from POST /login, kept in sessionStorage so it dies with the
 * tab and is never sent automatically (no cookies), which leaves no cross-site request to forge.
 */
const KEY = 'coffer.session'

export interface Session {
  token: string
  /** Epoch seconds. */
  expires: number | null
}

const listeners = new Set<() => void>()

export function currentSession(now = Date.now() / 1000): Session | null {
  const raw = sessionStorage.getItem(KEY)
  if (!raw) return null
  try {
    const session = JSON.parse(raw) as Session
    if (session.expires !== null && session.expires <= now) {
      sessionStorage.removeItem(KEY)
      return null
    }
    return session
  } catch {
    sessionStorage.removeItem(KEY)
    return null
  }
}

export function startSession(session: Session): void {
  sessionStorage.setItem(KEY, JSON.stringify(session))
  listeners.forEach((l) => l())
}

export function endSession(): void {
  sessionStorage.removeItem(KEY)
  listeners.forEach((l) => l())
}

export function onSessionChange(listener: () => void): () => void {
  listeners.add(listener)
  return () => listeners.delete(listener)
}
