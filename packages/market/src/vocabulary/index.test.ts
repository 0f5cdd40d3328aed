import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Value } from '@sinclair/typebox/value'
import { DEFAULT_VOCABULARY, Vocabulary, findAttribute } from './index.ts'

test('the default vocabulary is valid as the market publishes it', () => {
  assert.deepEqual([...Value.Errors(Vocabulary, DEFAULT_VOCABULARY)].map((e) => `${e.path}: ${e.message}`), [])
  assert.deepEqual(DEFAULT_VOCABULARY.types.map((t) => t.name), ['Activity', 'Health', 'Identity', 'Location', 'Environment', 'Energy'])
})

test('names are unique, and a series is reduced per period in a way its type allows', () => {
  const types = DEFAULT_VOCABULARY.types.map((t) => t.name)
  assert.equal(new Set(types).size, types.length)
  for (const type of DEFAULT_VOCABULARY.types) {
    const names = type.attributes.map((a) => a.name)
    assert.equal(new Set(names).size, names.length, type.name)
    for (const a of type.attributes) {
      if (a.series && ['sum', 'mean', 'min', 'max'].includes(a.series.reduce)) assert.equal(a.technicalType, 'number', `${type.name}.${a.name}`)
      if (a.technicalType === 'number') assert.ok(a.unit, `${type.name}.${a.name} has a unit`)
    }
  }
})

test("defaults name what the box's importers write", () => {
  // Apple Health's export names quantity types HKQuantityTypeIdentifier<Name>; the importer keeps <Name>.
  assert.deepEqual(findAttribute(DEFAULT_VOCABULARY, 'Activity.steps')?.attribute.defaults, { senmlNames: ['StepCount', 'steps'], logicalType: 'activity' })
  assert.ok(findAttribute(DEFAULT_VOCABULARY, 'Health.heart_rate')?.attribute.defaults?.senmlNames?.includes('HeartRate'))
  assert.ok(findAttribute(DEFAULT_VOCABULARY, 'Health.sleep_hours')?.attribute.defaults?.senmlNames?.includes('SleepAnalysis/duration'))
})

test('findAttribute finds LogicalType.attribute, case-sensitively', () => {
  const found = findAttribute(DEFAULT_VOCABULARY, 'Identity.city')
  assert.equal(found?.type.name, 'Identity')
  assert.equal(found?.attribute.technicalType, 'string')
  assert.equal(findAttribute(DEFAULT_VOCABULARY, 'identity.city'), undefined)
  assert.equal(findAttribute(DEFAULT_VOCABULARY, 'Identity.town'), undefined)
  assert.equal(findAttribute(DEFAULT_VOCABULARY, 'Identity'), undefined)
  assert.equal(findAttribute(DEFAULT_VOCABULARY, 'Location.city')?.attribute.series?.reduce, 'mode', 'the same name in two types is two attributes')
})
