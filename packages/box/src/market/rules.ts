/**
 * What the box does with a market's query before the owner looks at it: the owner's privacy
 * level for each kind of data it touches, then the owner's rules, in order, first match wins.
 * A query touching a kind of data the owner does not share — or has not yet chosen a level
 * for — is never answered, whatever a rule says; one no rule matches waits for the owner.
 */
import { Type, type Static } from '@sinclair/typebox'
import { levelFor } from '@coffer/market/privacy'
import { PRIVACY_LEVELS, type PrivacyLevel } from '@coffer/market/protocol'
import { ANSWER_KINDS, type AnswerKind, type PublishedQuery, type Query } from '@coffer/market/protocol'
import { attributesOf } from './evaluate.ts'

export const PrivacyLevelSchema = Type.Union(PRIVACY_LEVELS.map((l) => Type.Literal(l)), {
  description: 'How much privacy the owner keeps for a kind of data: low, medium, high (more noise, fewer queries), or dont_share (never answered)',
})

/** Privacy levels by logical type (Activity, Health, …); a type not named is not shared until the owner names it. */
export const PrivacyLevels = Type.Record(Type.String({ pattern: '^[A-Za-z][A-Za-z0-9_]*$' }), PrivacyLevelSchema)
export type PrivacyLevels = Static<typeof PrivacyLevels>

export const MarketRule = Type.Object({
  action: Type.Union([Type.Literal('accept'), Type.Literal('decline')]),
  logicalTypes: Type.Optional(Type.Array(Type.String(), { description: 'Matches a query all of whose logical types are in this list' })),
  minPrice: Type.Optional(Type.Integer({ minimum: 0, description: 'Matches a query paying at least this many satoshis per participant' })),
  levels: Type.Optional(Type.Array(PrivacyLevelSchema, { description: 'Matches when the owner\'s level for every logical type the query touches is one of these' })),
  purposeIncludes: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'Matches a query whose purpose contains this text (any case)' })),
  processors: Type.Optional(Type.Array(Type.String(), { description: 'Matches a query from one of these processors (by id)' })),
  answers: Type.Optional(Type.Array(Type.Union(ANSWER_KINDS.map((k) => Type.Literal(k))))),
}, { additionalProperties: false })
export type MarketRule = Static<typeof MarketRule>

/** The facts about a query a rule can look at. */
export interface QueryFacts {
  logicalTypes: string[]
  price: number
  purpose: string
  processor: string
  answer: AnswerKind
}

export function factsOf({ query, spec, processor }: PublishedQuery): QueryFacts {
  return { logicalTypes: logicalTypesOf(query), price: spec.price.amount, purpose: spec.purpose, processor: processor.id, answer: spec.answer }
}

/** Every logical type a query reads, in what it selects or in its conditions. */
export function logicalTypesOf(query: Query): string[] {
  return [...new Set(attributesOf(query).map((a) => a.split('.')[0]!))].sort()
}

export type Verdict =
  | { decision: 'accept' | 'decline'; by: 'rule'; rule: number }
  | { decision: 'cannot'; by: 'level'; reason: string }
  | { decision: 'ask'; by: 'owner' }

export function levelOf(levels: PrivacyLevels, logicalType: string): PrivacyLevel {
  return levelFor({ byType: levels }, logicalType)
}

export function judge(facts: QueryFacts, levels: PrivacyLevels, rules: readonly MarketRule[]): Verdict {
  const withheld = facts.logicalTypes.filter((t) => levelOf(levels, t) === 'dont_share')
  if (withheld.length > 0) {
    return { decision: 'cannot', by: 'level', reason: `it asks for ${withheld.join(', ')}, which you do not share (set a privacy level for ${withheld.length > 1 ? 'them' : 'it'} to take part)` }
  }
  const index = rules.findIndex((rule) => matches(rule, facts, levels))
  return index < 0 ? { decision: 'ask', by: 'owner' } : { decision: rules[index]!.action, by: 'rule', rule: index }
}

function matches(rule: MarketRule, facts: QueryFacts, levels: PrivacyLevels): boolean {
  if (rule.logicalTypes && !facts.logicalTypes.every((t) => rule.logicalTypes!.includes(t))) return false
  if (rule.minPrice !== undefined && facts.price < rule.minPrice) return false
  if (rule.levels && !facts.logicalTypes.every((t) => rule.levels!.includes(levelOf(levels, t)))) return false
  if (rule.purposeIncludes !== undefined && !facts.purpose.toLowerCase().includes(rule.purposeIncludes.toLowerCase())) return false
  if (rule.processors && !rule.processors.includes(facts.processor)) return false
  if (rule.answers && !rule.answers.includes(facts.answer)) return false
  return true
}
