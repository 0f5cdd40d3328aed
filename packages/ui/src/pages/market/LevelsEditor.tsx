import { useState, type FormEvent } from 'react'
import type { PrivacyLevel } from '@coffer/market/protocol'
import { TableWrap } from '../../components/TableWrap.tsx'
import { useAction } from '../../components/useAction.ts'
import { market, type PrivacyLevels } from './api.ts'
import { LEVELS, LEVEL_ORDER, levelOf, levelParameters, sharing } from './words.ts'

/**
 * A privacy level per kind of data the joined markets ask about; a kind without one is not shared.
 * The draft starts from the box's levels: the page gives it a new key when they change.
 */
export function LevelsEditor({ types, levels, onSaved, onNews }: { types: string[]; levels: PrivacyLevels; onSaved: (news: string) => void; onNews: (news: string | null) => void }) {
  const [draft, setDraft] = useState<PrivacyLevels>(levels)
  const { busy, error, run } = useAction()

  const changed = types.filter((t) => levelOf(draft, t) !== levelOf(levels, t))
  const save = (e: FormEvent) => {
    e.preventDefault()
    void run(async () => {
      onNews(null)
      await market.setLevels(Object.fromEntries(changed.map((t) => [t, levelOf(draft, t)])))
      onSaved(changed.length === 0 ? 'Nothing changed.' : `Saved: ${changed.map((t) => `${t} ${LEVELS[levelOf(draft, t)].name.toLowerCase()}`).join(', ')}. New queries are judged with these levels.`)
    })
  }

  return (
    <>
      <p>Each level stands for fixed parameters: the noise (ε) added to each statistics answer, the ε your box may spend on one kind of data in a calendar month, and for datasets the group sizes k and l. Your box keeps the budget and refuses any query that would overrun it.</p>
      <h3>What each level means</h3>
      <TableWrap label="What the privacy levels mean">
        <table>
          <thead><tr><th scope="col">Level</th><th scope="col">ε per answer</th><th scope="col">ε per month</th><th scope="col">Datasets (k, l)</th><th scope="col">In short</th></tr></thead>
          <tbody>
            {LEVEL_ORDER.map((level) => {
              const m = sharing(level)
              return (
                <tr key={level}>
                  <th scope="row">{LEVELS[level].name}</th>
                  <td>{m ? m.epsilon : '—'}</td>
                  <td>{m ? `${m.monthly} (${m.answersPerMonth} answers)` : '—'}</td>
                  <td>{m ? `k = ${m.k}, l = ${m.l}` : '—'}</td>
                  <td>{LEVELS[level].says}</td>
                </tr>
              )
            })}
          </tbody>
        </table>
      </TableWrap>
      {types.length === 0
        ? <p>Join a market to see the kinds of data it asks about.</p>
        : (
          <form onSubmit={save} noValidate>
            <h3>Your levels</h3>
            <TableWrap label="Your privacy levels">
              <table>
                <thead><tr><th scope="col">Kind of data</th><th scope="col">Your level</th><th scope="col">What it means</th></tr></thead>
                <tbody>
                  {types.map((type) => (
                    <tr key={type}>
                      <th scope="row"><label htmlFor={`level-${type}`}>{type}</label></th>
                      <td>
                        <select id={`level-${type}`} value={levelOf(draft, type)} onChange={(e) => setDraft({ ...draft, [type]: e.target.value as PrivacyLevel })}>
                          {LEVEL_ORDER.map((level) => <option key={level} value={level}>{LEVELS[level].name}{level === 'dont_share' && !(type in levels) ? ' (not chosen yet)' : ''}</option>)}
                        </select>
                      </td>
                      <td>{levelParameters(levelOf(draft, type))}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </TableWrap>
            <div className="actions">
              <button type="submit" disabled={busy}>{busy ? 'Saving…' : 'Save levels'}</button>
            </div>
          </form>
        )}
      <p className="muted">Levels and rules decide each query as it arrives; a query already read keeps what was decided then.</p>
      {error && <p role="alert" className="notice error">{error}</p>}
    </>
  )
}
