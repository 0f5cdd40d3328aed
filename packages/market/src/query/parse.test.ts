import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Value as TypeBoxValue } from '@sinclair/typebox/value'
import { MAX_QUERY_TEXT, Query, QuerySyntaxError, parseQuery, printQuery, type Selection, type Value } from './index.ts'

const MYNEDATA = 'SELECT AVG(Activity.steps) WHERE (Identity.city = aachen) OR (Identity.age > 30 AND Health.smoker = false)'
const OCTOBER_STEPS = 'SELECT AVG(MEAN(SUM(Activity.steps) PER 1d) DURING 2026-10-01 .. 2026-11-01) WHERE (Identity.city = aachen) OR (Identity.age > 30 AND Health.smoker = false)'

test("myneData's text form parses into the JSON form", () => {
  assert.deepEqual(parseQuery(MYNEDATA), {
    select: [{ aggregate: 'avg', value: { attribute: 'Activity.steps' } }],
    where: [
      [{ value: { attribute: 'Identity.city' }, op: '=', literal: 'aachen' }],
      [{ value: { attribute: 'Identity.age' }, op: '>', literal: 30 }, { value: { attribute: 'Health.smoker' }, op: '=', literal: false }],
    ],
  })
})

test("a time series' per-person value: a reduction over a window of values per period", () => {
  const query = parseQuery(OCTOBER_STEPS)
  assert.deepEqual(query.select, [{
    aggregate: 'avg',
    value: { attribute: 'Activity.steps', series: { bucket: '1d', reduce: 'sum' }, window: { reduce: 'mean', from: '2026-10-01', to: '2026-11-01' } },
  }])
  assert.ok(TypeBoxValue.Check(Query, query))
})

test('keywords are case-insensitive, and AVG and MEAN are one aggregate', () => {
  const lower = parseQuery('select mean(mean(sum(Activity.steps) per 1d) during 2026-10-01 .. 2026-11-01) where identity.x = TRUE or Identity.age >= 3')
  const upper = parseQuery('SELECT AVG(AVG(SUM(Activity.steps) PER 1d) DURING 2026-10-01 .. 2026-11-01) WHERE identity.x = true OR Identity.age >= 3')
  assert.deepEqual(lower, upper)
})

test('several selections, histograms with edges, quoted and bare text, numbers and booleans', () => {
  const query = parseQuery(`SELECT COUNT(*), COUNT(Identity.city), SUM(Identity.age), HISTOGRAM(Identity.age, [0, 17.5, 65, 1e3])
    WHERE Identity.city = 'Bad Homburg' AND Identity.gender != "it's ""quoted""" AND Identity.postcode = münchen-süd AND Health.weight <= -2.5E-1`)
  assert.deepEqual(query.select, [
    { aggregate: 'count' },
    { aggregate: 'count', value: { attribute: 'Identity.city' } },
    { aggregate: 'sum', value: { attribute: 'Identity.age' } },
    { aggregate: 'histogram', value: { attribute: 'Identity.age' }, edges: [0, 17.5, 65, 1000] },
  ])
  assert.deepEqual(query.where?.[0]?.map((c) => c.literal), ['Bad Homburg', 'it\'s "quoted"', 'münchen-süd', -0.25])
})

test('plain values make a dataset: SELECT lists them', () => {
  assert.deepEqual(parseQuery('SELECT Identity.age, Identity.city').select, [{ value: { attribute: 'Identity.age' } }, { value: { attribute: 'Identity.city' } }])
})

test('an unparenthesised AND of comparisons binds tighter than OR, as DNF reads', () => {
  assert.deepEqual(parseQuery('SELECT COUNT(*) WHERE A.a = 1 AND A.b = 2 OR A.c = 3'), parseQuery('SELECT COUNT(*) WHERE (A.a = 1 AND A.b = 2) OR (A.c = 3)'))
})

const TEXTS = [
  MYNEDATA,
  OCTOBER_STEPS,
  'SELECT COUNT(*)',
  'select count(*), histogram(Health.weight, [40, 60, 80, 200]) where Identity.city = "Frankfurt am Main"',
  "SELECT SUM(LAST(MODE(Location.city) PER 1w) DURING 2026-01-01 .. 2027-01-01) WHERE Identity.city = 'and' AND Identity.gender = 'true' AND Identity.postcode = '01067' AND Identity.city = ''",
  'SELECT Identity.age WHERE MAX(MAX(Health.heart_rate) PER 6h) DURING 2026-10-01 .. 2026-10-02 > 120.5 OR Health.smoker != true',
  'SELECT AVG(Identity.age) WHERE Identity.age < -0 AND Identity.age > 1e21 AND Identity.age > 1.5e-7',
]

test('parse → print → parse gives the same query, for hand-written texts', () => {
  for (const text of TEXTS) {
    const query = parseQuery(text)
    assert.deepEqual(parseQuery(printQuery(query)), query, text)
    assert.equal(printQuery(parseQuery(printQuery(query))), printQuery(query), 'the printed form is canonical')
  }
})

test('print → parse gives the same query, for many generated queries', () => {
  const random = seeded(7)
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!
  const attribute = () => `${pick(['Activity', 'Health', 'Identity', 'X'])}.${pick(['steps', 'age', 'city', 'heart_rate', 'or', 'a_b'])}`
  const value = (): Value => random() < 0.5
    ? { attribute: attribute() }
    : {
      attribute: attribute(),
      series: { bucket: pick(['1d', '1h', '15m', '2w', '1mo', '1y']), reduce: pick(['sum', 'mean', 'min', 'max', 'count', 'last', 'mode'] as const) },
      window: { reduce: pick(['sum', 'mean', 'min', 'max', 'count', 'last', 'mode'] as const), from: '2026-10-01', to: '2026-11-01' },
    }
  const literal = () => pick<string | number | boolean>([
    true, false, 0, -1, 3.25, 1e-9, -7e22, Number.MAX_SAFE_INTEGER, 'aachen', 'Bad Homburg', "l'Haÿ-les-Roses", 'OR', 'select', '42', '', 'a"b', 'x y\nz', '-x', '_id',
  ])
  const selection = (): Selection => pick([
    () => ({ aggregate: 'count' as const }),
    () => ({ aggregate: pick(['count', 'sum', 'avg'] as const), value: value() }),
    () => ({ aggregate: 'histogram' as const, value: value(), edges: [0, random() * 10, 11, 1e6] }),
    () => ({ value: value() }),
  ])()
  for (let i = 0; i < 500; i++) {
    const query: Query = { select: Array.from({ length: 1 + Math.floor(random() * 3) }, selection) }
    if (random() < 0.8) {
      query.where = Array.from({ length: 1 + Math.floor(random() * 3) }, () => Array.from({ length: 1 + Math.floor(random() * 3) }, () => ({
        value: value(), op: pick(['=', '!=', '<', '>', '<=', '>='] as const), literal: literal(),
      })))
    }
    assert.ok(TypeBoxValue.Check(Query, query))
    assert.deepEqual(parseQuery(printQuery(query)), query, printQuery(query))
  }
})

/** Parses `text`, expecting a syntax error at the place marked by the first `⟨⟩` in `marked`. */
function refuses(marked: string, message: RegExp): void {
  const offset = marked.indexOf('⟨⟩')
  assert.ok(offset >= 0, 'the test marks the place')
  const text = marked.replace('⟨⟩', '')
  assert.throws(() => parseQuery(text), (err: unknown) => {
    assert.ok(err instanceof QuerySyntaxError, String(err))
    assert.equal(err.offset, offset, `${text}: ${err.message}`)
    const before = text.slice(0, offset).split('\n')
    assert.equal(err.line, before.length)
    assert.equal(err.column, before.at(-1)!.length + 1)
    assert.match(err.message, message)
    return true
  }, text)
}

test('malformed texts are refused at the place they go wrong, saying what was expected', () => {
  refuses('⟨⟩', /Expected "SELECT"/)
  refuses('SELECT ⟨⟩', /Expected "AVG", "COUNT", "HISTOGRAM", "MEAN", "SENSITIVE", "SUM", a reduction .* or an attribute/)
  refuses('SELECT ⟨⟩WHERE Identity.age > 3', /Expected "AVG", "COUNT", "HISTOGRAM", "MEAN", "SENSITIVE", "SUM", a reduction .* or an attribute/)
  refuses('SELECT COUNT(*), ⟨⟩', /Expected "AVG", "COUNT", "HISTOGRAM", "MEAN", "SENSITIVE", "SUM", a reduction .* or an attribute/)
  refuses('SELECT COUNT(*) ⟨⟩junk', /Expected ",", "WHERE", or end of input but "j" found/)
  refuses('SELECT COUNT(*) WHERE Identity.age > 30 ⟨⟩;', /but ";" found/)
  refuses('SELECT AVG(Activity.steps⟨⟩', /Expected "\)"/)
  refuses('SELECT COUNT(*) WHERE (Identity.age > 3 AND Identity.city = aachen⟨⟩', /Expected "\)" or "AND" but end of input found/)
  refuses('SELECT COUNT(*) WHERE Identity.age > 3⟨⟩)', /but "\)" found/)
  refuses('SELECT COUNT(*) WHERE Identity.age > ⟨⟩', /Expected .*a number/)
  refuses('SELECT COUNT(*) WHERE Identity.age =⟨⟩= 3', /Expected a number, a quoted text/)
  refuses('SELECT COUNT(*) WHERE Identity.age ⟨⟩~ 3', /Expected an operator/)
  refuses("SELECT COUNT(*) WHERE Identity.city = ⟨⟩'aachen", /Expected .*a quoted text/)
  refuses('SELECT COUNT(*) WHERE Identity.age > ⟨⟩30abc', /Expected/)
  refuses('SELECT COUNT(*) WHERE ⟨⟩city = aachen', /Expected .*an attribute \(LogicalType.attribute\)/)
  refuses('SELECT HISTOGRAM(Identity.age, [⟨⟩])', /Expected .*a number/)
  refuses('SELECT AVG(MEAN(SUM(Activity.steps) PER ⟨⟩1x) DURING 2026-10-01 .. 2026-11-01)', /Expected a period/)
  refuses('SELECT AVG(MEAN(SUM(Activity.steps) PER 1d) DURING ⟨⟩2026-10 .. 2026-11-01)', /Expected a date/)
  refuses('SELECT COUNT(*) WHERE Identity.age > ⟨⟩1e999', /too large a number/)
  refuses('SELECT COUNT(*)\nWHERE Identity.age > 3\n  AND⟨⟩', /Expected a reduction .* or an attribute .* but end of input found/)
})

test('a WHERE not in disjunctive normal form is refused where it stops being one', () => {
  refuses('SELECT COUNT(*) WHERE Identity.age > 3 AND ⟨⟩(Identity.city = aachen OR Identity.city = bonn)', /disjunctive normal form: a parenthesis cannot follow AND/)
  refuses('SELECT COUNT(*) WHERE (Identity.city = aachen ⟨⟩OR Identity.city = bonn) AND Identity.age > 3', /disjunctive normal form: OR cannot appear inside parentheses/)
  refuses('SELECT COUNT(*) WHERE (Identity.city = aachen) ⟨⟩AND (Identity.age > 3)', /disjunctive normal form: a parenthesised group can only be joined to another by OR/)
  refuses('SELECT COUNT(*) WHERE (⟨⟩(Identity.city = aachen))', /disjunctive normal form: parentheses cannot nest/)
  refuses('SELECT COUNT(*) WHERE ⟨⟩NOT Identity.smoker = true', /Expected/)
})

test('texts over the documented size are refused before parsing, at the first character past it', () => {
  const long = `SELECT COUNT(*) WHERE ${Array.from({ length: 1000 }, (_, i) => `(Identity.age > ${i})`).join(' OR ')}`
  assert.ok(long.length > MAX_QUERY_TEXT)
  assert.throws(() => parseQuery(long), (err: unknown) => err instanceof QuerySyntaxError && err.offset === MAX_QUERY_TEXT && /at most 8192/.test(err.message))
  const justFits = `SELECT COUNT(*) WHERE Identity.city = '${'x'.repeat(MAX_QUERY_TEXT - 40)}'`.padEnd(MAX_QUERY_TEXT, ' ')
  assert.equal(justFits.length, MAX_QUERY_TEXT)
  assert.equal(parseQuery(justFits).where?.[0]?.[0]?.literal, 'x'.repeat(MAX_QUERY_TEXT - 40))
})

test('a syntax error becomes problem+json naming the place', () => {
  try {
    parseQuery('SELECT COUNT(*) WHERE')
    assert.fail('it parsed')
  } catch (err) {
    assert.ok(err instanceof QuerySyntaxError)
    const problem = err.toProblem()
    assert.equal(problem.status, 400)
    assert.deepEqual(problem.problems, [{ path: '', message: err.message, offset: 21, line: 1, column: 22 }])
    assert.match(problem.detail, /^At line 1, column 22: /)
  }
})

/** Mulberry32, so the generated queries are the same on every run. */
function seeded(seed: number): () => number {
  let a = seed
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
