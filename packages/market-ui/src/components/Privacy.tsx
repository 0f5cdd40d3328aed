import type { AnswerKind } from '@coffer/market/protocol'
import type { PrivacyTable } from '../api/client.ts'

const LEVEL_NAMES: Record<string, string> = { low: 'Low', medium: 'Medium', high: 'High', dont_share: "Don't share" }
const SHARING = ['low', 'medium', 'high']

function list(items: string[]): string {
  return items.length <= 1 ? items.join('') : `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`
}

/**
 * The privacy a query's answers get. Each owner sets a level per logical type; a box answers
 * at the strictest of its owner's levels for the types the query touches, and answers are
 * noised per level (privacy class) before being merged. The numbers are the market's own,
 * when it publishes them; otherwise the levels are named and the page says the numbers are missing.
 */
export function PrivacyLevels({ table, types, answer }: { table: PrivacyTable | null | undefined; types: string[]; answer: AnswerKind }) {
  const levels = table === undefined ? undefined : table?.levels ?? null
  const touched = types.length > 0 ? list(types) : 'the data it asks for'
  const intro = (
    <p>
      Each owner chose a privacy level for {touched}; a box answers at the strictest of its owner's levels for them. Answers are
      grouped by level, {answer === 'dataset' ? 'each group generalised to its own k and l' : 'each group noised at its own level'}, then merged,
      and the result says the error to expect. Owners at “don't share” never answer.
    </p>
  )
  if (levels === undefined) return <>{intro}<p className="muted">Loading the market's privacy levels…</p></>
  if (levels === null) {
    return (
      <>
        {intro}
        <p>The levels are {list(SHARING.map((l) => LEVEL_NAMES[l]!.toLowerCase()))}: the higher the level, the more noise.</p>
        <p className="notice">This market does not publish its privacy table yet, so the ε behind each level cannot be shown here.</p>
      </>
    )
  }
  const dataset = answer === 'dataset'
  return (
    <>
      {intro}
      {table && <p><strong>What the market sees:</strong> {dataset ? table.whatTheMarketSees.datasets : table.whatTheMarketSees.statistics}</p>}
      <div className="table-wrap">
        <table>
          <caption className="visually-hidden">Privacy levels</caption>
          <thead>
            <tr><th scope="col">Level</th>{dataset ? <><th scope="col">k</th><th scope="col">l</th></> : <th scope="col">ε per answer</th>}<th scope="col">What it means</th></tr>
          </thead>
          <tbody>
            {levels.map((l) => (
              <tr key={l.level}>
                <th scope="row">{LEVEL_NAMES[l.level] ?? l.level}</th>
                {dataset
                  ? <><td>{l.shares ? l.k ?? '—' : '—'}</td><td>{l.shares ? l.l ?? '—' : '—'}</td></>
                  : <td>{l.shares ? l.epsilon ?? '—' : 'never answers'}</td>}
                <td>{l.description}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  )
}
