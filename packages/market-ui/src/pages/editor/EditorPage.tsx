import { useEffect, useMemo, useRef, useState, type FormEvent, type ReactNode } from 'react'
import { describeQuery, type QueryProblem, type Vocabulary } from '@coffer/market/protocol'
import { api, ApiError, message, type Validation } from '../../api/client.ts'
import { Link, navigate } from '../../router.tsx'
import { useLoad } from '../../components/useLoad.ts'
import { useTitle } from '../../components/useTitle.ts'
import { ANSWER_WORDS, count, dateTime, retention as retentionWords, sats } from '../../components/format.ts'
import { PrivacyLevels } from '../../components/Privacy.tsx'
import { boundedAttributes, logicalTypes } from '../../components/spec.ts'
import { FIELD_PATHS, initialForm, toSpec, under, type Answer, type Form, type RetentionUnit } from './form.ts'

/** How long typing pauses before the market checks the query: one request per pause, not per key. */
const CHECK_DELAY_MS = 300

interface Checked {
  validation: Validation
  /** The question as checked, which the problems' lines and columns point into. */
  question: string
  stoodIn: string[]
}

const boundId = (attribute: string, end: 'lo' | 'hi') => `bounds-${attribute.replace(/\W/g, '-')}-${end}`

/** Where the cursor goes for a problem: the field its path points into. */
function fieldId(path: string): string {
  const bound = /^\/bounds\/([^/]+)(?:\/(lo|hi))?/.exec(path)
  if (bound) return boundId(bound[1]!, (bound[2] as 'lo' | 'hi' | undefined) ?? 'lo')
  if (under(path, '/participants')) return path.endsWith('/max') ? 'max' : 'min'
  const field = Object.entries(FIELD_PATHS).find(([, p]) => under(path, p))
  return field ? (field[0] === 'answer' ? 'answer-statistics' : field[0]) : 'question'
}

export function EditorPage() {
  useTitle('New query')
  const [form, setForm] = useState<Form>(() => initialForm())
  const [bounded, setBounded] = useState<string[]>([])
  const [checked, setChecked] = useState<Checked | null>(null)
  const [checking, setChecking] = useState(false)
  const [checkError, setCheckError] = useState<unknown>(null)
  const [postError, setPostError] = useState<string | null>(null)
  const [posting, setPosting] = useState(false)
  const questionRef = useRef<HTMLTextAreaElement>(null)
  const vocabulary = useLoad((signal) => api.vocabulary(signal), [])
  const privacy = useLoad((signal) => api.privacy(signal), [])
  const account = useLoad((signal) => api.account(signal), [])

  const { spec, local, stoodIn } = useMemo(() => toSpec(form, bounded), [form, bounded])
  const specKey = JSON.stringify(spec)

  // Live validation: after each pause in typing, the market checks the whole spec; a newer check aborts an older one.
  useEffect(() => {
    const controller = new AbortController()
    setChecking(true)
    const timer = setTimeout(() => {
      api.validate(spec, controller.signal).then(
        (validation) => {
          if (controller.signal.aborted) return
          setChecked({ validation, question: String(spec.question), stoodIn })
          setCheckError(null)
          setChecking(false)
          // The bounds rows follow the question; while it does not parse, the last ones stay.
          if (validation.query) {
            const next = boundedAttributes(validation.query)
            setBounded((prev) => (prev.join('\n') === next.join('\n') ? prev : next))
          }
        },
        (err: unknown) => {
          if (controller.signal.aborted) return
          setCheckError(err)
          setChecking(false)
        },
      )
    }, CHECK_DELAY_MS)
    return () => {
      clearTimeout(timer)
      controller.abort()
    }
  }, [specKey])

  const serverProblems = (checked?.validation.problems ?? []).filter((p) => !checked!.stoodIn.some((s) => under(p.path, s)) && !stoodIn.some((s) => under(p.path, s)))
  const problems = [...local, ...serverProblems]
  const at = (path: string) => problems.filter((p) => under(p.path, path))
  const placed = (p: QueryProblem) => Object.values(FIELD_PATHS).some((f) => under(p.path, f)) || under(p.path, '/participants') || under(p.path, '/bounds')
  const elsewhere = problems.filter((p) => !placed(p))
  const query = checked?.validation.query
  const questionProblems = at('/question')

  const set = <K extends keyof Form>(key: K, value: Form[K]) => {
    setForm((f) => ({ ...f, [key]: value }))
    setPostError(null)
  }
  const setBound = (attribute: string, end: 'lo' | 'hi', value: string) => {
    setForm((f) => ({ ...f, bounds: { ...f.bounds, [attribute]: { ...(f.bounds[attribute] ?? { lo: '', hi: '' }), [end]: value } } }))
    setPostError(null)
  }

  /** Puts the cursor where a problem in the question is, and selects what it is about. */
  function showInQuestion(p: QueryProblem) {
    const el = questionRef.current
    if (!el || p.offset === undefined) return
    el.focus()
    el.setSelectionRange(p.offset, p.offset + tokenLength(form.question, p.offset))
  }

  async function submit(e: FormEvent) {
    e.preventDefault()
    if (problems.length > 0) {
      setPostError(`Fix the ${problems.length === 1 ? 'problem' : `${problems.length} problems`} marked below, then post.`)
      document.getElementById(fieldId(problems[0]!.path))?.focus()
      return
    }
    setPosting(true)
    setPostError(null)
    try {
      const posted = await api.post(spec)
      navigate(`/queries/${posted.id}`)
    } catch (err) {
      if (err instanceof ApiError && err.problems.length > 0) setChecked({ validation: { valid: false, problems: err.problems }, question: String(spec.question), stoodIn })
      setPostError(message(err))
      setPosting(false)
      // Refused for want of funds, the balance may have changed since the page loaded: show it as it is now.
      if (err instanceof ApiError && err.status === 402) account.reload()
    }
  }

  const price = local.some((p) => under(p.path, '/price')) ? undefined : Number(form.price)
  const max = local.some((p) => under(p.path, '/participants/max')) ? undefined : Number(form.max)
  const status = checkError ? `The market could not check the query: ${message(checkError)}`
    : checking || !checked ? 'Checking…'
      : problems.length === 0 ? 'No problems: ready to post.'
        : `${problems.length === 1 ? '1 problem' : `${problems.length} problems`} to fix before posting.`

  return (
    <>
      <h1>New query</h1>
      <p className="lead">Ask many boxes one aggregate question. The market checks it as you type; owners see it in plain words, with your purpose and price, and decide.</p>
      <div className="editor">
        <form onSubmit={submit} noValidate aria-describedby="check-status">
          <div className="field">
            <label htmlFor="question">Question</label>
            <p id="question-hint" className="hint">In the query language: <code>SELECT AVG(Identity.age) WHERE Identity.city = aachen</code>. A time series says what one person's value is: <code>MEAN(SUM(Activity.steps) PER 1d) DURING 2026-10-01 .. 2026-11-01</code>.</p>
            <textarea
              id="question" ref={questionRef} name="question" rows={5} spellCheck={false} autoCapitalize="off" autoCorrect="off"
              className="code" value={form.question} onChange={(e) => set('question', e.target.value)}
              placeholder="SELECT COUNT(*) WHERE Identity.city = aachen"
              aria-invalid={questionProblems.length > 0 || undefined} aria-describedby={describedBy('question', questionProblems, 'question-hint')}
            />
            {questionProblems.length > 0 && (
              <ul id="question-problems" className="problems" aria-label="Problems in the question">
                {questionProblems.map((p, i) => (
                  <li key={i}>
                    <p className="problem-text">{p.line !== undefined ? <strong>Line {p.line}, column {p.column}: </strong> : null}{p.message}</p>
                    {p.line !== undefined && checked?.question === form.question && <Excerpt text={checked.question} problem={p} />}
                    {p.offset !== undefined && checked?.question === form.question && (
                      <button type="button" className="link" onClick={() => showInQuestion(p)}>Show it in the question<span className="visually-hidden"> (line {p.line}, column {p.column})</span></button>
                    )}
                  </li>
                ))}
              </ul>
            )}
            <Attributes vocabulary={vocabulary.data} />
          </div>

          <Field id="purpose" label="Purpose" problems={at('/purpose')} hint="Why you ask, in plain words. Owners read it before they decide.">
            {(a) => <textarea id="purpose" name="purpose" rows={3} maxLength={2000} value={form.purpose} onChange={(e) => set('purpose', e.target.value)} {...a} />}
          </Field>

          <div className="row">
            <Field id="price" label="Price per participant (sat)" problems={at('/price')} hint="Paid to each box that answers, in satoshis.">
              {(a) => <input id="price" name="price" inputMode="numeric" value={form.price} onChange={(e) => set('price', e.target.value)} {...a} />}
            </Field>
            <Field id="min" label="Fewest participants" problems={at('/participants/min').concat(problems.filter((p) => p.path === '/participants'))} hint="Fewer by the deadline, and nothing is released. At least 10.">
              {(a) => <input id="min" name="min" inputMode="numeric" value={form.min} onChange={(e) => set('min', e.target.value)} {...a} />}
            </Field>
            <Field id="max" label="Most participants" problems={at('/participants/max')} hint="No more boxes take part once this many have.">
              {(a) => <input id="max" name="max" inputMode="numeric" value={form.max} onChange={(e) => set('max', e.target.value)} {...a} />}
            </Field>
          </div>

          <div className="row">
            <Field id="deadline" label="Deadline" problems={at('/deadline')} hint="Owners may consent until then; answers are gathered then. Your local time.">
              {(a) => <input id="deadline" name="deadline" type="datetime-local" value={form.deadline} onChange={(e) => set('deadline', e.target.value)} {...a} />}
            </Field>
            <div className="field">
              <label htmlFor="retention">You keep the answer for</label>
              <div className="pair">
                <input
                  id="retention" name="retention" inputMode="numeric" value={form.retention} onChange={(e) => set('retention', e.target.value)}
                  aria-invalid={at('/retention').length > 0 || undefined} aria-describedby={describedBy('retention', at('/retention'))}
                />
                <select aria-label="Unit of the time you keep the answer" value={form.retentionUnit} onChange={(e) => set('retentionUnit', e.target.value as RetentionUnit)}>
                  <option value="d">days</option>
                  <option value="w">weeks</option>
                  <option value="mo">months</option>
                  <option value="y">years</option>
                </select>
              </div>
              <Problems id="retention" problems={at('/retention')} />
            </div>
          </div>

          <fieldset className="radios" aria-describedby={describedBy('answer', at('/answer'))}>
            <legend>Kind of answer</legend>
            {(['statistics', 'histogram', 'dataset'] as const).map((kind) => (
              <label key={kind}>
                <input type="radio" id={`answer-${kind}`} name="answer" value={kind} checked={form.answer === kind} onChange={() => set('answer', kind as Answer)} /> {ANSWER_WORDS[kind]}
              </label>
            ))}
            <Problems id="answer" problems={at('/answer')} />
          </fieldset>

          {bounded.length > 0 && (
            <fieldset className="bounds">
              <legend>Declared bounds</legend>
              <p className="hint">Each box clips its owner's value to these before it leaves the box, so no one person can move the answer by more than they allow. Declare them from what is plausible, never from the data.</p>
              {bounded.map((attribute) => {
                const here = at(`/bounds/${attribute}`)
                const entered = form.bounds[attribute] ?? { lo: '', hi: '' }
                return (
                  <div key={attribute} className="bound">
                    <span className="bound-name" id={`${boundId(attribute, 'lo')}-name`}><code>{attribute}</code></span>
                    <div className="pair">
                      <label htmlFor={boundId(attribute, 'lo')}>from<span className="visually-hidden"> (lowest {attribute})</span></label>
                      <input id={boundId(attribute, 'lo')} inputMode="decimal" value={entered.lo} onChange={(e) => setBound(attribute, 'lo', e.target.value)}
                        aria-invalid={here.some((p) => !p.path.endsWith('/hi')) || undefined} aria-describedby={describedBy(boundId(attribute, 'lo'), here)} />
                      <label htmlFor={boundId(attribute, 'hi')}>to<span className="visually-hidden"> (highest {attribute})</span></label>
                      <input id={boundId(attribute, 'hi')} inputMode="decimal" value={entered.hi} onChange={(e) => setBound(attribute, 'hi', e.target.value)}
                        aria-invalid={here.some((p) => !p.path.endsWith('/lo')) || undefined} aria-describedby={describedBy(boundId(attribute, 'lo'), here)} />
                    </div>
                    <Problems id={boundId(attribute, 'lo')} problems={here} />
                  </div>
                )
              })}
            </fieldset>
          )}

          {elsewhere.length > 0 && (
            <ul className="problems" aria-label="Other problems">
              {elsewhere.map((p, i) => <li key={i}><p className="problem-text"><code>{p.path}</code>: {p.message}</p></li>)}
            </ul>
          )}

          <p id="check-status" role="status" className={`check ${problems.length === 0 && checked && !checking && !checkError ? 'ok' : ''}`}>{status}</p>
          {postError && <p role="alert" className="notice error">{postError}</p>}
          <div className="actions">
            <button type="submit" disabled={posting}>{posting ? 'Posting…' : 'Post query'}</button>
          </div>
        </form>

        <aside className="summary" aria-labelledby="summary-heading">
          <h2 id="summary-heading">What you are asking</h2>
          {query && questionProblems.length === 0 && vocabulary.data
            ? <p className="plain">{plainWords(query, vocabulary.data)}</p>
            : <p className="muted">The question in plain words appears here once the market can read it.</p>}
          {checked?.validation.text && questionProblems.length === 0 && <p className="canonical"><code>{checked.validation.text}</code></p>}
          <dl className="facts stacked">
            <div>
              <dt>The most it can cost</dt>
              <dd>
                {price !== undefined && max !== undefined ? <>{sats(price)} × {count(max)} participants = <strong>{sats(price * max)}</strong></> : '—'}
                {account.data && <span className="hint"> Held from your balance of {sats(account.data.balance)} when you post; what is not paid out comes back.</span>}
                {account.data && price !== undefined && max !== undefined && price * max > account.data.balance && (
                  <span className="hint"> Your balance does not cover it yet: <Link to="/account">how to pay in</Link>.</span>
                )}
              </dd>
            </div>
            <div><dt>Participants</dt><dd>{form.min || '—'} to {form.max || '—'}; fewer than {form.min || 'the fewest'} by the deadline and nothing is released</dd></div>
            <div><dt>Deadline</dt><dd>{local.some((p) => p.path === '/deadline') ? '—' : dateTime(new Date(form.deadline).toISOString())}</dd></div>
            <div><dt>Answer</dt><dd>{ANSWER_WORDS[form.answer]}, kept for {local.some((p) => p.path === '/retention') ? '—' : retentionWords(`${form.retention.trim()}${form.retentionUnit}`)}</dd></div>
            <div>
              <dt>Declared bounds</dt>
              <dd>
                {Object.keys(spec.bounds as object).length === 0 ? (bounded.length ? 'not yet declared' : 'none needed')
                  : <ul className="plain-list">{Object.entries(spec.bounds as Record<string, { lo: number; hi: number }>).map(([name, b]) => <li key={name}><code>{name}</code>: {b.lo} to {b.hi}</li>)}</ul>}
              </dd>
            </div>
          </dl>
          <h3>The privacy it will get</h3>
          <PrivacyLevels table={privacy.error ? null : privacy.data} types={logicalTypes(query)} answer={form.answer} />
        </aside>
      </div>
    </>
  )
}

function plainWords(query: NonNullable<Validation['query']>, vocabulary: Vocabulary): string {
  try {
    return describeQuery(query, vocabulary)
  } catch {
    return 'The market could read the question but not put it in plain words; the text below is what boxes receive.'
  }
}

/** How many characters a problem is about: the name or number starting there, or one character. */
function tokenLength(text: string, offset: number): number {
  const m = /^[A-Za-z0-9_.*'"-]+/.exec(text.slice(offset))
  return m ? m[0].length : 1
}

/** The line a problem is on, with the place marked, as a compiler shows it. Visual only: the message says the same. */
function Excerpt({ text, problem }: { text: string; problem: QueryProblem }) {
  const line = text.split('\n')[problem.line! - 1] ?? ''
  const col = Math.max(0, (problem.column ?? 1) - 1)
  const length = col < line.length ? tokenLength(line, col) : 0
  return (
    <pre className="excerpt" aria-hidden="true"><span className="gutter">{problem.line} │ </span>{line.slice(0, col)}<mark>{length > 0 ? line.slice(col, col + length) : ' '}</mark>{line.slice(col + length)}</pre>
  )
}

function describedBy(id: string, problems: QueryProblem[], hint?: string): string | undefined {
  const ids = [hint, problems.length > 0 ? `${id}-problems` : undefined].filter(Boolean)
  return ids.length > 0 ? ids.join(' ') : undefined
}

function Problems({ id, problems }: { id: string; problems: QueryProblem[] }) {
  if (problems.length === 0) return null
  return (
    <ul id={`${id}-problems`} className="problems">
      {problems.map((p, i) => <li key={i}><p className="problem-text">{p.message}</p></li>)}
    </ul>
  )
}

interface FieldAria { 'aria-invalid'?: true; 'aria-describedby'?: string }

function Field({ id, label, hint, problems, children }: { id: string; label: string; hint?: string; problems: QueryProblem[]; children: (aria: FieldAria) => ReactNode }) {
  const aria: FieldAria = { 'aria-invalid': problems.length > 0 ? true : undefined, 'aria-describedby': describedBy(id, problems, hint ? `${id}-hint` : undefined) }
  if (!aria['aria-invalid']) delete aria['aria-invalid']
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {hint && <p id={`${id}-hint`} className="hint">{hint}</p>}
      {children(aria)}
      <Problems id={id} problems={problems} />
    </div>
  )
}

/** The vocabulary, for reference while writing: every attribute a question may name. */
function Attributes({ vocabulary }: { vocabulary: Vocabulary | undefined }) {
  if (!vocabulary) return null
  return (
    <details className="vocabulary">
      <summary>Attributes you can ask about</summary>
      <div className="table-wrap">
        <table>
          <thead><tr><th scope="col">Name</th><th scope="col">Type</th><th scope="col">What it is</th></tr></thead>
          <tbody>
            {vocabulary.types.flatMap((t) => t.attributes.map((a) => (
              <tr key={`${t.name}.${a.name}`}>
                <th scope="row"><code>{t.name}.{a.name}</code></th>
                <td>{a.technicalType === 'string' ? 'text' : a.technicalType}{a.unit && a.unit !== 'count' ? ` (${a.unit})` : ''}{a.series ? `, per ${a.series.bucket}` : ''}</td>
                <td>{a.description}</td>
              </tr>
            )))}
          </tbody>
        </table>
      </div>
    </details>
  )
}
