import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { CsvPreview } from '@coffer/box'
import { idFrom, mappingFrom, mappingFromProfile, profileFrom, recordName } from './mapping.ts'

const BANK: CsvPreview = {
  encoding: 'windows-1252', delimiter: ';', columns: ['Buchungstag', 'Empfänger', 'Betrag'],
  rows: [['29.02.2024', 'Bäckerei', '-4,50']],
  guess: { time: { column: 'Buchungstag', format: 'DD.MM.YYYY' }, values: [{ column: 'Empfänger', type: 'string' }, { column: 'Betrag', type: 'number' }], decimal: ',' },
}

test('the guessed mapping imports the numeric columns under names the box accepts', () => {
  const m = mappingFrom(BANK, 'Europe/Berlin')
  assert.deepEqual(profileFrom(m), {
    time: { column: 'Buchungstag', format: 'DD.MM.YYYY', tz: 'Europe/Berlin' },
    values: [{ column: 'Betrag' }],
    logicalType: 'other', decimal: ',',
  })
  const named = { ...m, columns: m.columns.map((c) => (c.column === 'Empfänger' ? { ...c, use: true } : c.column === 'Betrag' ? { ...c, name: 'amount', unit: 'EUR' } : c)) }
  assert.deepEqual(profileFrom(named).values, [{ column: 'Empfänger', name: 'empfanger', type: 'string' }, { column: 'Betrag', name: 'amount', unit: 'EUR' }])
})

test('a saved profile comes back into the form as it was saved', () => {
  const profile = { time: { column: 'Buchungstag', format: 'DD.MM.YYYY', tz: 'Europe/Berlin' }, values: [{ column: 'Betrag', name: 'amount', unit: 'EUR' }], logicalType: 'finance' as const, decimal: ',' as const }
  assert.deepEqual(profileFrom(mappingFromProfile(profile, BANK)), profile)
})

test('names and ids are made from headers and file names', () => {
  assert.equal(recordName('temp', 0), 'temp')
  assert.equal(recordName('Empfänger', 1), 'empfanger')
  assert.equal(recordName('€', 2), 'value3')
  assert.equal(idFrom('Umsätze 2024.CSV'), 'umsatze-2024')
  assert.equal(idFrom('.csv'), 'csv')
})
