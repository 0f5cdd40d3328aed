/**
 * One aggregator of a task, leader or helper. Each holds one share of every report and learns
 * nothing from it alone; the two exchange preparation shares so that only reports whose Prio3
 * proof verifies are counted, and each releases one aggregate share with its own discrete
 * noise, so the result is protected if either of them is honest.
 *
 * A round (all messages are bytes, for the service to carry over HTTP):
 *
 *   leader.startPreparation()      → PrepareInit   (report ids + the leader's preparation shares)
 *   helper.prepare(PrepareInit)    → PrepareResp   (per report: the preparation message, or refused, or not here yet)
 *   leader.finishPreparation(resp) → Commit        (which reports the leader counted and which it dropped)
 *   helper.commit(Commit)
 *
 * The helper counts a report only when the leader's commit says the leader counted it too, so
 * both aggregate shares always cover the same reports (the processor checks count and checksum).
 */
import { createHash, createHmac, randomBytes } from 'node:crypto'
import { AggregationProtocolError, BatchNotReleasable, ReportRejected, type RejectionReason } from './errors.ts'
import { base64url, FramingError, fromBase64, Reader, Writer } from './encoding.ts'
import { HpkeOpener, type AggregatorKeys } from './hpke.ts'
import {
  decodeInputShare,
  decodePreparationMessage,
  decodePreparationShare,
  decodePublicShare,
  type PreparationShare,
  type PreparationState,
} from './shares.ts'
import { carriesCount, checkTask, fixedPointOf, vdafFor, type AnyPrio3, type TaskDescription } from './task.ts'
import { createNoiseSampler, toText, type NoiseComponent, type NoisePlan, type NoiseSampler } from '../privacy/index.ts'

export type Role = 'leader' | 'helper'

/**
 * Remembers which report ids an aggregator has taken, per task. `add` returns false when the id
 * was already there; it must be atomic (a unique key in the market's database, say), so two
 * processes behind one URL cannot both take the same report.
 */
export interface ReportIdStore {
  add(taskId: string, reportId: string): boolean | Promise<boolean>
}

export function memoryReportIdStore(): ReportIdStore {
  const seen = new Set<string>()
  return {
    add(taskId, reportId) {
      const key = `${taskId}/${reportId}`
      if (seen.has(key)) return false
      seen.add(key)
      return true
    },
  }
}

/** The secret the two aggregators of a task share and no box may know (a box that knew it could forge proofs). */
export function generateVerifyKey(task: TaskDescription): string {
  return base64url(randomBytes(vdafFor(task).verifyKeySize))
}

/**
 * A task's verify key derived from one secret the two operators agreed once: HMAC-SHA-256 of the
 * task id, cut to the VDAF's key size. Each task gets its own key without the operators meeting
 * per query, and a box, which never learns the secret, cannot forge proofs.
 */
export function deriveVerifyKey(task: TaskDescription, sharedSecret: string): string {
  const size = vdafFor(task).verifyKeySize
  if (size > 32) throw new AggregationProtocolError(`a verify key of ${size} bytes cannot be derived with SHA-256`)
  if (sharedSecret.length < 16) throw new AggregationProtocolError('the operators\' shared secret must have at least 16 characters')
  return base64url(createHmac('sha256', sharedSecret).update(`coffer market verify key\0${task.id}`).digest().subarray(0, size))
}

/**
 * The noise an aggregator adds: the privacy module's plan for this task's kind, bounds and
 * privacy level. Each aggregator adds the plan's full noise on its own, so the result stays
 * protected when the other one does not; the processor's error is that of both.
 */
export interface NoiseRequest {
  plan: NoisePlan
  /** Defaults to the exact discrete Laplace sampler over the operating system's cryptographic generator. */
  sampler?: NoiseSampler
}

/** What an aggregator says it added, carried in its aggregate share for the processor's result. */
export interface NoiseStatement {
  mechanism: 'discrete-laplace'
  level: string
  /** The whole answer's ε, as a decimal or a/b. */
  epsilon: string
  /** The discrete Laplace scale on each coordinate of the aggregate, in fixed-point units. */
  scales: string[]
}

export interface AggregatorOptions {
  role: Role
  task: TaskDescription
  keys: AggregatorKeys
  /** base64url; the same for leader and helper (see generateVerifyKey). */
  verifyKey: string
  /** Defaults to memory, which forgets on restart; the market should pass its database. */
  reportIds?: ReportIdStore
}

export interface PreparationOutcome {
  /** Reports both aggregators verified and now count. */
  aggregated: string[]
  rejected: { reportId: string; reason: RejectionReason }[]
  /** Reports the helper has not received yet: they stay pending for the next round. */
  waiting: string[]
  /** For the helper's commit(). */
  commit: Uint8Array
}

export interface AggregatorStatus {
  role: Role
  pending: number
  prepared: number
  aggregated: number
  rejected: Partial<Record<RejectionReason, number>>
  collected: boolean
}

interface Pending {
  state: PreparationState
  share: PreparationShare
  shareBytes: Uint8Array
}

const MessageType = { PrepareInit: 1, PrepareResp: 2, Commit: 3, AggregateShare: 4 } as const
type MessageType = (typeof MessageType)[keyof typeof MessageType]

const PrepareStatus = { Continue: 0, Reject: 1, Unknown: 2 } as const

const ROLE_BYTE: Record<Role, number> = { leader: 2, helper: 3 } // DAP's Role enum
const INPUT_SHARE_INFO = Buffer.from('dap-09 input share', 'ascii')
const REPORT_ID_BYTES = 16
const TASK_ID_BYTES = 32

export class Aggregator {
  readonly role: Role
  readonly task: TaskDescription
  readonly #vdaf: AnyPrio3
  readonly #aggregatorId: 0 | 1
  readonly #taskId: Uint8Array
  readonly #opener: HpkeOpener
  readonly #verifyKey: Buffer
  readonly #reportIds: ReportIdStore
  readonly #pending = new Map<string, Pending>()
  /** Helper only: verified, waiting for the leader's commit. */
  readonly #prepared = new Map<string, { outputShare: bigint[]; message: Uint8Array }>()
  readonly #finished = new Set<string>()
  readonly #rejected: Partial<Record<RejectionReason, number>> = {}
  #aggregate: bigint[]
  #count = 0
  readonly #checksum = new Uint8Array(32)
  #collected = false

  constructor(options: AggregatorOptions) {
    checkTask(options.task)
    this.role = options.role
    this.task = options.task
    this.#vdaf = vdafFor(options.task)
    this.#aggregatorId = options.role === 'leader' ? 0 : 1
    this.#taskId = fromBase64(options.task.id)
    this.#opener = new HpkeOpener(options.keys)
    const published = options.role === 'leader' ? options.task.leader.hpkeConfig : options.task.helper.hpkeConfig
    if (published !== options.keys.hpkeConfig) throw new AggregationProtocolError(`these keys are not the ones the task publishes for the ${options.role}`)
    this.#verifyKey = Buffer.from(fromBase64(options.verifyKey))
    if (this.#verifyKey.length !== this.#vdaf.verifyKeySize) throw new AggregationProtocolError(`the verify key must be ${this.#vdaf.verifyKeySize} bytes`)
    this.#reportIds = options.reportIds ?? memoryReportIdStore()
    this.#aggregate = new Array<bigint>(this.#vdaf.flp.outputLen).fill(0n)
  }

  status(): AggregatorStatus {
    return {
      role: this.role,
      pending: this.#pending.size,
      prepared: this.#prepared.size,
      aggregated: this.#count,
      rejected: { ...this.#rejected },
      collected: this.#collected,
    }
  }

  #reject(reason: RejectionReason, detail: string, reportId?: string): ReportRejected {
    this.#rejected[reason] = (this.#rejected[reason] ?? 0) + 1
    return new ReportRejected(reason, detail, reportId)
  }

  /**
   * Takes one upload from a box: checks the task, the window, the HPKE seal (which also covers
   * the report id, time and public share), the share's shape and replay, and computes this
   * aggregator's preparation share. Throws ReportRejected; a refused report leaves no trace but
   * the count of refusals, and a forged one cannot use up the id of the genuine one.
   */
  async accept(upload: Uint8Array): Promise<{ reportId: string; time: number }> {
    const { reportId, time, reportIdBytes, publicShare, inputShare } = await this.#open(upload)
    let prepared
    try {
      prepared = await this.#vdaf.prepareInit(this.#verifyKey, this.#aggregatorId, null, Buffer.from(reportIdBytes), publicShare, inputShare)
    } catch (error) {
      if (error instanceof FramingError) throw this.#reject('malformed', `the share does not fit the task's VDAF: ${error.message}`, reportId)
      throw error
    }

    if (!(await this.#reportIds.add(this.task.id, reportId))) throw this.#reject('replayed', 'this report id has been seen before', reportId)
    if (this.#collected) throw this.#reject('batch-collected', 'the aggregate share has been released; the batch is closed', reportId)
    this.#pending.set(reportId, {
      state: prepared.preparationState,
      share: prepared.preparationShare,
      shareBytes: this.#vdaf.encodePreparationShare(prepared.preparationShare),
    })
    return { reportId, time }
  }

  /**
   * Checks one upload as accept does (task, window, HPKE seal, the share's shape) without
   * preparing it or taking its report id: what a service runs when an answer arrives, to refuse
   * a forged or malformed one at once, before keeping it for the batch's accept at release.
   * Throws ReportRejected.
   */
  async inspect(upload: Uint8Array): Promise<{ reportId: string; time: number }> {
    const { reportId, time } = await this.#open(upload)
    return { reportId, time }
  }

  async #open(upload: Uint8Array) {
    let parsed
    try {
      const reader = new Reader(upload)
      parsed = {
        taskId: reader.bytes(TASK_ID_BYTES),
        reportIdBytes: reader.bytes(REPORT_ID_BYTES),
        time: reader.u64(),
        publicShare: reader.opaque32(),
        configId: reader.u8(),
        enc: reader.opaque16(),
        payload: reader.opaque32(),
      }
      reader.end()
    } catch (error) {
      if (error instanceof FramingError) throw this.#reject('malformed', `not an upload: ${error.message}`)
      throw error
    }
    const reportId = base64url(parsed.reportIdBytes)
    if (!Buffer.from(parsed.taskId).equals(this.#taskId)) throw this.#reject('wrong-task', 'the report is for another task', reportId)
    if (this.#collected) throw this.#reject('batch-collected', 'the aggregate share has been released; the batch is closed', reportId)
    const time = Number(parsed.time)
    if (time < this.task.window.start || time > this.task.window.end) throw this.#reject('outside-window', `report time ${time} is outside the task's window`, reportId)
    if (parsed.configId !== this.#opener.configId) throw this.#reject('undecryptable', `sealed to key ${parsed.configId}, not to this aggregator's key ${this.#opener.configId}`, reportId)

    const metadata = new Writer().bytes(parsed.reportIdBytes).u64(parsed.time).finish()
    const aad = new Writer().bytes(this.#taskId).bytes(metadata).opaque32(parsed.publicShare).finish()
    const info = new Writer().bytes(INPUT_SHARE_INFO).u8(1).u8(ROLE_BYTE[this.role]).finish()
    let plaintext: Uint8Array
    try {
      plaintext = await this.#opener.open(parsed.enc, parsed.payload, info, aad)
    } catch {
      throw this.#reject('undecryptable', 'the share does not open under this aggregator\'s key with this report\'s id, time and public share', reportId)
    }

    try {
      const reader = new Reader(plaintext)
      if (reader.opaque16().length !== 0) throw new FramingError('report extensions are not supported')
      const payload = reader.opaque32()
      reader.end()
      const publicShare = decodePublicShare(this.#vdaf, parsed.publicShare)
      const inputShare = await decodeInputShare(this.#vdaf, this.#aggregatorId, payload)
      return { reportId, time, reportIdBytes: parsed.reportIdBytes, publicShare, inputShare }
    } catch (error) {
      if (error instanceof FramingError) throw this.#reject('malformed', `the share does not fit the task's VDAF: ${error.message}`, reportId)
      throw error
    }
  }

  #header(type: MessageType): Writer {
    return new Writer().u8(type).bytes(this.#taskId)
  }

  #readHeader(message: Uint8Array, type: MessageType, what: string): Reader {
    const reader = new Reader(message)
    try {
      if (reader.u8() !== type) throw new AggregationProtocolError(`not a ${what} message`)
      if (!Buffer.from(reader.bytes(TASK_ID_BYTES)).equals(this.#taskId)) throw new AggregationProtocolError(`a ${what} message for another task`)
    } catch (error) {
      if (error instanceof FramingError) throw new AggregationProtocolError(`a ${what} message cut short`)
      throw error
    }
    return reader
  }

  #requireRole(role: Role, operation: string): void {
    if (this.role !== role) throw new AggregationProtocolError(`${operation} is the ${role}'s step, and this aggregator is the ${this.role}`)
  }

  /** Leader: the preparation shares of every pending report, for the helper. */
  startPreparation(): Uint8Array {
    this.#requireRole('leader', 'startPreparation')
    if (this.#collected) throw new AggregationProtocolError('the aggregate share has been released; the batch is closed')
    const writer = this.#header(MessageType.PrepareInit).u32(this.#pending.size)
    for (const [reportId, pending] of this.#pending) writer.bytes(fromBase64(reportId)).opaque16(pending.shareBytes)
    return writer.finish()
  }

  /**
   * Helper: combines each of the leader's preparation shares with its own and runs Prio3's
   * proof check; answers with the preparation message for reports that verify.
   */
  async prepare(prepareInit: Uint8Array): Promise<Uint8Array> {
    this.#requireRole('helper', 'prepare')
    const reader = this.#readHeader(prepareInit, MessageType.PrepareInit, 'PrepareInit')
    const requests: { reportId: string; share: Uint8Array }[] = []
    try {
      const n = reader.u32()
      for (let i = 0; i < n; i++) requests.push({ reportId: base64url(reader.bytes(REPORT_ID_BYTES)), share: reader.opaque16() })
      reader.end()
    } catch (error) {
      if (error instanceof FramingError) throw new AggregationProtocolError(`PrepareInit does not parse: ${error.message}`)
      throw error
    }
    const writer = this.#header(MessageType.PrepareResp).u32(requests.length)
    for (const { reportId, share } of requests) {
      writer.bytes(fromBase64(reportId))
      const done = this.#prepared.get(reportId)
      if (done !== undefined) {
        writer.u8(PrepareStatus.Continue).opaque16(done.message)
        continue
      }
      const pending = this.#pending.get(reportId)
      if (pending === undefined) {
        writer.u8(this.#finished.has(reportId) ? PrepareStatus.Reject : PrepareStatus.Unknown)
        continue
      }
      this.#pending.delete(reportId)
      try {
        const leaderShare = decodePreparationShare(this.#vdaf, share)
        const message = await this.#vdaf.unshardPreparationShares(null, [leaderShare, pending.share])
        const next = this.#vdaf.prepareNext(pending.state, message)
        if (!('outputShare' in next)) throw new Error('Prio3 has one round')
        const encoded = this.#vdaf.encodePreparationMessage(message)
        this.#prepared.set(reportId, { outputShare: next.outputShare, message: encoded })
        writer.u8(PrepareStatus.Continue).opaque16(encoded)
      } catch {
        // A proof that does not verify, or a leader share that does not parse: either way this report is not counted.
        this.#finished.add(reportId)
        this.#reject('invalid', 'the proof did not verify', reportId)
        writer.u8(PrepareStatus.Reject)
      }
    }
    return writer.finish()
  }

  /** Leader: finishes each report the helper verified, and says which it counted. */
  finishPreparation(prepareResp: Uint8Array): PreparationOutcome {
    this.#requireRole('leader', 'finishPreparation')
    const reader = this.#readHeader(prepareResp, MessageType.PrepareResp, 'PrepareResp')
    const answers: { reportId: string; status: number; message?: Uint8Array }[] = []
    try {
      const n = reader.u32()
      for (let i = 0; i < n; i++) {
        const reportId = base64url(reader.bytes(REPORT_ID_BYTES))
        const status = reader.u8()
        if (status === PrepareStatus.Continue) answers.push({ reportId, status, message: reader.opaque16() })
        else if (status === PrepareStatus.Reject || status === PrepareStatus.Unknown) answers.push({ reportId, status })
        else throw new FramingError(`unknown status ${status}`)
      }
      reader.end()
    } catch (error) {
      if (error instanceof FramingError) throw new AggregationProtocolError(`PrepareResp does not parse: ${error.message}`)
      throw error
    }
    if (this.#collected) throw new AggregationProtocolError('the aggregate share has been released; the batch is closed')
    for (const { reportId } of answers) {
      if (!this.#pending.has(reportId)) throw new AggregationProtocolError(`PrepareResp answers for report ${reportId}, which is not pending here`)
    }
    if (new Set(answers.map((a) => a.reportId)).size !== answers.length) throw new AggregationProtocolError('PrepareResp answers twice for one report')
    const outcome: Omit<PreparationOutcome, 'commit'> = { aggregated: [], rejected: [], waiting: [] }
    for (const { reportId, status, message } of answers) {
      const pending = this.#pending.get(reportId) as Pending
      if (status === PrepareStatus.Unknown) {
        outcome.waiting.push(reportId)
        continue
      }
      this.#pending.delete(reportId)
      this.#finished.add(reportId)
      let outputShare: bigint[] | undefined
      if (message !== undefined) {
        try {
          const next = this.#vdaf.prepareNext(pending.state, decodePreparationMessage(this.#vdaf, message))
          if ('outputShare' in next) outputShare = next.outputShare
        } catch {
          outputShare = undefined
        }
      }
      if (outputShare === undefined) {
        this.#reject('invalid', 'the proof did not verify', reportId)
        outcome.rejected.push({ reportId, reason: 'invalid' })
      } else {
        this.#add(reportId, outputShare)
        outcome.aggregated.push(reportId)
      }
    }
    const commit = this.#header(MessageType.Commit).u32(outcome.aggregated.length)
    for (const id of outcome.aggregated) commit.bytes(fromBase64(id))
    commit.u32(outcome.rejected.length)
    for (const { reportId } of outcome.rejected) commit.bytes(fromBase64(reportId))
    return { ...outcome, commit: commit.finish() }
  }

  /** Helper: counts what the leader counted and drops what it dropped. */
  commit(message: Uint8Array): { aggregated: number; rejected: number } {
    this.#requireRole('helper', 'commit')
    const reader = this.#readHeader(message, MessageType.Commit, 'Commit')
    const lists: string[][] = []
    try {
      for (let list = 0; list < 2; list++) {
        const n = reader.u32()
        lists.push(Array.from({ length: n }, () => base64url(reader.bytes(REPORT_ID_BYTES))))
      }
      reader.end()
    } catch (error) {
      if (error instanceof FramingError) throw new AggregationProtocolError(`Commit does not parse: ${error.message}`)
      throw error
    }
    const [aggregated = [], rejected = []] = lists
    for (const id of aggregated) {
      if (!this.#prepared.has(id)) throw new AggregationProtocolError(`Commit counts report ${id}, which this helper has not verified`)
    }
    if (new Set(aggregated).size !== aggregated.length) throw new AggregationProtocolError('Commit counts one report twice')
    if (this.#collected && aggregated.length > 0) throw new AggregationProtocolError('the aggregate share has been released; the batch is closed')
    for (const id of aggregated) {
      const { outputShare } = this.#prepared.get(id) as { outputShare: bigint[] }
      this.#prepared.delete(id)
      this.#finished.add(id)
      this.#add(id, outputShare)
    }
    let dropped = 0
    for (const id of rejected) {
      if (this.#prepared.delete(id)) {
        this.#finished.add(id)
        this.#reject('invalid', 'the leader could not verify it', id)
        dropped++
      }
    }
    return { aggregated: aggregated.length, rejected: dropped }
  }

  #add(reportId: string, outputShare: bigint[]): void {
    this.#aggregate = this.#vdaf.flp.field.vecAdd(this.#aggregate, outputShare)
    this.#count++
    // DAP's batch checksum: the XOR of SHA-256 of each report id, so the processor can tell
    // whether both shares cover the same reports without either listing them.
    const digest = createHash('sha256').update(fromBase64(reportId)).digest()
    for (let i = 0; i < this.#checksum.length; i++) this.#checksum[i] = (this.#checksum[i] as number) ^ (digest[i] as number)
  }

  /**
   * Releases this aggregator's aggregate share, once, with its noise added; afterwards the batch
   * is closed, so no second, differently noised share of the same reports can be asked for.
   * Refuses (BatchNotReleasable) below the task's minimum of reports. `noise: null` releases the
   * exact share: for tests, or when the other operator is trusted to noise.
   */
  aggregateShare(options: { noise: NoiseRequest | null }): Uint8Array {
    if (this.#collected) throw new BatchNotReleasable('this aggregator has already released its share of the batch')
    if (this.#count < this.task.minReports) {
      throw new BatchNotReleasable(`${this.#count} verified reports, fewer than the ${this.task.minReports} the task needs`, { reports: this.#count, minReports: this.task.minReports })
    }
    const field = this.#vdaf.flp.field
    let share = this.#aggregate
    let statement: NoiseStatement | null = null
    if (options.noise !== null) {
      const components = this.#noiseComponents(options.noise.plan)
      const sampler = options.noise.sampler ?? createNoiseSampler()
      const noise = components.map(({ scale }) => ((sampler.discreteLaplace(scale) % field.modulus) + field.modulus) % field.modulus)
      share = field.vecAdd(share, noise)
      const { plan } = options.noise
      statement = { mechanism: 'discrete-laplace', level: plan.level, epsilon: toText(plan.epsilon), scales: components.map(({ scale }) => toText(scale)) }
    }
    this.#collected = true
    const writer = this.#header(MessageType.AggregateShare)
      .u8(ROLE_BYTE[this.role])
      .u64(this.#count)
      .bytes(this.#checksum)
    writer.opaque16(Buffer.from(statement === null ? '' : JSON.stringify(statement), 'utf8'))
    return writer.opaque32(field.encode(share)).finish()
  }

  /** The plan's component for each coordinate of the aggregate; refuses a plan made for another kind or other bounds. */
  #noiseComponents(plan: NoisePlan): NoiseComponent[] {
    const task = this.task
    const mismatch = (what: string) => new AggregationProtocolError(`the noise plan is for ${what} than this task`)
    if (plan.kind !== task.kind) throw mismatch(`a ${plan.kind}, not a ${task.kind},`)
    const component = (name: NoiseComponent['name']) => {
      const found = plan.components.find((c) => c.name === name)
      if (found === undefined) throw mismatch(`other components (no ${name})`)
      return found
    }
    const length = this.#aggregate.length
    if (task.kind === 'count') return [component('count')]
    if (task.kind === 'histogram') {
      if (plan.buckets !== length - 1) throw mismatch(`${plan.buckets ?? 0} buckets rather`)
      // The hidden "does not match" bucket is noised like the others: its share is released too.
      return new Array<NoiseComponent>(length).fill(component('buckets'))
    }
    const fixed = fixedPointOf(task)
    const planned = plan.bounds
    if (planned === undefined || planned.lo !== fixed.lo || planned.hi !== fixed.hi || planned.decimals !== fixed.decimals) throw mismatch('other bounds')
    return carriesCount(task) ? [component('sum'), component('count')] : [component('sum')]
  }
}

export const AGGREGATE_SHARE_MESSAGE = MessageType.AggregateShare
export const ROLE_BYTES = ROLE_BYTE
