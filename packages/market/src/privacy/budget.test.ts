import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { budgetForLevel, BudgetExceeded, canSpend, NotShared, parseRational, periodOf, rational, remaining, spend, spendForAnswer, toText, type Budget, type BudgetUsage } from './index.ts'

const tenth = parseRational('0.1')
const budget: Budget = { limit: rational(1n), period: 'month' }
const march = new Date('2026-03-14T09:30:00Z')

describe('privacy budget', () => {
  it('ten answers of ε = 0.1 spend exactly 1, and the eleventh is refused', () => {
    let floatTotal = 0
    for (let i = 0; i < 10; i++) floatTotal += 0.1
    assert.notEqual(floatTotal, 1, 'in floating point the budget would never be reached exactly')
    let usage: BudgetUsage | undefined
    for (let i = 0; i < 10; i++) {
      assert.ok(canSpend(usage, budget, tenth, march))
      usage = spend(usage, budget, tenth, march)
    }
    assert.equal(toText(usage!.spent), '1')
    assert.equal(toText(remaining(usage, budget, march)), '0')
    assert.equal(canSpend(usage, budget, tenth, march), false)
    assert.throws(() => spend(usage, budget, tenth, march, 'Activity'), (error: unknown) => {
      assert.ok(error instanceof BudgetExceeded)
      const problem = error.toProblem()
      assert.equal(problem.status, 409)
      assert.equal(problem.logicalType, 'Activity')
      assert.equal(problem.remaining, '0')
      assert.equal(problem.requested, '1/10')
      assert.equal(problem.periodEnd, '2026-04-01T00:00:00.000Z')
      return true
    })
  })

  it('a query that would overrun is refused even when some budget is left, and spends nothing', () => {
    const usage = spend(undefined, budget, parseRational('0.7'), march)
    assert.equal(canSpend(usage, budget, parseRational('0.5'), march), false)
    assert.throws(() => spend(usage, budget, parseRational('0.5'), march), BudgetExceeded)
    assert.equal(toText(usage.spent), '7/10')
    assert.equal(toText(spend(usage, budget, parseRational('0.3'), march).spent), '1')
  })

  it('a new period starts with nothing spent', () => {
    const spentInMarch = spend(undefined, budget, rational(1n), march)
    assert.equal(canSpend(spentInMarch, budget, tenth, new Date('2026-03-31T23:59:59Z')), false)
    const april = new Date('2026-04-01T00:00:00Z')
    assert.equal(toText(remaining(spentInMarch, budget, april)), '1')
    assert.deepEqual(spend(spentInMarch, budget, tenth, april), { periodStart: '2026-04-01T00:00:00.000Z', spent: tenth })
  })

  it('periods are calendar periods in UTC; weeks start on Monday', () => {
    const at = new Date('2026-08-13T22:00:00Z') // a Thursday
    const iso = (p: { start: Date; end: Date }) => [p.start.toISOString().slice(0, 10), p.end.toISOString().slice(0, 10)]
    assert.deepEqual(iso(periodOf('day', at)), ['2026-08-13', '2026-08-14'])
    assert.deepEqual(iso(periodOf('week', at)), ['2026-08-10', '2026-08-17'])
    assert.deepEqual(iso(periodOf('week', new Date('2026-08-16T12:00:00Z'))), ['2026-08-10', '2026-08-17']) // Sunday
    assert.deepEqual(iso(periodOf('month', at)), ['2026-08-01', '2026-09-01'])
    assert.deepEqual(iso(periodOf('quarter', at)), ['2026-07-01', '2026-10-01'])
    assert.deepEqual(iso(periodOf('year', at)), ['2026-01-01', '2027-01-01'])
    assert.deepEqual(iso(periodOf('month', new Date('2026-12-31T23:00:00Z'))), ['2026-12-01', '2027-01-01'])
  })

  it('an answer touching several logical types is charged on each, all or nothing', () => {
    const budgets = { Activity: budget, Identity: { limit: parseRational('0.5'), period: 'month' } as Budget }
    const usages = { Activity: spend(undefined, budget, parseRational('0.2'), march), Identity: spend(undefined, budgets.Identity, parseRational('0.3'), march) }
    const after = spendForAnswer(usages, budgets, ['Activity', 'Identity', 'Activity'], parseRational('0.2'), march)
    assert.equal(toText(after.Activity!.spent), '2/5')
    assert.equal(toText(after.Identity!.spent), '1/2')
    assert.throws(
      () => spendForAnswer(after, budgets, ['Activity', 'Identity'], tenth, march),
      (error: unknown) => error instanceof BudgetExceeded && error.toProblem().logicalType === 'Identity',
    )
  })

  it('each sharing level has a monthly budget; "don\'t share" has none', () => {
    assert.deepEqual(budgetForLevel('medium'), { limit: rational(2n), period: 'month' })
    assert.throws(() => budgetForLevel('dont_share'), NotShared)
  })
})
