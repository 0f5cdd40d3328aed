/**
 * The leader's side: it takes boxes' signed answers, keeps both uploads of each in the database
 * (so a process that dies loses no accepted answer), and at the deadline, or when the processor
 * closes the query, releases the result with the helper over HTTP.
 *
 * Answers and releases serialise on the query's row (SELECT … FOR UPDATE): an answer that comes
 * while a release runs waits for it and then finds the query closed; the release claims its
 * query with SKIP LOCKED, so two leader processes never release one query twice. The release
 * runs in the transaction that writes the result: if the process dies half-way nothing is
 * written, the lock goes with the connection, and the next process starts the release again.
 * The helper keeps its released share, so that second attempt gets the same helper noise.
 */
import {
  Aggregator, createTask, deriveVerifyKey, memoryReportIdStore, ReportRejected, unshard,
  type AggregatorKeys, type TaskDescription,
} from '../aggregation/index.ts'
import type { Database, Sql } from '../db/index.ts'
import { Conflict, InvalidInput, NotFound, Unauthorized, Unavailable } from '../errors/index.ts'
import { mergeClasses, type ClassResult } from '../privacy/index.ts'
import {
  answerSigningText, datasetAnswerSigningText, SHARING_LEVELS, type AnyAnswer, type DatasetAnswer, type DatasetRecord, type SharingLevel,
} from '../protocol/index.ts'
import { recordProblem } from '../star/index.ts'
import { releaseDataset } from './dataset.ts'
import type { Query, QuerySpec } from '../query/index.ts'
import { settleQuery, verifyBoxSignature } from '../payments/index.ts'
import { planFor, statisticOf, type Statistic } from './statistic.ts'
import { describeRelease, pendingDataset, pendingResult, type QueryResult } from './result.ts'

export interface LeaderOptions {
  keys: AggregatorKeys
  /** The secret shared with the helper's operator, from which each task's verify key is derived. */
  verifyKey: string
  helper: { url: string; token: string }
  /** This market's public URL, named as the leader in tasks. */
  publicUrl: () => string
  onError?: (err: unknown) => void
}

export type Tasks = Partial<Record<SharingLevel, TaskDescription>>

export interface Leader {
  /** The tasks of a query about to be posted: one per privacy class, none for a dataset. Throws InvalidInput when the market cannot aggregate it. */
  tasksFor(queryId: string, query: Query, spec: QuerySpec, postedAt: Date): Promise<Tasks | undefined>
  submit(answer: AnyAnswer): Promise<{ reportId: string }>
  /** Releases every due query no other process is releasing; resolves to how many it released. */
  releaseDue(): Promise<number>
  result(processorId: string, queryId: string): Promise<QueryResult>
}

const HOUR = 3600

export function createLeader(db: Database, options: LeaderOptions): Leader {
  let helperConfig: string | undefined
  // One checker per task, kept for the answers that follow: inspect keeps no state but counts of refusals.
  const checkers = new Map<string, Aggregator>()
  const checkerFor = (task: TaskDescription) => {
    let checker = checkers.get(task.id)
    if (!checker) {
      if (checkers.size >= 256) checkers.delete(checkers.keys().next().value as string)
      checker = new Aggregator({ role: 'leader', task, keys: options.keys, verifyKey: deriveVerifyKey(task, options.verifyKey), reportIds: memoryReportIdStore() })
      checkers.set(task.id, checker)
    }
    return checker
  }

  // What answers a query takes never changes once it is posted: read once, then answered from memory.
  const kinds = new Map<string, Promise<{ tasks: Tasks | null; dataset: boolean }>>()
  const kindOf = (queryId: string) => {
    let found = kinds.get(queryId)
    if (!found) {
      found = db.query<{ tasks: Tasks | null; answer: string }>("SELECT tasks, spec->>'answer' AS answer FROM queries WHERE id = $1", [queryId]).then(([row]) => {
        if (!row) throw new NotFound(`There is no query ${queryId}.`)
        return { tasks: row.tasks, dataset: row.answer === 'dataset' }
      })
      found.catch(() => kinds.delete(queryId))
      if (kinds.size >= 256) kinds.delete(kinds.keys().next().value as string)
      kinds.set(queryId, found)
    }
    return found
  }
  const tasksOf = async (queryId: string): Promise<Tasks> => {
    const { tasks } = await kindOf(queryId)
    if (!tasks) throw new InvalidInput(`Query ${queryId} asks for a dataset: answer it with a sealed record, not a report.`, { field: 'leader' })
    return tasks
  }

  /** A dataset answer: its record checked for shape here; whether it is genuine shows only when its class opens. */
  const submitRecord = async (answer: DatasetAnswer): Promise<{ reportId: string }> => {
    if (!verifyBoxSignature(answer.boxId, datasetAnswerSigningText(answer), answer.signature)) {
      throw new Unauthorized('The signature does not verify under boxId: the answer is refused.')
    }
    if (!(await kindOf(answer.queryId)).dataset) throw new InvalidInput(`Query ${answer.queryId} asks for statistics: answer it with a Prio3 report, not a record.`, { field: 'record' })
    const problem = recordProblem(answer.record)
    if (problem) throw new InvalidInput(`The record is refused (malformed): ${problem}.`, { field: 'record' })
    // The record's point is its report id: the same point sent twice, under any box's name, is a replay.
    const reportId = Buffer.from(answer.record.x, 'base64url').toString('hex')
    await keep({ boxId: answer.boxId, level: answer.privacyLevel, taskId: `${answer.queryId}/dataset`, reportId, leader: Buffer.from(JSON.stringify(answer.record)), helper: Buffer.alloc(0) }, answer.queryId)
    return { reportId }
  }

  /**
   * Answers are kept in batches: while one batch's transaction runs, the answers that arrive
   * wait and go together in the next, so thousands of boxes answering at once cost a few dozen
   * transactions and row locks, not one each. A box hears 202 only once its answer is
   * committed: a process that dies loses only answers it never acknowledged.
   */
  const queues = new Map<string, Kept[]>()
  const keep = (kept: Omit<Kept, 'settle'>, queryId: string): Promise<void> => new Promise((resolve, reject) => {
    const queue = queues.get(queryId)
    const entry: Kept = { ...kept, settle: (problem) => (problem ? reject(problem) : resolve()) }
    if (queue) return void queue.push(entry)
    const fresh = [entry]
    queues.set(queryId, fresh)
    void (async () => {
      while (fresh.length > 0) {
        const batch = fresh.splice(0, KEEP_BATCH)
        let outcomes: (Error | undefined)[]
        try {
          outcomes = await db.transaction((tx) => keepBatch(tx, queryId, batch))
        } catch (error) {
          outcomes = batch.map(() => error as Error)
        }
        batch.forEach((k, i) => k.settle(outcomes[i]))
      }
      queues.delete(queryId)
    })()
  })

  const callHelper = async <T>(route: string, body: unknown): Promise<T> => {
    const url = `${options.helper.url.replace(/\/+$/, '')}/api/v1/aggregator${route}`
    let res: Response
    try {
      res = await fetch(url, {
        method: body === undefined ? 'GET' : 'POST',
        headers: { authorization: `Bearer ${options.helper.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      })
    } catch (err) {
      throw new Unavailable(`The helper aggregator at ${options.helper.url} cannot be reached (${(err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message}).`)
    }
    const text = await res.text()
    if (!res.ok) throw new Unavailable(`The helper aggregator answered ${res.status}: ${text.slice(0, 500)}`)
    return JSON.parse(text) as T
  }

  const helperHpkeConfig = async () => (helperConfig ??= (await callHelper<{ hpkeConfig: string }>('/hpke-config', undefined)).hpkeConfig)

  const releaseOne = async (tx: Sql, row: DueRow) => {
    const spec = row.spec
    const tasks = row.tasks
    const counts = await participantsOf(tx, row.id)
    // The result and the money go together: the escrow pays the counted answers and returns the rest, in the result's transaction.
    const finish = async (state: QueryResult['state'], result: QueryResult, paid: string[] = []) => {
      const payment = await settleQuery(tx, { queryId: row.id, processorId: row.processor_id, price: spec.price.amount, paid })
      await tx.query('INSERT INTO results (query_id, state, result) VALUES ($1, $2, $3::jsonb)', [row.id, state, JSON.stringify({ ...result, payment })])
      await tx.query("UPDATE queries SET status = 'closed', ended_at = now() WHERE id = $1 AND status = 'open'", [row.id])
    }
    const dataset = spec.answer === 'dataset'
    const base = dataset ? pendingDataset(row.id, spec, counts) : pendingResult(row.id, statisticOf(row.question, spec).statistic as Statistic, spec, counts)
    if (row.status === 'cancelled') return finish('cancelled', { ...base, state: 'cancelled', message: 'The processor withdrew the query: nothing is released.' })
    if (counts.total < spec.participants.min) {
      return finish('not_enough', { ...base, state: 'not_enough', message: `${counts.total} boxes answered, fewer than the ${spec.participants.min} the query needs: nothing is released.` })
    }
    if (dataset) {
      const kept = await tx.query<{ box_id: string; level: SharingLevel; leader: Uint8Array }>('SELECT box_id, level, leader FROM answers WHERE query_id = $1 ORDER BY id', [row.id])
      const records = kept.map((r) => ({ boxId: r.box_id, level: r.level, sealed: JSON.parse(Buffer.from(r.leader).toString('utf8')) as DatasetRecord }))
      const { forgedBy, ...released } = releaseDataset(row.id, row.question, records)
      const forged = new Set(forgedBy)
      const counted = records.length - forged.size
      if (counted < spec.participants.min) {
        return finish('not_enough', { ...base, state: 'not_enough', message: `${counted} genuine records, fewer than the ${spec.participants.min} the query needs: nothing is released.` })
      }
      const message = `${released.rows.length} of ${records.length} records released in ${released.classes.length} classes; ${released.suppressed} suppressed${released.rejected ? `, ${released.rejected} rejected as forged` : ''}.`
      return finish('released', { ...base, state: 'released', releasedAt: new Date().toISOString(), message, dataset: released }, records.filter((r) => !forged.has(r.boxId)).map((r) => r.boxId))
    }

    // Phase 1: every class's reports verified with the helper; nothing is released yet. The
    // classes run side by side, so the leader opens one class while the helper checks another.
    const batches: { level: SharingLevel; task: TaskDescription; rows: { box_id: string; report_id: string; leader: Uint8Array; helper: Uint8Array }[] }[] = []
    for (const level of SHARING_LEVELS) {
      const task = tasks[level]
      if (!task || counts[level] === 0) continue
      batches.push({ level, task, rows: await tx.query('SELECT box_id, report_id, leader, helper FROM answers WHERE query_id = $1 AND level = $2 ORDER BY id', [row.id, level]) })
    }
    const prepared = (await Promise.all(batches.map(async ({ level, task, rows }) => {
      // The helper opens its uploads while the leader opens its own: two processes, two cores.
      const received = callHelper<{ accepted: number }>('/reports', { task, uploads: rows.map((r) => Buffer.from(r.helper).toString('base64url')) })
      received.catch(() => undefined) // awaited below; a failure must not go unhandled while the leader works
      const leader = new Aggregator({ role: 'leader', task, keys: options.keys, verifyKey: deriveVerifyKey(task, options.verifyKey), reportIds: memoryReportIdStore() })
      for (const r of rows) {
        try {
          await leader.accept(r.leader)
        } catch (error) {
          if (!(error instanceof ReportRejected)) throw error
        }
      }
      await received
      if (leader.status().pending === 0) return undefined
      const { prepareResp } = await callHelper<{ prepareResp: string }>('/prepare', { taskId: task.id, prepareInit: Buffer.from(leader.startPreparation()).toString('base64url') })
      const outcome = leader.finishPreparation(Buffer.from(prepareResp, 'base64url'))
      // The processor pays for what was counted: the boxes whose reports verified.
      const boxOf = new Map(rows.map((r) => [r.report_id, r.box_id]))
      const boxes = outcome.aggregated.map((id) => boxOf.get(id)!)
      return outcome.aggregated.length > 0 ? { level, task, leader, commit: outcome.commit, counted: outcome.aggregated.length, boxes } : undefined
    }))).filter((p) => p !== undefined)
    const verified = prepared.reduce((sum, p) => sum + p.counted, 0)
    if (verified < spec.participants.min) {
      return finish('not_enough', { ...base, state: 'not_enough', message: `${verified} answers verified, fewer than the ${spec.participants.min} the query needs: nothing is released.` })
    }

    // Phase 2: each aggregator adds its noise and releases its share, once; the processor's result is their sum.
    const statistic = statisticOf(row.question, spec).statistic as Statistic
    const classes: { level: SharingLevel; reports: number; result: ClassResult; noise: unknown }[] = []
    for (const { level, task, leader, commit } of prepared) {
      const { aggregateShare } = await callHelper<{ aggregateShare: string }>('/release', { taskId: task.id, commit: Buffer.from(commit).toString('base64url') })
      const plan = planFor(statistic, level)
      const share = leader.aggregateShare({ noise: { plan } })
      const aggregate = unshard(task, share, Buffer.from(aggregateShare, 'base64url'))
      const encoded = aggregate.encoded.map(BigInt)
      const result: ClassResult = statistic.kind === 'count'
        ? { plan, count: encoded[0]! }
        : statistic.kind === 'histogram'
          ? { plan, buckets: encoded }
          : { plan, sum: encoded[0]!, ...(encoded.length > 1 ? { count: encoded[1]! } : {}) }
      classes.push({ level, reports: aggregate.reports, result, noise: aggregate.noise })
    }
    const merged = mergeClasses(classes.map((c) => c.result))
    return finish('released', describeRelease(base, merged, classes), prepared.flatMap((p) => p.boxes))
  }

  return {
    async tasksFor(queryId, query, spec, postedAt) {
      // A dataset is answered with sealed records, which need no aggregation task.
      if (spec.answer === 'dataset') return undefined
      const { statistic, problems } = statisticOf(query, spec)
      if (!statistic) throw new InvalidInput(`${problems[0]!.path}: ${problems[0]!.message}`, { field: problems[0]!.path, problems })
      const leader = { url: options.publicUrl(), hpkeConfig: options.keys.hpkeConfig }
      const helper = { url: options.helper.url, hpkeConfig: await helperHpkeConfig() }
      const start = Math.floor(postedAt.getTime() / 1000 / HOUR) * HOUR - HOUR
      const end = Math.ceil(Date.parse(spec.deadline) / 1000) + HOUR
      const tasks: Tasks = {}
      for (const level of SHARING_LEVELS) {
        try {
          tasks[level] = createTask({
            queryId, partition: level, kind: statistic.kind,
            ...(statistic.bounds ? { bounds: statistic.bounds } : {}),
            ...(statistic.innerEdges ? { edges: statistic.innerEdges } : {}),
            window: { start, end }, minReports: 1, leader, helper,
          })
        } catch (error) {
          throw new InvalidInput(`The market cannot aggregate this statistic: ${(error as Error).message}.`, { field: '/bounds' })
        }
      }
      return tasks
    },

    async submit(answer) {
      if ('record' in answer) return submitRecord(answer)
      if (!verifyBoxSignature(answer.boxId, answerSigningText(answer), answer.signature)) {
        throw new Unauthorized('The signature does not verify under boxId: the answer is refused.')
      }
      const task = (await tasksOf(answer.queryId))[answer.privacyLevel]
      if (!task) throw new InvalidInput(`Query ${answer.queryId} has no task for level ${answer.privacyLevel}.`, { field: 'privacyLevel' })

      const leaderUpload = Buffer.from(answer.leader, 'base64url')
      const helperUpload = Buffer.from(answer.helper, 'base64url')
      // Both uploads of one report start with the same task id and report id; the helper's is opened only by the helper.
      if (helperUpload.length < 56 || !helperUpload.subarray(0, 56).equals(leaderUpload.subarray(0, 56))) {
        throw new InvalidInput('The helper\'s upload is not of the same report as the leader\'s.', { field: 'helper' })
      }
      let reportId: string
      try {
        // The task's checker opens this one upload (seal, shape, window) and the database remembers its report id;
        // the proof is prepared once, with the batch at release, where a report whose proof fails is dropped alone.
        ;({ reportId } = await checkerFor(task).inspect(leaderUpload))
      } catch (error) {
        if (error instanceof ReportRejected) throw new InvalidInput(`The report is refused (${error.reason}): ${error.message}`, { field: 'leader' })
        throw error
      }
      await keep({ boxId: answer.boxId, level: answer.privacyLevel, taskId: task.id, reportId, leader: leaderUpload, helper: helperUpload }, answer.queryId)
      return { reportId }
    },

    async releaseDue() {
      let released = 0
      for (;;) {
        const done = await db.transaction(async (tx) => {
          const [row] = await tx.query<DueRow>(
            `SELECT id, processor_id, status, spec, question, tasks FROM queries q
             WHERE (tasks IS NOT NULL OR spec->>'answer' = 'dataset') AND (status IN ('closed', 'cancelled') OR (status = 'open' AND deadline <= now()))
               AND NOT EXISTS (SELECT 1 FROM results r WHERE r.query_id = q.id)
             ORDER BY deadline LIMIT 1 FOR UPDATE SKIP LOCKED`)
          if (!row) return false
          await releaseOne(tx, row)
          return true
        })
        if (!done) return released
        released++
      }
    },

    async result(processorId, queryId) {
      const [row] = await db.query<{ spec: QuerySpec; question: Query; tasks: Tasks | null; status: string; result: QueryResult | null }>(
        `SELECT q.spec, q.question, q.tasks, q.status, r.result FROM queries q LEFT JOIN results r ON r.query_id = q.id
         WHERE q.id = $1 AND q.processor_id = $2`, [queryId, processorId])
      if (!row) throw new NotFound(`You have no query ${queryId}. \`coffer-market query list\` shows yours.`)
      if (row.result) return row.result
      if (row.spec.answer === 'dataset') return pendingDataset(queryId, row.spec, await participantsOf(db, queryId))
      if (!row.tasks) throw new Conflict(`Query ${queryId} has no statistics answer to release.`)
      const statistic = statisticOf(row.question, row.spec).statistic as Statistic
      return pendingResult(queryId, statistic, row.spec, await participantsOf(db, queryId))
    },
  }
}

/** Answers kept per transaction, at most (7 parameters each, far under PostgreSQL's 65,535). */
const KEEP_BATCH = 500

interface Kept {
  boxId: string
  level: SharingLevel
  taskId: string
  reportId: string
  leader: Buffer
  helper: Buffer
  settle: (problem?: Error) => void
}

/**
 * One transaction for a batch of answers to one query, under the query's row lock (a release
 * takes the same lock, so no answer slips in after it). Each answer's outcome, in order: kept
 * (undefined) or why not — the query ended or is full, this box answered already, or this
 * report id was used before.
 */
async function keepBatch(tx: Sql, queryId: string, batch: Kept[]): Promise<(Error | undefined)[]> {
  const [locked] = await tx.query<{ status: string; deadline: Date; max: number }>(
    "SELECT status, deadline, (spec->'participants'->>'max')::integer AS max FROM queries WHERE id = $1 FOR UPDATE", [queryId])
  const ended = endedProblem(queryId, locked!.status, locked!.deadline)
  if (ended) return batch.map(() => ended)
  const answeredAlready = new Conflict(`This box has answered query ${queryId} already; one answer per box counts.`)
  const replayed = new InvalidInput('The report is refused (replayed): this report id has been used before.', { field: 'leader' })
  const outcomes: (Error | undefined)[] = new Array(batch.length).fill(undefined)
  // Repeats within the batch are told apart here; repeats of answers already kept, by the unique keys below.
  const boxes = new Set<string>()
  const reports = new Set<string>()
  const candidates: number[] = []
  batch.forEach((k, i) => {
    if (boxes.has(k.boxId)) outcomes[i] = answeredAlready
    else if (reports.has(`${k.taskId}/${k.reportId}`)) outcomes[i] = replayed
    else {
      boxes.add(k.boxId)
      reports.add(`${k.taskId}/${k.reportId}`)
      candidates.push(i)
    }
  })
  const [{ n } = { n: 0 }] = await tx.query<{ n: number }>('SELECT count(*)::integer AS n FROM answers WHERE query_id = $1', [queryId])
  let room = Number(locked!.max) - Number(n)
  const kept: number[] = []
  let next = 0
  // A repeat takes no room: when some of a chunk were not inserted, the next chunk fills what they left.
  while (next < candidates.length && room > 0) {
    const chunk = candidates.slice(next, next + room)
    next += chunk.length
    const params: unknown[] = [queryId]
    const rows = chunk.map((i) => {
      const k = batch[i]!
      params.push(k.boxId, k.level, k.taskId, k.reportId, k.leader, k.helper)
      const at = params.length - 5
      return `($1, $${at}, $${at + 1}, $${at + 2}, $${at + 3}, $${at + 4}, $${at + 5})`
    })
    const inserted = new Set((await tx.query<{ box_id: string }>(
      `INSERT INTO answers (query_id, box_id, level, task_id, report_id, leader, helper) VALUES ${rows.join(', ')}
       ON CONFLICT DO NOTHING RETURNING box_id`, params)).map((r) => r.box_id))
    room -= inserted.size
    const refused = chunk.filter((i) => !inserted.has(batch[i]!.boxId))
    kept.push(...chunk.filter((i) => inserted.has(batch[i]!.boxId)))
    if (refused.length > 0) {
      const answered = new Set((await tx.query<{ box_id: string }>(
        'SELECT box_id FROM answers WHERE query_id = $1 AND box_id = ANY($2::text[])', [queryId, refused.map((i) => batch[i]!.boxId)])).map((r) => r.box_id))
      for (const i of refused) outcomes[i] = answered.has(batch[i]!.boxId) ? answeredAlready : replayed
    }
  }
  const full = new Conflict(`Query ${queryId} has all the ${locked!.max} participants it asked for.`)
  for (const i of candidates.slice(next)) outcomes[i] = full
  if (kept.length > 0) {
    await tx.query(
      `INSERT INTO participations (query_id, box, state) VALUES ${kept.map((_, j) => `($1, $${j + 2}, 'answered')`).join(', ')}
       ON CONFLICT (query_id, box) DO UPDATE SET state = 'answered', updated_at = now()`, [queryId, ...kept.map((i) => batch[i]!.boxId)])
  }
  return outcomes
}

interface DueRow extends Record<string, unknown> {
  id: string
  processor_id: string
  status: 'open' | 'closed' | 'cancelled'
  spec: QuerySpec
  question: Query
  tasks: Tasks
}

function endedProblem(queryId: string, status: string, deadline: Date): Conflict | undefined {
  if (status !== 'open') return new Conflict(`Query ${queryId} is ${status}: it takes no more answers.`)
  if (new Date(deadline).getTime() <= Date.now()) return new Conflict(`Query ${queryId}'s deadline has passed: it takes no more answers.`)
  return undefined
}

export type Participants = Record<SharingLevel, number> & { total: number }

export async function participantsOf(sql: Sql, queryId: string): Promise<Participants> {
  const rows = await sql.query<{ level: SharingLevel; n: number }>('SELECT level, count(*)::integer AS n FROM answers WHERE query_id = $1 GROUP BY level', [queryId])
  const counts: Participants = { total: 0, low: 0, medium: 0, high: 0 }
  for (const { level, n } of rows) {
    counts[level] = Number(n)
    counts.total += Number(n)
  }
  return counts
}

