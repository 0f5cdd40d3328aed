import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  Aggregator,
  createTask,
  generateAggregatorKeys,
  generateVerifyKey,
  makeReport,
  measurementFor,
  unshard,
  type AggregatorKeys,
  type TaskDescription,
  type TaskInput,
} from './index.ts'

const leaderKeys = await generateAggregatorKeys(1)
const helperKeys = await generateAggregatorKeys(2)
const window = { start: 1_700_000_000, end: 2_000_000_000 }

function taskFor(input: Partial<TaskInput> & Pick<TaskInput, 'kind'>): TaskDescription {
  return createTask({
    queryId: 'q-test',
    window,
    minReports: 1,
    leader: { url: 'https://leader.example/dap/', hpkeConfig: leaderKeys.hpkeConfig },
    helper: { url: 'https://helper.example/dap/', hpkeConfig: helperKeys.hpkeConfig },
    ...input,
  })
}

function pair(task: TaskDescription, keys: { leader: AggregatorKeys; helper: AggregatorKeys } = { leader: leaderKeys, helper: helperKeys }) {
  const verifyKey = generateVerifyKey(task)
  return {
    leader: new Aggregator({ role: 'leader', task, keys: keys.leader, verifyKey }),
    helper: new Aggregator({ role: 'helper', task, keys: keys.helper, verifyKey }),
  }
}

async function prepareRound(leader: Aggregator, helper: Aggregator) {
  const response = await helper.prepare(leader.startPreparation())
  const outcome = leader.finishPreparation(response)
  helper.commit(outcome.commit)
  return outcome
}

async function submit(task: TaskDescription, leader: Aggregator, helper: Aggregator, values: (number | boolean | null)[]) {
  for (const value of values) {
    const report = await makeReport(task, measurementFor(task, value))
    await leader.accept(report.leader)
    await helper.accept(report.helper)
  }
}

test('a mean over boxes, both roles, without noise', async () => {
  const task = taskFor({ kind: 'mean', bounds: { lower: 0, upper: 100 } })
  const { leader, helper } = pair(task)
  await submit(task, leader, helper, [10, 20, 30, null])
  const outcome = await prepareRound(leader, helper)
  assert.equal(outcome.aggregated.length, 4)
  const result = unshard(task, leader.aggregateShare({ noise: null }), helper.aggregateShare({ noise: null }))
  assert.equal(result.kind, 'mean')
  assert.deepEqual(result, { ...result, reports: 4, sum: 60, count: 3, mean: 20 })
})
