/**
 * `coffer backup …`: the replicas holding encrypted copies of the box's logs, their health, and
 * restoring a box from one; the paper key and social recovery (recovery.ts) hang off it too, and so
 * does `coffer device …` (device.ts), the other end of a device invite.
 * `coffer replicator …`: the blind replicator, run on a friend's or a co-op's machine.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { Command } from 'commander'
import { InvalidInput } from '../errors/index.ts'
import type { ReplicaView, RestoreProgress } from '../backup/index.ts'
import type { Client } from './connect.ts'
import { bytes, isoTime, json, out, table } from './format.ts'
import { recoveryCommands } from './recovery.ts'
import { deviceCommands } from './device.ts'
import { readSecret } from './prompt.ts'

const SIZE = /^(\d+(?:\.\d+)?)\s*(B|KiB|MiB|GiB|TiB|KB|MB|GB|TB)?$/i
const UNIT: Record<string, number> = { b: 1, kib: 2 ** 10, mib: 2 ** 20, gib: 2 ** 30, tib: 2 ** 40, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12 }

/** Bytes in a size such as 512MiB or 10GB; `what` names the option at fault. */
export function parseSize(text: string, what: string): number {
  const match = SIZE.exec(text.trim())
  if (!match) throw new InvalidInput(`${what}: "${text}" is not a size; write e.g. 500MiB, 10GiB or 2GB.`)
  return Math.round(Number(match[1]) * UNIT[(match[2] ?? 'b').toLowerCase()]!)
}

function health(r: ReplicaView): string {
  if (r.state === 'invited') return r.problems[0] ?? `invited, until ${r.inviteExpiresAt}`
  if (!r.health) return 'no report yet'
  const behind = r.health.behindBlocks === 0 ? 'in sync' : `${r.health.behindBlocks} blocks (${bytes(r.health.behindBytes)}) behind`
  const check = r.health.check ? `, ${r.health.check.blocks - r.health.check.failed}/${r.health.check.blocks} blocks checked` : ''
  return `${behind}${check}`
}

export function backupCommands(program: Command, client: () => Client, home: () => string): void {
  const backup = program.command('backup').description('encrypted copies of your logs on replicas that cannot read them; restore; paper key and social recovery')

  backup.command('list').description('the replicas, whether each is in sync, and what is wrong with any')
    .option('--json', 'machine-readable output')
    .action(async (o: { json?: boolean }) => {
      const listed = await client().request<{ boxKey: string; replicas: ReplicaView[] }>('GET', '/backup/replicas')
      if (o.json) return json(listed)
      out(`This box's key on the backup network: ${listed.boxKey}`)
      out(table(listed.replicas.map((r) => ({
        id: r.id.slice(0, 8), name: r.name, state: r.state, connected: r.connected ? 'yes' : r.inWindow ? 'no' : 'outside window',
        'last seen': r.lastSeen ?? '-', health: health(r),
        kind: r.kind,
        quota: r.kind === 'device' ? (r.health ? `${bytes(r.health.usedBytes)}, own disk` : '-') : r.health ? `${bytes(r.health.usedBytes)} of ${bytes(r.health.quotaBytes)}` : '-',
        flag: r.stale ? `STALE: ${r.problems.join(' ')}` : '',
      })), ['id', 'name', 'kind', 'state', 'connected', 'last seen', 'health', 'quota', 'flag']))
    })

  backup.command('invite <key>')
    .description('invite a blind replicator (its operator runs `coffer replicator id` to get the key) to hold encrypted copies of your logs; with --device, your own other device (`coffer device id` there), which gets the keys and can serve as the box')
    .requiredOption('--name <name>', 'what to call it, e.g. "Anna\'s NAS" or "Laptop"')
    .option('--device', 'a full replica on your own device: the invite carries the seed, so it asks for the owner passphrase')
    .option('--expires <duration>', 'how long the invite stays good: 30m, 12h, 2d', '1h')
    .action(async (key: string, o: { name: string; expires: string; device?: boolean }) => {
      if (o.device) {
        const passphrase = await readSecret('Owner passphrase (a device invite hands over the seed): ', 'COFFER_PASSPHRASE')
        const { replica, invite } = await client().request<{ replica: ReplicaView; invite: string }>('POST', '/backup/devices', { body: { publicKey: key, name: o.name, expiresIn: o.expires, passphrase } })
        out(`Invited the device "${replica.name}" (replica ${replica.id.slice(0, 8)}), until ${replica.inviteExpiresAt}. On that device, in the folder it printed its key for, run:\n`)
        out(`  coffer device accept ${invite} --home DIR\n`)
        out('The code carries this box\'s seed, sealed so that only that device can open it; it pairs once. Then `coffer device start` there, and follow it with `coffer backup list`.')
        return
      }
      const { replica, invite } = await client().request<{ replica: ReplicaView; invite: string }>('POST', '/backup/replicas', { body: { publicKey: key, name: o.name, expiresIn: o.expires } })
      out(`Invited "${replica.name}" (replica ${replica.id.slice(0, 8)}), until ${replica.inviteExpiresAt}. Give its operator this code; it pairs once, and only that replicator can read it:\n`)
      out(`  coffer replicator accept ${invite} --quota 10GiB\n`)
      out('Follow it with `coffer backup list`.')
    })

  const resolve = async (prefix: string): Promise<string> => {
    const { replicas } = await client().request<{ replicas: ReplicaView[] }>('GET', '/backup/replicas')
    const found = replicas.filter((r) => r.id.startsWith(prefix) || r.name === prefix)
    if (found.length !== 1) throw new InvalidInput(found.length === 0 ? `No replica "${prefix}": see \`coffer backup list\`.` : `"${prefix}" names several replicas: give more of the id.`)
    return found[0]!.id
  }

  backup.command('show <replica>').description('one replica: every log it holds, how far behind, traffic, settings (by id prefix or name)')
    .option('--json', 'machine-readable output')
    .action(async (ref: string, o: { json?: boolean }) => {
      const r = await client().request<ReplicaView>('GET', `/backup/replicas/${await resolve(ref)}`)
      if (o.json) return json(r)
      out(`${r.name}  (${r.id}, ${r.state}${r.connected ? ', connected' : ''})`)
      out(`key ${r.publicKey}   last seen ${r.lastSeen ?? 'never'}   sent ${bytes(r.traffic.sentBytes)}, received ${bytes(r.traffic.receivedBytes)}`)
      out(`windows ${r.settings.windows.join(', ') || 'always'}   upload ${r.settings.uploadBytesPerSecond ? `${bytes(r.settings.uploadBytesPerSecond)}/s` : 'unlimited'}   download ${r.settings.downloadBytesPerSecond ? `${bytes(r.settings.downloadBytesPerSecond)}/s` : 'unlimited'}   stale after ${r.settings.staleAfterSeconds / 3600} h`)
      for (const p of r.problems) out(`! ${p}`)
      if (r.health) {
        out(`reported ${r.health.reportedAt}: ${health(r)}; ${bytes(r.health.usedBytes)} of ${bytes(r.health.quotaBytes)} quota`)
        out(table(r.health.cores.map((c) => ({ log: c.log, held: c.heldBlocks, 'behind blocks': c.behindBlocks, 'behind bytes': c.behindBytes })), ['log', 'held', 'behind blocks', 'behind bytes']))
      }
    })

  backup.command('set <replica>').description('sync windows, bandwidth limits and when a replica counts as stale')
    .option('--window <HH:MM-HH:MM...>', 'sync only in these windows, in your time zone (may wrap midnight)')
    .option('--always', 'sync at any time (no windows)')
    .option('--upload <size>', 'upload limit per second to it, e.g. 1MiB; 0 for none')
    .option('--download <size>', 'download limit per second from it; 0 for none')
    .option('--stale <hours>', 'flag it when not in sync for this many hours')
    .action(async (ref: string, o: { window?: string[] | string; always?: boolean; upload?: string; download?: string; stale?: string }) => {
      const settings: Record<string, unknown> = {}
      if (o.always) settings.windows = []
      else if (o.window) settings.windows = ([] as string[]).concat(o.window).flatMap((w) => w.split(','))
      if (o.upload !== undefined) settings.uploadBytesPerSecond = parseSize(o.upload, '--upload')
      if (o.download !== undefined) settings.downloadBytesPerSecond = parseSize(o.download, '--download')
      if (o.stale !== undefined) settings.staleAfterSeconds = Math.round(Number(o.stale) * 3600)
      const r = await client().request<ReplicaView>('PATCH', `/backup/replicas/${await resolve(ref)}`, { body: settings })
      out(`${r.name}: windows ${r.settings.windows.join(', ') || 'always'}, upload ${r.settings.uploadBytesPerSecond || 'unlimited'} B/s, download ${r.settings.downloadBytesPerSecond || 'unlimited'} B/s, stale after ${r.settings.staleAfterSeconds / 3600} h.`)
    })

  backup.command('check <replica>').description('ask a connected replica for blocks at random and compare them with this box\'s own')
    .action(async (ref: string) => {
      const r = await client().request<ReplicaView>('POST', `/backup/replicas/${await resolve(ref)}/check`)
      const check = r.health?.check
      out(check ? `${r.name}: ${check.blocks - check.failed} of ${check.blocks} blocks matched this box's copy.` : `${r.name}: it holds no block to check yet.`)
    })

  backup.command('remove <replica>').description('remove a replica: it is disconnected and refused from now on')
    .action(async (ref: string) => {
      await client().request('DELETE', `/backup/replicas/${await resolve(ref)}`)
      out('Removed. What it already holds stays on its disk, encrypted; ask its operator to run `coffer replicator remove` for your key.')
    })

  backup.command('restore')
    .description('with the box stopped, in a home made by `coffer init --recover`: pull every log from a replica, check every block, rebuild the views')
    .requiredOption('--from <replicator-key>', 'the replica to restore from')
    .option('--timeout <seconds>', 'give up on a replica silent this long', '120')
    .action(async (o: { from: string; timeout: string }) => {
      const { restoreFromReplica, parseBootstrap } = await import('../backup/index.ts')
      const label: Record<RestoreProgress['phase'], string> = { connecting: 'Finding the replica', registry: 'Reading the list of sources', sources: 'Pulling source logs', audit: 'Pulling the audit log', views: 'Rebuilding views', verifying: 'Verifying the audit log' }
      let last = ''
      const result = await restoreFromReplica({
        home: home(), replica: o.from.toLowerCase(), bootstrap: parseBootstrap(), timeoutMs: Number(o.timeout) * 1000,
        onProgress: (p) => {
          const line = `${label[p.phase]}${p.total > 1 ? ` ${p.done}/${p.total}` : ''} (${p.blocks} blocks)`
          if (line !== last) out(line)
          last = line
        },
      })
      out(`Restored ${result.sources.length} sources (${result.sources.reduce((n, s) => n + s.points + s.keys, 0)} records) from ${result.blocks} verified blocks.`)
      for (const m of result.missing) out(`The replica lacked the last ${m.blocks} block(s) of ${m.log}, written as the box stopped: that log ends before them.`)
      out(result.audit.ok ? `Audit log verified: ${result.audit.length} entries.` : `Audit log NOT verified: ${result.audit.problems.join('; ')}`)
      out('Start the box with `coffer start`.')
    })

  recoveryCommands(backup, client, home)
  deviceCommands(program, home)
}

export function replicatorCommands(program: Command): void {
  const replicator = program.command('replicator').description('a blind replicator: holds encrypted copies of other people\'s boxes, never a key to read them')
    .option('--dir <dir>', 'its folder (default: $COFFER_REPLICATOR_HOME, else ~/.coffer-replicator)')
  const dir = () => path.resolve((replicator.opts().dir as string | undefined) ?? process.env.COFFER_REPLICATOR_HOME ?? path.join(os.homedir(), '.coffer-replicator'))

  replicator.command('id').description('this replicator\'s key: owners invite it by this key').action(async () => {
    const { replicatorIdentity } = await import('../backup/index.ts')
    out(replicatorIdentity(dir()).publicKey.toString('hex'))
  })

  replicator.command('start').description('serve the owners paired with this replicator until stopped')
    .action(async () => {
      const [{ Replicator, parseBootstrap }, { default: pino }] = await Promise.all([import('../backup/index.ts'), import('pino')])
      const running = new Replicator({ dir: dir(), bootstrap: parseBootstrap(), logger: pino({ level: process.env.COFFER_LOG_LEVEL ?? 'warn' }) })
      await running.open()
      out(`Coffer replicator ${running.publicKey} serving ${running.owners().length} owner(s) from ${running.dir}`)
      const stop = async () => {
        await running.close()
        process.exit(0)
      }
      process.on('SIGINT', () => void stop())
      process.on('SIGTERM', () => void stop())
      await new Promise(() => undefined)
    })

  replicator.command('accept <invite>').description('pair with the box that made this invite (a running replicator picks it up within a second)')
    .requiredOption('--quota <size>', 'the most this owner may store here, e.g. 10GiB')
    .action(async (code: string, o: { quota: string }) => {
      const { acceptInvite } = await import('../backup/index.ts')
      const accepted = acceptInvite(dir(), code, { quotaBytes: parseSize(o.quota, '--quota') })
      out(`Paired with "${accepted.name}" (${accepted.owner.slice(0, 16)}…), up to ${bytes(parseSize(o.quota, '--quota'))}. Their box connects once this replicator runs.`)
    })

  replicator.command('status').description('the owners served here: quota, use, logs held, last seen')
    .option('--json', 'machine-readable output')
    .action(async (o: { json?: boolean }) => {
      const { listOwners } = await import('../backup/index.ts')
      const owners = listOwners(dir())
      if (o.json) return json(owners)
      out(table(owners.map((w) => ({ owner: `${w.key.slice(0, 16)}…`, name: w.name, state: w.state, used: `${bytes(w.usedBytes)} of ${bytes(w.quotaBytes)}${w.overQuota ? ' FULL' : ''}`, logs: w.cores, 'last seen': w.lastSeen ?? '-' })),
        ['owner', 'name', 'state', 'used', 'logs', 'last seen']))
    })

  const shares = replicator.command('shares').description('shares of owners\' seeds their boxes left here: none can rebuild a seed alone; each is released only to its owner\'s recovery code')

  shares.command('list').description('the share held for each owner, of which split, and to whom it was last released')
    .option('--json', 'machine-readable output')
    .action(async (o: { json?: boolean }) => {
      const { listShares } = await import('../backup/index.ts')
      const held = listShares(dir())
      if (o.json) return json(held)
      if (held.length === 0) return out('This replicator holds no share of anyone\'s seed.')
      out(table(held.map((h) => ({
        owner: `${h.key.slice(0, 16)}…`, name: h.label, identity: `${h.owner.slice(0, 12)}…`, split: h.version, share: `${h.index} of ${h.count}, ${h.threshold} needed`,
        received: isoTime(h.receivedAt), released: h.releasedTo ? `${isoTime(h.releasedAt)} to ${h.releasedTo.slice(0, 12)}…` : null,
      })), ['owner', 'name', 'identity', 'split', 'share', 'received', 'released']))
    })

  shares.command('release <owner>')
    .description('give an owner who lost their box the share held for them (by their key as `coffer replicator status` shows it, their identity, or their name), sealed to the recovery code their new machine printed')
    .requiredOption('--to <recovery-code>', 'the code `coffer backup recover request` printed for them')
    .requiredOption('--out <file>', 'where to write the released share, to send them')
    .action(async (owner: string, o: { to: string; out: string }) => {
      const to = o.to.replace(/[\s-]/g, '').toLowerCase()
      if (!/^[0-9a-f]{64}$/.test(to)) throw new InvalidInput(`--to ${o.to}: a recovery code is the 64 hex digits \`coffer backup recover request\` printed.`)
      const { releaseShare } = await import('../backup/index.ts')
      const released = releaseShare(dir(), owner, to)
      const file = path.resolve(o.out)
      fs.writeFileSync(file, released.file + '\n')
      out(`Wrote share ${released.share.index} of ${released.share.label ?? released.share.owner.slice(0, 12)}'s seed, sealed to ${to.slice(0, 12)}…, to ${file}.`)
      out(`Send it to them only once you are sure it is them asking: with ${released.share.threshold - 1} other friends' shares it rebuilds their box.`)
    })

  replicator.command('remove <owner>').description('stop serving an owner (by key or key prefix) and delete what is held for them')
    .action(async (ref: string) => {
      const { listOwners, removeOwner } = await import('../backup/index.ts')
      const found = listOwners(dir()).filter((w) => w.key.startsWith(ref.toLowerCase()))
      if (found.length !== 1) throw new InvalidInput(found.length === 0 ? `No owner "${ref}" here: see \`coffer replicator status\`.` : `"${ref}" names several owners: give more of the key.`)
      removeOwner(dir(), found[0]!.key)
      out(`Removed ${found[0]!.name}; a running replicator drops them within a second.`)
    })
}
