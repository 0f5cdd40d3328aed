/**
 * JSON form → canonical text: upper-case keywords, every AND group of a WHERE with more than one
 * group in parentheses, text quoted only where a bare word would read as something else.
 * parseQuery(printQuery(q)) deep-equals q.
 */
import type { Comparison, Query, Selection, Value } from './schema.ts'

const KEYWORDS = new Set(['select', 'where', 'and', 'or', 'true', 'false', 'per', 'during', 'band', 'prefix', 'sensitive'])
const BARE_WORD = /^[\p{L}_][\p{L}\p{N}_-]*$/u

export function printQuery(query: Query): string {
  const select = `SELECT ${query.select.map(printSelection).join(', ')}`
  if (!query.where) return select
  const groups = query.where.map((group) => group.map(printComparison).join(' AND '))
  return `${select} WHERE ${groups.length === 1 ? groups[0] : groups.map((g) => `(${g})`).join(' OR ')}`
}

function printSelection(s: Selection): string {
  if (!('aggregate' in s)) {
    const generalised = s.band !== undefined ? ` BAND ${printNumber(s.band)}` : s.prefix !== undefined ? ` PREFIX ${s.prefix}` : ''
    return `${s.sensitive ? 'SENSITIVE ' : ''}${printValue(s.value)}${generalised}`
  }
  if (!('value' in s)) return 'COUNT(*)'
  if (s.aggregate === 'histogram') return `HISTOGRAM(${printValue(s.value)}, [${s.edges.map(printNumber).join(', ')}])`
  return `${s.aggregate.toUpperCase()}(${printValue(s.value)})`
}

export function printValue(v: Value): string {
  if (!('series' in v)) return v.attribute
  const { series, window } = v
  return `${window.reduce.toUpperCase()}(${series.reduce.toUpperCase()}(${v.attribute}) PER ${series.bucket}) DURING ${window.from} .. ${window.to}`
}

function printComparison(c: Comparison): string {
  return `${printValue(c.value)} ${c.op} ${printLiteral(c.literal)}`
}

function printLiteral(literal: string | number | boolean): string {
  if (typeof literal === 'boolean') return String(literal)
  if (typeof literal === 'number') return printNumber(literal)
  return BARE_WORD.test(literal) && !KEYWORDS.has(literal.toLowerCase()) ? literal : `'${literal.replaceAll("'", "''")}'`
}

/** Numbers as JavaScript writes them, which the grammar reads back to the same number (1e+21, -0.5, 1e-7). */
function printNumber(n: number): string {
  return Object.is(n, -0) ? '-0' : String(n)
}
