/**
 * A CSV file needs a column mapping before it can be imported: which column is the time and how
 * it is written, which columns are values and what they are called. The box reads the start of
 * the file and guesses; the owner corrects, saves the mapping by name, and imports.
 */
import { useEffect, useState } from 'react'
import { api } from '../../api/client.ts'
import type { CsvPreview, LogicalType } from '@coffer/box'
import { ErrorNotice } from '../../components/Notice.tsx'
import { TableWrap } from '../../components/TableWrap.tsx'
import { useAction } from '../../components/useAction.ts'
import { useLoad } from '../../components/useLoad.ts'
import { LOGICAL_TYPES, TIME_FORMATS, idFrom, mappingFrom, mappingFromProfile, profileFrom, type ColumnChoice, type Mapping } from './mapping.ts'

const PREVIEW_BYTES = 64 * 1024
const ZONE = Intl.DateTimeFormat().resolvedOptions().timeZone
const DELIMITERS: Record<string, string> = { ',': 'commas', ';': 'semicolons', '\t': 'tabs', '|': 'bars' }

export function CsvMapping({ file, onImport, onCancel }: { file: File; onImport: (profile: string, source: string) => void; onCancel: () => void }) {
  const preview = useLoad((signal) => api.csvPreview(file.slice(0, PREVIEW_BYTES), signal), [file])
  const profiles = useLoad((signal) => api.csvProfiles(signal), [])
  const [mapping, setMapping] = useState<Mapping | null>(null)
  const [name, setName] = useState(idFrom(file.name))
  const [source, setSource] = useState(idFrom(file.name))
  const action = useAction()
  useEffect(() => { if (preview.data) setMapping(mappingFrom(preview.data, ZONE)) }, [preview.data])

  if (preview.error) {
    return (
      <section className="card" aria-labelledby="csv-heading">
        <h2 id="csv-heading">{file.name}</h2>
        <ErrorNotice error={preview.error} />
        <button type="button" onClick={onCancel}>Choose another file</button>
      </section>
    )
  }
  if (!preview.data || !mapping) return <p role="status">Reading the start of {file.name}…</p>
  const p: CsvPreview = preview.data
  const set = (change: Partial<Mapping>) => setMapping({ ...mapping, ...change })
  const setColumn = (column: string, change: Partial<ColumnChoice>) => set({ columns: mapping.columns.map((c) => (c.column === column ? { ...c, ...change } : c)) })
  const startFrom = (saved: string) => {
    const found = profiles.data?.find((x) => x.name === saved)
    if (!found) return
    setMapping(mappingFromProfile(found.profile, p))
    setName(found.name)
  }
  const submit = () => action.run(async () => {
    if (!mapping.columns.some((c) => c.use && c.column !== mapping.timeColumn)) throw new Error('Choose at least one column to import as values.')
    await api.saveCsvProfile(name, profileFrom(mapping))
    onImport(name, source)
  })

  return (
    <section className="card" aria-labelledby="csv-heading">
      <h2 id="csv-heading">Map the columns of {file.name}</h2>
      <p>Read as {p.encoding} text with {DELIMITERS[p.delimiter] ?? `“${p.delimiter}”`} between fields. The first rows:</p>
      <TableWrap label={`First rows of ${file.name}`}>
        <table>
          <thead><tr>{p.columns.map((c) => <th key={c} scope="col">{c}</th>)}</tr></thead>
          <tbody>{p.rows.map((r, i) => <tr key={i}>{p.columns.map((c, j) => <td key={c}>{r[j] ?? ''}</td>)}</tr>)}</tbody>
        </table>
      </TableWrap>

      <form className="mapping" onSubmit={(e) => { e.preventDefault(); void submit() }} noValidate>
        {profiles.data && profiles.data.length > 0 && (
          <p>
            <label htmlFor="csv-saved">Start from a saved mapping </label>
            <select id="csv-saved" defaultValue="" onChange={(e) => startFrom(e.target.value)}>
              <option value="" disabled>choose…</option>
              {profiles.data.map((x) => <option key={x.name} value={x.name}>{x.name}</option>)}
            </select>
          </p>
        )}
        <fieldset>
          <legend>Time</legend>
          <div className="inline-form">
            <div>
              <label htmlFor="csv-time">Column</label>
              <select id="csv-time" value={mapping.timeColumn} onChange={(e) => set({ timeColumn: e.target.value })}>
                {p.columns.map((c) => <option key={c} value={c}>{c}</option>)}
              </select>
            </div>
            <div>
              <label htmlFor="csv-format">Written as</label>
              <input id="csv-format" list="csv-formats" value={mapping.timeFormat} onChange={(e) => set({ timeFormat: e.target.value })} aria-describedby="csv-format-hint" spellCheck={false} />
              <datalist id="csv-formats">{TIME_FORMATS.map((f) => <option key={f} value={f} />)}</datalist>
              <span id="csv-format-hint" className="hint">iso, epoch, epoch-ms, or a pattern such as DD.MM.YYYY HH:mm</span>
            </div>
            <div>
              <label htmlFor="csv-tz">Time zone</label>
              <input id="csv-tz" value={mapping.tz} onChange={(e) => set({ tz: e.target.value })} aria-describedby="csv-tz-hint" spellCheck={false} />
              <span id="csv-tz-hint" className="hint">for times written without an offset</span>
            </div>
          </div>
        </fieldset>

        <fieldset>
          <legend>Values</legend>
          <TableWrap label="Columns to import">
            <table className="field-rows">
              <thead><tr><th scope="col">Import</th><th scope="col">Column</th><th scope="col">Record name</th><th scope="col">Kind</th><th scope="col">Unit</th></tr></thead>
              <tbody>
                {mapping.columns.filter((c) => c.column !== mapping.timeColumn).map((c, i) => (
                  <tr key={c.column}>
                    <td><input type="checkbox" id={`csv-use-${i}`} checked={c.use} onChange={(e) => setColumn(c.column, { use: e.target.checked })} /></td>
                    <th scope="row"><label htmlFor={`csv-use-${i}`}>{c.column}</label></th>
                    <td><input aria-label={`Record name for ${c.column}`} value={c.name} onChange={(e) => setColumn(c.column, { name: e.target.value })} disabled={!c.use} spellCheck={false} /></td>
                    <td>
                      <select aria-label={`Kind of ${c.column}`} value={c.type} onChange={(e) => setColumn(c.column, { type: e.target.value as ColumnChoice['type'] })} disabled={!c.use}>
                        <option value="number">number</option>
                        <option value="string">text</option>
                      </select>
                    </td>
                    <td><input aria-label={`Unit of ${c.column}`} value={c.unit} onChange={(e) => setColumn(c.column, { unit: e.target.value })} disabled={!c.use || c.type !== 'number'} placeholder="kWh" spellCheck={false} /></td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableWrap>
          <div className="radios" role="radiogroup" aria-label="Decimal separator">
            <span>Decimals are written with </span>
            <label><input type="radio" name="csv-decimal" checked={mapping.decimal === '.'} onChange={() => set({ decimal: '.' })} /> a point (4.50)</label>
            <label><input type="radio" name="csv-decimal" checked={mapping.decimal === ','} onChange={() => set({ decimal: ',' })} /> a comma (4,50)</label>
          </div>
        </fieldset>

        <div className="inline-form">
          <div>
            <label htmlFor="csv-kind">What the data is</label>
            <select id="csv-kind" value={mapping.logicalType} onChange={(e) => set({ logicalType: e.target.value as LogicalType })}>
              {LOGICAL_TYPES.map((t) => <option key={t} value={t}>{t}</option>)}
            </select>
          </div>
          <div>
            <label htmlFor="csv-source">Import into source</label>
            <input id="csv-source" value={source} onChange={(e) => setSource(e.target.value)} spellCheck={false} />
          </div>
          <div>
            <label htmlFor="csv-name">Save the mapping as</label>
            <input id="csv-name" value={name} onChange={(e) => setName(e.target.value)} aria-describedby="csv-name-hint" spellCheck={false} />
            <span id="csv-name-hint" className="hint">for the next file like this one</span>
          </div>
        </div>
        <div className="actions">
          <button type="submit" disabled={action.busy}>Save mapping and import</button>
          <button type="button" onClick={onCancel} disabled={action.busy}>Cancel</button>
        </div>
      </form>
      {action.error && <p role="alert" className="notice error">{action.error}</p>}
    </section>
  )
}
