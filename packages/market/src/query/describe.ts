/**
 * A query in plain words, for the owner deciding whether to answer it: what of theirs it asks
 * for and whom. English for now; the words come from the vocabulary's `wording`, with a plain
 * "your <noun> is …" for attributes that have none. The query is assumed to pass checkQuery.
 */
import { findAttribute, type Attribute, type Vocabulary } from '../vocabulary/index.ts'
import type { Comparison, Query, Selection, Value } from './schema.ts'

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December']
const UNIT_WORDS: Record<string, string> = { 'Cel': '°C', 'h': 'hours', 'beat/min': 'beats per minute', 'count': '', 'a': '' }
const PERIOD_ADJECTIVES: Record<string, string> = { h: 'hourly', d: 'daily', w: 'weekly', mo: 'monthly', y: 'yearly' }
const PERIOD_WORDS: Record<string, string> = { m: 'minute', h: 'hour', d: 'day', w: 'week', mo: 'month', y: 'year' }
/** What one period's value is called, by how its readings were reduced. */
const PERIOD_NOUNS: Record<string, string> = { sum: 'total', mean: 'average', min: 'minimum', max: 'maximum', count: 'count', last: '', mode: '' }
/** How the window's values become one. */
const WINDOW_LEADS: Record<string, string> = {
  sum: 'the sum of', mean: 'the average of', min: 'the lowest of', max: 'the highest of', count: 'the number of', last: 'the last of', mode: 'the most frequent of',
}
const OP_WORDS: Record<string, string> = { '>': 'over', '<': 'under', '>=': 'at least', '<=': 'at most' }

export function describeQuery(query: Query, vocabulary: Vocabulary): string {
  const asked = query.select.map((s) => describeSelection(s, vocabulary)).join('; ')
  if (!query.where) return asked
  let afterVerb = false
  const groups = query.where.map((group) => group.map((c) => {
    const { text, verb } = describeComparison(c, vocabulary)
    const said = verb && !afterVerb ? `you ${text}` : text
    afterVerb = verb
    return said
  }).join(' and '))
  return `${asked}, if ${groups.join(', or ')}`
}

function describeSelection(s: Selection, vocabulary: Vocabulary): string {
  if (!('value' in s)) return 'whether you answer, counted over everyone who does'
  const yours = describeValue(s.value, vocabulary)
  if (!('aggregate' in s)) {
    const unit = unitWord(attributeOf(s.value, vocabulary))
    const generalised = s.band !== undefined ? ` in bands of ${s.band}${unit ? ` ${unit}` : ''} (only which band)` : s.prefix !== undefined ? ` cut to its first ${s.prefix} character${s.prefix === 1 ? '' : 's'}` : ''
    return `${yours}${generalised}${s.sensitive ? ', the thing studied' : ''}`
  }
  switch (s.aggregate) {
    case 'count': return `whether you have ${yours}, counted over everyone who answers`
    case 'sum': return `${yours}, summed over everyone who answers`
    case 'avg': return `${yours}, averaged over everyone who answers`
    case 'histogram': {
      const ranges = s.edges.slice(1).map((hi, i) => `${s.edges[i]} to ${hi}`)
      const unit = unitWord(attributeOf(s.value, vocabulary))
      return `${yours}, counted over everyone who answers in the ranges ${list(ranges)}${unit ? ` ${unit}` : ''}`
    }
  }
}

/** One person's value: "your age", "the average of your daily step totals from 1 to 31 October 2026". */
function describeValue(v: Value, vocabulary: Vocabulary): string {
  const attribute = attributeOf(v, vocabulary)
  const noun = nounOf(v, attribute)
  if (!('series' in v)) return `your ${noun}`
  const period = periodAdjective(v.series.bucket)
  const perPeriod = [period, noun, PERIOD_NOUNS[v.series.reduce]].filter(Boolean).join(' ')
  return `${WINDOW_LEADS[v.window.reduce]} your ${plural(perPeriod)} ${dateRange(v.window.from, v.window.to)}`
}

function describeComparison(c: Comparison, vocabulary: Vocabulary): { text: string; verb: boolean } {
  const attribute = attributeOf(c.value, vocabulary)
  const wording = 'series' in c.value ? undefined : attribute?.wording
  const value = valueWords(c.literal, attribute)
  if (typeof c.literal === 'boolean' && wording?.yes && wording.no && (c.op === '=' || c.op === '!=')) {
    return { text: c.literal === (c.op === '=') ? wording.yes : wording.no, verb: true }
  }
  const verbPhrase = c.op === '=' ? wording?.is : c.op === '!=' ? wording?.isNot : wording?.compare
  if (verbPhrase) return { text: verbPhrase.replace('{op}', OP_WORDS[c.op] ?? '').replace('{value}', value), verb: true }
  const is = c.op === '=' ? 'is' : c.op === '!=' ? 'is not' : `is ${OP_WORDS[c.op]}`
  return { text: `${describeValue(c.value, vocabulary)} ${is} ${value}`, verb: false }
}

function attributeOf(v: Value, vocabulary: Vocabulary): Attribute | undefined {
  return findAttribute(vocabulary, v.attribute)?.attribute
}

function nounOf(v: Value, attribute: Attribute | undefined): string {
  return attribute?.wording?.noun ?? (attribute?.name ?? v.attribute.split('.')[1] ?? v.attribute).replaceAll('_', ' ')
}

function valueWords(literal: string | number | boolean, attribute: Attribute | undefined): string {
  if (typeof literal === 'number') {
    const unit = unitWord(attribute)
    return unit ? `${literal} ${unit}` : String(literal)
  }
  if (typeof literal === 'string' && attribute?.wording?.properNoun) return literal.replace(/(^|[\s-])(\p{Ll})/gu, (_, before: string, letter: string) => before + letter.toUpperCase())
  return String(literal)
}

function unitWord(attribute: Attribute | undefined): string {
  const unit = attribute?.unit
  return unit === undefined ? '' : (UNIT_WORDS[unit] ?? unit)
}

/** 1d → "daily", 6h → "6-hour". */
function periodAdjective(bucket: string): string {
  const m = /^(\d+)(mo|m|h|d|w|y)$/.exec(bucket)
  if (!m) return bucket
  const [, count, unit] = m as unknown as [string, string, string]
  return count === '1' && PERIOD_ADJECTIVES[unit] ? PERIOD_ADJECTIVES[unit] : `${count}-${PERIOD_WORDS[unit]}`
}

function plural(phrase: string): string {
  return /[^aeiou]y$/.test(phrase) ? `${phrase.slice(0, -1)}ies` : `${phrase}s`
}

/** "from 1 to 31 October 2026" for [2026-10-01, 2026-11-01): the window's end is the first date after it. */
function dateRange(from: string, to: string): string {
  const start = new Date(`${from}T00:00:00Z`)
  const last = new Date(Date.parse(`${to}T00:00:00Z`) - 86_400_000)
  if (Number.isNaN(start.getTime()) || Number.isNaN(last.getTime())) return `from ${from} until before ${to}`
  const day = (d: Date) => d.getUTCDate()
  const month = (d: Date) => MONTHS[d.getUTCMonth()]
  const year = (d: Date) => d.getUTCFullYear()
  if (start.getTime() === last.getTime()) return `on ${day(start)} ${month(start)} ${year(start)}`
  if (year(start) !== year(last)) return `from ${day(start)} ${month(start)} ${year(start)} to ${day(last)} ${month(last)} ${year(last)}`
  if (month(start) !== month(last)) return `from ${day(start)} ${month(start)} to ${day(last)} ${month(last)} ${year(last)}`
  return `from ${day(start)} to ${day(last)} ${month(last)} ${year(last)}`
}

function list(items: string[]): string {
  return items.length <= 1 ? items.join('') : `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`
}
