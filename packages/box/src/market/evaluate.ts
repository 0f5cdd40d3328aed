/**
 * One person's part in a market query, worked out in the box from the box's own data: whether
 * they match its conditions, and their value of each thing it selects. Every read goes through
 * the same operations as any other reader's, with a token of the market's own, so the audit log
 * shows what each query read. The market learns only the protected answer, never who matched.
 */
import type { Comparison, Query, Reduction, Value, Vocabulary } from '@coffer/market/protocol'
import type { Operations } from '../operations/index.ts'
import type { SourceOperations } from '../sources/index.ts'
import type { Store } from '../store/index.ts'
import { InvalidInput } from '../errors/index.ts'

/** Where the box finds each attribute: a source, and the record name in it when it holds several. */
export type Mapping = Record<string, { source: string; name?: string }>

/** One person's value of an attribute: null when the box holds none. */
export type PersonValue = number | string | boolean | null

/** The reductions the box's aggregates compute per period; last and mode are not among them. */
const PER_PERIOD = new Set<Reduction>(['sum', 'mean', 'min', 'max', 'count'])

/**
 * Where the box's own importers and drivers put each attribute: a source of the attribute's
 * logical type holding a record of one of its default names, one the market may read (`readable`)
 * before one it may not. The owner's own mapping overrides.
 */
export function defaultMapping(vocabulary: Vocabulary, store: Store, readable: (source: string) => boolean = () => true): Mapping {
  const listed = store.list()
  const sources = [...listed.filter((s) => readable(s.id)), ...listed.filter((s) => !readable(s.id))].map((s) => store.summary(s.id))
  const mapping: Mapping = {}
  for (const type of vocabulary.types) {
    for (const attribute of type.attributes) {
      const names = attribute.defaults?.senmlNames ?? []
      for (const source of sources) {
        if (attribute.defaults?.logicalType && source.logicalType !== attribute.defaults.logicalType) continue
        const series = source.series.find((s) => names.includes(s.name))
        if (series) {
          mapping[`${type.name}.${attribute.name}`] = { source: source.id, name: series.name }
          break
        }
      }
    }
  }
  return mapping
}

/** Every attribute a query reads. */
export function attributesOf(query: Query): string[] {
  return [...new Set([
    ...query.select.flatMap((s) => 'value' in s ? [s.value.attribute] : []),
    ...(query.where ?? []).flat().map((c) => c.value.attribute),
  ])]
}

export interface EvaluatorDeps {
  ops: Operations
  sources: SourceOperations
  timeZone: string
}

export interface Evaluation {
  /** Whether the person meets the query's conditions. */
  matched: boolean
  /** Their value of each selected thing, in the query's order; null for COUNT(*) and where they have none. */
  values: PersonValue[]
}

export class Evaluator {
  readonly #deps: EvaluatorDeps

  constructor(deps: EvaluatorDeps) {
    this.#deps = deps
  }

  /** The attributes of `query` that `mapping` does not place: the box cannot take part until the owner maps them. */
  unmapped(query: Query, mapping: Mapping): string[] {
    return attributesOf(query).filter((a) => !mapping[a])
  }

  async evaluate(query: Query, mapping: Mapping, token: string, action: string): Promise<Evaluation> {
    const missing = this.unmapped(query, mapping)
    if (missing.length > 0) throw new InvalidInput(`This box does not know where to find ${missing.join(', ')}; map ${missing.length > 1 ? 'them' : 'it'} to a source first.`)
    const read = (value: Value) => this.#value(value, mapping[value.attribute]!, token, action)
    let matched = query.where === undefined
    for (const group of query.where ?? []) {
      const results = await Promise.all(group.map(async (c) => holds(c, await read(c.value))))
      if (results.every(Boolean)) {
        matched = true
        break
      }
    }
    const values = await Promise.all(query.select.map((s) => 'value' in s ? read(s.value) : null))
    return { matched, values }
  }

  async #value(value: Value, place: Mapping[string], token: string, action: string): Promise<PersonValue> {
    const { ops, sources, timeZone } = this.#deps
    const caller = { token, action }
    if (!('series' in value)) {
      const records = await ops.call(sources.latest, { source: place.source, ...(place.name ? { name: place.name } : {}) }, caller)
      const record = records[0]
      return record === undefined ? null : record.v ?? record.vs ?? record.vb ?? null
    }
    if (!PER_PERIOD.has(value.series.reduce)) throw new InvalidInput(`A box cannot reduce a period's readings by ${value.series.reduce}.`)
    const answer = await ops.call(sources.aggregate, {
      source: place.source, fn: value.series.reduce, bucket: value.series.bucket, from: value.window.from, to: value.window.to, tz: timeZone,
      ...(place.name ? { name: place.name } : {}),
    }, caller)
    const periods = answer.buckets.filter((b) => b.count > 0 && b.value !== null).map((b) => b.value!)
    return reduce(periods, value.window.reduce)
  }
}

/** A window's periods reduced to one value; null when there were none. */
export function reduce(values: readonly number[], how: Reduction): number | null {
  if (how === 'count') return values.length
  if (values.length === 0) return null
  switch (how) {
    case 'sum': return values.reduce((a, b) => a + b, 0)
    case 'mean': return values.reduce((a, b) => a + b, 0) / values.length
    case 'min': return Math.min(...values)
    case 'max': return Math.max(...values)
    case 'last': return values.at(-1)!
    case 'mode': {
      const counts = new Map<number, number>()
      for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1)
      return [...counts].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0]![0]
    }
  }
}

/** A comparison against the person's value; a value they do not have matches nothing. */
export function holds({ op, literal }: Comparison, value: PersonValue): boolean {
  if (value === null) return false
  if (typeof literal === 'string' && typeof value === 'string') {
    const [a, b] = [value.trim().toLowerCase(), literal.trim().toLowerCase()]
    return op === '=' ? a === b : op === '!=' ? a !== b : false
  }
  if (typeof literal !== typeof value) return op === '!='
  switch (op) {
    case '=': return value === literal
    case '!=': return value !== literal
    case '<': return value < literal
    case '>': return value > literal
    case '<=': return value <= literal
    case '>=': return value >= literal
  }
}
