/**
 * A worker of the scale bench: builds boxes' Prio3 reports (the work each box does on its own
 * machine), so that the bench's thousands of boxes are ready in the time of its cores, not one.
 */
import { parentPort } from 'node:worker_threads'
import { makeReport, measurementFor, type TaskDescription } from '../src/aggregation/index.ts'

parentPort!.on('message', async (job: { task: TaskDescription; values: (number | null)[] }) => {
  const started = process.cpuUsage()
  const reports: { leader: Uint8Array; helper: Uint8Array }[] = []
  for (const value of job.values) {
    const report = await makeReport(job.task, measurementFor(job.task, value))
    reports.push({ leader: report.leader, helper: report.helper })
  }
  const cpu = process.cpuUsage(started)
  parentPort!.postMessage({ reports, cpuMs: (cpu.user + cpu.system) / 1000 })
})
