import assert from 'node:assert/strict'
import { test } from 'node:test'
import { HpkeConfig } from '@divviup/dap'
import { Prio3, Prio3Sum } from '@divviup/prio3'
import { createNoiseSampler, expectedError, planNoise, seededRandom, type NoisePlan } from '../privacy/index.ts'
import {
  AggregationProtocolError,
  Aggregator,
  BatchNotReleasable,
  checkTask,
  createTask,
  generateAggregatorKeys,
  generateVerifyKey,
  InvalidTask,
  makeReport,
  measurementFor,
  ReportRejected,
  unshard,
  type Report,
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

function pair(task: TaskDescription) {
  const verifyKey = generateVerifyKey(task)
  return {
    leader: new Aggregator({ role: 'leader', task, keys: leaderKeys, verifyKey }),
    helper: new Aggregator({ role: 'helper', task, keys: helperKeys, verifyKey }),
  }
}

async function prepareRound(leader: Aggregator, helper: Aggregator) {
  const response = await helper.prepare(leader.startPreparation())
  const outcome = leader.finishPreparation(response)
  helper.commit(outcome.commit)
  return outcome
}

async function reportsFor(task: TaskDescription, values: readonly (number | boolean | null)[]): Promise<Report[]> {
  const reports: Report[] = []
  for (const value of values) reports.push(await makeReport(task, measurementFor(task, value)))
  return reports
}

async function deliver(leader: Aggregator, helper: Aggregator, reports: readonly Report[]) {
  for (const report of reports) {
    await leader.accept(report.leader)
    await helper.accept(report.helper)
  }
}

async function rejection(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => assert.fail('the report was accepted'),
    (e: unknown) => e,
  )
  assert.ok(error instanceof ReportRejected, `expected ReportRejected, got ${String(error)}`)
  return error.reason
}

/** A deterministic spread of values: the same every run, so the noisy checks below are repeatable. */
function values(n: number, f: (i: number) => number | boolean | null) {
  return Array.from({ length: n }, (_, i) => f(i))
}

const N = 200
const kinds = [
  {
    name: 'count',
    task: () => taskFor({ kind: 'count', queryId: 'q-count' }),
    values: values(N, (i) => (i % 3 === 0 ? true : i % 3 === 1 ? false : null)),
    plan: (): NoisePlan => planNoise({ kind: 'count', level: 'low' }),
  },
  {
    name: 'sum of whole numbers',
    task: () => taskFor({ kind: 'sum', queryId: 'q-sum', bounds: { lower: 0, upper: 20_000 } }),
    values: values(N, (i) => (i % 10 === 9 ? null : (i * 7919) % 25_000)), // some above the bound: clipped to 20,000
    plan: (): NoisePlan => planNoise({ kind: 'sum', level: 'low', bounds: { lo: 0, hi: 20_000 } }),
  },
  {
    name: 'mean of decimals with a negative lower bound',
    task: () => taskFor({ kind: 'mean', queryId: 'q-mean', bounds: { lower: -20, upper: 40, decimals: 1 } }),
    values: values(N, (i) => (i % 8 === 0 ? null : -25 + ((i * 37) % 700) / 10)),
    plan: (): NoisePlan => planNoise({ kind: 'mean', level: 'low', bounds: { lo: -20, hi: 40 }, decimals: 1 }),
  },
  {
    name: 'histogram',
    task: () => taskFor({ kind: 'histogram', queryId: 'q-hist', edges: [2000, 4000, 6000, 8000, 10_000, 12_000, 14_000, 16_000, 18_000] }),
    values: values(N, (i) => (i % 9 === 0 ? null : (i * 1031) % 21_000)),
    plan: (): NoisePlan => planNoise({ kind: 'histogram', level: 'low', buckets: 10 }),
  },
] as const

/** The answer computed in the clear from the same values, with the same clipping and rounding. */
function exactAnswer(task: TaskDescription, input: readonly (number | boolean | null)[]) {
  const clipped = input.map((v) => measurementFor(task, v)).filter((m) => m.matches).map((m) => m.value as number)
  const sum = clipped.reduce((a, b) => a + b, 0)
  switch (task.kind) {
    case 'count':
      return { count: clipped.length }
    case 'sum':
      return { sum }
    case 'mean':
      return { sum, count: clipped.length, mean: sum / clipped.length }
    case 'histogram': {
      const edges = task.edges as number[]
      return { counts: edges.concat(Infinity).map((to, i) => clipped.filter((v) => v < to && (i === 0 || v >= (edges[i - 1] as number))).length) }
    }
  }
}

for (const kind of kinds) {
  test(`${kind.name}: ${N} boxes through leader and helper, exact without noise and within the expected error with it`, async () => {
    const task = kind.task()
    const reports = await reportsFor(task, kind.values)
    const exact = exactAnswer(task, kind.values)

    const clear = pair(task)
    await deliver(clear.leader, clear.helper, reports)
    const outcome = await prepareRound(clear.leader, clear.helper)
    assert.equal(outcome.aggregated.length, N)
    assert.deepEqual(outcome.rejected, [])
    const result = unshard(task, clear.leader.aggregateShare({ noise: null }), clear.helper.aggregateShare({ noise: null }))
    assert.equal(result.reports, N)
    assert.deepEqual(result.noise, { leader: null, helper: null })
    if (result.kind === 'count') assert.equal(result.count, exact.count)
    if (result.kind === 'sum') assert.equal(result.sum, exact.sum)
    if (result.kind === 'mean') {
      assert.equal(result.count, exact.count)
      assert.ok(Math.abs(result.sum - (exact.sum as number)) < 1e-6, `sum ${result.sum} against ${exact.sum}`)
      assert.ok(Math.abs((result.mean as number) - (exact.mean as number)) < 1e-9)
    }
    if (result.kind === 'histogram') assert.deepEqual(result.buckets.map((b) => b.count), exact.counts)

    // The same reports again, to two aggregators that each add the plan's noise from a seeded source.
    const noisy = pair(task)
    await deliver(noisy.leader, noisy.helper, reports)
    await prepareRound(noisy.leader, noisy.helper)
    const plan = kind.plan()
    const sampler = (seed: string) => createNoiseSampler({ random: seededRandom(`${kind.name} ${seed}`) })
    const released = unshard(
      task,
      noisy.leader.aggregateShare({ noise: { plan, sampler: sampler('leader') } }),
      noisy.helper.aggregateShare({ noise: { plan, sampler: sampler('helper') } }),
    )
    assert.equal(released.noise.leader?.mechanism, 'discrete-laplace')
    assert.deepEqual(released.noise.leader?.scales, released.noise.helper?.scales)
    assert.notDeepEqual(released.encoded, result.encoded, 'noise was added')
    const matched = 'count' in exact ? exact.count : undefined
    const bars = expectedError(plan, { participants: matched, value: 'mean' in exact ? exact.mean : undefined })
    const within = (got: number, want: number) => assert.ok(Math.abs(got - want) <= bars.halfWidth95, `${got} is not within ±${bars.halfWidth95} of ${want}`)
    if (released.kind === 'count') within(released.count, exact.count as number)
    if (released.kind === 'sum') within(released.sum, exact.sum as number)
    if (released.kind === 'mean') within(released.mean as number, exact.mean as number)
    if (released.kind === 'histogram') released.buckets.forEach((b, i) => within(b.count, exact.counts?.[i] as number))
  })
}

/** An upload sealed by hand, following the upload layout in report.ts and DAP-09 §4.4.2 for the HPKE parts. */
async function sealUpload(task: TaskDescription, role: 'leader' | 'helper', reportId: Uint8Array, time: number, publicShare: Uint8Array, inputShare: Uint8Array) {
  const configBytes = Buffer.from(task[role].hpkeConfig, 'base64url')
  const config = new HpkeConfig(configBytes[0] as number, configBytes.readUInt16BE(1), configBytes.readUInt16BE(3), configBytes.readUInt16BE(5), configBytes.subarray(9))
  const u64 = (n: number) => {
    const b = Buffer.alloc(8)
    b.writeBigUInt64BE(BigInt(n))
    return b
  }
  const u32 = (n: number) => {
    const b = Buffer.alloc(4)
    b.writeUInt32BE(n)
    return b
  }
  const taskId = Buffer.from(task.id, 'base64url')
  const metadata = Buffer.concat([reportId, u64(time)])
  const aad = Buffer.concat([taskId, metadata, u32(publicShare.length), publicShare])
  const info = Buffer.concat([Buffer.from('dap-09 input share'), Buffer.from([1, role === 'leader' ? 2 : 3])])
  const plaintext = Buffer.concat([Buffer.from([0, 0]), u32(inputShare.length), inputShare]) // no extensions
  const ciphertext = await config.seal(info, plaintext, aad)
  return Buffer.concat([taskId, metadata, u32(publicShare.length), publicShare, ciphertext.encode()])
}

/**
 * A box that cheats below the client library: a value of 2^bits + 5, far above what the task's
 * bits allow, encoded with a 2 where a bit must be 0 or 1, and proved honestly. Only Prio3's
 * proof check can catch it, since each aggregator sees only a random-looking share.
 */
async function outOfRangeReport(task: TaskDescription) {
  const bits = (task.vdaf as { bits: number }).bits
  const honest = new Prio3Sum({ shares: 2, bits })
  const flp = Object.create(honest.flp) as typeof honest.flp
  flp.encode = () => Array.from({ length: bits }, (_, i) => (i === 0 ? 5n : i === 1 ? 2n : 0n))
  const cheat = new Prio3(honest.xof, flp, 2, 1, honest.id)
  const reportId = crypto.getRandomValues(new Uint8Array(16))
  const rand = crypto.getRandomValues(new Uint8Array(cheat.randSize))
  const { publicShare, inputShares } = await cheat.shardEncoded(0, Buffer.from(reportId), Buffer.from(rand))
  const time = 1_800_000_000
  return {
    leader: await sealUpload(task, 'leader', reportId, time, publicShare, inputShares[0] as Buffer),
    helper: await sealUpload(task, 'helper', reportId, time, publicShare, inputShares[1] as Buffer),
  }
}

test('forged, replayed, malformed, foreign and out-of-range reports are refused, and the rest still add up', async () => {
  const task = taskFor({ kind: 'sum', queryId: 'q-abuse', bounds: { lower: 0, upper: 1000 } })
  const other = taskFor({ kind: 'sum', queryId: 'q-another', bounds: { lower: 0, upper: 1000 } })
  const { leader, helper } = pair(task)
  const good = await reportsFor(task, values(20, (i) => i * 10))
  await deliver(leader, helper, good.slice(0, 19))
  const late = good[19] as Report
  await leader.accept(late.leader) // its helper half has not arrived yet

  // Forged: one bit of the leader's ciphertext flipped. The helper's half is fine and stays pending there, never counted.
  const forged = await makeReport(task, measurementFor(task, 999))
  const tampered = Buffer.from(forged.leader)
  tampered[tampered.length - 1] = (tampered[tampered.length - 1] as number) ^ 1
  assert.equal(await rejection(leader.accept(tampered)), 'undecryptable')
  await helper.accept(forged.helper)
  // The time in the clear is covered by the seal too.
  const moved = Buffer.from(forged.leader)
  moved[32 + 16 + 7] = (moved[32 + 16 + 7] as number) ^ 1
  assert.equal(await rejection(leader.accept(moved)), 'undecryptable')
  // The forgeries did not use up the genuine report's id.
  const genuine = await makeReport(task, measurementFor(task, 7))
  await leader.accept(genuine.leader)
  await helper.accept(genuine.helper)

  // Replayed: the same upload again, to either aggregator.
  assert.equal(await rejection(leader.accept((good[0] as Report).leader)), 'replayed')
  assert.equal(await rejection(helper.accept((good[1] as Report).helper)), 'replayed')

  // Malformed: not an upload at all, and one cut short.
  assert.equal(await rejection(leader.accept(new Uint8Array([1, 2, 3]))), 'malformed')
  assert.equal(await rejection(helper.accept((good[2] as Report).helper.subarray(0, 80))), 'malformed')

  // For another task, and the leader's half sent to the helper.
  const foreign = await makeReport(other, measurementFor(other, 5))
  assert.equal(await rejection(leader.accept(foreign.leader)), 'wrong-task')
  const misdirected = await makeReport(task, measurementFor(task, 5))
  assert.equal(await rejection(helper.accept(misdirected.leader)), 'undecryptable')

  // Outside the task's window: a report dated before it opened.
  const stale = await makeReport(task, measurementFor(task, 1), new Date(1_600_000_000_000))
  assert.equal(await rejection(leader.accept(stale.leader)), 'outside-window')

  // Out of range: both halves decrypt, and the proof check between the aggregators refuses it.
  const cheat = await outOfRangeReport(task)
  await leader.accept(cheat.leader)
  await helper.accept(cheat.helper)

  const first = await prepareRound(leader, helper)
  assert.equal(first.aggregated.length, 20) // 19 good + the genuine one
  assert.deepEqual(first.rejected.map((r) => r.reason), ['invalid'])
  assert.deepEqual(first.waiting, [late.reportId])

  await helper.accept(late.helper)
  const second = await prepareRound(leader, helper)
  assert.deepEqual(second.aggregated, [late.reportId])

  const result = unshard(task, leader.aggregateShare({ noise: null }), helper.aggregateShare({ noise: null }))
  assert.equal(result.reports, 21)
  assert.equal(result.kind === 'sum' && result.sum, values(20, (i) => i * 10).reduce((a, b) => (a as number) + (b as number), 0) as number + 7)
  assert.deepEqual(leader.status().rejected, { undecryptable: 2, replayed: 1, malformed: 1, 'wrong-task': 1, 'outside-window': 1, invalid: 1 })
  assert.deepEqual(helper.status().rejected, { replayed: 1, malformed: 1, undecryptable: 1, invalid: 1 })
  // Closed: nothing joins a batch whose shares are out.
  assert.equal(await rejection(leader.accept(misdirected.leader)), 'batch-collected')
})

test('values outside the declared bounds are clipped by the box', async () => {
  const mean = taskFor({ kind: 'mean', queryId: 'q-clip', bounds: { lower: 0, upper: 100, decimals: 1 } })
  assert.deepEqual(measurementFor(mean, 150), { taskId: mean.id, vdaf: [1000, 1], matches: true, value: 100, clipped: true })
  assert.deepEqual(measurementFor(mean, -3), { taskId: mean.id, vdaf: [0, 1], matches: true, value: 0, clipped: true })
  assert.deepEqual(measurementFor(mean, 12.34), { taskId: mean.id, vdaf: [123, 1], matches: true, value: 12.3, clipped: false })
  assert.deepEqual(measurementFor(mean, null), { taskId: mean.id, vdaf: [0, 0], matches: false, value: null, clipped: false })
  const sum = taskFor({ kind: 'sum', queryId: 'q-clip-sum', bounds: { lower: 0, upper: 50 } })
  assert.equal(measurementFor(sum, 1e9).vdaf, 50)
  const histogram = taskFor({ kind: 'histogram', queryId: 'q-clip-hist', edges: [10, 20] })
  assert.deepEqual([-1e9, 10, 19.9, 20, 1e9, null].map((v) => measurementFor(histogram, v).vdaf), [0, 1, 1, 2, 2, 3])
  assert.throws(() => measurementFor(sum, Number.NaN), InvalidTask)
  assert.throws(() => measurementFor(taskFor({ kind: 'count', queryId: 'q-c' }), 3), InvalidTask)

  // End to end: one box far out of bounds moves the mean no further than the bound allows.
  const { leader, helper } = pair(mean)
  await deliver(leader, helper, await reportsFor(mean, [10, 20, 1e12]))
  await prepareRound(leader, helper)
  const result = unshard(mean, leader.aggregateShare({ noise: null }), helper.aggregateShare({ noise: null }))
  assert.equal(result.kind === 'mean' && result.mean, (10 + 20 + 100) / 3)
})

test('a task carries its query, and an edited task is refused', () => {
  const task = taskFor({ kind: 'sum', queryId: 'q-check', bounds: { lower: 0, upper: 255 } })
  assert.deepEqual(task.vdaf, { type: 'sum', bits: 8 })
  const roundTripped = JSON.parse(JSON.stringify(task)) as TaskDescription
  checkTask(roundTripped)
  assert.throws(() => checkTask({ ...roundTripped, vdaf: { type: 'sum', bits: 20 } }), InvalidTask)
  assert.throws(() => checkTask({ ...roundTripped, queryId: 'q-other' }), InvalidTask)
  assert.throws(() => taskFor({ kind: 'mean', queryId: 'q-x' }), InvalidTask)
  assert.throws(() => taskFor({ kind: 'histogram', queryId: 'q-x', edges: [3, 2] }), InvalidTask)
  assert.throws(() => taskFor({ kind: 'sum', queryId: 'q-x', bounds: { lower: 0, upper: 2 ** 60 } }), InvalidTask)
  assert.throws(() => new Aggregator({ role: 'helper', task, keys: leaderKeys, verifyKey: generateVerifyKey(task) }), AggregationProtocolError)
})

test('shares are released once, only above the minimum, and only together with the matching share', async () => {
  const task = taskFor({ kind: 'count', queryId: 'q-release', minReports: 3 })
  const { leader, helper } = pair(task)
  await deliver(leader, helper, await reportsFor(task, [true, true]))
  await prepareRound(leader, helper)
  assert.throws(() => leader.aggregateShare({ noise: null }), BatchNotReleasable)
  await deliver(leader, helper, await reportsFor(task, [false]))
  await prepareRound(leader, helper)
  const leaderShare = leader.aggregateShare({ noise: null })
  assert.throws(() => leader.aggregateShare({ noise: null }), BatchNotReleasable)

  // A helper that counted other reports: the processor cannot combine the two.
  const other = pair(task)
  await deliver(other.leader, other.helper, await reportsFor(task, [true, true, true]))
  await prepareRound(other.leader, other.helper)
  assert.throws(() => unshard(task, leaderShare, other.helper.aggregateShare({ noise: null })), AggregationProtocolError)
  assert.throws(() => unshard(task, leaderShare, leaderShare), AggregationProtocolError)
  const result = unshard(task, leaderShare, helper.aggregateShare({ noise: null }))
  assert.equal(result.reports, 3)
  assert.equal(result.kind === 'count' && result.count, 2)
})

test('aggregators refuse messages out of turn or for another task, and a noise plan for other bounds', async () => {
  const task = taskFor({ kind: 'sum', queryId: 'q-turns', bounds: { lower: 0, upper: 10 } })
  const { leader, helper } = pair(task)
  await deliver(leader, helper, await reportsFor(task, [1, 2]))
  const init = leader.startPreparation()
  assert.throws(() => helper.startPreparation(), AggregationProtocolError)
  await assert.rejects(leader.prepare(init), AggregationProtocolError)
  const elsewhere = pair(taskFor({ kind: 'sum', queryId: 'q-turns-2', bounds: { lower: 0, upper: 10 } }))
  await assert.rejects(elsewhere.helper.prepare(init), AggregationProtocolError)
  await assert.rejects(helper.prepare(init.subarray(0, init.length - 3)), AggregationProtocolError)
  const response = await helper.prepare(init)
  const outcome = leader.finishPreparation(response)
  assert.throws(() => leader.finishPreparation(response), AggregationProtocolError) // answers for reports no longer pending
  helper.commit(outcome.commit)
  assert.throws(() => leader.aggregateShare({ noise: { plan: planNoise({ kind: 'sum', level: 'low', bounds: { lo: 0, hi: 20 } }) } }), AggregationProtocolError)
  assert.throws(() => leader.aggregateShare({ noise: { plan: planNoise({ kind: 'count', level: 'low' }) } }), AggregationProtocolError)
  assert.equal(leader.status().collected, false)
})
