/**
 * The helper's side of the aggregation, as a market run with `role: 'helper'` serves it to the
 * leader (bearer token both operators share). Per task, one batch:
 *
 *   receive(task, helper uploads)              → accepted      the helper opens its shares while the leader opens its own
 *   prepare(task id, PrepareInit)              → PrepareResp   the helper checks the proofs with the leader's preparation shares
 *   release(task id, Commit)                   → AggregateShare counts what the leader counted, adds its own noise, releases once
 *
 * The helper keeps the batch in its database, and the released share too: a leader that died
 * half-way and asks again gets the same share, never a second, differently noised one of the
 * same reports (two draws would average the noise away). Its noise is planned from the task
 * alone (kind, bounds, level = partition), not from anything the leader says.
 */
import { timingSafeEqual, createHash } from 'node:crypto'
import {
  AggregationProtocolError, Aggregator, BatchNotReleasable, checkTask, deriveVerifyKey, memoryReportIdStore, ReportRejected,
  type AggregatorKeys, type TaskDescription,
} from '../aggregation/index.ts'
import { SHARING_LEVELS, type SharingLevel } from '../protocol/index.ts'
import type { Database } from '../db/index.ts'
import { Conflict, InvalidInput, Unauthorized } from '../errors/index.ts'
import { planFor, statisticOfTask } from './statistic.ts'

export interface HelperOptions {
  keys: AggregatorKeys
  /** The secret the two operators share, from which each task's verify key is derived. */
  verifyKey: string
  /** The bearer token the leader presents. */
  leaderToken: string
}

export interface Helper {
  authenticate(authorization: string | undefined): void
  receive(body: { task: TaskDescription; uploads: string[] }): Promise<{ accepted: number }>
  prepare(body: { taskId: string; prepareInit: string }): Promise<{ prepareResp: string }>
  release(body: { taskId: string; commit: string }): Promise<{ aggregateShare: string }>
}

const digest = (text: string) => createHash('sha256').update(text).digest()

export function createHelper(db: Database, options: HelperOptions): Helper {
  // A batch received or prepared in this process waits here for its next step; another process, or this one after a restart, rebuilds it from the database.
  const batches = new Map<string, Promise<{ aggregator: Aggregator; accepted: number }>>()
  const expected = digest(options.leaderToken)

  const open = async (task: TaskDescription, uploads: string[]) => {
    const aggregator = new Aggregator({ role: 'helper', task, keys: options.keys, verifyKey: deriveVerifyKey(task, options.verifyKey), reportIds: memoryReportIdStore() })
    let accepted = 0
    for (const upload of uploads) {
      try {
        await aggregator.accept(Buffer.from(upload, 'base64url'))
        accepted++
      } catch (error) {
        // A share that does not open or fit is not counted; the leader hears "not here" for it and drops it.
        if (!(error instanceof ReportRejected)) throw error
      }
    }
    return { aggregator, accepted }
  }

  type Batch = { task: TaskDescription; uploads: string[]; prepare_init: Uint8Array; share: Uint8Array | null }
  const stored = async (taskId: string) => {
    const [batch] = await db.query<Batch>('SELECT task, uploads, prepare_init, share FROM helper_batches WHERE task_id = $1', [taskId])
    if (!batch) throw new Conflict(`No batch of task ${taskId} has been received here: send its reports first.`)
    return batch
  }
  /** The batch's aggregator with every upload accepted, from this process's memory or rebuilt from the database. */
  const opened = (taskId: string, batch: Batch) => {
    let found = batches.get(taskId)
    if (!found) {
      found = open(batch.task, batch.uploads)
      batches.set(taskId, found)
    }
    return found
  }

  return {
    authenticate(authorization) {
      const token = /^Bearer (.+)$/.exec(authorization ?? '')?.[1]
      if (token === undefined || !timingSafeEqual(digest(token), expected)) throw new Unauthorized('The aggregator endpoints answer only the leader this helper works with: send its token as `Authorization: Bearer <token>`.')
    },

    async receive({ task, uploads }) {
      try {
        checkTask(task)
      } catch (error) {
        throw new InvalidInput(`The task does not check: ${(error as Error).message}`, { field: 'task' })
      }
      if (task.helper.hpkeConfig !== options.keys.hpkeConfig) throw new InvalidInput('The task names another helper key than this helper\'s.', { field: 'task/helper/hpkeConfig' })
      if (!(SHARING_LEVELS as readonly string[]).includes(task.partition)) throw new InvalidInput('A task\'s partition must be a privacy level: the helper plans its noise from it.', { field: 'task/partition' })
      // Stored unless released already: a leader repeating a release after a crash changes nothing that was released.
      await db.query(
        `INSERT INTO helper_batches (task_id, task, uploads, prepare_init) VALUES ($1, $2::jsonb, $3::jsonb, '\\x')
         ON CONFLICT (task_id) DO UPDATE SET task = excluded.task, uploads = excluded.uploads WHERE helper_batches.share IS NULL`,
        [task.id, JSON.stringify(task), JSON.stringify(uploads)],
      )
      const batch = open(task, uploads)
      batches.set(task.id, batch)
      return { accepted: (await refusingProtocolFaults(() => batch)).accepted }
    },

    async prepare({ taskId, prepareInit }) {
      const batch = await stored(taskId)
      const init = Buffer.from(prepareInit, 'base64url')
      // Preparing again (a leader that retries) answers the same: a report prepared before keeps its message.
      const { aggregator } = await opened(taskId, batch)
      const prepareResp = await refusingProtocolFaults(() => aggregator.prepare(init))
      await db.query('UPDATE helper_batches SET prepare_init = $2 WHERE task_id = $1 AND share IS NULL', [taskId, init])
      return { prepareResp: Buffer.from(prepareResp).toString('base64url') }
    },

    async release({ taskId, commit }) {
      const batch = await stored(taskId)
      if (batch.share) return { aggregateShare: Buffer.from(batch.share).toString('base64url') }
      let aggregator = (await batches.get(taskId))?.aggregator
      if (!aggregator || aggregator.status().prepared === 0) {
        // Rebuilt here: open every upload again and redo the preparation the leader asked for.
        if (batch.prepare_init.length === 0) throw new Conflict(`The batch of task ${taskId} has not been prepared: call prepare first.`)
        batches.delete(taskId)
        aggregator = (await opened(taskId, batch)).aggregator
        await refusingProtocolFaults(() => aggregator!.prepare(Buffer.from(batch.prepare_init)))
      }
      batches.delete(taskId)
      const ready = aggregator
      const level = batch.task.partition as SharingLevel
      const share = await refusingProtocolFaults(async () => {
        ready.commit(Buffer.from(commit, 'base64url'))
        return ready.aggregateShare({ noise: { plan: planFor(statisticOfTask(batch.task), level) } })
      })
      // Only the first release is kept: a concurrent one (two helper processes) loses and returns the stored share.
      const [kept] = await db.query<{ share: Uint8Array }>(
        `UPDATE helper_batches SET share = $2, released_at = now() WHERE task_id = $1 AND share IS NULL RETURNING share`, [taskId, Buffer.from(share)])
      const final = kept?.share ?? (await db.query<{ share: Uint8Array }>('SELECT share FROM helper_batches WHERE task_id = $1', [taskId]))[0]!.share
      return { aggregateShare: Buffer.from(final).toString('base64url') }
    },
  }
}

/** A message that does not fit the batch is the leader's mistake (400), a batch too small to release a conflict (409). */
async function refusingProtocolFaults<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (error) {
    if (error instanceof AggregationProtocolError) throw new InvalidInput(error.message)
    if (error instanceof BatchNotReleasable) throw new Conflict(error.message)
    throw error
  }
}
