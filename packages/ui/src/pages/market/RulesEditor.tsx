import { useState, type FormEvent } from 'react'
import './market.css'
import type { AnswerKind, PrivacyLevel } from '@coffer/market/protocol'
import { useAction } from '../../components/useAction.ts'
import { market, type MarketRule } from './api.ts'
import { ANSWER_KINDS, LEVELS, LEVEL_ORDER, describeRule } from './words.ts'

/** A rule as its form holds it: text as typed, lists as ticked. */
interface Draft {
  key: number
  action: 'accept' | 'decline'
  logicalTypes: string[]
  minPrice: string
  levels: PrivacyLevel[]
  purposeIncludes: string
  processors: string
  answers: AnswerKind[]
}

let nextKey = 0

function toDraft(rule: MarketRule): Draft {
  return {
    key: nextKey++, action: rule.action, logicalTypes: rule.logicalTypes ?? [], minPrice: rule.minPrice === undefined ? '' : String(rule.minPrice),
    levels: rule.levels ?? [], purposeIncludes: rule.purposeIncludes ?? '', processors: (rule.processors ?? []).join(', '), answers: rule.answers ?? [],
  }
}

/** The rule the box keeps: a field left empty matches anything, so it is left out. */
function toRule(d: Draft, index: number): MarketRule {
  const price = d.minPrice.trim()
  if (price !== '' && !/^\d+$/.test(price)) throw new Error(`Rule ${index + 1}: the least price is a whole number of satoshis, 0 or more (or leave it empty).`)
  const processors = d.processors.split(',').map((p) => p.trim()).filter(Boolean)
  const purpose = d.purposeIncludes.trim()
  return {
    action: d.action,
    ...(d.logicalTypes.length > 0 ? { logicalTypes: d.logicalTypes } : {}),
    ...(price !== '' ? { minPrice: Number(price) } : {}),
    ...(d.levels.length > 0 ? { levels: d.levels } : {}),
    ...(purpose !== '' ? { purposeIncludes: purpose } : {}),
    ...(processors.length > 0 ? { processors } : {}),
    ...(d.answers.length > 0 ? { answers: d.answers } : {}),
  }
}

const toggle = <T,>(list: T[], item: T, on: boolean) => on ? [...list.filter((x) => x !== item), item] : list.filter((x) => x !== item)

/**
 * The owner's rules, in order: the first that matches a new query accepts or declines it, and a
 * query none matches waits. The draft starts from the box's rules: the page gives it a new key when they change.
 */
export function RulesEditor({ types, rules, onSaved, onNews }: { types: string[]; rules: MarketRule[]; onSaved: (news: string) => void; onNews: (news: string | null) => void }) {
  const [drafts, setDrafts] = useState<Draft[]>(() => rules.map(toDraft))
  const { busy, error, setError, run } = useAction()
  const allTypes = [...new Set([...types, ...drafts.flatMap((d) => d.logicalTypes)])].sort()

  const update = (key: number, change: Partial<Draft>) => setDrafts(drafts.map((d) => d.key === key ? { ...d, ...change } : d))
  const move = (index: number, by: number) => {
    const next = [...drafts]
    const [moved] = next.splice(index, 1)
    next.splice(index + by, 0, moved!)
    setDrafts(next)
  }

  const save = (e: FormEvent) => {
    e.preventDefault()
    onNews(null)
    let list: MarketRule[]
    try {
      list = drafts.map(toRule)
    } catch (err) {
      setError((err as Error).message)
      return
    }
    void run(async () => {
      await market.setRules(list)
      onSaved(list.length === 0 ? 'Saved: no rules, so every query your levels allow waits for you.' : `Saved ${list.length} ${list.length === 1 ? 'rule' : 'rules'}. They decide new queries as they arrive.`)
    })
  }

  return (
    <form onSubmit={save} noValidate>
      <p>The first rule that matches a new query accepts or declines it; a query no rule matches waits for you. A rule never answers about a kind of data you do not share. A field left empty matches any query.</p>
      {drafts.length === 0 && <p>No rules: every query your levels allow waits for you.</p>}
      <ol className="rules">
        {drafts.map((d, i) => {
          const id = `rule-${d.key}`
          let summary: string
          try {
            summary = describeRule(toRule(d, i))
          } catch (err) {
            summary = (err as Error).message
          }
          return (
            <li key={d.key}>
              <fieldset className="request">
                <legend>Rule {i + 1}</legend>
                <p>{summary}</p>
                <div className="choices">
                  <div>
                    <label htmlFor={`${id}-action`}>Then</label>
                    <select id={`${id}-action`} value={d.action} onChange={(e) => update(d.key, { action: e.target.value as Draft['action'] })}>
                      <option value="accept">Accept</option>
                      <option value="decline">Decline</option>
                    </select>
                  </div>
                  <div>
                    <label htmlFor={`${id}-price`}>Paying at least (sat)</label>
                    <input id={`${id}-price`} inputMode="numeric" value={d.minPrice} onChange={(e) => update(d.key, { minPrice: e.target.value })} size={8} />
                  </div>
                  <div>
                    <label htmlFor={`${id}-purpose`}>Purpose mentions</label>
                    <input id={`${id}-purpose`} value={d.purposeIncludes} maxLength={200} onChange={(e) => update(d.key, { purposeIncludes: e.target.value })} />
                  </div>
                  <div>
                    <label htmlFor={`${id}-processors`}>From processors (ids, separated by commas)</label>
                    <input id={`${id}-processors`} value={d.processors} onChange={(e) => update(d.key, { processors: e.target.value })} />
                  </div>
                </div>
                <Checks legend="Only about" name={`${id}-types`} options={allTypes.map((t) => [t, t])} checked={d.logicalTypes} onChange={(t, on) => update(d.key, { logicalTypes: toggle(d.logicalTypes, t, on) })} />
                <Checks legend="Where your level is" name={`${id}-levels`} options={LEVEL_ORDER.filter((l) => l !== 'dont_share').map((l) => [l, LEVELS[l].name])} checked={d.levels} onChange={(l, on) => update(d.key, { levels: toggle(d.levels, l, on) })} />
                <Checks legend="Asking for" name={`${id}-answers`} options={(Object.keys(ANSWER_KINDS) as AnswerKind[]).map((a) => [a, ANSWER_KINDS[a]])} checked={d.answers} onChange={(a, on) => update(d.key, { answers: toggle(d.answers, a, on) })} />
                <div className="actions">
                  <button type="button" onClick={() => move(i, -1)} disabled={i === 0} aria-label={`Move up rule ${i + 1}`}>Move up</button>
                  <button type="button" onClick={() => move(i, 1)} disabled={i === drafts.length - 1} aria-label={`Move down rule ${i + 1}`}>Move down</button>
                  <button type="button" className="danger" onClick={() => setDrafts(drafts.filter((x) => x.key !== d.key))} aria-label={`Remove rule ${i + 1}`}>Remove</button>
                </div>
              </fieldset>
            </li>
          )
        })}
      </ol>
      <div className="actions">
        <button type="button" onClick={() => setDrafts([...drafts, toDraft({ action: 'accept' })])}>Add a rule</button>
        <button type="submit" disabled={busy}>{busy ? 'Saving…' : 'Save rules'}</button>
      </div>
      {error && <p role="alert" className="notice error">{error}</p>}
    </form>
  )
}

function Checks<T extends string>({ legend, name, options, checked, onChange }: {
  legend: string; name: string; options: [T, string][]; checked: T[]; onChange: (value: T, on: boolean) => void
}) {
  return (
    <fieldset className="radios">
      <legend>{legend}</legend>
      {options.length === 0 && <span className="muted">none known yet</span>}
      {options.map(([value, label]) => (
        <label key={value}>
          <input type="checkbox" name={name} value={value} checked={checked.includes(value)} onChange={(e) => onChange(value, e.target.checked)} /> {label}
        </label>
      ))}
    </fieldset>
  )
}
