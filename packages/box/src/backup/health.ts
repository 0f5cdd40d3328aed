/** The bytes a replica signs to vouch for its health report, and the box checks. */
import type { HealthReport } from './wire.ts'

export function healthMessage(report: HealthReport): Buffer {
  return Buffer.from(`coffer/v1/replica-health\n${JSON.stringify(report)}`)
}
