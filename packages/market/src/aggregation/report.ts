/**
 * The box's side: one measurement becomes two uploads, one per aggregator. @divviup/dap builds
 * the report exactly as a DAP-09 client does (a random 16-byte report id that is also the VDAF
 * nonce, a time rounded to the task's precision, Prio3 sharding, each input share sealed with
 * HPKE to one aggregator under the report's metadata and public share as associated data).
 * Its key fetch is answered from the task itself, so nothing goes over the network here.
 *
 * Upload (what each aggregator receives; DAP-09's Report with the task id in front and only
 * that aggregator's ciphertext):
 *
 *   opaque task_id[32]; opaque report_id[16]; uint64 time;
 *   opaque public_share<0..2^32-1>;
 *   uint8 config_id; opaque enc<0..2^16-1>; opaque payload<0..2^32-1>;
 */
import { Task } from '@divviup/dap'
import { InvalidTask } from './errors.ts'
import { base64url, fromBase64, Writer } from './encoding.ts'
import { parseHpkeConfig } from './hpke.ts'
import type { Measurement } from './measurement.ts'
import { checkTask, type TaskDescription } from './task.ts'

export interface Report {
  reportId: string
  /** Unix seconds, rounded down to the task's time precision. */
  time: number
  /** Send to the leader. */
  leader: Uint8Array
  /** Send to the helper. */
  helper: Uint8Array
}

const HPKE_CONFIG_LIST = 'application/dap-hpke-config-list'

type DapTask = Task<{ type: 'count' } | { type: 'sum'; bits: number } | { type: 'sumVec'; length: number; bits: number; chunkLength: number } | { type: 'histogram'; length: number; chunkLength: number }, never>

const dapTasks = new Map<string, DapTask>()

function dapTaskFor(task: TaskDescription): DapTask {
  const key = JSON.stringify(task)
  let dapTask = dapTasks.get(key)
  if (dapTask !== undefined) return dapTask
  checkTask(task)
  const configLists = new Map<string, Uint8Array>()
  for (const aggregator of [task.leader, task.helper]) {
    const config = parseHpkeConfig(aggregator.hpkeConfig).encode()
    const list = new Writer().opaque16(config).finish() // HpkeConfigList: a 16-bit length, then the configs
    // The dap client asks `<aggregator url>/hpke_config?task_id=…`; answer from the task instead.
    configLists.set(new URL('hpke_config', withSlash(aggregator.url)).href, list)
  }
  dapTask = new Task({ ...task.vdaf, id: task.id, leader: task.leader.url, helper: task.helper.url, timePrecisionSeconds: task.timePrecisionSeconds }) as DapTask
  dapTask.fetch = async (input) => {
    const url = new URL(typeof input === 'string' ? input : input.url)
    url.search = ''
    const list = configLists.get(url.href)
    if (list === undefined) return new Response(null, { status: 404 })
    return new Response(new Uint8Array(list), { headers: { 'content-type': HPKE_CONFIG_LIST } })
  }
  // A box answers a handful of queries at a time; keep the newest few rather than every task it ever saw.
  if (dapTasks.size >= 32) dapTasks.delete(dapTasks.keys().next().value as string)
  dapTasks.set(key, dapTask)
  return dapTask
}

function withSlash(url: string): string {
  return url.endsWith('/') ? url : `${url}/`
}

/** Builds a box's report for a measurement from measurementFor(task, …). `at` defaults to now. */
export async function makeReport(task: TaskDescription, measurement: Measurement, at: Date = new Date()): Promise<Report> {
  if (measurement.taskId !== task.id) throw new InvalidTask('the measurement was encoded for another task', 'measurement')
  const dapTask = dapTaskFor(task)
  const report = await dapTask.generateReport(measurement.vdaf as never, { timestamp: at })
  const taskId = fromBase64(task.id)
  const upload = (ciphertext: { configId: number; encapsulatedContext: Uint8Array; payload: Uint8Array }) =>
    new Writer()
      .bytes(taskId)
      .bytes(report.metadata.reportId.bytes)
      .u64(report.metadata.time)
      .opaque32(report.publicShare)
      .u8(ciphertext.configId)
      .opaque16(ciphertext.encapsulatedContext)
      .opaque32(ciphertext.payload)
      .finish()
  return {
    reportId: base64url(report.metadata.reportId.bytes),
    time: report.metadata.time,
    leader: upload(report.leaderCiphertext),
    helper: upload(report.helperCiphertext),
  }
}
