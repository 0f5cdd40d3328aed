/** Import a file: drop it (or choose it), watch its progress as the box reads it, see what came of it. */
import { useEffect, useState, type DragEvent } from 'react'
import { api, eventsUrl, message } from '../../api/client.ts'
import type { ImportJob } from '@coffer/box'
import { formatBytes } from '../../components/format.ts'
import { useTitle } from '../../components/useTitle.ts'
import { Link } from '../../router.tsx'
import { CsvMapping } from './CsvMapping.tsx'

const DONE = new Set(['done', 'duplicate', 'failed'])
const isCsv = (file: File) => /\.(csv|tsv)$/i.test(file.name) || file.type === 'text/csv'

export default function ImportPage() {
  useTitle('Import')
  const [job, setJob] = useState<ImportJob | null>(null)
  const [error, setError] = useState<string | null>(null)
  const [over, setOver] = useState(false)
  const [importId, setImportId] = useState<string | null>(null)

  // Progress arrives as server-sent events while the upload is still going.
  useEffect(() => {
    if (!importId) return
    let source: EventSource | null = null
    const timer = setTimeout(() => {
      source = new EventSource(eventsUrl(`/imports/${importId}/events`))
      const update = (e: MessageEvent<string>) => setJob(JSON.parse(e.data) as ImportJob)
      source.addEventListener('progress', update)
      source.addEventListener('end', (e) => {
        update(e)
        source?.close()
      })
      // The job may not exist until the first bytes arrive; the final answer of the upload settles it anyway.
      source.onerror = () => source?.close()
    }, 200)
    return () => {
      clearTimeout(timer)
      source?.close()
    }
  }, [importId])

  const [csv, setCsv] = useState<File | null>(null)

  // A CSV file is mapped first; every other format is recognised by the box from its content.
  function choose(file: File) {
    setError(null)
    setJob(null)
    if (isCsv(file)) setCsv(file)
    else void upload(file)
  }

  async function upload(file: File, opts: { profile?: string; source?: string } = {}) {
    const id = crypto.randomUUID()
    setCsv(null)
    setError(null)
    setJob(null)
    setImportId(id)
    try {
      setJob(await api.importFile(id, file, opts))
    } catch (err) {
      setError(message(err))
    } finally {
      setImportId(null)
    }
  }

  const onDrop = (e: DragEvent) => {
    e.preventDefault()
    setOver(false)
    const file = e.dataTransfer.files[0]
    if (file) choose(file)
  }

  const busy = importId !== null
  return (
    <>
      <h1>Import a file</h1>
      <p>
        GPX tracks, an Apple Health export (export.xml or the zip), Google location history, iCalendar (.ics): the format is
        recognised from the content. A CSV file (.csv) first shows its columns, to say which holds the time and which the values.
      </p>
      <div className={`dropzone${over ? ' over' : ''}`} onDragOver={(e) => { e.preventDefault(); setOver(true) }} onDragLeave={() => setOver(false)} onDrop={onDrop}>
        <p>Drop a file here, or</p>
        <label htmlFor="import-file" className="button">Choose a file</label>
        <input id="import-file" className="visually-hidden" type="file" disabled={busy} onChange={(e) => { const f = e.target.files?.[0]; if (f) choose(f); e.target.value = '' }} />
      </div>
      {csv && <CsvMapping file={csv} onImport={(profile, source) => void upload(csv, { profile, source })} onCancel={() => setCsv(null)} />}
      <div aria-live="polite">
        {job && <Progress job={job} />}
      </div>
      {error && <p role="alert" className="notice error">The import did not go through: {error}</p>}
    </>
  )
}

function Progress({ job }: { job: ImportJob }) {
  const finished = DONE.has(job.state)
  return (
    <section className="card" aria-labelledby="import-heading">
      <h2 id="import-heading">{job.name}</h2>
      {!finished && (
        <>
          <progress max={job.size || undefined} value={job.bytesRead} aria-label="Bytes read" />
          <p>{formatBytes(job.bytesRead)}{job.size ? ` of ${formatBytes(job.size)}` : ''} read, {job.records.toLocaleString()} records so far ({job.state}).</p>
        </>
      )}
      {job.state === 'done' && <p className="notice ok">Imported {job.records.toLocaleString()} records{job.format ? ` from ${job.format}` : ''} into {job.source ? <Link to={`/sources/${encodeURIComponent(job.source)}`}>{job.source}</Link> : 'the box'}.</p>}
      {job.state === 'duplicate' && <p className="notice">This file was imported before into {job.source}; nothing new was added.</p>}
      {job.state === 'failed' && <p className="notice error" role="alert">Nothing was imported: {job.error}</p>}
    </section>
  )
}
