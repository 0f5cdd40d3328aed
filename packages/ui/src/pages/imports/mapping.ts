/** A CSV column mapping as the owner edits it, and the profile the box stores from it. */
import type { CsvPreview, CsvProfile, LogicalType } from '@coffer/box'

/** Offered as suggestions; any pattern of YYYY, MM, DD, HH, mm and ss is accepted. */
export const TIME_FORMATS = ['iso', 'epoch', 'epoch-ms', 'DD.MM.YYYY HH:mm:ss', 'DD.MM.YYYY HH:mm', 'DD.MM.YYYY', 'DD/MM/YYYY HH:mm', 'DD/MM/YYYY', 'MM/DD/YYYY HH:mm', 'MM/DD/YYYY']
/** The box's logical types, in the order a CSV file is likely to hold them. */
export const LOGICAL_TYPES: LogicalType[] = ['other', 'finance', 'energy', 'environment', 'health', 'activity', 'location', 'communication', 'identity']

export interface ColumnChoice { column: string; use: boolean; name: string; unit: string; type: 'number' | 'string' }

export interface Mapping {
  timeColumn: string
  timeFormat: string
  tz: string
  decimal: '.' | ','
  logicalType: LogicalType
  columns: ColumnChoice[]
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9:./_-]*$/

/** A record name for a column: the header itself where it is one, else a plain-letters version of it. */
export function recordName(column: string, index: number): string {
  if (NAME.test(column)) return column
  return plain(column, /[^a-z0-9:./_-]+/g) || `value${index + 1}`
}

/** A saved-profile or source id from a file name: lower-case, at most 63 characters. */
export function idFrom(fileName: string): string {
  return plain(fileName.replace(/\.[^.]*$/, ''), /[^a-z0-9._-]+/g).slice(0, 63) || 'csv'
}

/** Lower case without accents; each run of what `other` matches becomes one dash, none at either end. */
function plain(text: string, other: RegExp): string {
  return text.normalize('NFKD').replace(/[\u0300-\u036f]/g, '').toLowerCase().replace(other, '-').replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, '')
}

export function mappingFrom(preview: CsvPreview, tz: string): Mapping {
  return {
    timeColumn: preview.guess.time?.column ?? preview.columns[0] ?? '',
    timeFormat: preview.guess.time?.format ?? 'iso',
    tz,
    decimal: preview.guess.decimal,
    logicalType: 'other',
    columns: preview.columns.map((column, i) => {
      const type = preview.guess.values.find((v) => v.column === column)?.type ?? 'string'
      return { column, use: type === 'number', name: recordName(column, i), unit: '', type }
    }),
  }
}

/** A saved profile read back into the form, over the columns this file has. */
export function mappingFromProfile(profile: CsvProfile, preview: CsvPreview): Mapping {
  return {
    timeColumn: profile.time.column,
    timeFormat: profile.time.format,
    tz: profile.time.tz ?? 'UTC',
    decimal: profile.decimal ?? '.',
    logicalType: profile.logicalType ?? 'other',
    columns: preview.columns.map((column, i) => {
      const saved = profile.values.find((v) => v.column === column)
      return { column, use: saved !== undefined, name: saved?.name ?? recordName(column, i), unit: saved?.unit ?? '', type: saved?.type ?? 'number' }
    }),
  }
}

export function profileFrom(m: Mapping): CsvProfile {
  return {
    time: { column: m.timeColumn, format: m.timeFormat, ...(m.tz && m.tz !== 'UTC' ? { tz: m.tz } : {}) },
    values: m.columns.filter((c) => c.use && c.column !== m.timeColumn).map((c) => ({
      column: c.column,
      ...(c.name.trim() && c.name.trim() !== c.column ? { name: c.name.trim() } : {}),
      ...(c.unit.trim() && c.type === 'number' ? { unit: c.unit.trim() } : {}),
      ...(c.type === 'string' ? { type: 'string' as const } : {}),
    })),
    logicalType: m.logicalType,
    ...(m.decimal === ',' ? { decimal: ',' as const } : {}),
  }
}
