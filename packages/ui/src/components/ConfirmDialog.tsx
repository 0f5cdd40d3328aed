import { useEffect, useRef, type ReactNode } from 'react'

/**
 * A modal question built on <dialog>: the browser traps focus, Escape cancels, and focus
 * returns to where it was. The safe answer has the focus first.
 */
export function ConfirmDialog({ open, title, children, confirm, onConfirm, onCancel, busy }: {
  open: boolean; title: string; children: ReactNode; confirm: string; onConfirm: () => void; onCancel: () => void; busy?: boolean
}) {
  const ref = useRef<HTMLDialogElement>(null)
  useEffect(() => {
    const dialog = ref.current
    if (!dialog) return
    if (open && !dialog.open) dialog.showModal()
    if (!open && dialog.open) dialog.close()
  }, [open])
  return (
    <dialog ref={ref} aria-labelledby="confirm-title" onCancel={(e) => { e.preventDefault(); onCancel() }}>
      <h2 id="confirm-title">{title}</h2>
      {children}
      <div className="actions">
        <button type="button" autoFocus onClick={onCancel}>Cancel</button>
        <button type="button" className="danger" onClick={onConfirm} disabled={busy}>{confirm}</button>
      </div>
    </dialog>
  )
}
