/**
 * The Hypercat 3.0 catalogue of sources a token may see. Each source is one item; its
 * attributes (declared, or seen in data) are listed with their technical type and unit.
 */
import type { SourceSummary } from '../store/index.ts'

export interface HypercatRel { rel: string; val: string }
export interface HypercatItem { href: string; 'item-metadata': HypercatRel[] }
export interface Hypercat { 'catalogue-metadata': HypercatRel[]; items: HypercatItem[] }

export const HYPERCAT_CONTENT_TYPE = 'application/vnd.hypercat.catalogue+json'
const HC = 'urn:X-hypercat:rels:'
const COFFER = 'urn:X-coffer:rels:'

export function catalogue(boxIdentity: string, sources: SourceSummary[]): Hypercat {
  return {
    'catalogue-metadata': [
      { rel: `${HC}isContentType`, val: HYPERCAT_CONTENT_TYPE },
      { rel: `${HC}hasDescription:en`, val: `Coffer box ${boxIdentity.slice(0, 16)}` },
    ],
    items: sources.map(item),
  }
}

function item(source: SourceSummary): HypercatItem {
  const meta: HypercatRel[] = [
    { rel: `${HC}hasDescription:en`, val: source.description || source.id },
    { rel: `${HC}isContentType`, val: source.kind === 'kv' ? 'application/json' : 'application/senml+json' },
    { rel: `${COFFER}hasSourceId`, val: source.id },
    { rel: `${COFFER}hasSourceKind`, val: source.kind },
    { rel: `${COFFER}hasLogicalType`, val: source.logicalType },
  ]
  const attributes = new Map<string, { type: string; unit?: string | null; logicalType?: string }>()
  for (const a of source.attributes) attributes.set(a.name, { type: a.technicalType, unit: a.unit, logicalType: a.logicalType })
  for (const s of source.series) if (!attributes.has(s.name)) attributes.set(s.name, { type: s.type, unit: s.unit })
  for (const [name, a] of attributes) {
    meta.push({ rel: `${COFFER}hasAttribute`, val: name })
    meta.push({ rel: `${COFFER}hasType`, val: `${name}:${a.type}` })
    if (a.unit) meta.push({ rel: `${COFFER}hasUnit`, val: `${name}:${a.unit}` })
    if (a.logicalType) meta.push({ rel: `${COFFER}hasAttributeLogicalType`, val: `${name}:${a.logicalType}` })
  }
  return { href: `/api/v1/sources/${source.id}`, 'item-metadata': meta }
}
