/**
 * `coffer backup …` for getting a box back: the paper key, the seed split among friends, the
 * shares this box holds for friends, and recovering a box from the shares friends released.
 * Recovering works on the new home folder directly, with no box running; the rest asks the box.
 */
import fs from 'node:fs'
import path from 'node:path'
import type { Command } from 'commander'
import { InvalidInput } from '../errors/index.ts'
import type { HeldShare, ShareHolder, Split } from '../recovery/index.ts'
import type { Client } from './connect.ts'
import { readSecret } from './prompt.ts'
import { isoTime, json, out, table } from './format.ts'

const FRIEND = /^([A-Za-z0-9][A-Za-z0-9._-]{0,63})=([0-9a-fA-F]{64})$/
/** NAME=REPLICA, or the replica alone (its name then names the friend). */
const REPLICA_FRIEND = /^(?:([A-Za-z0-9][A-Za-z0-9._-]{0,63})=)?(.+)$/s
const HEX_KEY = /^[0-9a-f]{64}$/

const ownerPassphrase = () => readSecret('Owner passphrase: ', 'COFFER_PASSPHRASE')
const short = (hex: string) => `${hex.slice(0, 12)}…`

/** Adds the recovery commands to `coffer backup`. `home` is the home folder the command names. */
export function recoveryCommands(backup: Command, client: () => Client, home: () => string): void {
  backup.command('paper-key')
    .description('write a printable PDF of the 24 recovery words, their QR code, the box identity and how to recover (asks for the owner passphrase)')
    .requiredOption('--out <file.pdf>', 'where to write it; print it, then delete the file')
    .action(async (o: { out: string }) => {
      const passphrase = await ownerPassphrase()
      const key = await client().request<{ identity: string; words: string; createdAt: number }>('POST', '/recovery/paper-key', { body: { passphrase, format: 'words' } })
      // Drawn here, as the statement is: the PDF library loads only for the command that prints.
      const { renderPaperKey } = await import('../recovery/index.ts')
      const file = writeSecret(o.out, await renderPaperKey(key))
      out(`Wrote the paper key of box ${short(key.identity)} to ${file}.`)
      out('Print it and keep the paper offline, then delete the file: whoever has these words has the whole box.')
    })

  const shares = backup.command('shares').description('social recovery: your seed split among friends\' boxes, and the shares your box holds for friends')

  shares.command('split')
    .description('split your seed among friends: one share per friend, any THRESHOLD of which rebuild it; retires every earlier split (asks for the owner passphrase)')
    .requiredOption('--threshold <t>', 'how many shares rebuild the seed (at least 2)')
    .option('--friend <name=identity>', 'a friend and their box identity (their `coffer status` shows it), whose share is written to a file for you to send; once per friend', (v: string, all: string[]) => [...all, v], [] as string[])
    .option('--replica <[name=]replica>', 'a friend who runs a blind replica paired with your box (its name or id in `coffer backup list`): your box delivers their share through it; once per friend', (v: string, all: string[]) => [...all, v], [] as string[])
    .option('--out <dir>', 'the folder to write the --friend share files to')
    .option('--json', 'machine-readable output')
    .action(async (o: { threshold: string; friend: string[]; replica: string[]; out?: string; json?: boolean }) => {
      const threshold = Number(o.threshold)
      if (!Number.isInteger(threshold) || threshold < 2) throw new InvalidInput(`--threshold ${o.threshold}: give a whole number of shares, at least 2.`)
      const friends = o.friend.map((f) => {
        const match = FRIEND.exec(f)
        if (!match) throw new InvalidInput(`--friend ${f}: write it as NAME=IDENTITY, the name in letters, digits, dot, dash or underscore and the identity as the 64 hex digits their \`coffer status\` shows.`)
        return { name: match[1]!, identity: match[2]!.toLowerCase() } as { name?: string; identity?: string; replica?: string }
      })
      for (const r of o.replica) {
        const [, name, replica] = REPLICA_FRIEND.exec(r)!
        friends.push({ ...(name ? { name } : {}), replica: replica!.trim() })
      }
      if (friends.length < threshold) throw new InvalidInput(`A threshold of ${threshold} needs at least ${threshold} friends: give each with --friend NAME=IDENTITY or --replica REPLICA.`)
      if (o.friend.length > 0 && !o.out) throw new InvalidInput('Give --out DIR: the shares of --friend friends are written there, one file each, for you to send.')
      const passphrase = await ownerPassphrase()
      const made = await client().request<Split & { shares: { name: string; identity: string; file: string }[] }>('POST', '/recovery/split', { body: { passphrase, threshold, friends } })
      const dir = path.resolve(o.out ?? '.')
      if (made.shares.length > 0) fs.mkdirSync(dir, { recursive: true })
      const written = made.shares.map((s) => {
        const file = path.join(dir, `${s.name}.coffer-share.json`)
        fs.writeFileSync(file, s.file + '\n')
        return { friend: s.name, identity: short(s.identity), file }
      })
      if (o.json) return json({ version: made.version, threshold: made.threshold, createdAt: made.createdAt, files: written, friends: made.friends })
      out(`Split your seed (version ${made.version}): any ${made.threshold} of these ${made.friends.length} shares rebuild it, fewer tell nothing.`)
      out(table(made.friends.map((f) => ({ friend: f.name, identity: short(f.identity), delivery: delivery(f), file: written.find((w) => w.friend === f.name)?.file ?? null })), ['friend', 'identity', 'delivery', 'file']))
      if (written.length > 0) out('\nSend each friend their file (each opens only on their box); they keep it with `coffer backup shares hold FILE`.')
      if (written.length < made.friends.length) out('Your box delivers the other shares to their replicas when each is next connected; `coffer backup shares list` says when each has it.')
      out('Friends\' boxes and replicas replace the shares of your earlier splits when they hold these. A copy of an old share file kept')
      out('elsewhere still fits with its own split\'s other shares: ask friends to delete old files.')
    })

  shares.command('list')
    .description('how your seed is split, and the shares your box holds for friends')
    .option('--json', 'machine-readable output')
    .action(async (o: { json?: boolean }) => {
      const [split, held] = await Promise.all([
        client().request<Split | null>('GET', '/recovery/split'),
        client().request<HeldShare[]>('GET', '/recovery/held'),
      ])
      if (o.json) return json({ split, held })
      if (split) {
        out(`Your seed: split version ${split.version} on ${isoTime(split.createdAt)}; any ${split.threshold} of ${split.friends.length} shares rebuild it.`)
        out(table(split.friends.map((f, i) => ({ share: i + 1, friend: f.name, identity: short(f.identity), delivery: delivery(f) })), ['share', 'friend', 'identity', 'delivery']))
      } else {
        out('Your seed is not split among friends. Split it with `coffer backup shares split --threshold 2 --friend NAME=IDENTITY … --replica REPLICA … --out DIR`.')
      }
      out('')
      if (held.length === 0) return out('Your box holds no share for anyone.')
      out('Shares your box holds for friends (none of them can rebuild a seed alone):')
      out(table(held.map((h) => ({
        owner: h.owner, name: h.label, split: h.version, share: `${h.index} of ${h.count}, ${h.threshold} needed`, received: isoTime(h.receivedAt),
        released: h.releasedTo ? `${isoTime(h.releasedAt)} to ${short(h.releasedTo)}` : null,
      })), ['owner', 'name', 'split', 'share', 'received', 'released']))
    })

  shares.command('hold <file>')
    .description('keep a share a friend sealed to this box; it replaces the share of an earlier split of theirs')
    .option('--label <name>', 'what you call the friend whose share it is')
    .action(async (file: string, o: { label?: string }) => {
      const h = await client().request<HeldShare>('POST', '/recovery/held', { body: { share: readText(file), label: o.label } })
      out(`Holding share ${h.index} of the seed of ${h.label ?? short(h.owner)} (split version ${h.version}; any ${h.threshold} of ${h.count} shares rebuild it). Your box cannot use it alone.`)
      out(`Release it only to them, once you are sure it is them asking: coffer backup shares release ${h.owner} --to THEIR-RECOVERY-CODE --out FILE`)
    })

  shares.command('release <owner>')
    .description('give back the share you hold for a friend (their identity, or the name you gave it), sealed to the recovery code their new machine printed (asks for the owner passphrase)')
    .requiredOption('--to <recovery-code>', 'the code `coffer backup recover request` printed for them')
    .requiredOption('--out <file>', 'where to write the released share, to send them')
    .action(async (owner: string, o: { to: string; out: string }) => {
      const to = o.to.replace(/[\s-]/g, '').toLowerCase()
      if (!HEX_KEY.test(to)) throw new InvalidInput(`--to ${o.to}: a recovery code is the 64 hex digits \`coffer backup recover request\` printed.`)
      const identity = HEX_KEY.test(owner.toLowerCase()) ? owner.toLowerCase() : await byLabel(client(), owner)
      const passphrase = await ownerPassphrase()
      const released = await client().request<{ share: HeldShare; file: string }>('POST', `/recovery/held/${identity}/release`, { body: { to, passphrase } })
      const file = path.resolve(o.out)
      fs.writeFileSync(file, released.file + '\n')
      out(`Wrote share ${released.share.index} of ${released.share.label ?? short(identity)}'s seed, sealed to ${short(to)}, to ${file}.`)
      out(`Send it to them: only that recovery code opens it, and with ${released.share.threshold - 1} other friends' shares it rebuilds their box.`)
    })

  const recover = backup.command('recover')
    .description('recover a box from the shares friends released to you, into a new home (--home); start with `recover request`')
    .argument('[files...]', 'the released share files')
    .action(async (files: string[]) => {
      if (files.length === 0) throw new InvalidInput('Give the released share files: coffer backup recover FILE… (start with `coffer backup recover request`).')
      const dir = home()
      const { recoverHome } = await import('../recovery/index.ts')
      const released = files.map((file) => ({ name: path.basename(file), text: readText(file) }))
      const r = await recoverHome(dir, released, ownerPassphrase)
      out(`Recovered box ${r.identity} in ${dir}, from ${r.holders.length} of its ${r.count} shares (split version ${r.version}), released by ${r.holders.join(', ')}.`)
      if (r.notice) out(r.notice)
      out(`\nNext: coffer start --home ${dir}, then coffer backup restore to bring its data back from your replicas.`)
    })

  recover.command('request')
    .description('make a one-time recovery key in the new home (--home), and print the recovery code to give friends holding your shares')
    .action(async () => {
      const dir = home()
      const { requestRecovery } = await import('../recovery/index.ts')
      const { code, created } = requestRecovery(dir)
      out(created ? `Made a one-time recovery key in ${dir}. Your recovery code:` : `${dir} is already waiting for shares; its recovery code is still:`)
      out(`\n  ${code}\n`)
      out('Give it to the friends holding your shares, and ask each to run:')
      out(`  coffer backup shares release YOUR-OLD-BOX-IDENTITY --to ${code} --out FILE`)
      out('or, if your box gave their blind replicator the share:')
      out(`  coffer replicator shares release YOUR-NAME-THERE --to ${code} --out FILE`)
      out(`Then, with the files they send: coffer backup recover --home ${dir} FILE…`)
    })
}

/** How a share reached its friend: a file handed over, or through their replica, delivered or not yet. */
function delivery(f: ShareHolder): string {
  if (!f.replica) return 'file'
  if (f.deliveredAt !== null) return `delivered to replica "${f.replica.name}" ${isoTime(f.deliveredAt)}`
  return f.problem ? `REFUSED by replica "${f.replica.name}": ${f.problem}` : `waiting for replica "${f.replica.name}" to connect`
}

/** The owner of the share held under a name the box's owner gave it. */
async function byLabel(c: Client, label: string): Promise<string> {
  const held = await c.request<HeldShare[]>('GET', '/recovery/held')
  const matches = held.filter((h) => h.label === label)
  if (matches.length !== 1) {
    throw new InvalidInput(`${matches.length === 0 ? 'No share is held' : 'More than one share is held'} under the name "${label}": give the owner's identity (\`coffer backup shares list\` shows them).`)
  }
  return matches[0]!.owner
}

function readText(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8').trim()
  } catch (err) {
    throw new InvalidInput(`Cannot read ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}.`)
  }
}

/** Written for this user alone: a file already there is replaced, not rewritten under its old permissions. */
function writeSecret(file: string, data: Buffer): string {
  const target = path.resolve(file)
  fs.rmSync(target, { force: true })
  fs.writeFileSync(target, data, { mode: 0o600, flag: 'wx' })
  return target
}
