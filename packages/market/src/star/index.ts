/**
 * Threshold records for datasets, after STAR (Davidson et al., "STAR: Secret Sharing for Private
 * Threshold Aggregation Reporting", ACM CCS 2022): the market can read a box's generalised record
 * only once at least k boxes sent the same generalisation, so it never sees the classes it must
 * suppress.
 *
 * A box derives everything from its record's class — the query, the privacy level and the
 * quasi-identifiers, generalised (the measurement): a tag that groups equal classes, and a
 * polynomial of degree k − 1 over GF(2^255 − 19) whose value at 0 is the key the record is
 * encrypted under. It sends the tag, one point of that polynomial at a random x, and the
 * ciphertext. k boxes of one class give k points of the same polynomial, from which the market
 * interpolates the key; fewer give nothing about it.
 *
 * What the market does see: every record's tag, so how many records fall in each class (but not
 * which class it is) and which records share one. STAR hardens low-entropy measurements with a
 * randomness server; here the randomness is a keyed hash of the measurement itself, so a market
 * that tries every generalised value (a few thousand age bands × postcode prefixes) can open a
 * small class. The README and the processors' terms say so.
 *
 * The opened plaintext carries the randomness, so the market checks every record of a class
 * against the class's own polynomial and measurement: a forged point or ciphertext is rejected
 * alone, and cannot spoil the others or smuggle a value into a class it does not belong to.
 */
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto'
import { Field } from '@noble/curves/abstract/modular.js'
import { bytesToNumberBE, numberToBytesBE } from '@noble/curves/utils.js'

const F = Field(2n ** 255n - 19n)
const VERSION = 'coffer-star-v1'
/** Every plaintext is padded to this size, so a record's length says nothing about what it holds. */
export const PLAINTEXT_BYTES = 1024
const TAG_BYTES = 16
const NONCE_BYTES = 12
const AUTH_TAG_BYTES = 16
/** Different subsets of a class's points tried before giving up on opening it (a few forged points among many). */
const OPEN_ATTEMPTS = 64

export type DatasetValue = string | number | boolean | null

/** One box's sealed record: each field base64url without padding. */
export interface SealedRecord {
  tag: string
  /** The point of the class's polynomial: x and y, 32 bytes each, big-endian. */
  x: string
  y: string
  nonce: string
  ciphertext: string
}

/** What a record's class is: every value in it is public once k boxes share it. */
export interface Measurement {
  queryId: string
  level: string
  /** The generalised quasi-identifiers, in the query's column order. */
  classValues: readonly DatasetValue[]
}

/** What a record carries, readable once its class opens: the query's columns, generalised. */
export interface RecordPayload {
  values: DatasetValue[]
}

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64url')
const derive = (secret: Uint8Array, label: string, length: number) => Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), `${VERSION} ${label}`, length))
const element = (bytes: Uint8Array) => F.create(bytesToNumberBE(bytes))
const encodeElement = (n: bigint) => Buffer.from(numberToBytesBE(n, 32))

function randomnessOf(m: Measurement): Buffer {
  return createHmac('sha256', VERSION).update(JSON.stringify([m.queryId, m.level, m.classValues])).digest()
}

/** The class's polynomial: coefficients from the randomness, a₀ the secret the key comes from. */
function polynomialOf(randomness: Uint8Array, k: number): bigint[] {
  const bytes = derive(randomness, 'coefficients', 48 * k)
  return Array.from({ length: k }, (_, i) => element(bytes.subarray(48 * i, 48 * (i + 1))))
}

function evaluate(coefficients: readonly bigint[], x: bigint): bigint {
  let y = 0n
  for (let i = coefficients.length - 1; i >= 0; i--) y = F.add(F.mul(y, x), coefficients[i]!)
  return y
}

const keyOf = (secret: bigint) => derive(encodeElement(secret), 'key', 32)
const tagOf = (randomness: Uint8Array) => derive(randomness, 'tag', TAG_BYTES)

/** Seals a record for a class that opens with k records. Throws when the payload does not fit. */
export function sealRecord(measurement: Measurement, payload: RecordPayload, k: number): SealedRecord {
  const randomness = randomnessOf(measurement)
  const polynomial = polynomialOf(randomness, k)
  let x = 0n
  while (x === 0n) x = element(randomBytes(48))
  const text = JSON.stringify({ randomness: b64(randomness), values: payload.values })
  const size = Buffer.byteLength(text)
  if (size > PLAINTEXT_BYTES) throw new RangeError(`A dataset record holds at most ${PLAINTEXT_BYTES} bytes; this one is ${size}.`)
  const tag = tagOf(randomness)
  const nonce = randomBytes(NONCE_BYTES)
  const cipher = createCipheriv('aes-256-gcm', keyOf(polynomial[0]!), nonce).setAAD(tag)
  // Trailing spaces are JSON whitespace: the padding parses away.
  const ciphertext = Buffer.concat([cipher.update(text.padEnd(PLAINTEXT_BYTES, ' '), 'utf8'), cipher.final(), cipher.getAuthTag()])
  return { tag: b64(tag), x: b64(encodeElement(x)), y: b64(encodeElement(evaluate(polynomial, x))), nonce: b64(nonce), ciphertext: b64(ciphertext) }
}

/**
 * What a box that does not match sends: the same sizes, random throughout, so the market cannot
 * tell it from a record. It forms a class of one, which never opens.
 */
export function decoyRecord(): SealedRecord {
  return {
    tag: b64(randomBytes(TAG_BYTES)),
    x: b64(encodeElement(element(randomBytes(48)))),
    y: b64(encodeElement(element(randomBytes(48)))),
    nonce: b64(randomBytes(NONCE_BYTES)),
    ciphertext: b64(randomBytes(PLAINTEXT_BYTES + AUTH_TAG_BYTES)),
  }
}

/** Whether a record has the shape and sizes of a sealed record (not whether it opens). */
export function recordProblem(record: SealedRecord): string | undefined {
  const sizes: [keyof SealedRecord, number][] = [['tag', TAG_BYTES], ['x', 32], ['y', 32], ['nonce', NONCE_BYTES], ['ciphertext', PLAINTEXT_BYTES + AUTH_TAG_BYTES]]
  for (const [field, bytes] of sizes) {
    const value = record[field]
    if (typeof value !== 'string' || !/^[A-Za-z0-9_-]*$/.test(value) || Buffer.from(value, 'base64url').length !== bytes) return `${field} must be ${bytes} bytes, base64url`
  }
  const x = bytesToNumberBE(Buffer.from(record.x, 'base64url'))
  if (x === 0n || !F.isValid(x) || !F.isValid(bytesToNumberBE(Buffer.from(record.y, 'base64url')))) return 'x and y must be elements of the field, x not 0'
  return undefined
}

export interface OpenedClass<T> {
  /** The records that belong to the class, each with what it carries. */
  opened: { record: T; payload: RecordPayload }[]
  /** Records with the class's tag that are not of it: a point off its polynomial, or a ciphertext that does not open. */
  rejected: T[]
}

/**
 * Opens one class: the records sharing one tag, at threshold k. Undefined when it cannot be
 * opened with at least k genuine records — fewer than k, or too many forgeries among them — in
 * which case the market has learnt nothing of it. `measurementOf` says what class a record's
 * opened values put it in, for the query and level it was sent with: a record whose values do
 * not hash to the class's randomness is rejected, so no one can slip a value into a class that
 * is not its own.
 */
export function openClass<T extends { sealed: SealedRecord }>(records: readonly T[], k: number, measurementOf: (record: T, payload: RecordPayload) => Measurement): OpenedClass<T> | undefined {
  // A point repeated (the same x) adds nothing; only distinct ones count towards k.
  const points = new Map<bigint, T>()
  for (const r of records) points.set(bytesToNumberBE(Buffer.from(r.sealed.x, 'base64url')), r)
  const distinct = [...points.entries()]
  if (distinct.length < k) return undefined
  for (let attempt = 0; attempt < Math.min(OPEN_ATTEMPTS, distinct.length); attempt++) {
    const subset = Array.from({ length: k }, (_, i) => distinct[(attempt + i) % distinct.length]!)
    const secret = interpolateAtZero(subset.map(([x, r]) => [x, bytesToNumberBE(Buffer.from(r.sealed.y, 'base64url'))]))
    const key = keyOf(secret)
    const first = subset.map(([, r]) => decrypt(r.sealed, key)).find((p) => p !== undefined)
    if (!first) continue
    const randomness = Buffer.from(first.randomness, 'base64url')
    const polynomial = polynomialOf(randomness, k)
    if (polynomial[0] !== secret) continue
    const tag = b64(tagOf(randomness))
    const opened: OpenedClass<T>['opened'] = []
    const rejected: T[] = []
    for (const record of records) {
      const { sealed } = record
      const onPolynomial = sealed.tag === tag && evaluate(polynomial, bytesToNumberBE(Buffer.from(sealed.x, 'base64url'))) === bytesToNumberBE(Buffer.from(sealed.y, 'base64url'))
      const opening = onPolynomial ? decrypt(sealed, key) : undefined
      const payload = opening && { values: opening.values }
      if (payload && opening.randomness === first.randomness && randomnessOf(measurementOf(record, payload)).equals(randomness)) opened.push({ record, payload })
      else rejected.push(record)
    }
    return opened.length >= k ? { opened, rejected } : undefined
  }
  return undefined
}

function interpolateAtZero(points: readonly [bigint, bigint][]): bigint {
  let secret = 0n
  for (let j = 0; j < points.length; j++) {
    const [xj, yj] = points[j]!
    let numerator = 1n
    let denominator = 1n
    for (let m = 0; m < points.length; m++) {
      if (m === j) continue
      const xm = points[m]![0]
      numerator = F.mul(numerator, xm)
      denominator = F.mul(denominator, F.sub(xm, xj))
    }
    secret = F.add(secret, F.mul(yj, F.div(numerator, denominator)))
  }
  return secret
}

function decrypt(sealed: SealedRecord, key: Buffer): { randomness: string; values: DatasetValue[] } | undefined {
  try {
    const body = Buffer.from(sealed.ciphertext, 'base64url')
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(sealed.nonce, 'base64url')).setAAD(Buffer.from(sealed.tag, 'base64url'))
    decipher.setAuthTag(body.subarray(body.length - AUTH_TAG_BYTES))
    const text = Buffer.concat([decipher.update(body.subarray(0, body.length - AUTH_TAG_BYTES)), decipher.final()]).toString('utf8')
    const parsed = JSON.parse(text) as { randomness?: unknown; values?: unknown }
    if (typeof parsed.randomness !== 'string' || !Array.isArray(parsed.values)) return undefined
    return { randomness: parsed.randomness, values: parsed.values as DatasetValue[] }
  } catch {
    return undefined
  }
}

/** How a dataset's column generalises its values (the query's BAND, PREFIX and SENSITIVE). */
export interface Generalisation {
  band?: number
  prefix?: number
  sensitive?: true
}

/** A box's value as its column releases it: a number as the lower edge of its band, a text cut to its prefix. */
export function generalise(value: DatasetValue | undefined, column: Generalisation): DatasetValue {
  if (value === null || value === undefined) return null
  if (column.band !== undefined) return typeof value === 'number' && Number.isFinite(value) ? Math.floor(value / column.band) * column.band : null
  if (column.prefix !== undefined) return [...String(value)].slice(0, column.prefix).join('')
  return value
}

/**
 * The record a box sends for a dataset query at its privacy level (whose k is the threshold):
 * its values generalised as the columns say, sealed for the class its quasi-identifiers make,
 * or a decoy when it does not match (null).
 */
export function datasetRecord(queryId: string, columns: readonly Generalisation[], level: string, k: number, values: readonly (DatasetValue | undefined)[] | null): SealedRecord {
  if (values === null) return decoyRecord()
  const generalised = columns.map((c, i) => generalise(values[i], c))
  const classValues = generalised.filter((_, i) => !columns[i]!.sensitive)
  return sealRecord({ queryId, level, classValues }, { values: generalised }, k)
}
