/**
 * Apple Health's export.xml (alone, or inside the exported zip, where it is found by its
 * <HealthData> root whatever its name), streamed.
 *
 * - `Record`: quantity types (HKQuantityTypeIdentifier…) become a numeric record named after
 *   the type without its prefix (StepCount, HeartRate, …) with Apple's unit, timed by
 *   startDate; category types (HKCategoryTypeIdentifier…, e.g. SleepAnalysis) become a string
 *   record with the category value, plus `<Name>/duration` in seconds.
 * - `Workout`: workout/type, workout/duration (s), workout/distance and workout/energy with
 *   their units, timed by startDate.
 * - Duplicates: the same type, start, end and value reported by more than one source (iPhone
 *   and Watch both syncing one reading, or a record repeated across exports) is stored once.
 *   Overlapping intervals with different values (iPhone and Watch each counting the same walk)
 *   are both kept (the source names are not stored yet).
 * - Some iOS versions write an internal DTD that is not well-formed; it is skipped unread.
 */
import fs from 'node:fs'
import type { Readable } from 'node:stream'
import type { Entry, ZipFile } from 'yauzl'
import { InvalidInput } from '../errors/index.ts'
import type { SenmlRecord } from '../senml/index.ts'
import { BATCH, HEAD_BYTES, malformed } from './common.ts'
import type { ImportFormat } from './format.ts'
import { StringDecoder } from 'node:string_decoder'

export const appleHealth: ImportFormat = {
  name: 'apple-health',
  defaultSource: 'apple-health',
  logicalType: () => 'health',
  sniff: (head, text) => isZip(head) || /<(!DOCTYPE )?HealthData[\s>[]/.test(text),
  // The zip is read as it is, without unpacking it.
  open: async (file, head) => (isZip(head) ? openExportInZip(file) : fs.createReadStream(file)),
  parse: (input) => healthRecords(input),
}

function isZip(head: Buffer): boolean {
  return head.length >= 4 && head.readUInt32LE(0) === 0x04034b50
}

/** Readings remembered for spotting duplicates, per generation: two generations hold a day of dense Watch data. */
const GENERATION = 200_000
/** Slots per generation's table (a power of two), so it stays under 40 % full. */
const SLOTS = 2 ** 19

/**
 * Readings seen lately, by 52-bit hash, in two generations of open-addressing tables held in
 * typed arrays (8 MB, allocated once): no heap object per reading for the garbage collector to
 * trace, promote and later free. When the young generation fills, the old one is forgotten, so
 * the last 200,000 to 400,000 readings are remembered.
 */
class RecentReadings {
  #young = new Float64Array(SLOTS)
  #old = new Float64Array(SLOTS)
  #count = 0

  /** Remembers `hash`; whether it was already remembered. */
  seen(hash: number): boolean {
    const key = hash + 1 // 0 marks an empty slot
    if (find(this.#young, key) || find(this.#old, key)) return true
    if (this.#count >= GENERATION) {
      const old = this.#old
      this.#old = this.#young
      this.#young = old.fill(0)
      this.#count = 0
    }
    let i = key % SLOTS
    while (this.#young[i] !== 0) i = (i + 1) % SLOTS
    this.#young[i] = key
    this.#count++
    return false
  }
}

function find(table: Float64Array, key: number): boolean {
  for (let i = key % SLOTS; table[i] !== 0; i = (i + 1) % SLOTS) if (table[i] === key) return true
  return false
}

/**
 * Opens the export inside an Apple Health zip. It is found by what it holds, not by its name:
 * iPhones set to some languages name it `exportar.xml`, `exporter.xml` and the like. It is the
 * XML whose root element is <HealthData>; `export_cda.xml` beside it (an HL7 CDA document, root
 * <ClinicalDocument>), the workout routes (GPX) and the rest are passed over.
 */
async function openExportInZip(file: string): Promise<Readable> {
  // Loaded with the first zip, not with the box: most boxes never import one.
  const { default: yauzl } = await import('yauzl')
  return new Promise((resolve, reject) => {
    yauzl.open(file, { lazyEntries: true, autoClose: true }, (err, zip) => {
      if (err || !zip) return reject(new InvalidInput(`The zip cannot be read: ${err?.message ?? 'unknown error'}. Nothing was imported.`))
      const fail = (e: unknown) => {
        zip.close()
        reject(e)
      }
      zip.on('entry', (entry: Entry) => {
        if (entry.fileName.endsWith('/')) return zip.readEntry()
        rootElement(zip, entry).then((root) => {
          if (root !== 'HealthData') return zip.readEntry()
          zip.openReadStream(entry, (e, stream) => {
            if (e || !stream) return fail(e)
            // The stream holds the file open until it ends; the zip's own hold goes now, as no more entries are read.
            zip.close()
            resolve(stream)
          })
        }, fail)
      })
      zip.on('end', () => reject(new InvalidInput('This zip holds no export.xml (an XML file whose root element is <HealthData>, whatever its name): it is not an Apple Health export. Nothing was imported.')))
      zip.on('error', reject)
      zip.readEntry()
    })
  })
}

/** The root element's name of an entry in a zip, read from as much of its start as tells it; undefined if it is not XML. */
function rootElement(zip: ZipFile, entry: Entry): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    zip.openReadStream(entry, (err, stream) => {
      if (err || !stream) return reject(err)
      let head = ''
      const utf8 = new StringDecoder('utf8')
      const done = (root: string | undefined) => {
        stream.destroy()
        resolve(root)
      }
      stream.on('data', (chunk: Buffer) => {
        head += utf8.write(chunk)
        const root = xmlRoot(head)
        // Text that does not start with markup is not XML: no need to read on.
        if (root !== undefined || head.length >= HEAD_BYTES || /^\uFEFF?\s*[^\s<]/.test(head)) done(root)
      })
      stream.on('end', () => done(xmlRoot(head)))
      stream.on('error', reject)
    })
  })
}

/** The root element an XML text names: the DOCTYPE's name if it has one (XML 1.0 §2.8: it is the root's), else its first element's. */
function xmlRoot(text: string): string | undefined {
  return /^\uFEFF?(?:\s+|<\?[\s\S]*?\?>|<!--[\s\S]*?-->)*<(?:!DOCTYPE\s+)?([A-Za-z_][\w.:-]*)[\s>[/]/.exec(text)?.[1]
}

/**
 * Drops a leading `<!DOCTYPE … ]>` from the text before the XML parser sees it: `write` takes the
 * text as it is decoded and answers what is to be parsed of it ('' while the head is still being
 * looked through); `end` answers what was held back when the text ends.
 *
 * It works on text the caller has just decoded and hands it straight back, rather than being a
 * stream stage of its own: an object-mode stage between the decoder and the parser buffered up to
 * 16 decoded chunks (128 KiB of text each), long enough for every one to outlive two young-
 * generation collections, so the text of the whole export passed through the heap's old space as
 * garbage that piled up until a full collection (the box's peak RSS went from about 210 to about
 * 300 MiB on a 1 GiB export).
 */
function doctypeSkipper(): { write(text: string): string; end(): string } {
  let pending = ''
  let done = false
  return {
    write(text) {
      if (done) return text
      pending += text
      const start = pending.indexOf('<!DOCTYPE')
      const root = pending.indexOf('<HealthData')
      if (root >= 0 && (start < 0 || start > root)) return pass(pending)
      if (start < 0) return ''
      const end = pending.lastIndexOf(']>', root >= 0 ? root : undefined)
      if (root < 0 || end < start) {
        if (pending.length > 64 * 1024 * 1024) throw new Error('the DOCTYPE never ends')
        return ''
      }
      // Keep its line breaks, so the line numbers in error messages are the file's own.
      const lines = pending.slice(start, end + 2).split('\n').length - 1
      return pass(pending.slice(0, start) + '\n'.repeat(lines) + pending.slice(end + 2))
    },
    end() {
      const rest = pending
      pending = ''
      return rest
    },
  }
  function pass(text: string): string {
    done = true
    pending = ''
    return text
  }
}

/**
 * "2019-06-01 08:30:00 +0200" → epoch seconds. Read digit by digit, without a regular expression
 * or a string per field: two of these per record, four million records in a large export. A text
 * that is not plainly valid (a field out of range, a year before 100) goes the long way, through
 * Date.parse, which decides it as it always has.
 */
export function appleTime(text: string | undefined): number {
  if (text === undefined) return NaN
  if (text.length === 25 && text.charCodeAt(4) === 45 && text.charCodeAt(7) === 45 && text.charCodeAt(10) === 32 && text.charCodeAt(13) === 58 && text.charCodeAt(16) === 58 && text.charCodeAt(19) === 32) {
    const sign = text.charCodeAt(20) === 43 ? 1 : text.charCodeAt(20) === 45 ? -1 : 0
    const y = digits(text, 0, 4)
    const mo = digits(text, 5, 2)
    const d = digits(text, 8, 2)
    const h = digits(text, 11, 2)
    const mi = digits(text, 14, 2)
    const sec = digits(text, 17, 2)
    const oh = digits(text, 21, 2)
    const om = digits(text, 23, 2)
    if (sign !== 0 && y >= 100 && mo >= 1 && mo <= 12 && d >= 1 && d <= daysIn(y, mo) && h <= 23 && mi <= 59 && sec <= 59 && oh <= 23 && om <= 59) {
      return Date.UTC(y, mo - 1, d, h, mi, sec) / 1000 - sign * (oh * 3600 + om * 60)
    }
  }
  const m = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}) ([+-]\d{2})(\d{2})$/.exec(text)
  return m ? Date.parse(`${m[1]}T${m[2]}${m[3]}:${m[4]}`) / 1000 : NaN
}

/** The number `length` ASCII digits at `at` spell; NaN (which no range check passes) if one is not a digit. */
function digits(text: string, at: number, length: number): number {
  let n = 0
  for (let i = at; i < at + length; i++) {
    const c = text.charCodeAt(i) - 48
    if (c < 0 || c > 9) return NaN
    n = n * 10 + c
  }
  return n
}

function daysIn(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31
}

const DURATION_UNITS: Record<string, number> = { s: 1, min: 60, hr: 3600, h: 3600, d: 86400 }

/** Strings a record keeps (names, units, category values) held once each, up to this many. */
const OWN_STRINGS = 10_000

/**
 * A copy of `text` that holds nothing else alive, kept once per distinct text.
 *
 * An attribute value is a slice of the whole chunk the parser was given (V8 makes a substring of
 * 13 characters or more a view of its parent), and so is what `replace` leaves of it: a record
 * named "ActiveEnergyBurned" straight from its attribute would keep 128 KiB of the file's text
 * alive for as long as the record lives, and a batch of records the chunks they came from, in
 * the heap's old space once the batch has waited for its write. Names, units and category values
 * repeat, so each is copied once; past OWN_STRINGS distinct ones, each is copied every time.
 */
function ownStrings(): (text: string) => string {
  const kept = new Map<string, string>()
  return (text) => {
    let own = kept.get(text)
    if (own === undefined) {
      own = text.length < 13 ? text : Buffer.from(text, 'utf8').toString('utf8')
      if (kept.size < OWN_STRINGS) kept.set(own, own)
    }
    return own
  }
}

async function* healthRecords(input: Readable): AsyncGenerator<SenmlRecord[]> {
  const { SaxesParser } = await import('saxes')
  const sax = new SaxesParser({ xmlns: false, position: true })
  const out: SenmlRecord[][] = []
  let batch: SenmlRecord[] = []
  let sawRoot = false
  const recent = new RecentReadings()
  const own = ownStrings()
  /** A record type's name and its duration's, by the type. */
  const names = new Map<string, { name: string; duration: string }>()
  const push = (record: SenmlRecord) => {
    batch.push(record)
    if (batch.length >= BATCH) {
      out.push(batch)
      batch = []
    }
  }
  sax.on('opentag', (tag) => {
    const a = tag.attributes as Record<string, string>
    if (tag.name === 'HealthData') sawRoot = true
    else if (tag.name === 'Record') {
      const t = appleTime(a.startDate)
      if (!Number.isFinite(t) || !a.type) throw new Error('a <Record> without a type or a readable startDate')
      const end = appleTime(a.endDate)
      if (recent.seen(readingHash(a.type, a.startDate, a.endDate, a.value))) return
      let named = names.get(a.type)
      if (named === undefined) {
        const name = own(a.type.replace(/^HK(Quantity|Category)TypeIdentifier|^HKDataType/, ''))
        named = { name, duration: `${name}/duration` }
        if (names.size < OWN_STRINGS) names.set(own(a.type), named)
      }
      const value = Number(a.value)
      if (a.type.startsWith('HKCategoryTypeIdentifier') || (a.value !== undefined && !Number.isFinite(value))) {
        push({ n: named.name, t, vs: own((a.value ?? '').slice(0, 128)) })
        if (Number.isFinite(end)) push({ n: named.duration, u: 's', t, v: end - t })
      } else if (Number.isFinite(value)) {
        push(a.unit ? { n: named.name, u: own(a.unit), t, v: value } : { n: named.name, t, v: value })
      }
    } else if (tag.name === 'Workout') {
      const t = appleTime(a.startDate)
      if (!Number.isFinite(t)) throw new Error('a <Workout> without a readable startDate')
      push({ n: 'workout/type', t, vs: own((a.workoutActivityType ?? 'unknown').replace(/^HKWorkoutActivityType/, '')) })
      const duration = Number(a.duration) * (DURATION_UNITS[a.durationUnit ?? 'min'] ?? 60)
      if (Number.isFinite(duration)) push({ n: 'workout/duration', u: 's', t, v: duration })
      for (const [field, name] of [['totalDistance', 'distance'], ['totalEnergyBurned', 'energy']] as const) {
        const v = Number(a[field])
        const unit = a[`${field}Unit`]
        if (a[field] !== undefined && Number.isFinite(v)) push(unit ? { n: `workout/${name}`, u: own(unit), t, v } : { n: `workout/${name}`, t, v })
      }
    }
  })
  // Each chunk is decoded just before the parser reads it, so its text dies young. A character's
  // bytes may straddle two chunks: the decoder holds the first part back until the rest arrives.
  const utf8 = new StringDecoder('utf8')
  const doctype = doctypeSkipper()
  try {
    for await (const chunk of input) {
      const text = doctype.write(utf8.write(chunk as Buffer))
      if (text.length > 0) sax.write(text)
      while (out.length > 0) yield out.shift()!
    }
    sax.write(doctype.end() + utf8.end())
    sax.close()
  } catch (err) {
    throw malformed(`at line ${sax.line}, column ${sax.column}`, err)
  }
  if (!sawRoot) throw new InvalidInput('This is XML but not an Apple Health export: there is no <HealthData> element. Nothing was imported.')
  while (out.length > 0) yield out.shift()!
  if (batch.length > 0) yield batch
}

/**
 * A reading's hash: two 32-bit FNV-1a hashes, different seeds, folded into one number below
 * 2^52, of `type|start|end|value` (a missing field reads "undefined"), taken field by field
 * rather than of a string joined for it.
 */
function readingHash(type: string, start: string | undefined, end: string | undefined, value: string | undefined): number {
  ha = 0x811c9dc5
  hb = 0x01000193 ^ 0x5bd1e995
  mix(type)
  mix('|')
  mix(String(start))
  mix('|')
  mix(String(end))
  mix('|')
  mix(String(value))
  return (ha >>> 0) * 2 ** 20 + ((hb >>> 0) & 0xfffff)
}

let ha = 0
let hb = 0
function mix(text: string): void {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    ha = Math.imul(ha ^ c, 0x01000193)
    hb = Math.imul(hb ^ c, 0x01000193 + 2)
  }
}
