import type { ReactNode } from 'react'

/** A wide table scrolls sideways inside its own box on a phone; the box takes focus so the keyboard can scroll it too. */
export function TableWrap({ label, children }: { label: string; children: ReactNode }) {
  return <div className="table-wrap" role="region" aria-label={label} tabIndex={0}>{children}</div>
}
