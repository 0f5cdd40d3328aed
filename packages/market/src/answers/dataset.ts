/**
 * Releasing a dataset: the boxes' sealed records grouped by class within each privacy level,
 * each class opened only when it holds at least the level's k genuine records (the star module
 * makes that a matter of cryptography, not of the market's good will), then released only if
 * every sensitive column takes at least the level's l distinct values in it. Everything else is
 * suppressed and counted, never shown. Rows are shuffled, so their order says nothing about who
 * sent them or when.
 */
import { randomInt } from 'node:crypto'
import { PRIVACY_PARAMETERS, sharingParameters } from '../privacy/index.ts'
import type { SharingLevel } from '../protocol/index.ts'
import type { Column, Query } from '../query/index.ts'
import { printQuery } from '../query/index.ts'
import { openClass, type DatasetValue, type RecordPayload, type SealedRecord } from '../star/index.ts'

export interface DatasetColumn {
  /** The column as the query writes it: Identity.age BAND 10. */
  name: string
  attribute: string
  /** How the box generalised it: "band 10", "prefix 2", or null for a value kept as it is. */
  generalisation: string | null
  sensitive: boolean
}

export interface DatasetClass {
  level: SharingLevel
  k: number
  l: number
  records: number
  /** The quasi-identifiers every record of the class shares. */
  values: DatasetValue[]
}

export interface DatasetRelease {
  columns: DatasetColumn[]
  rows: DatasetValue[][]
  classes: DatasetClass[]
  /** Records not released: in classes below k or below l, or decoys of boxes that did not match (the two look the same). */
  suppressed: number
  /** Records shown to be forged: a point off their class's polynomial, a ciphertext that does not open, values not generalised as asked. */
  rejected: number
}

export interface KeptRecord {
  boxId: string
  level: SharingLevel
  sealed: SealedRecord
}

export function datasetColumns(query: Query): DatasetColumn[] {
  return (query.select as Column[]).map((c) => ({
    name: printQuery({ select: [c] }).replace(/^SELECT /, ''),
    attribute: c.value.attribute,
    generalisation: c.band !== undefined ? `band ${c.band}` : c.prefix !== undefined ? `prefix ${c.prefix}` : null,
    sensitive: c.sensitive === true,
  }))
}

/** The positions of a query's quasi-identifiers: the columns that are not sensitive. */
export function classPositions(query: Query): number[] {
  return (query.select as Column[]).flatMap((c, i) => (c.sensitive ? [] : [i]))
}

/** Whether a value is generalised as its column asks: a band's lower edge, a prefix no longer than allowed. */
function generalisedAsAsked(value: DatasetValue, column: Column): boolean {
  if (value === null) return true
  if (column.band !== undefined) return typeof value === 'number' && Number.isFinite(value) && Math.abs(value / column.band - Math.round(value / column.band)) < 1e-9
  if (column.prefix !== undefined) return typeof value === 'string' && [...value].length <= column.prefix
  return typeof value !== 'number' && (typeof value !== 'string' || value.length <= 256)
}

/** Which boxes are paid: every box that answered, except those whose records were shown to be forged. */
export function releaseDataset(queryId: string, query: Query, records: readonly KeptRecord[]): DatasetRelease & { forgedBy: string[] } {
  const columns = query.select as Column[]
  const positions = classPositions(query)
  const sensitive = columns.flatMap((c, i) => (c.sensitive ? [i] : []))
  const groups = new Map<string, KeptRecord[]>()
  for (const r of records) {
    const key = `${r.level}/${r.sealed.tag}`
    const group = groups.get(key)
    if (group) group.push(r)
    else groups.set(key, [r])
  }
  const release: DatasetRelease & { forgedBy: string[] } = { columns: datasetColumns(query), rows: [], classes: [], suppressed: 0, rejected: 0, forgedBy: [] }
  const reject = (r: KeptRecord) => {
    release.rejected++
    release.forgedBy.push(r.boxId)
  }
  for (const group of groups.values()) {
    const level = group[0]!.level
    const { k, l } = sharingParameters(level)
    const opened = openClass(group, k, (record, payload: RecordPayload) => ({ queryId, level: record.level, classValues: positions.map((i) => payload.values[i] ?? null) }))
    if (!opened) {
      release.suppressed += group.length
      continue
    }
    opened.rejected.forEach(reject)
    const genuine = opened.opened.filter(({ record, payload }) => {
      const ok = payload.values.length === columns.length && payload.values.every((v, i) => generalisedAsAsked(v, columns[i]!))
      if (!ok) reject(record)
      return ok
    })
    const diverse = sensitive.every((i) => new Set(genuine.map((o) => JSON.stringify(o.payload.values[i]))).size >= l)
    if (genuine.length < k || !diverse) {
      release.suppressed += genuine.length
      continue
    }
    release.classes.push({ level, k, l, records: genuine.length, values: positions.map((i) => genuine[0]!.payload.values[i]!) })
    release.rows.push(...genuine.map((o) => o.payload.values))
  }
  shuffle(release.rows)
  release.classes.sort((a, b) => JSON.stringify([a.level, a.values]).localeCompare(JSON.stringify([b.level, b.values])))
  return release
}

/** Fisher–Yates with a cryptographic source. */
function shuffle<T>(items: T[]): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = randomInt(i + 1)
    ;[items[i], items[j]] = [items[j]!, items[i]!]
  }
}

/** The k and l of each level, as a processor reads them next to the rows. */
export const DATASET_PARAMETERS = Object.fromEntries(
  (['low', 'medium', 'high'] as const).map((level) => {
    const p = PRIVACY_PARAMETERS[level]
    return [level, p.shares ? { k: p.k, l: p.l } : undefined]
  }),
) as Record<SharingLevel, { k: number; l: number }>
