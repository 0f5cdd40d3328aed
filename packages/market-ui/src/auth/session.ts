/**
 * The processor's API key, kept in sessionStorage: it dies with the tab, is never put in a URL
 * (where it would land in history and logs) and is never sent automatically (no cookies), so
 * there is no cross-site request to forge. Only the API client reads it, for its Bearer header.
 */
const KEY = 'coffer-market.key'

const listeners = new Set<() => void>()

export function currentKey(): string | null {
  return sessionStorage.getItem(KEY)
}

export function signIn(key: string): void {
  sessionStorage.setItem(KEY, key)
  listeners.forEach((l) => l())
}

export function signOut(): void {
  sessionStorage.removeItem(KEY)
  listeners.forEach((l) => l())
}

export function onKeyChange(listener: () => void): () => void {
  listeners.add(listener)
  return () => listeners.delete(listener)
}
