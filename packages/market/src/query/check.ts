/**
 * What is wrong with a query, against a vocabulary, and with a whole spec. Every problem is
 * found, not just the first, so a processor's editor can mark them all; each has a JSON pointer
 * and, for a query parsed from text, the place in the text.
 */
import { findAttribute, type Attribute, type Reduction, type TechnicalType, type Vocabulary } from '../vocabulary/index.ts'
import { parseQuery, positionOf, QuerySyntaxError } from './parse.ts'
import {
  MAX_COMPARISONS_PER_GROUP, MAX_GROUPS, MAX_HISTOGRAM_EDGES, MAX_PARTICIPANTS, MAX_PREFIX, MAX_SELECTIONS, MIN_PARTICIPANTS_FLOOR,
  type Column, type Comparison, type Query, type QueryProblem, type QuerySpec, type Selection, type Value,
} from './schema.ts'
import { printValue } from './print.ts'

/** The longest window of dates a value may reduce over. */
export const MAX_WINDOW_DAYS = 5 * 366
const DAY_MS = 86_400_000
/** A date ends last in the westernmost time zone, UTC-12: dates are the box's own, in its zone. */
const LATEST_ZONE_MS = 12 * 3_600_000
const ORDERED = new Set(['<', '>', '<=', '>='])
/** Reductions that need numbers: the others (count, last, mode) take any value. */
const NUMERIC_REDUCTIONS = new Set<Reduction>(['sum', 'mean', 'min', 'max'])

type SeriesOnly = Extract<Value, { series: object }>

class Problems {
  readonly list: QueryProblem[] = []
  constructor(private readonly prefix = '') {}

  add(node: object, path: string, message: string, field = ''): void {
    const at = positionOf(node, field)
    this.list.push(at ? { path: this.prefix + path, message, ...at } : { path: this.prefix + path, message })
  }
}

/** The problems with `query` against `vocabulary`; [] when it is valid. */
export function checkQuery(query: Query, vocabulary: Vocabulary): QueryProblem[] {
  const problems = new Problems()
  checkQueryInto(query, vocabulary, problems)
  return problems.list
}

function checkQueryInto(query: Query, vocabulary: Vocabulary, problems: Problems): void {
  if (query.select.length === 0) problems.add(query, '/select', 'SELECT needs at least one thing to select.')
  if (query.select.length > MAX_SELECTIONS) problems.add(query, '/select', `At most ${MAX_SELECTIONS} things may be selected; this query selects ${query.select.length}.`)
  const aggregates = query.select.filter((s) => 'aggregate' in s).length
  if (aggregates > 0 && aggregates < query.select.length) {
    problems.add(query, '/select', 'A query either aggregates (COUNT, SUM, AVG, HISTOGRAM) or lists values for a dataset, not both.')
  }
  query.select.forEach((s, i) => checkSelection(s, `/select/${i}`, vocabulary, problems))
  const where = query.where ?? []
  if (query.where && where.length === 0) problems.add(query, '/where', 'WHERE needs at least one condition; leave it out to ask everyone.')
  if (where.length > MAX_GROUPS) problems.add(query, '/where', `At most ${MAX_GROUPS} groups may be joined by OR; this WHERE has ${where.length}.`)
  where.forEach((group, g) => {
    if (group.length === 0) problems.add(query, `/where/${g}`, 'An AND group needs at least one comparison.')
    if (group.length > MAX_COMPARISONS_PER_GROUP) problems.add(group[0]!, `/where/${g}`, `At most ${MAX_COMPARISONS_PER_GROUP} comparisons may be joined by AND; this group has ${group.length}.`)
    group.forEach((c, i) => checkComparison(c, `/where/${g}/${i}`, vocabulary, problems))
  })
}

function checkSelection(s: Selection, path: string, vocabulary: Vocabulary, problems: Problems): void {
  if (!('value' in s)) return
  const type = checkValue(s.value, `${path}/value`, vocabulary, problems)
  if (!('aggregate' in s)) return checkColumn(s, type, path, problems)
  if (!('aggregate' in s) || s.aggregate === 'count' || type === undefined) return
  const name = s.aggregate.toUpperCase()
  if (type !== 'number') problems.add(s.value, `${path}/value`, `${name} needs a number, and ${printValue(s.value)} is ${article(type)}; only COUNT takes any value.`)
  if (s.aggregate !== 'histogram') return
  const edges = s.edges
  if (edges.length < 2 || edges.length > MAX_HISTOGRAM_EDGES) {
    problems.add(s, `${path}/edges`, `A histogram needs 2 to ${MAX_HISTOGRAM_EDGES} edges (1 to ${MAX_HISTOGRAM_EDGES - 1} buckets); this one has ${edges.length}.`, 'edges')
  }
  edges.forEach((e, i) => {
    if (!Number.isFinite(e)) problems.add(s, `${path}/edges/${i}`, 'Histogram edges must be finite numbers.', `edges/${i}`)
    else if (i > 0 && !(e > edges[i - 1]!)) problems.add(s, `${path}/edges/${i}`, `Histogram edges must ascend: ${e} comes after ${edges[i - 1]}.`, `edges/${i}`)
  })
}

/**
 * A dataset's column is released generalised: a number always as a band (an exact number tells
 * one person from another), a text as it is or as its first characters.
 */
function checkColumn(c: Column, type: TechnicalType | undefined, path: string, problems: Problems): void {
  const subject = printValue(c.value)
  if (c.band !== undefined && c.prefix !== undefined) problems.add(c, path, `${subject} takes BAND or PREFIX, not both.`)
  if (c.band !== undefined && !(Number.isFinite(c.band) && c.band > 0)) problems.add(c, `${path}/band`, 'A band is a width above 0, e.g. BAND 10.', 'band')
  if (c.prefix !== undefined && !(Number.isInteger(c.prefix) && c.prefix >= 1 && c.prefix <= MAX_PREFIX)) problems.add(c, `${path}/prefix`, `A prefix keeps 1 to ${MAX_PREFIX} characters.`, 'prefix')
  if (type === undefined) return
  if (type === 'number' && c.band === undefined && c.prefix === undefined) problems.add(c, path, `${subject} is a number, and a dataset releases numbers only as bands: add BAND and a width, e.g. ${subject} BAND 10.`)
  if (type !== 'number' && c.band !== undefined) problems.add(c, `${path}/band`, `BAND generalises numbers, and ${subject} is ${article(type)}${type === 'string' ? ': use PREFIX to keep its first characters' : ''}.`, 'band')
  if (type !== 'string' && c.prefix !== undefined) problems.add(c, `${path}/prefix`, `PREFIX generalises texts, and ${subject} is ${article(type)}${type === 'number' ? ': use BAND' : ''}.`, 'prefix')
}

function checkComparison(c: Comparison, path: string, vocabulary: Vocabulary, problems: Problems): void {
  const type = checkValue(c.value, `${path}/value`, vocabulary, problems)
  if (type === undefined) return
  const subject = printValue(c.value)
  if (ORDERED.has(c.op) && type !== 'number') {
    problems.add(c, `${path}/op`, `${c.op} compares numbers, and ${subject} is ${article(type)}: use = or !=.`, 'op')
  }
  const given = typeof c.literal === 'string' ? 'string' : typeof c.literal === 'number' ? 'number' : 'boolean'
  if (given !== type) {
    const hint = type === 'string' && given !== 'string' ? ` Quote it to compare as text: '${c.literal}'.` : ''
    problems.add(c, `${path}/literal`, `${subject} is ${article(type)}, so it compares with ${article(type)}, not ${article(given)} (${JSON.stringify(c.literal)}).${hint}`, 'literal')
  } else if (typeof c.literal === 'number' && !Number.isFinite(c.literal)) {
    problems.add(c, `${path}/literal`, 'A number compared with must be finite.', 'literal')
  }
}

/** Checks a value and answers its technical type, or undefined when it names nothing known. */
function checkValue(v: Value, path: string, vocabulary: Vocabulary, problems: Problems): TechnicalType | undefined {
  const found = findAttribute(vocabulary, v.attribute)
  if (!found) {
    problems.add(v, `${path}/attribute`, unknownAttribute(v.attribute, vocabulary))
    return undefined
  }
  const { attribute } = found
  if (!('series' in v)) {
    if (attribute.series) {
      const { bucket, reduce } = attribute.series
      problems.add(v, `${path}/attribute`, `${v.attribute} is a time series: say what one person's value is, e.g. MEAN(${reduce.toUpperCase()}(${v.attribute}) PER ${bucket}) DURING 2026-10-01 .. 2026-11-01.`)
      return undefined
    }
    return attribute.technicalType
  }
  if (!attribute.series) {
    problems.add(v, `${path}/attribute`, `${v.attribute} is not a time series: it has one value per person, so name it alone, without PER and DURING.`)
    return undefined
  }
  const perPeriod = reduced(v.series.reduce, attribute, attribute.technicalType, `${path}/series/reduce`, v, problems)
  const result = perPeriod && reduced(v.window.reduce, attribute, perPeriod, `${path}/window/reduce`, v, problems)
  checkWindow(v, path, problems)
  return result
}

function reduced(reduce: Reduction, attribute: Attribute, type: TechnicalType, path: string, v: Value, problems: Problems): TechnicalType | undefined {
  if (NUMERIC_REDUCTIONS.has(reduce) && type !== 'number') {
    problems.add(v, path, `${reduce.toUpperCase()} needs numbers, and ${attribute.name} gives ${type === 'string' ? 'text' : 'booleans'}: use COUNT, LAST or MODE.`)
    return undefined
  }
  return reduce === 'count' ? 'number' : type
}

function checkWindow(v: SeriesOnly, path: string, problems: Problems): void {
  const window = v.window
  const from = dateOf(window.from)
  const to = dateOf(window.to)
  if (from === undefined) problems.add(v, `${path}/window/from`, `${window.from} is not a date.`, 'from')
  if (to === undefined) problems.add(v, `${path}/window/to`, `${window.to} is not a date.`, 'to')
  if (from === undefined || to === undefined) return
  if (to <= from) problems.add(v, `${path}/window/to`, `The window ends (${window.to}) before it starts (${window.from}); its end is the first date after it.`, 'to')
  else if ((to - from) / DAY_MS > MAX_WINDOW_DAYS) problems.add(v, `${path}/window/to`, `A window may span at most ${MAX_WINDOW_DAYS} days.`, 'to')
}

/** Midnight UTC of a YYYY-MM-DD date in ms, or undefined when there is no such date (2026-02-30). */
export function dateOf(text: string): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text)
  if (!m) return undefined
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))
  return new Date(ms).toISOString().slice(0, 10) === text ? ms : undefined
}

function unknownAttribute(name: string, vocabulary: Vocabulary): string {
  const [typeName = '', attributeName = ''] = name.split('.')
  const type = vocabulary.types.find((t) => t.name === typeName)
  if (!type) {
    const sameLetters = vocabulary.types.find((t) => t.name.toLowerCase() === typeName.toLowerCase())
    return sameLetters
      ? `There is no logical type ${typeName}; names are case-sensitive: ${sameLetters.name}.`
      : `There is no logical type ${typeName}; the vocabulary has ${vocabulary.types.map((t) => t.name).join(', ')}.`
  }
  return `${type.name} has no attribute ${attributeName}; it has ${type.attributes.map((a) => a.name).join(', ')}.`
}

function article(type: TechnicalType | 'string'): string {
  return type === 'string' ? 'a text' : `a ${type}`
}

/**
 * The problems with a whole posted query, `now` being when it is posted. A question given as
 * text is parsed first: text that does not parse throws QuerySyntaxError (path /question), as
 * there is no query to check further. Problems inside the question have paths under /question
 * (into its JSON form) and, for text, the place in the text.
 */
export function checkSpec(spec: QuerySpec, vocabulary: Vocabulary, now: Date = new Date()): { query: Query; problems: QueryProblem[] } {
  let query: Query
  try {
    query = typeof spec.question === 'string' ? parseQuery(spec.question) : spec.question
  } catch (err) {
    throw err instanceof QuerySyntaxError ? err.at('/question') : err
  }
  const questionProblems = new Problems('/question')
  checkQueryInto(query, vocabulary, questionProblems)
  const problems = new Problems()
  const add = (path: string, message: string) => problems.list.push({ path, message })

  if (spec.purpose.trim().length === 0) add('/purpose', 'Say why you ask, in words an owner understands.')
  if (!Number.isSafeInteger(spec.price.amount) || spec.price.amount < 0) add('/price/amount', 'The price is a whole number of satoshis, 0 or more.')
  if (spec.price.currency !== 'sat') add('/price/currency', 'Prices are in satoshis: sat.')

  const { min, max } = spec.participants
  if (!Number.isSafeInteger(min) || min < MIN_PARTICIPANTS_FLOOR) add('/participants/min', `At least ${MIN_PARTICIPANTS_FLOOR} participants are needed, so that no one's answer stands out.`)
  if (!Number.isSafeInteger(max) || max > MAX_PARTICIPANTS) add('/participants/max', `At most ${MAX_PARTICIPANTS} participants.`)
  else if (max < min) add('/participants/max', `The maximum (${max}) is below the minimum (${min}).`)

  const deadline = Date.parse(spec.deadline)
  if (!/^\d{4}-\d{2}-\d{2}T/.test(spec.deadline) || Number.isNaN(deadline)) add('/deadline', `${spec.deadline} is not a date and time (ISO 8601, e.g. 2026-12-01T12:00:00Z).`)
  else if (deadline <= now.getTime()) add('/deadline', `The deadline (${spec.deadline}) has passed.`)
  else lateWindows(query, deadline).forEach((v) => add('/deadline', `${printValue(v)} runs until ${v.window.to}, and boxes answer at the deadline: it must come when the window has ended everywhere, 12 hours after ${v.window.to}T00:00Z or later.`))

  if (!/^[1-9][0-9]{0,3}(d|w|mo|y)$/.test(spec.retention)) add('/retention', `${spec.retention} is not a duration: a number and d, w, mo or y, e.g. 90d.`)

  checkAnswerKind(query, spec.answer, add)
  checkBounds(query, spec.bounds, vocabulary, add)
  return { query, problems: [...questionProblems.list, ...problems.list] }
}

function lateWindows(query: Query, deadline: number): SeriesOnly[] {
  const values = [...query.select.flatMap((s) => ('value' in s ? [s.value] : [])), ...(query.where ?? []).flat().map((c) => c.value)]
  return values.filter((v): v is SeriesOnly => 'series' in v).filter((v) => (dateOf(v.window.to) ?? 0) + LATEST_ZONE_MS > deadline)
}

function checkAnswerKind(query: Query, answer: QuerySpec['answer'], add: (path: string, message: string) => void): void {
  const kinds = query.select.map((s) => (!('aggregate' in s) ? 'column' : s.aggregate === 'histogram' ? 'histogram' : 'statistic'))
  if (answer === 'dataset' && kinds.some((k) => k !== 'column')) add('/answer', 'A dataset lists values (SELECT Identity.age BAND 10, …); it cannot aggregate them.')
  if (answer === 'dataset' && kinds.every((k) => k === 'column') && query.select.every((s) => 'sensitive' in s && s.sensitive)) {
    add('/question/select', 'A dataset needs at least one value that is not SENSITIVE: the quasi-identifiers its records are grouped by.')
  }
  if (answer === 'statistics' && kinds.some((k) => k !== 'statistic')) add('/answer', 'Statistics are COUNT, SUM and AVG; use the answer kind histogram for HISTOGRAM, dataset for plain values.')
  if (answer === 'histogram' && !kinds.includes('histogram')) add('/answer', 'A histogram answer needs at least one HISTOGRAM.')
  if (answer === 'histogram' && kinds.includes('column')) add('/answer', 'A histogram answer aggregates; plain values make a dataset.')
}

/**
 * Bounds are declared, never taken from the data: each person's value is clipped to them in
 * the box, which is what bounds one person's influence on a sum or mean. A histogram's edges are
 * its bounds, so it needs none.
 */
function checkBounds(query: Query, bounds: QuerySpec['bounds'], vocabulary: Vocabulary, add: (path: string, message: string) => void): void {
  const needed = new Set<string>()
  for (const s of query.select) {
    if ('aggregate' in s && (s.aggregate === 'sum' || s.aggregate === 'avg') && findAttribute(vocabulary, s.value.attribute)) needed.add(s.value.attribute)
  }
  for (const name of needed) if (!bounds[name]) add(`/bounds/${pointerEscape(name)}`, `Declare bounds for ${name}: each person's value is clipped to them before it leaves the box.`)
  for (const [name, b] of Object.entries(bounds)) {
    const path = `/bounds/${pointerEscape(name)}`
    if (!needed.has(name)) add(path, `${name} is not summed or averaged, so it needs no bounds.`)
    if (!Number.isFinite(b.lo) || !Number.isFinite(b.hi)) add(path, 'Bounds are finite numbers.')
    else if (!(b.lo < b.hi)) add(`${path}/hi`, `The upper bound (${b.hi}) must be above the lower (${b.lo}).`)
  }
}

function pointerEscape(token: string): string {
  return token.replaceAll('~', '~0').replaceAll('/', '~1')
}
