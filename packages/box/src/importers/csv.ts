/**
 * CSV read through a column mapping (a profile, csv-profile.ts). The delimiter (, ; tab |) and
 * the encoding (UTF-8, UTF-16 with a BOM, else Windows-1252, what many banks export) are
 * detected from the first bytes. A CSV file cannot be recognised by its content: it is read
 * when named, or when a profile is given.
 */
import { Transform, type Readable } from 'node:stream'
import { InvalidInput } from '../errors/index.ts'
import type { SenmlRecord } from '../senml/index.ts'
import { BATCH, HEAD_BYTES } from './common.ts'
import { timeParser, type CsvProfile } from './csv-profile.ts'
import type { ImportFormat } from './format.ts'

export const csv: ImportFormat = {
  name: 'csv',
  defaultSource: 'csv',
  logicalType: ({ profile }) => profile?.logicalType ?? 'other',
  // A CSV read through another mapping gives other records: the mapping is part of its identity.
  identity: ({ profile }) => JSON.stringify(mapping(profile)),
  parse: (input, { head, profile }) => rows(input, head, mapping(profile)),
}

function mapping(profile: CsvProfile | undefined): CsvProfile {
  if (!profile) throw new InvalidInput('A CSV import needs a column mapping: pass a saved profile or a profile file with --profile.', { field: 'profile' })
  return profile
}

function detectEncoding(head: Buffer): string {
  if (head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf) return 'utf-8'
  if (head[0] === 0xff && head[1] === 0xfe) return 'utf-16le'
  if (head[0] === 0xfe && head[1] === 0xff) return 'utf-16be'
  try {
    // A cut at the end of the sample may split a character: only what comes before counts.
    new TextDecoder('utf-8', { fatal: true }).decode(head.subarray(0, Math.max(0, head.length - 4)))
    return 'utf-8'
  } catch {
    return 'windows-1252'
  }
}

/** The candidate that splits the first lines into the same number (> 1) of fields, most often. */
function detectDelimiter(text: string): string {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/).filter((l) => l.trim() !== '').slice(0, 20)
  let best = ','
  let bestScore = 0
  for (const d of [',', ';', '\t', '|']) {
    const counts = lines.map((l) => fieldsIn(l, d))
    const first = counts[0] ?? 0
    const consistent = counts.filter((n) => n === first).length
    const score = first > 1 ? consistent * first : 0
    if (score > bestScore) {
      best = d
      bestScore = score
    }
  }
  return best
}

function fieldsIn(line: string, delimiter: string): number {
  let n = 1
  let quoted = false
  for (const ch of line) {
    if (ch === '"') quoted = !quoted
    else if (ch === delimiter && !quoted) n++
  }
  return n
}

/** What the start of a CSV file looks like to the importer, and a first guess at its mapping. */
export interface CsvPreview {
  encoding: string
  delimiter: string
  columns: string[]
  /** Up to five rows after the header, as text. */
  rows: string[][]
  /** A mapping to start from: the time column and format if one is recognised, every numeric column as a value. */
  guess: { time: { column: string; format: string } | null; values: { column: string; type: 'number' | 'string' }[]; decimal: '.' | ',' }
}

/** The parser and the decoder, loaded with the first CSV file rather than with the box. */
async function csvLibraries() {
  const [{ parse }, { parse: parseSync }, { default: iconv }] = await Promise.all([import('csv-parse'), import('csv-parse/sync'), import('iconv-lite')])
  return { parse, parseSync, iconv }
}

/** Reads the head of a CSV file as the import will: the same bytes, encoding and delimiter detection. */
export async function previewCsv(head: Buffer): Promise<CsvPreview> {
  const { parseSync, iconv } = await csvLibraries()
  const encoding = detectEncoding(head)
  const text = iconv.decode(head, encoding).replace(/^\uFEFF/, '')
  // A full sample may end inside a line: then only whole lines count.
  const cut = text.lastIndexOf('\n')
  const whole = head.length >= HEAD_BYTES && cut > 0 ? text.slice(0, cut + 1) : text
  const delimiter = detectDelimiter(whole)
  let table: string[][]
  try {
    table = (parseSync(whole, { delimiter, skip_empty_lines: true, trim: true, relax_column_count: true, to: 6 }) as string[][])
  } catch (err) {
    throw new InvalidInput(`This does not read as CSV: ${(err as Error).message}.`)
  }
  const [columns = [], ...rows] = table
  if (columns.length < 2) throw new InvalidInput('This does not read as CSV with a header line: it needs at least a time column and a value column, separated by , ; tab or |.')
  const cells = (i: number) => rows.map((r) => r[i] ?? '').filter((c) => c !== '')
  const time = columns.map((column, i) => ({ column, format: timeFormatOf(cells(i)) })).find((c) => c.format !== null) as { column: string; format: string } | undefined
  const numeric = (sample: string[]) => sample.length > 0 && sample.every((c) => /^[-+]?[\d.,]*\d([eE][-+]?\d+)?$/.test(c))
  const values = columns.filter((c) => c !== time?.column).map((column) => ({ column, type: numeric(cells(columns.indexOf(column))) ? 'number' as const : 'string' as const }))
  // 1.250,00 and -4,50 are decimal commas; 1,250.00 and 4.5 are not.
  const numbers = values.filter((v) => v.type === 'number').flatMap((v) => cells(columns.indexOf(v.column)))
  const decimal = numbers.some((c) => /\d,\d{1,2}$/.test(c)) && !numbers.some((c) => /\.\d{1,2}$/.test(c)) ? ',' : '.'
  return { encoding, delimiter, columns, rows, guess: { time: time ?? null, values, decimal } }
}

/** The time format every sample cell is in, if any is recognised. */
function timeFormatOf(sample: string[]): string | null {
  if (sample.length === 0) return null
  const all = (re: RegExp) => sample.every((c) => re.test(c))
  if (all(/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/)) return 'iso'
  if (all(/^1\d{9}(\.\d+)?$/)) return 'epoch'
  if (all(/^1\d{12}$/)) return 'epoch-ms'
  for (const format of ['DD.MM.YYYY HH:mm:ss', 'DD.MM.YYYY HH:mm', 'DD.MM.YYYY', 'DD/MM/YYYY HH:mm:ss', 'DD/MM/YYYY HH:mm', 'DD/MM/YYYY']) {
    const re = new RegExp(`^${format.replace(/[./]/g, (c) => `\\${c}`).replace(/YYYY/, '\\d{4}').replace(/DD|MM|HH|mm|ss/g, '\\d{1,2}')}$`)
    if (all(re)) return format
  }
  return null
}

/** Decodes to text, dropping a byte-order mark. */
function decoder(decode: { write(chunk: Buffer): string; end(): string | undefined }): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, callback) {
      callback(null, decode.write(chunk))
    },
    flush(callback) {
      callback(null, decode.end() ?? '')
    },
  })
}

async function* rows(input: Readable, head: Buffer, profile: CsvProfile): AsyncGenerator<SenmlRecord[]> {
  const { parse, iconv } = await csvLibraries()
  const encoding = profile.encoding ?? detectEncoding(head)
  const delimiter = profile.delimiter ?? detectDelimiter(iconv.decode(head, encoding))
  const parseTime = timeParser(profile)
  const rows = input.pipe(decoder(iconv.getDecoder(encoding))).pipe(parse({ delimiter, columns: true, bom: true, skip_empty_lines: true, trim: true, relax_column_count: false }))
  let batch: SenmlRecord[] = []
  let line = 1
  try {
    for await (const row of rows as AsyncIterable<Record<string, string>>) {
      line++
      if (line === 2) {
        for (const column of [profile.time.column, ...profile.values.map((v) => v.column)]) {
          if (!(column in row)) throw new InvalidInput(`The file has no column "${column}"; its columns are ${Object.keys(row).map((c) => `"${c}"`).join(', ')}. Nothing was imported.`, { field: 'column' })
        }
      }
      const t = parseTime(row[profile.time.column] ?? '')
      if (!Number.isFinite(t)) throw new InvalidInput(`Line ${line}: "${row[profile.time.column]}" in column "${profile.time.column}" is not a time in the format ${profile.time.format}. Nothing was imported.`, { index: line, field: profile.time.column })
      for (const v of profile.values) {
        const cell = row[v.column] ?? ''
        if (cell === '') continue
        const name = v.name ?? v.column
        if (v.type === 'string') {
          batch.push({ n: name, t, vs: cell.slice(0, 1024) })
          continue
        }
        const number = Number(profile.decimal === ',' ? cell.replace(/\./g, '').replace(',', '.') : cell.replace(/,/g, ''))
        if (!Number.isFinite(number)) throw new InvalidInput(`Line ${line}: "${cell}" in column "${v.column}" is not a number. Nothing was imported.`, { index: line, field: v.column })
        batch.push(v.unit ? { n: name, u: v.unit, t, v: number } : { n: name, t, v: number })
      }
      if (batch.length >= BATCH) {
        yield batch
        batch = []
      }
    }
  } catch (err) {
    if (err instanceof InvalidInput) throw err
    throw new InvalidInput(`The CSV is malformed near line ${line + 1}: ${(err as Error).message}. Nothing was imported.`)
  }
  if (batch.length > 0) yield batch
}
