/**
 * A group's drive: one folder at a time, listed by the box (with who wrote each file and which
 * copies a conflict keeps); files go up, come down and are deleted over WebDAV, as a file manager
 * that mounts the drive would send them.
 */
import { useEffect, useId, useState, type FormEvent } from 'react'
import { formatBytes, formatTime } from '../../components/format.ts'
import { ErrorNotice } from '../../components/Notice.tsx'
import { TableWrap } from '../../components/TableWrap.tsx'
import { useLoad } from '../../components/useLoad.ts'
import { drive, groups, type DriveEntry, type GroupView } from './api.ts'
import { checkName, crumbs, driveProblem, joinPath } from './words.ts'

const time = (iso: string) => formatTime(Date.parse(iso) / 1000)

export function Drive({ group, onDelete, refreshed }: {
  group: GroupView
  /** Asks the owner first (the page's one dialog), then deletes and calls `done`. */
  onDelete: (entry: DriveEntry, done: () => void) => void
  /** Changes when the page is refreshed, so the folder is read again with it. */
  refreshed: number
}) {
  const ids = useId()
  const [folder, setFolder] = useState('/')
  const listing = useLoad((signal) => groups.files(group.key, folder, signal), [group.key, folder, refreshed])
  const [news, setNews] = useState<string | null>(null)
  const [problem, setProblem] = useState<string | null>(null)
  const [busy, setBusy] = useState<string | null>(null)
  const [newFolder, setNewFolder] = useState('')
  const writable = group.writable && !group.removed
  // What was said about the folder before is not news once another is shown or the page is refreshed.
  useEffect(() => {
    setNews(null)
    setProblem(null)
  }, [folder, refreshed])

  const act = async (doing: string, work: () => Promise<string>, fail: (err: unknown) => string) => {
    setBusy(doing)
    setProblem(null)
    setNews(null)
    try {
      setNews(await work())
      listing.reload()
    } catch (err) {
      setProblem(fail(err))
    } finally {
      setBusy(null)
    }
  }

  const upload = (files: FileList | null) => {
    const chosen = [...(files ?? [])]
    if (chosen.length === 0) return
    void act(`Uploading ${chosen.map((f) => f.name).join(', ')}…`, async () => {
      for (const file of chosen) await drive.upload(group.key, joinPath(folder, file.name), file)
      return `Uploaded ${chosen.map((f) => `${f.name} (${formatBytes(f.size)})`).join(', ')} to ${folder === '/' ? 'the drive' : folder}.`
    }, (err) => driveProblem(err, 'upload', chosen.length === 1 ? chosen[0]!.name : chosen.map((f) => f.name).join(', ')))
  }

  const download = (entry: DriveEntry) => void act(`Downloading ${entry.name}…`, async () => {
    const blob = await drive.download(group.key, entry.path)
    const url = URL.createObjectURL(blob)
    const a = document.createElement('a')
    a.href = url
    a.download = entry.name
    a.click()
    // The browser has taken the file once the click is handled; the URL is not needed after.
    setTimeout(() => URL.revokeObjectURL(url), 0)
    return `Downloaded ${entry.name}.`
  }, (err) => driveProblem(err, 'download', entry.name))

  const mkdir = (e: FormEvent) => {
    e.preventDefault()
    const name = newFolder.trim()
    const bad = checkName(name)
    if (bad) {
      setProblem(bad)
      return
    }
    void act(`Making ${name}…`, async () => {
      await drive.mkdir(group.key, joinPath(folder, name))
      setNewFolder('')
      return `Made the folder ${name}.`
    }, (err) => driveProblem(err, 'mkdir', name))
  }

  const remove = (entry: DriveEntry) => onDelete(entry, () => {
    setNews(`Deleted ${entry.name} from the drive, for every member.`)
    listing.reload()
  })

  const entries = listing.data?.entries
  const trail = crumbs(folder)
  return (
    <section className="drive" aria-labelledby={`${ids}-heading`}>
      <h4 id={`${ids}-heading`}>Drive</h4>
      {folder !== '/' && (
        <nav aria-label={`Folders in ${group.name}’s drive`}>
          <ol className="crumbs">
            {trail.map((c, i) => (
              <li key={c.path}>
                {i === trail.length - 1
                  ? <span aria-current="location">{c.name}</span>
                  : <button type="button" className="link" onClick={() => setFolder(c.path)}>{c.name}</button>}
              </li>
            ))}
          </ol>
        </nav>
      )}
      <ErrorNotice error={listing.error} />
      {listing.error !== undefined && folder !== '/' && <p><button type="button" onClick={() => setFolder('/')}>Back to the drive’s top</button></p>}
      {entries?.length === 0 && <p className="muted">{folder === '/' ? 'The drive is empty.' : 'This folder is empty.'}</p>}
      {entries && entries.length > 0 && (
        <TableWrap label={`Files in ${group.name}’s drive, ${folder === '/' ? 'top folder' : folder}`}>
          <table>
            <thead><tr><th scope="col">Name</th><th scope="col">Size</th><th scope="col">Written</th><th scope="col">By</th><th scope="col"><span className="visually-hidden">Actions</span></th></tr></thead>
            <tbody>
              {entries.map((entry) => (
                <tr key={entry.path} className={entry.conflictOf ? 'conflict-copy' : undefined}>
                  <th scope="row">
                    {entry.type === 'dir'
                      ? <button type="button" className="link" onClick={() => setFolder(entry.path)} aria-label={`Open folder ${entry.name}`}>{entry.name}/</button>
                      : entry.name}
                    {entry.conflictOf && <span className="hint"> — another version of {entry.conflictOf.slice(entry.conflictOf.lastIndexOf('/') + 1)}, written at the same time</span>}
                    {entry.conflict && !entry.conflictOf && <span className="hint"> — members wrote it at once: the other versions are beside it</span>}
                  </th>
                  <td>{entry.type === 'dir' ? 'Folder' : formatBytes(entry.size)}</td>
                  <td>{time(entry.mtime)}</td>
                  <td>{entry.author}</td>
                  <td className="row-actions">
                    {entry.type === 'file' && <button type="button" onClick={() => download(entry)} disabled={busy !== null} aria-label={`Download ${entry.name}`}>Download</button>}
                    {writable && <button type="button" className="danger" onClick={() => remove(entry)} disabled={busy !== null} aria-label={`Delete ${entry.name}…`}>Delete…</button>}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
      {writable && (
        <div className="drive-tools">
          <div className="dropzone small" onDragOver={(e) => e.preventDefault()} onDrop={(e) => { e.preventDefault(); upload(e.dataTransfer.files) }}>
            <label htmlFor={`${ids}-upload`} className="button">Upload files here</label>
            <input id={`${ids}-upload`} className="visually-hidden" type="file" multiple disabled={busy !== null} onChange={(e) => { upload(e.target.files); e.target.value = '' }} aria-describedby={`${ids}-upload-hint`} />
            <p id={`${ids}-upload-hint`} className="hint">or drop them here. A file of the same name becomes its new version.</p>
          </div>
          <form className="inline-form" onSubmit={mkdir} aria-label={`Make a folder in ${group.name}’s drive`} noValidate>
            <div>
              <label htmlFor={`${ids}-folder`}>New folder</label>
              <input id={`${ids}-folder`} value={newFolder} onChange={(e) => setNewFolder(e.target.value)} maxLength={255} autoComplete="off" />
            </div>
            <button type="submit" disabled={busy !== null}>Make folder</button>
          </form>
        </div>
      )}
      <div aria-live="polite">
        {busy && <p className="muted">{busy}</p>}
        {news && <p className="notice">{news}</p>}
      </div>
      {problem && <p role="alert" className="notice error">{problem}</p>}
    </section>
  )
}
