import assert from 'node:assert/strict'
import { test } from 'node:test'
import { DEFAULT_VOCABULARY } from '../vocabulary/index.ts'
import { MIN_PARTICIPANTS_FLOOR, QuerySyntaxError, checkQuery, checkSpec, parseQuery, type Query, type QuerySpec } from './index.ts'

const OCTOBER = 'MEAN(SUM(Activity.steps) PER 1d) DURING 2026-10-01 .. 2026-11-01'
const NOW = new Date('2026-09-15T12:00:00Z')

function problemsOf(text: string) {
  return checkQuery(parseQuery(text), DEFAULT_VOCABULARY)
}

/** The one problem of `marked` (its text with ⟨⟩ where the problem should point). */
function oneProblem(marked: string, path: string, message: RegExp): void {
  const offset = marked.indexOf('⟨⟩')
  const problems = problemsOf(marked.replace('⟨⟩', ''))
  assert.equal(problems.length, 1, JSON.stringify(problems))
  const [problem] = problems
  assert.equal(problem!.path, path)
  assert.equal(problem!.offset, offset, problem!.message)
  assert.equal(problem!.column, offset + 1)
  assert.match(problem!.message, message)
}

test('a valid query has no problems', () => {
  assert.deepEqual(problemsOf(`SELECT COUNT(*), AVG(${OCTOBER}), HISTOGRAM(Identity.age, [0, 18, 65, 120]) WHERE (Identity.city = aachen) OR (Identity.age > 30 AND Health.smoker = false)`), [])
  assert.deepEqual(problemsOf(`SELECT Identity.age BAND 10, Identity.postcode PREFIX 2, SENSITIVE Health.smoker WHERE ${OCTOBER} >= 5000`), [])
  assert.deepEqual(problemsOf("SELECT COUNT(*) WHERE MODE(MODE(Location.city) PER 1d) DURING 2026-10-01 .. 2026-10-08 = aachen AND Identity.postcode = '52062'"), [])
})

test('unknown logical types and attributes are named, with what there is', () => {
  oneProblem('SELECT AVG(⟨⟩Fitness.steps)', '/select/0/value/attribute', /no logical type Fitness; the vocabulary has Activity, Health, Identity, Location, Environment, Energy/)
  oneProblem('SELECT AVG(⟨⟩activity.steps)', '/select/0/value/attribute', /case-sensitive: Activity/)
  oneProblem('SELECT COUNT(*) WHERE ⟨⟩Identity.town = aachen', '/where/0/0/value/attribute', /Identity has no attribute town; it has city, postcode, age, gender/)
})

test('< and its family compare numbers only; values compare with their own type', () => {
  oneProblem('SELECT COUNT(*) WHERE Identity.city ⟨⟩< aachen', '/where/0/0/op', /< compares numbers, and Identity.city is a text: use = or !=/)
  oneProblem('SELECT COUNT(*) WHERE Health.smoker ⟨⟩>= true', '/where/0/0/op', />= compares numbers, and Health.smoker is a boolean/)
  oneProblem('SELECT COUNT(*) WHERE Identity.age = ⟨⟩thirty', '/where/0/0/literal', /Identity.age is a number, so it compares with a number, not a text/)
  oneProblem('SELECT COUNT(*) WHERE Identity.postcode = ⟨⟩52062', '/where/0/0/literal', /Quote it to compare as text: '52062'/)
  oneProblem('SELECT COUNT(*) WHERE Health.smoker != ⟨⟩no', '/where/0/0/literal', /is a boolean, so it compares with a boolean/)
  oneProblem(`SELECT COUNT(*) WHERE (Identity.age > 3) OR (${OCTOBER} > ⟨⟩many)`, '/where/1/0/literal', /is a number/)
})

test('SUM, AVG and HISTOGRAM aggregate numbers; COUNT counts anything', () => {
  oneProblem('SELECT AVG(⟨⟩Identity.city)', '/select/0/value', /AVG needs a number, and Identity.city is a text; only COUNT takes any value/)
  oneProblem('SELECT COUNT(*), SUM(⟨⟩Health.smoker)', '/select/1/value', /SUM needs a number/)
  assert.deepEqual(problemsOf('SELECT COUNT(Identity.city), COUNT(Health.smoker)'), [])
})

test('histogram edges ascend, and there are at least two', () => {
  oneProblem('SELECT HISTOGRAM(Identity.age, [0, 18, ⟨⟩18, 65])', '/select/0/edges/2', /edges must ascend: 18 comes after 18/)
  oneProblem('SELECT HISTOGRAM(Identity.age, [⟨⟩65])', '/select/0/edges', /needs 2 to 101 edges/)
  const query: Query = { select: [{ aggregate: 'histogram', value: { attribute: 'Identity.age' }, edges: [0, 50, 40] }] }
  assert.deepEqual(checkQuery(query, DEFAULT_VOCABULARY), [{ path: '/select/0/edges/2', message: 'Histogram edges must ascend: 40 comes after 50.' }], 'a JSON query has paths and no places')
})

test("a time series needs a per-person reduction, and a single value must not have one", () => {
  oneProblem('SELECT AVG(⟨⟩Activity.steps)', '/select/0/value/attribute', /Activity.steps is a time series: say what one person's value is, e.g. MEAN\(SUM\(Activity.steps\) PER 1d\)/)
  oneProblem('SELECT AVG(⟨⟩MEAN(SUM(Identity.age) PER 1d) DURING 2026-10-01 .. 2026-11-01)', '/select/0/value/attribute', /Identity.age is not a time series/)
  oneProblem('SELECT COUNT(*) WHERE ⟨⟩MEAN(MODE(Location.city) PER 1d) DURING 2026-10-01 .. 2026-11-01 = aachen', '/where/0/0/value/window/reduce', /MEAN needs numbers, and city gives text: use COUNT, LAST or MODE/)
  assert.deepEqual(problemsOf('SELECT AVG(SUM(COUNT(Location.city) PER 1d) DURING 2026-10-01 .. 2026-11-01)'), [], 'a count of text is a number')
})

test('a window is real dates, in order, and not too long', () => {
  oneProblem('SELECT AVG(MEAN(SUM(Activity.steps) PER 1d) DURING ⟨⟩2026-02-30 .. 2026-11-01)', '/select/0/value/window/from', /2026-02-30 is not a date/)
  oneProblem('SELECT AVG(MEAN(SUM(Activity.steps) PER 1d) DURING 2026-10-01 .. ⟨⟩2026-10-01)', '/select/0/value/window/to', /ends \(2026-10-01\) before it starts/)
  oneProblem('SELECT AVG(MEAN(SUM(Activity.steps) PER 1d) DURING 2000-01-01 .. ⟨⟩2026-10-01)', '/select/0/value/window/to', /at most 1830 days/)
})

test('a query that mixes aggregates and dataset columns is refused', () => {
  oneProblem('⟨⟩SELECT COUNT(*), Identity.city', '/select', /either aggregates .* or lists values for a dataset, not both/)
})

test('a dataset releases numbers only as bands, texts whole or by prefix, and never BAND on a text or PREFIX on a number', () => {
  oneProblem('SELECT ⟨⟩Identity.age, Identity.city', '/select/0', /Identity.age is a number, and a dataset releases numbers only as bands: add BAND and a width, e.g. Identity.age BAND 10/)
  oneProblem('SELECT Identity.age BAND 5, Identity.city ⟨⟩BAND 3', '/select/1/band', /BAND generalises numbers, and Identity.city is a text: use PREFIX/)
  oneProblem('SELECT Identity.age ⟨⟩PREFIX 2', '/select/0/prefix', /PREFIX generalises texts, and Identity.age is a number: use BAND/)
  oneProblem('SELECT Identity.age ⟨⟩BAND 0', '/select/0/band', /a width above 0/)
  oneProblem('SELECT Identity.postcode ⟨⟩PREFIX 33', '/select/0/prefix', /1 to 32 characters/)
})

test('every problem is reported, not only the first', () => {
  const problems = problemsOf('SELECT AVG(Identity.city), SUM(X.y) WHERE Identity.age < old OR Health.smoker > 1')
  assert.deepEqual(problems.map((p) => p.path), ['/select/0/value', '/select/1/value/attribute', '/where/0/0/literal', '/where/1/0/op', '/where/1/0/literal'])
})

function spec(overrides: Partial<QuerySpec> = {}): QuerySpec {
  return {
    question: `SELECT AVG(${OCTOBER}) WHERE (Identity.city = aachen) OR (Identity.age > 30 AND Health.smoker = false)`,
    purpose: 'How much people in Aachen walk, for the city\'s footpath plan.',
    price: { amount: 500, currency: 'sat' },
    deadline: '2026-11-15T00:00:00Z',
    participants: { min: 100, max: 5000 },
    bounds: { 'Activity.steps': { lo: 0, hi: 40000 } },
    answer: 'statistics',
    retention: '90d',
    ...overrides,
  }
}

test('a sound spec has no problems, and its question comes back parsed', () => {
  const { query, problems } = checkSpec(spec(), DEFAULT_VOCABULARY, NOW)
  assert.deepEqual(problems, [])
  assert.equal(query.select.length, 1)
  const asJson = checkSpec(spec({ question: query }), DEFAULT_VOCABULARY, NOW)
  assert.deepEqual(asJson, { query, problems: [] }, 'the JSON form is checked the same')
})

test('checkSpec names each problem by its JSON path', () => {
  const cases: [Partial<QuerySpec>, string, RegExp][] = [
    [{ bounds: {} }, '/bounds/Activity.steps', /Declare bounds for Activity.steps/],
    [{ bounds: { 'Activity.steps': { lo: 10, hi: 10 } } }, '/bounds/Activity.steps/hi', /upper bound \(10\) must be above the lower \(10\)/],
    [{ bounds: { 'Activity.steps': { lo: 0, hi: 1 }, 'Identity.age': { lo: 0, hi: 120 } } }, '/bounds/Identity.age', /not summed or averaged/],
    [{ participants: { min: MIN_PARTICIPANTS_FLOOR - 1, max: 50 } }, '/participants/min', /At least 10 participants/],
    [{ participants: { min: 200, max: 100 } }, '/participants/max', /maximum \(100\) is below the minimum \(200\)/],
    [{ deadline: '2026-09-01T00:00:00Z' }, '/deadline', /has passed/],
    [{ deadline: 'next week' }, '/deadline', /not a date and time/],
    [{ deadline: '2026-11-01T06:00:00Z' }, '/deadline', /runs until 2026-11-01, and boxes answer at the deadline/],
    [{ price: { amount: -1, currency: 'sat' } }, '/price/amount', /whole number of satoshis/],
    [{ price: { amount: 0.5, currency: 'sat' } }, '/price/amount', /whole number of satoshis/],
    [{ retention: 'forever' }, '/retention', /not a duration/],
    [{ purpose: '   ' }, '/purpose', /Say why you ask/],
    [{ answer: 'dataset' }, '/answer', /A dataset lists values/],
    [{ answer: 'histogram' }, '/answer', /needs at least one HISTOGRAM/],
  ]
  for (const [override, path, message] of cases) {
    const { problems } = checkSpec(spec(override), DEFAULT_VOCABULARY, NOW)
    assert.equal(problems.length, 1, `${JSON.stringify(override)}: ${JSON.stringify(problems)}`)
    assert.equal(problems[0]!.path, path)
    assert.match(problems[0]!.message, message)
  }
})

test("a histogram's edges are its bounds; statistics may not hold a histogram", () => {
  const histogram = 'SELECT COUNT(*), HISTOGRAM(Health.weight, [40, 60, 80, 100]) WHERE Identity.city = aachen'
  const replaced = 'SELECT COUNT(*), HISTOGRAM(LAST(LAST(Health.weight) PER 1d) DURING 2026-10-01 .. 2026-11-01, [40, 60, 80, 100])'
  assert.deepEqual(checkSpec(spec({ question: replaced, answer: 'histogram', bounds: {} }), DEFAULT_VOCABULARY, NOW).problems, [])
  const { problems } = checkSpec(spec({ question: histogram, answer: 'statistics', bounds: {} }), DEFAULT_VOCABULARY, NOW)
  assert.deepEqual(problems.map((p) => p.path), ['/question/select/1/value/attribute', '/answer'])
})

test("problems inside a text question point into the text, under /question", () => {
  const { problems } = checkSpec(spec({ question: 'SELECT COUNT(*)\nWHERE Identity.city < aachen', bounds: {} }), DEFAULT_VOCABULARY, NOW)
  assert.deepEqual(problems, [{ path: '/question/where/0/0/op', message: '< compares numbers, and Identity.city is a text: use = or !=.', offset: 36, line: 2, column: 21 }])
})

test('a question that does not parse throws, pointing at /question', () => {
  assert.throws(() => checkSpec(spec({ question: 'SELECT COUNT(*) WHERE' }), DEFAULT_VOCABULARY, NOW), (err: unknown) => {
    assert.ok(err instanceof QuerySyntaxError)
    assert.deepEqual(err.problem, { path: '/question', message: err.message, offset: 21, line: 1, column: 22 })
    return true
  })
})
