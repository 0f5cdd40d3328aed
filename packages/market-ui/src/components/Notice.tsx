import type { ReactNode } from 'react'
import { message } from '../api/client.ts'

/** An error the processor should hear at once: role=alert is announced by screen readers. */
export function ErrorNotice({ error }: { error: unknown }) {
  if (!error) return null
  return <p role="alert" className="notice error">{message(error)}</p>
}

/** Polite news, such as "Posted", announced without interrupting. */
export function StatusNotice({ children }: { children: ReactNode }) {
  return <p role="status" className="notice">{children}</p>
}
