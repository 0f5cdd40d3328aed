import { useState, type FormEvent } from 'react'
import type { SourceSummary } from '@coffer/box'
import { TableWrap } from '../../components/TableWrap.tsx'
import { useAction } from '../../components/useAction.ts'
import { market, type Mapping, type MappingRow } from './api.ts'

/** A place as a select's value: the source, and the record name in it. */
const place = (source: string, name: string | null) => `${source}\n${name ?? ''}`
const unplace = (value: string) => {
  const [source, name] = value.split('\n') as [string, string]
  return name === '' ? { source } : { source, name }
}

const BY = { owner: 'you', default: 'the box, by its name', none: '—' }

/**
 * Where the box finds each attribute of one market's vocabulary, and a choice of source per
 * attribute among the box's series of the same kind. The draft starts from the box's answer:
 * the page gives it a new key when that changes.
 */
export function MappingTable({ marketId, rows, sources, onSaved, onNews }: { marketId: string; rows: MappingRow[]; sources: SourceSummary[]; onSaved: (news: string) => void; onNews: (news: string | null) => void }) {
  const [chosen, setChosen] = useState<Record<string, string>>({})
  // Saved, until the box's new answer replaces this table.
  const [saved, setSaved] = useState(false)
  const { busy, error, run } = useAction()

  const save = (e: FormEvent) => {
    e.preventDefault()
    const currents = new Map(rows.map((r) => [r.attribute, r.source === null ? '' : place(r.source, r.name)]))
    const mapping: Mapping = Object.fromEntries(Object.entries(chosen)
      .filter(([attribute, value]) => value !== '' && value !== currents.get(attribute))
      .map(([attribute, value]) => [attribute, unplace(value)]))
    void run(async () => {
      onNews(null)
      setSaved(false)
      if (Object.keys(mapping).length > 0) await market.setMapping(mapping)
      setSaved(true)
      onSaved(Object.keys(mapping).length === 0 ? 'Nothing changed.' : `Saved where the box finds ${Object.keys(mapping).join(', ')}.`)
    })
  }

  return (
    <form onSubmit={save} noValidate>
      <TableWrap label={`Where the box finds the data ${marketId} asks about`}>
        <table className="mapping-table">
          <thead><tr><th scope="col">Attribute</th><th scope="col">Kind</th><th scope="col">Found in</th><th scope="col">Chosen by</th></tr></thead>
          <tbody>
            {rows.map((row) => {
              const current = row.source === null ? '' : place(row.source, row.name)
              const value = chosen[row.attribute] ?? current
              const options = sources.flatMap((s) => s.series
                .filter((series) => series.type === row.technicalType)
                .map((series) => ({ value: place(s.id, series.name), label: `${s.id}: ${series.name}${series.unit ? ` (${series.unit})` : ''}` })))
              if (current !== '' && !options.some((o) => o.value === current)) options.unshift({ value: current, label: `${row.source}${row.name ? `: ${row.name}` : ''}` })
              const id = `map-${marketId}-${row.attribute}`
              return (
                <tr key={row.attribute}>
                  <th scope="row"><label htmlFor={id}>{row.attribute}</label></th>
                  <td>{row.technicalType}{row.unit ? ` (${row.unit})` : ''}</td>
                  <td>
                    <select id={id} value={value} onChange={(e) => { setSaved(false); setChosen({ ...chosen, [row.attribute]: e.target.value }) }}>
                      {current === '' && <option value="">Not found (cannot answer)</option>}
                      {options.map((o) => <option key={o.value} value={o.value}>{o.label}</option>)}
                    </select>
                  </td>
                  <td>{chosen[row.attribute] !== undefined && chosen[row.attribute] !== current ? (saved ? BY.owner : 'you (not saved yet)') : BY[row.by ?? 'none']}</td>
                </tr>
              )
            })}
          </tbody>
        </table>
      </TableWrap>
      <div className="actions">
        <button type="submit" disabled={busy}>{busy ? 'Saving…' : 'Save where to find the data'}</button>
      </div>
      {error && <p role="alert" className="notice error">{error}</p>}
    </form>
  )
}
