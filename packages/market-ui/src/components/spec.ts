/** What a query's spec and its question say, pulled out for the summary the editor and a query's page both show. */
import type { Query } from '@coffer/market/protocol'

/** The attributes whose values are summed or averaged: each needs declared bounds. */
export function boundedAttributes(query: Query | undefined): string[] {
  const names = new Set<string>()
  for (const s of query?.select ?? []) {
    if ('aggregate' in s && (s.aggregate === 'sum' || s.aggregate === 'avg') && 'value' in s) names.add(s.value.attribute)
  }
  return [...names]
}

/** The logical types a query touches, in what it selects and in its conditions: owners set a privacy level per type. */
export function logicalTypes(query: Query | undefined): string[] {
  const types = new Set<string>()
  for (const s of query?.select ?? []) if ('value' in s) types.add(s.value.attribute.split('.')[0]!)
  for (const group of query?.where ?? []) for (const c of group) types.add(c.value.attribute.split('.')[0]!)
  return [...types]
}
