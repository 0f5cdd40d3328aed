/**
 * What a file format is to the importer: how a file in it is recognised, where its records go
 * by default, and how it is read. The import itself — upload, idempotence, progress and
 * take-back — is the same for every format (index.ts).
 */
import type { Readable } from 'node:stream'
import type { SenmlRecord } from '../senml/index.ts'
import type { LogicalType } from '../store/index.ts'
import type { CsvProfile } from './csv-profile.ts'

export type Format = 'gpx' | 'google-records' | 'google-semantic' | 'google-timeline' | 'apple-health' | 'ical' | 'csv'

/** What the owner passed with a file, beyond its bytes. */
export interface ImportOptions {
  profile?: CsvProfile
}

/** A file being read: its path, its first bytes, the owner's options, and what the box knows of its owner. */
export interface FileToRead extends ImportOptions {
  file: string
  head: Buffer
  /** The owner's IANA time zone, for times a file gives without one (an all-day date, a floating time). */
  timeZone: string
  /** Tells the owner, in the import's result, of something skipped or read in a particular way. */
  warn(message: string): void
}

export interface ImportFormat {
  name: Format
  /** The source its records go to unless the owner names one. */
  defaultSource: string
  /** The logical type of a source an import creates. */
  logicalType(options: ImportOptions): LogicalType
  /**
   * Whether a file's first bytes (also given as text) are in this format. A format that cannot
   * be recognised (CSV) is read only when named.
   */
  sniff?(head: Buffer, text: string): boolean
  /** What besides the bytes decides the records (a CSV's mapping): an import is known by both. */
  identity?(options: ImportOptions): string
  /** The bytes to parse, when they are not simply the file's (the export.xml inside a zip). */
  open?(file: string, head: Buffer): Promise<Readable>
  /** The records, a batch at a time, with bounded memory whatever the file's size. */
  parse(input: Readable, file: FileToRead): AsyncGenerator<SenmlRecord[]>
}
