/**
 * The Apple Health reader on its own, fed chunks cut wherever a test likes: characters of two,
 * three and four bytes split across chunks, a DOCTYPE split across chunks, and error lines that
 * are the file's own. (The HTTP path through a real box is in test/imports.test.ts.)
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Readable } from 'node:stream'
import v8 from 'node:v8'
import vm from 'node:vm'
import type { SenmlRecord } from '../senml/index.ts'
import { appleHealth, appleTime } from './apple-health.ts'

const file = { file: 'export.xml', head: Buffer.alloc(0), timeZone: 'UTC', warn: () => {} }

/** The records read from `bytes` delivered as the chunks `cuts` make of it. */
async function read(bytes: Buffer, cuts: number[]): Promise<SenmlRecord[]> {
  const edges = [0, ...cuts, bytes.length]
  const chunks = edges.slice(1).map((end, i) => bytes.subarray(edges[i], end)).filter((c) => c.length > 0)
  const records: SenmlRecord[] = []
  for await (const batch of appleHealth.parse(Readable.from(chunks, { objectMode: false }), file)) records.push(...batch)
  return records
}

const EXPORT = [
  '<?xml version="1.0" encoding="UTF-8"?>',
  '<!DOCTYPE HealthData [',
  '<!-- Zoë’s phone 😀 -->',
  '<!ELEMENT HealthData (Record)*>',
  ']>',
  '<HealthData locale="fr_FR">',
  ' <Record type="HKCategoryTypeIdentifierMindfulSession" sourceName="Zoë’s iPhone" startDate="2024-03-01 10:00:00 +0000" endDate="2024-03-01 10:10:00 +0000" value="Café ’ 😀 ü"/>',
  ' <Record type="HKQuantityTypeIdentifierStepCount" sourceName="Zoë’s iPhone" unit="count" startDate="2024-03-01 11:00:00 +0000" endDate="2024-03-01 11:01:00 +0000" value="42"/>',
  ' <Record type="HKCategoryTypeIdentifierSleepAnalysis" sourceName="Ålesund ⌚" startDate="2024-03-01 23:00:00 +0100" endDate="2024-03-02 07:00:00 +0100" value="HKCategoryValueSleepAnalysisAsleep—ünd 𝄞"/>',
  '</HealthData>',
  '',
].join('\n')

const EXPECTED: SenmlRecord[] = [
  { n: 'MindfulSession', t: 1709287200, vs: 'Café ’ 😀 ü' },
  { n: 'MindfulSession/duration', u: 's', t: 1709287200, v: 600 },
  { n: 'StepCount', u: 'count', t: 1709290800, v: 42 },
  { n: 'SleepAnalysis', t: 1709330400, vs: 'HKCategoryValueSleepAnalysisAsleep—ünd 𝄞' },
  { n: 'SleepAnalysis/duration', u: 's', t: 1709330400, v: 28800 },
]

test('the export read whole gives every record, multi-byte characters intact', async () => {
  assert.deepEqual(await read(Buffer.from(EXPORT), []), EXPECTED)
})

test('a character of 2, 3 or 4 bytes split across two chunks arrives whole, wherever the chunks are cut', async () => {
  const bytes = Buffer.from(EXPORT)
  // Every cut, so each byte of each é, ’, ⌚ and 😀 (in the DOCTYPE, the head and the values) lands on an edge once.
  for (let cut = 1; cut < bytes.length; cut++) assert.deepEqual(await read(bytes, [cut]), EXPECTED, `cut at byte ${cut}`)
})

test('a file delivered a byte at a time reads the same', async () => {
  const bytes = Buffer.from(EXPORT)
  assert.deepEqual(await read(bytes, Array.from({ length: bytes.length - 1 }, (_, i) => i + 1)), EXPECTED)
})

test('an export without a DOCTYPE, cut inside a character, reads the same', async () => {
  const bytes = Buffer.from(EXPORT.replace(/<!DOCTYPE[\s\S]*?\]>\n/, ''))
  const inside = bytes.indexOf('😀') + 2
  assert.deepEqual(await read(bytes, [inside]), EXPECTED)
})

test('an error after a skipped DOCTYPE names the line it is on in the file', async () => {
  // An unquoted attribute value, on the StepCount record's line: the 8th, after a DOCTYPE of four lines.
  const broken = Buffer.from(EXPORT.replace('value="42"', 'value=42'))
  for (const cuts of [[], [40], [60, 61, 62], [300]]) {
    await assert.rejects(read(broken, cuts), /The file is malformed at line 8, column \d+: /, `cuts ${cuts.join(', ')}`)
  }
})

test('a DOCTYPE that never ends is malformed, not read forever', async () => {
  const bytes = Buffer.from('<?xml version="1.0"?>\n<!DOCTYPE HealthData [\n<!ELEMENT HealthData (Record)*>\n')
  await assert.rejects(read(bytes, [30]), /malformed/)
})

test('XML that is not an Apple Health export says so', async () => {
  await assert.rejects(read(Buffer.from('<?xml version="1.0"?>\n<gpx version="1.1"></gpx>\n'), []), /not an Apple Health export/)
})

test('times read digit by digit are what Date.parse makes of them, valid or not', () => {
  const slow = (text: string) => {
    const m = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}) ([+-]\d{2})(\d{2})$/.exec(text)
    return m ? Date.parse(`${m[1]}T${m[2]}${m[3]}:${m[4]}`) / 1000 : NaN
  }
  const edges = [
    '2019-06-01 08:30:00 +0200', '2024-02-29 23:59:59 -0930', '2023-02-29 12:00:00 +0000', '2024-04-31 00:00:00 +0000',
    '2024-12-31 24:00:00 +0000', '2024-13-01 00:00:00 +0000', '2024-00-10 00:00:00 +0000', '2024-01-00 00:00:00 +0000',
    '2024-01-01 00:60:00 +0000', '2024-01-01 00:00:60 +0000', '2024-01-01 00:00:00 +2400', '2024-01-01 00:00:00 +1460',
    '0099-01-01 00:00:00 +0000', '0100-03-01 00:00:00 +0000', '1900-02-29 00:00:00 +0000', '2000-02-29 00:00:00 +0000',
    '2024-01-01T00:00:00 +0000', '2024-01-01 00:00:00 0000', '2024-01-01 00:00:00 +00:00', '2024-1-01 00:00:00 +0000',
    '２０２４-01-01 00:00:00 +0000', '2024-01-01 00:00:00 +000a', '2024-01-01 0a:00:00 +0000', '2024-01-01 00:00:00 ±0000',
    '', ' 2024-01-01 00:00:00 +0000', '2024-01-01 00:00:00 +0000 ',
  ]
  for (const text of edges) assert.deepEqual(appleTime(text), slow(text), text)
  assert.ok(Number.isNaN(appleTime(undefined)))
  // And random ones around the valid ranges.
  let seed = 42
  const rand = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n
  const pad = (n: number, w: number) => String(n).padStart(w, '0')
  for (let i = 0; i < 20_000; i++) {
    const text = `${pad(rand(10_000), 4)}-${pad(rand(14), 2)}-${pad(rand(33), 2)} ${pad(rand(26), 2)}:${pad(rand(61), 2)}:${pad(rand(61), 2)} ${'+-'[rand(2)]}${pad(rand(26), 2)}${pad(rand(61), 2)}`
    assert.deepEqual(appleTime(text), slow(text), text)
  }
})

test('the records read hold none of the text they were read from', async () => {
  // V8 makes a substring of 13 characters or more a view of the string it was cut from: a record
  // named "ActiveEnergyBurned" straight from its attribute kept the whole chunk's text alive.
  v8.setFlagsFromString('--expose-gc')
  const gc = vm.runInNewContext('gc') as () => void
  const bytes = manyRecords()
  // In one chunk: its text, two bytes a character (’ is not Latin-1), is twice the file's size.
  const text = 2 * bytes.length
  gc()
  const before = process.memoryUsage().heapUsed
  const records = await read(bytes, [])
  // The last regular expression run remembers its subject (RegExp.input): run one on nothing.
  ;/^/.exec('')
  gc()
  const held = process.memoryUsage().heapUsed - before
  assert.equal(records.length, 20_400)
  assert.equal(records[0]!.n, 'ActiveEnergyBurned')
  assert.ok(held < text / 2, `the ${records.length} records hold ${(held / 2 ** 20).toFixed(1)} MiB; the text they were read from is ${(text / 2 ** 20).toFixed(1)} MiB`)
})

/** 20,000 readings of active energy and 200 nights of sleep, as bytes (made in a function of its own, so no text of them outlives it). */
function manyRecords(): Buffer {
  const lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<HealthData locale="en_US">']
  for (let i = 0; i < 20_000; i++) {
    const start = new Date(Date.UTC(2024, 0, 1) + i * 60_000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' +0000')
    lines.push(` <Record type="HKQuantityTypeIdentifierActiveEnergyBurned" sourceName="Alice’s Apple Watch" unit="kcal" startDate="${start}" endDate="${start}" value="${i}"/>`)
    if (i % 100 === 0) lines.push(` <Record type="HKCategoryTypeIdentifierSleepAnalysis" sourceName="Alice’s Apple Watch" startDate="${start}" endDate="${start}" value="HKCategoryValueSleepAnalysisAsleepCore"/>`)
  }
  lines.push('</HealthData>', '')
  return Buffer.from(lines.join('\n'))
}
