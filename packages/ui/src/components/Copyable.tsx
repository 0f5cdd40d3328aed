import { useId, useRef, useState } from 'react'

/** A code or command to hand on: shown whole, copied with a button, or selected for the keyboard where the clipboard is closed. */
export function Copyable({ label, copy: copyLabel, text }: { label: string; copy: string; text: string }) {
  const id = useId()
  const ref = useRef<HTMLTextAreaElement>(null)
  const [said, setSaid] = useState<string | null>(null)
  async function copy() {
    try {
      await navigator.clipboard.writeText(text)
      setSaid('Copied.')
    } catch {
      // Without clipboard access (a page not served over https, or a refusal), the text is selected for the keyboard.
      ref.current?.select()
      setSaid('Selected: press Ctrl+C (⌘C on a Mac) to copy.')
    }
  }
  return (
    <div className="copyable">
      <label htmlFor={id}>{label}</label>
      <textarea id={id} ref={ref} readOnly value={text} rows={3} spellCheck={false} onFocus={(e) => e.currentTarget.select()} />
      <div className="actions">
        <button type="button" onClick={() => void copy()}>{copyLabel}</button>
        <span role="status">{said}</span>
      </div>
    </div>
  )
}
