import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { compare, MIN_K, NotShared, parametersForQuery, PRIVACY_LEVELS, PRIVACY_PARAMETERS, sharingParameters, strictestLevel, levelFor, type SharingParameters } from './index.ts'

describe('privacy levels', () => {
  it('each sharing level has documented parameters, stricter as the level rises', () => {
    const [low, medium, high] = (['low', 'medium', 'high'] as const).map((level) => sharingParameters(level)) as [SharingParameters, SharingParameters, SharingParameters]
    assert.deepEqual(PRIVACY_LEVELS, ['low', 'medium', 'high', 'dont_share'])
    assert.equal(compare(medium.epsilon, low.epsilon), -1)
    assert.equal(compare(high.epsilon, medium.epsilon), -1)
    assert.equal(compare(medium.monthlyBudget, low.monthlyBudget), -1)
    assert.equal(compare(high.monthlyBudget, medium.monthlyBudget), -1)
    assert.ok(low.k >= MIN_K && MIN_K >= 5 && medium.k > low.k && high.k > medium.k)
    assert.ok(low.l >= 2 && medium.l > low.l && high.l > medium.l)
    for (const p of [low, medium, high]) assert.ok(p.description.length > 0 && compare(p.epsilon, p.monthlyBudget) <= 0)
  })

  it('"don\'t share" has no parameters and never answers', () => {
    assert.equal(PRIVACY_PARAMETERS.dont_share.shares, false)
    assert.throws(() => sharingParameters('dont_share'), NotShared)
  })

  it('an unset logical type is not shared unless the owner said otherwise', () => {
    assert.equal(levelFor({ byType: {} }, 'Health'), 'dont_share')
    assert.equal(levelFor({ byType: {}, otherwise: 'medium' }, 'Health'), 'medium')
    assert.equal(levelFor({ byType: { Health: 'high' }, otherwise: 'low' }, 'Health'), 'high')
  })

  it('a query gets the strictest level of the types it touches, and none if any is not shared', () => {
    const settings = { byType: { Activity: 'low', Identity: 'medium', Health: 'dont_share' } as const }
    assert.equal(strictestLevel(['low', 'high', 'medium']), 'high')
    assert.equal(parametersForQuery(settings, ['Activity', 'Identity']).level, 'medium')
    assert.equal(parametersForQuery(settings, ['Activity']).level, 'low')
    assert.throws(
      () => parametersForQuery(settings, ['Activity', 'Health']),
      (error: unknown) => error instanceof NotShared && error.toProblem().status === 403 && error.toProblem().logicalType === 'Health',
    )
    assert.throws(() => parametersForQuery(settings, ['Location']), NotShared)
    assert.throws(() => parametersForQuery(settings, []), NotShared)
  })
})
