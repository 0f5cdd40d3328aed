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
import { Transform, type Readable } from 'node:stream'
import yauzl from 'yauzl'
import { SaxesParser } from 'saxes'
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
function openExportInZip(file: string): Promise<Readable> {
  return new Promise((resolve, reject) => {
    yauzl.open(file, { lazyEntries: true, autoClose: true }, (err, zip) => {
      if (err || !zip) return reject(new InvalidInput(`The zip cannot be read: ${err?.message ?? 'unknown error'}. Nothing was imported.`))
      const fail = (e: unknown) => {
        zip.close()
        reject(e)
      }
      zip.on('entry', (entry: yauzl.Entry) => {
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
function rootElement(zip: yauzl.ZipFile, entry: yauzl.Entry): Promise<string | undefined> {
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

/** Drops a leading `<!DOCTYPE … ]>` before the XML parser sees it. */
function skipDoctype(): Transform {
  let pending = ''
  let done = false
  // A character's bytes may straddle two chunks: the decoder holds the first part back.
  const utf8 = new StringDecoder('utf8')
  return new Transform({
    readableObjectMode: true,
    transform(chunk: Buffer, _enc, callback) {
      if (done) return callback(null, utf8.write(chunk))
      pending += utf8.write(chunk)
      const start = pending.indexOf('<!DOCTYPE')
      const root = pending.indexOf('<HealthData')
      if (root >= 0 && (start < 0 || start > root)) {
        done = true
        const text = pending
        pending = ''
        return callback(null, text)
      }
      if (start < 0) return callback()
      const end = pending.lastIndexOf(']>', root >= 0 ? root : undefined)
      if (root < 0 || end < start) return pending.length > 64 * 1024 * 1024 ? callback(new Error('the DOCTYPE never ends')) : callback()
      done = true
      // Keep its line breaks, so the line numbers in error messages are the file's own.
      const lines = pending.slice(start, end + 2).split('\n').length - 1
      callback(null, pending.slice(0, start) + '\n'.repeat(lines) + pending.slice(end + 2))
      pending = ''
    },
    flush(callback) {
      callback(null, pending + utf8.end())
    },
  })
}

/** "2019-06-01 08:30:00 +0200" → epoch seconds. */
function appleTime(text: string | undefined): number {
  const m = text && /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}) ([+-]\d{2})(\d{2})$/.exec(text)
  return m ? Date.parse(`${m[1]}T${m[2]}${m[3]}:${m[4]}`) / 1000 : NaN
}

const DURATION_UNITS: Record<string, number> = { s: 1, min: 60, hr: 3600, h: 3600, d: 86400 }

async function* healthRecords(input: Readable): AsyncGenerator<SenmlRecord[]> {
  const sax = new SaxesParser({ xmlns: false, position: true })
  const out: SenmlRecord[][] = []
  let batch: SenmlRecord[] = []
  let sawRoot = false
  const recent = new RecentReadings()
  const push = (...records: SenmlRecord[]) => {
    batch.push(...records)
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
      if (recent.seen(hash52(`${a.type}|${a.startDate}|${a.endDate}|${a.value}`))) return
      const name = a.type.replace(/^HK(Quantity|Category)TypeIdentifier|^HKDataType/, '')
      const value = Number(a.value)
      if (a.type.startsWith('HKCategoryTypeIdentifier') || (a.value !== undefined && !Number.isFinite(value))) {
        push({ n: name, t, vs: (a.value ?? '').slice(0, 128) })
        if (Number.isFinite(end)) push({ n: `${name}/duration`, u: 's', t, v: end - t })
      } else if (Number.isFinite(value)) {
        push(a.unit ? { n: name, u: a.unit, t, v: value } : { n: name, t, v: value })
      }
    } else if (tag.name === 'Workout') {
      const t = appleTime(a.startDate)
      if (!Number.isFinite(t)) throw new Error('a <Workout> without a readable startDate')
      push({ n: 'workout/type', t, vs: (a.workoutActivityType ?? 'unknown').replace(/^HKWorkoutActivityType/, '') })
      const duration = Number(a.duration) * (DURATION_UNITS[a.durationUnit ?? 'min'] ?? 60)
      if (Number.isFinite(duration)) push({ n: 'workout/duration', u: 's', t, v: duration })
      for (const [field, name] of [['totalDistance', 'distance'], ['totalEnergyBurned', 'energy']] as const) {
        const v = Number(a[field])
        const unit = a[`${field}Unit`]
        if (a[field] !== undefined && Number.isFinite(v)) push(unit ? { n: `workout/${name}`, u: unit, t, v } : { n: `workout/${name}`, t, v })
      }
    }
  })
  const text = input.pipe(skipDoctype())
  try {
    for await (const chunk of text) {
      sax.write(chunk as string)
      while (out.length > 0) yield out.shift()!
    }
    sax.close()
  } catch (err) {
    throw malformed(`at line ${sax.line}, column ${sax.column}`, err)
  }
  if (!sawRoot) throw new InvalidInput('This is XML but not an Apple Health export: there is no <HealthData> element. Nothing was imported.')
  while (out.length > 0) yield out.shift()!
  if (batch.length > 0) yield batch
}

/** Two 32-bit FNV-1a hashes, different seeds, folded into one number below 2^52. */
function hash52(text: string): number {
  let a = 0x811c9dc5
  let b = 0x01000193 ^ 0x5bd1e995
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    a = Math.imul(a ^ c, 0x01000193)
    b = Math.imul(b ^ c, 0x01000193 + 2)
  }
  return (a >>> 0) * 2 ** 20 + ((b >>> 0) & 0xfffff)
}
