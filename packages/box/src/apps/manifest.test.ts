import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parseManifest } from './manifest.ts'
import { InvalidInput } from '../errors/index.ts'

const valid = {
  manifestVersion: 1, id: 'steps-app', name: 'Steps', version: '1.0.0', author: 'Someone', description: 'Counts steps.\nDaily.', purposes: ['health'],
  main: 'app.js', schedule: { on: 'demand' },
  sources: [{ id: 'steps', logicalType: 'activity', ops: ['read'], granularity: '1d', window: '30d', required: true, justification: 'To count.' }],
  exports: [{ id: 'report', url: 'https://example.org/reports', purpose: 'A report', sends: 'daily totals', frequency: 'daily' }],
}

test('a manifest reads as it is: line breaks in paragraphs, nothing invisible anywhere', () => {
  assert.equal(parseManifest(structuredClone(valid)).id, 'steps-app')
  const hostile: [string, (m: typeof valid) => void, string][] = [
    ['U+202E', (m) => { m.exports[0]!.sends = 'nothing personal\u202E' }, 'exports.0.sends'],
    ['U+200B', (m) => { m.name = 'Ste\u200Bps' }, 'name'],
    ['U+009B', (m) => { m.sources[0]!.justification = 'To \u009Bcount.' }, 'sources.0.justification'],
    ['U+2066', (m) => { m.purposes[0] = '\u2066health' }, 'purposes.0'],
    ['U+FEFF', (m) => { m.author = 'Some\uFEFFone' }, 'author'],
    ['U+00AD', (m) => { m.description = 'Counts\u00ADsteps' }, 'description'],
  ]
  for (const [code, spoil, field] of hostile) {
    const manifest = structuredClone(valid)
    spoil(manifest)
    assert.throws(() => parseManifest(manifest), (err: unknown) => err instanceof InvalidInput && err.message.includes(code) && err.extras.field === field, code)
  }
  const lineInName = structuredClone(valid)
  lineInName.name = 'Two\nlines'
  assert.throws(() => parseManifest(lineInName), (err: unknown) => err instanceof InvalidInput && err.extras.field === 'name')
})

test('a destination is written as the wire sees it: an international host only in punycode', () => {
  const unicodeHost = structuredClone(valid)
  unicodeHost.exports[0]!.url = 'https://exämple.org/reports'
  assert.throws(() => parseManifest(unicodeHost), /canonical form, "https:\/\/xn--exmple-cua\.org\/reports"/)
  const punycode = structuredClone(valid)
  punycode.exports[0]!.url = 'https://xn--exmple-cua.org/reports'
  assert.equal(parseManifest(punycode).exports![0]!.url, 'https://xn--exmple-cua.org/reports')
})
