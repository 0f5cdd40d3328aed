/**
 * Secure aggregation costs: a box's report (time and bytes) and an aggregator's work per report,
 * for each kind, against the bare Prio3 operations measured in the same run (sharding for the
 * box; preparation of both shares for the aggregators), so the ratios show what HPKE, framing
 * and bookkeeping add. Run: node --import tsx packages/market/bench/aggregation.ts [reports per run] [runs]
 */
import { Buffer } from 'node:buffer'
import { randomBytes } from 'node:crypto'
import { Aggregator, createTask, generateAggregatorKeys, generateVerifyKey, makeReport, measurementFor, type Report, type TaskDescription, type TaskInput } from '../src/aggregation/index.ts'
import { vdafFor } from '../src/aggregation/task.ts'

const perRun = Number(process.argv[2] ?? 40)
const runs = Number(process.argv[3] ?? 5)

const leaderKeys = await generateAggregatorKeys(1)
const helperKeys = await generateAggregatorKeys(2)

function task(queryId: string, input: Pick<TaskInput, 'kind' | 'bounds' | 'edges'>): TaskDescription {
  return createTask({
    queryId,
    window: { start: 0, end: 4_000_000_000 },
    minReports: 1,
    leader: { url: 'https://leader.example/', hpkeConfig: leaderKeys.hpkeConfig },
    helper: { url: 'https://helper.example/', hpkeConfig: helperKeys.hpkeConfig },
    ...input,
  })
}

const cases: { name: string; task: TaskDescription; value: (i: number) => number | boolean }[] = [
  { name: 'count', task: task('b-count', { kind: 'count' }), value: (i) => i % 2 === 0 },
  { name: 'sum, 16 bits', task: task('b-sum16', { kind: 'sum', bounds: { lower: 0, upper: 65_535 } }), value: (i) => (i * 7919) % 65_536 },
  { name: 'sum, 32 bits', task: task('b-sum32', { kind: 'sum', bounds: { lower: 0, upper: 2 ** 32 - 1 } }), value: (i) => (i * 2_654_435_761) % 2 ** 32 },
  { name: 'mean, 16 bits', task: task('b-mean16', { kind: 'mean', bounds: { lower: 0, upper: 65_535 } }), value: (i) => (i * 7919) % 65_536 },
  { name: 'histogram, 10 buckets', task: task('b-hist', { kind: 'histogram', edges: [10, 20, 30, 40, 50, 60, 70, 80, 90] }), value: (i) => (i * 37) % 100 },
]

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2
}

async function timed(f: () => Promise<unknown> | unknown): Promise<number> {
  const t0 = performance.now()
  await f()
  return performance.now() - t0
}

const ms = (x: number) => x.toFixed(2)
console.log(`secure aggregation, ${perRun} reports per run, median of ${runs} runs, ms per report`)
console.log('kind | report ms | bare shard ms | ratio | upload bytes leader + helper | leader ms | helper ms | both ms | bare prepare ms | ratio')
for (const c of cases) {
  const vdaf = vdafFor(c.task)
  const report: number[] = []
  const shard: number[] = []
  const leaderTimes: number[] = []
  const helperTimes: number[] = []
  const prepare: number[] = []
  let sizes = ''
  for (let run = 0; run < runs; run++) {
    const measurements = Array.from({ length: perRun }, (_, i) => measurementFor(c.task, c.value(i + run * perRun)))
    // Baseline: Prio3 alone, on the same measurements.
    const shards: { publicShare: unknown; inputShares: unknown[]; nonce: Buffer }[] = []
    shard.push(
      (await timed(async () => {
        for (const m of measurements) {
          const nonce = randomBytes(16)
          shards.push({ ...(await vdaf.shard(m.vdaf as never, nonce, randomBytes(vdaf.randSize))), nonce })
        }
      })) / perRun,
    )
    const verifyKey = generateVerifyKey(c.task)
    const verifyKeyBytes = Buffer.from(verifyKey, 'base64url')
    prepare.push(
      (await timed(async () => {
        for (const s of shards) {
          const publicShare = s.publicShare as { jointRandParts: Buffer[] }
          const l = await vdaf.prepareInit(verifyKeyBytes, 0, null, s.nonce, { jointRandParts: [...publicShare.jointRandParts] }, s.inputShares[0] as never)
          const h = await vdaf.prepareInit(verifyKeyBytes, 1, null, s.nonce, { jointRandParts: [...publicShare.jointRandParts] }, s.inputShares[1] as never)
          const message = await vdaf.unshardPreparationShares(null, [l.preparationShare, h.preparationShare])
          vdaf.prepareNext(l.preparationState, message)
          vdaf.prepareNext(h.preparationState, message)
        }
      })) / perRun,
    )

    const reports: Report[] = []
    report.push(
      (await timed(async () => {
        for (let i = 0; i < perRun; i++) reports.push(await makeReport(c.task, measurementFor(c.task, c.value(i + run * perRun))))
      })) / perRun,
    )
    const first = reports[0] as Report
    sizes = `${first.leader.length} + ${first.helper.length}`

    const leader = new Aggregator({ role: 'leader', task: c.task, keys: leaderKeys, verifyKey })
    const helper = new Aggregator({ role: 'helper', task: c.task, keys: helperKeys, verifyKey })
    let leaderMs = await timed(async () => {
      for (const r of reports) await leader.accept(r.leader)
    })
    let helperMs = await timed(async () => {
      for (const r of reports) await helper.accept(r.helper)
    })
    let init: Uint8Array = new Uint8Array(0)
    leaderMs += await timed(() => (init = leader.startPreparation()))
    let response: Uint8Array = new Uint8Array(0)
    helperMs += await timed(async () => (response = await helper.prepare(init)))
    let commit: Uint8Array = new Uint8Array(0)
    leaderMs += await timed(() => (commit = leader.finishPreparation(response).commit))
    helperMs += await timed(() => helper.commit(commit))
    if (leader.status().aggregated !== perRun || helper.status().aggregated !== perRun) throw new Error('not every report was aggregated')
    leaderTimes.push(leaderMs / perRun)
    helperTimes.push(helperMs / perRun)
  }
  const both = median(leaderTimes.map((l, i) => l + (helperTimes[i] as number)))
  console.log(
    [c.name, ms(median(report)), ms(median(shard)), (median(report) / median(shard)).toFixed(2), sizes, ms(median(leaderTimes)), ms(median(helperTimes)), ms(both), ms(median(prepare)), (both / median(prepare)).toFixed(2)].join(' | '),
  )
}
