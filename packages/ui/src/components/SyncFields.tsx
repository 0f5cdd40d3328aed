/** The fields of a replica's sync: its windows and this box's bandwidth limits to it, as text the owner edits (see pages/backup/words.ts). */
export interface SyncText { windows: string; upload: string; download: string }

export function SyncFields({ id, value, onChange, windowsHint }: { id: string; value: SyncText; onChange: (next: SyncText) => void; windowsHint: string }) {
  const set = (field: keyof SyncText) => (e: { target: { value: string } }) => onChange({ ...value, [field]: e.target.value })
  return (
    <>
      <div className="wide">
        <label htmlFor={`${id}-windows`}>Sync windows</label>
        <input id={`${id}-windows`} value={value.windows} onChange={set('windows')} placeholder="22:00-06:00" spellCheck={false} autoComplete="off" aria-describedby={`${id}-windows-hint`} />
        <span id={`${id}-windows-hint`} className="hint">{windowsHint}</span>
      </div>
      <div>
        <label htmlFor={`${id}-upload`}>Upload limit (KB/s)</label>
        <input id={`${id}-upload`} inputMode="decimal" value={value.upload} onChange={set('upload')} placeholder="none" autoComplete="off" size={8} />
      </div>
      <div>
        <label htmlFor={`${id}-download`}>Download limit (KB/s)</label>
        <input id={`${id}-download`} inputMode="decimal" value={value.download} onChange={set('download')} placeholder="none" autoComplete="off" size={8} />
      </div>
    </>
  )
}
