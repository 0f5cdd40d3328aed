/** What a source is: its kind, its attributes and their technical and logical types. */
import { Type } from '@sinclair/typebox'
import { InvalidInput } from '../errors/index.ts'

export const LOGICAL_TYPES = ['location', 'health', 'activity', 'environment', 'energy', 'communication', 'finance', 'identity', 'other'] as const
export const TECHNICAL_TYPES = ['number', 'string', 'boolean', 'bytes'] as const
export const SOURCE_KINDS = ['timeseries', 'kv'] as const

export type LogicalType = (typeof LOGICAL_TYPES)[number]
export type TechnicalType = (typeof TECHNICAL_TYPES)[number]
export type SourceKind = (typeof SOURCE_KINDS)[number]

export interface Attribute {
  name: string
  technicalType: TechnicalType
  logicalType?: LogicalType
  unit?: string
  description?: string
}

export interface SourceMeta {
  id: string
  kind: SourceKind
  description: string
  logicalType: LogicalType
  attributes: Attribute[]
  createdAt: string
  generation: number
}

export interface NewSource {
  id: string
  kind?: SourceKind
  description?: string
  logicalType?: LogicalType
  attributes?: Attribute[]
}

export const SOURCE_ID = /^[a-z0-9][a-z0-9._-]{0,62}$/
/** A source id as every schema spells it. */
export const SourceId = Type.String({ pattern: SOURCE_ID.source, description: 'Source id: 1–63 lower-case letters, digits, ".", "_" or "-"' })

export function checkSourceId(id: string): void {
  if (!SOURCE_ID.test(id)) {
    throw new InvalidInput(`"${id}" is not a valid source id: use 1–63 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit.`, { field: 'id' })
  }
}

export function newSourceMeta(input: NewSource, generation: number): SourceMeta {
  checkSourceId(input.id)
  const kind = input.kind ?? 'timeseries'
  const logicalType = input.logicalType ?? 'other'
  if (!SOURCE_KINDS.includes(kind)) throw new InvalidInput(`kind must be one of ${SOURCE_KINDS.join(', ')}.`, { field: 'kind' })
  if (!LOGICAL_TYPES.includes(logicalType)) throw new InvalidInput(`logicalType must be one of ${LOGICAL_TYPES.join(', ')}.`, { field: 'logicalType' })
  const attributes = input.attributes ?? []
  const seen = new Set<string>()
  attributes.forEach((a, i) => {
    if (!TECHNICAL_TYPES.includes(a.technicalType)) throw new InvalidInput(`attributes[${i}].technicalType must be one of ${TECHNICAL_TYPES.join(', ')}.`, { index: i, field: 'technicalType' })
    if (a.logicalType !== undefined && !LOGICAL_TYPES.includes(a.logicalType)) throw new InvalidInput(`attributes[${i}].logicalType must be one of ${LOGICAL_TYPES.join(', ')}.`, { index: i, field: 'logicalType' })
    if (seen.has(a.name)) throw new InvalidInput(`attribute "${a.name}" is declared twice.`, { index: i, field: 'name' })
    seen.add(a.name)
  })
  return { id: input.id, kind, description: input.description ?? '', logicalType, attributes, createdAt: new Date().toISOString(), generation }
}
