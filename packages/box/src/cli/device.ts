/**
 * `coffer device …`, run on the owner's other device: its key for the box's invite, taking the
 * invite (a standby home made from the seed it carries), following the box, and promoting the
 * standby to serve as the box. Each works on the device's home folder (--home) directly.
 */
import type { Command } from 'commander'
import type { RestoreProgress } from '../backup/index.ts'
import { bytes, json, out } from './format.ts'
import { readSecret } from './prompt.ts'

export function deviceCommands(program: Command, home: () => string): void {
  const device = program.command('device').description('your other device as a full replica of your box: it holds the keys, follows the box, and can be promoted to serve as it')

  device.command('id').description('this device\'s key (made in --home on first use): give it to `coffer backup invite --device` on the box')
    .action(async () => {
      const { deviceIdentity } = await import('../backup/index.ts')
      out(deviceIdentity(home()).publicKey.toString('hex'))
    })

  device.command('accept <invite>').description('take the box\'s device invite: makes a standby home in --home from the seed it carries, under a new passphrase for this device')
    .action(async (code: string) => {
      const { acceptDevice } = await import('../backup/index.ts')
      const dir = home()
      const accepted = await acceptDevice(dir, code, () => readSecret('New owner passphrase for this device: ', 'COFFER_PASSPHRASE'))
      out(`This device is now a standby of box ${accepted.identity} (as "${accepted.name}"), in ${dir}.`)
      if (accepted.notice) out(accepted.notice)
      out(`\nNext: coffer device start --home ${dir}  (it follows the box while both run)`)
      out(`If the box is lost: stop it for good, then coffer device promote --home ${dir}`)
    })

  device.command('start').description('follow the box: it dials this device and sends every log as it grows, until stopped')
    .action(async () => {
      const [{ DeviceStandby, parseBootstrap }, { default: pino }] = await Promise.all([import('../backup/index.ts'), import('pino')])
      const standby = new DeviceStandby({ home: home(), bootstrap: parseBootstrap(), logger: pino({ level: process.env.COFFER_LOG_LEVEL ?? 'warn' }) })
      await standby.open()
      const status = standby.status()
      out(`Coffer standby ${standby.publicKey} following box ${status.identity} from ${standby.dir}`)
      const stop = async () => {
        await standby.close()
        process.exit(0)
      }
      process.on('SIGINT', () => void stop())
      process.on('SIGTERM', () => void stop())
      await new Promise(() => undefined)
    })

  device.command('status').description('what this standby holds of its box: logs, bytes, last seen')
    .option('--json', 'machine-readable output')
    .action(async (o: { json?: boolean }) => {
      const { deviceStatus } = await import('../backup/index.ts')
      const s = deviceStatus(home())
      if (o.json) return json(s)
      out(`Standby "${s.name}" of box ${s.identity}: ${s.state === 'active' ? 'paired' : 'not paired yet'}, ${s.running ? 'running' : 'stopped'}`)
      out(`${s.cores} logs, ${bytes(s.usedBytes)}; last seen the box ${s.lastSeen ?? 'never'}`)
    })

  device.command('promote').description('make this standby the box: its home restored from its own copy of the logs (every block checked, views rebuilt, audit log verified); then `coffer start`')
    .option('--timeout <seconds>', 'give up on a log that does not copy in this long', '120')
    .action(async (o: { timeout: string }) => {
      const { promoteDevice } = await import('../backup/index.ts')
      const label: Record<RestoreProgress['phase'], string> = { connecting: 'Opening this device\'s copy', registry: 'Reading the list of sources', sources: 'Copying source logs', audit: 'Copying the audit log', views: 'Rebuilding views', verifying: 'Verifying the audit log' }
      let last = ''
      const dir = home()
      const result = await promoteDevice({
        home: dir, timeoutMs: Number(o.timeout) * 1000,
        onProgress: (p) => {
          const line = `${label[p.phase]}${p.total > 1 ? ` ${p.done}/${p.total}` : ''} (${p.blocks} blocks)`
          if (line !== last) out(line)
          last = line
        },
      })
      out(`Promoted: box ${result.identity}, ${result.sources.length} sources (${result.sources.reduce((n, s) => n + s.points + s.keys, 0)} records) from ${result.blocks} verified blocks.`)
      for (const m of result.missing) out(`This device lacked the last ${m.blocks} block(s) of ${m.log}, written as the box stopped: that log ends before them.`)
      out(`Audit log verified: ${result.audit.length} entries.`)
      out(`Start it with coffer start --home ${dir}. If the old box still runs anywhere, stop it for good: two boxes with one seed would fork each other's logs.`)
      out('Its replicas were the old box\'s: invite them again from here (`coffer backup invite`).')
    })
}
