/**
 * `coffer groups …`: groups of boxes sharing an encrypted drive — found one, invite a box to it,
 * join one, its members and any conflicting versions in its drive, remove a member, leave it — and
 * where to mount each drive over WebDAV.
 */
import type { Command } from 'commander'
import { InvalidInput } from '../errors/index.ts'
import type { AskView, GroupView, MemberView, NearbyView, ReplicatorView, SharedSourceView, UnopenedGroup } from '../groups/index.ts'
// Words only: the groups' machinery is the running box's, not this command's.
import { describeRules, sameFingerprint } from '../groups/words.ts'
import type { Client } from './connect.ts'
import { json, out, table } from './format.ts'
import { confirm } from './prompt.ts'

/** How often a LAN command looks again, and how long the admin's waits after hearing one box asking, to hear whether others are. */
const POLL_MS = 1000
const HEAR_OTHERS_MS = 1500

function nearbyTable(list: NearbyView[]): string {
  return table(list.map((b) => ({ fingerprint: b.fingerprint, 'asks to join as': b.name ?? '-', key: b.boxKey.slice(0, 16) })), ['fingerprint', 'asks to join as', 'key'])
}

function members(list: MemberView[]): string {
  return table(list.map((m) => ({
    name: m.you ? `${m.name} (you)` : m.name, role: m.role, connected: m.you ? '-' : m.connected ? 'yes' : 'no',
    since: m.since.slice(0, 16).replace('T', ' '), 'added by': m.addedBy ?? 'founded it', box: m.box.slice(0, 16),
  })), ['name', 'role', 'connected', 'since', 'added by', 'box'])
}

function mebibytes(n: number): string {
  return `${(n / 2 ** 20).toFixed(n < 10 * 2 ** 20 ? 2 : 0)} MiB`
}

function replicators(list: ReplicatorView[]): string {
  return table(list.map((r) => ({
    replicator: r.name, connected: r.connected ? 'yes' : r.inWindow ? 'no' : 'outside window', windows: r.windows.join(', ') || 'always',
    holds: r.holds ? `${r.holds.cores} cores, ${mebibytes(r.holds.bytes)}${r.holds.overQuota ? ' (quota FULL)' : ''}` : 'no report yet',
    behind: r.holds ? `${r.holds.behindBlocks} blocks` : '-',
    'last synced': r.lastSynced?.slice(0, 16).replace('T', ' ') ?? 'never',
    key: r.box.slice(0, 16),
  })), ['replicator', 'connected', 'windows', 'holds', 'behind', 'last synced', 'key'])
}

function shared(list: SharedSourceView[]): string {
  return table(list.map((s) => ({
    source: s.source, 'shared by': s.you ? `${s.sharedBy} (you)` : s.sharedBy, 'on this box': s.id, records: s.records ?? '-',
    state: s.stopped ? `stopped ${s.stopped.slice(0, 16).replace('T', ' ')}` : 'live', rules: describeRules(s.rules),
  })), ['source', 'shared by', 'on this box', 'records', 'state', 'rules'])
}

/** The rules as the options spell them; those not given are left out, so the box keeps what it had (or its defaults). */
function rulesOf(o: { apps?: string; finest?: string; gateway?: boolean; market?: boolean }) {
  return {
    ...(o.apps !== undefined ? { apps: o.apps } : {}), ...(o.finest !== undefined ? { finest: o.finest } : {}),
    ...(o.gateway !== undefined ? { gateway: o.gateway } : {}), ...(o.market !== undefined ? { market: o.market } : {}),
  }
}

function conflicts(group: GroupView): string[] {
  return group.conflicts.map((c) => `! ${c.path} has ${c.versions.length} versions, written at once: ${c.versions.map((v) => `${v.author} at ${v.mtime.slice(0, 16).replace('T', ' ')}`).join(', ')}. Both are in the drive; delete the copy you do not want.`)
}

/** The one group a key prefix or name picks out. */
function oneGroup<G extends { key: string; name: string }>(all: G[], ref: string): G {
  const found = all.filter((g) => g.key.startsWith(ref.toLowerCase()) || g.name === ref)
  if (found.length !== 1) throw new InvalidInput(found.length === 0 ? `No group "${ref}": see \`coffer groups list\`.` : `"${ref}" names several groups: give more of the key.`)
  return found[0]!
}

export function groupCommands(program: Command, client: () => Client): void {
  const groups = program.command('groups').description('groups of boxes that share an encrypted drive, invite each other, and replicate among members only')

  const listed = () => client().request<{ boxKey: string; groups: GroupView[]; unopened: UnopenedGroup[] }>('GET', '/groups')
  /** A group by key prefix or name. */
  const resolve = async (ref: string): Promise<GroupView> => oneGroup((await listed()).groups, ref)
  /** The same, or one the box could not open (which can still be left). */
  const resolveAny = async (ref: string): Promise<GroupView | UnopenedGroup> => {
    const { groups: open, unopened } = await listed()
    return oneGroup([...open, ...unopened], ref)
  }
  const drive = (g: GroupView) => `${client().url}/dav/groups/${g.key}/`

  groups.command('create <name>').description('found a group; you are its first admin')
    .option('--as <name>', 'your name in the group', 'owner')
    .action(async (name: string, o: { as: string }) => {
      const g = await client().request<GroupView>('POST', '/groups', { body: { name, as: o.as } })
      out(`Founded "${g.name}" (${g.key.slice(0, 16)}). Invite a box with \`coffer groups invite ${g.key.slice(0, 8)} <its key> --name <who>\`.`)
      out(`Its drive: ${drive(g)} (WebDAV; your passphrase, any user name).`)
    })

  groups.command('list').description('your groups, their members and any conflicting versions; and this box\'s key, for invites')
    .option('--json', 'machine-readable output')
    .action(async (o: { json?: boolean }) => {
      const { boxKey, groups: open, unopened } = await listed()
      if (o.json) return json({ boxKey, groups: open, unopened })
      out(`This box's key, for an admin to invite it: ${boxKey}`)
      if (open.length === 0 && unopened.length === 0) return out('No group yet: `coffer groups create <name>`, or join one with an invite.')
      if (open.length > 0) {
        out(table(open.map((g) => ({
          key: g.key.slice(0, 8), name: g.name, role: g.removed ? 'removed' : g.role ?? 'joining', members: g.members.length,
          connected: g.members.filter((m) => m.connected).length, conflicts: g.conflicts.length || '',
        })), ['key', 'name', 'role', 'members', 'connected', 'conflicts']))
      }
      for (const g of unopened) {
        out(`"${g.name}" (${g.key.slice(0, 8)}) could not be opened: ${g.reason}. The box tries again in ${g.retryInSeconds} s; \`coffer groups leave ${g.key.slice(0, 8)}\` drops it from this box.`)
      }
    })

  groups.command('show <group>').description('one group: its members, who is connected, conflicting versions, and where its drive is (by key prefix or name)')
    .option('--json', 'machine-readable output')
    .action(async (ref: string, o: { json?: boolean }) => {
      const g = await client().request<GroupView>('GET', `/groups/${(await resolve(ref)).key}`)
      if (o.json) return json(g)
      out(`${g.name}  (${g.key})`)
      if (g.removed) out('An admin removed this box from the group: it keeps what it had, and gets nothing written since.')
      else out(`you: ${g.role ?? 'not yet let in'}${g.writable ? '' : ', cannot write yet'}   key epoch ${g.epoch}   address ${g.address.slice(0, 16)}`)
      out(`drive: ${drive(g)}`)
      out(members(g.members))
      if (g.replicators.length > 0) out(replicators(g.replicators))
      if (g.sources.length > 0) out(shared(g.sources))
      for (const line of conflicts(g)) out(line)
    })

  groups.command('invite <group> [box-key]')
    .description('invite a box (its owner runs `coffer groups list` for its key), or with --lan one asking nearby: the code is sealed to that box, lets it in once, and expires')
    .option('--name <name>', 'what to call the new member, e.g. "Bea" (with --lan, default: the name it asks under)')
    .option('--admin', 'make it an admin, who may invite others too')
    .option('--expires <duration>', 'how long the invite stays good: 30m, 12h, 2d (default 1d; with --lan 1h)')
    .option('--lan', 'invite a box asking to join on this local network (`coffer groups join --lan` there)')
    .option('--to <fingerprint>', 'with --lan: the box whose fingerprint its owner\'s screen shows')
    .option('--wait <seconds>', 'with --lan: how long to look for boxes asking', (v) => Number(v), 30)
    .option('--yes', 'with --lan: invite the one box asking without asking you')
    .action(async (ref: string, key: string | undefined, o: { name?: string; admin?: boolean; expires?: string; lan?: boolean; to?: string; wait: number; yes?: boolean }) => {
      const g = await resolve(ref)
      const role = o.admin ? 'admin' : 'member'
      if (o.lan) return inviteNearby(g, { ...o, role })
      if (!key || !o.name) throw new InvalidInput('Give the invited box\'s key and --name, or invite a box asking nearby with --lan.')
      const { invite, expiresAt } = await client().request<{ invite: string; expiresAt: string }>('POST', `/groups/${g.key}/invites`, {
        body: { publicKey: key, name: o.name, role, expiresIn: o.expires ?? '1d' },
      })
      out(`Invited ${o.name} to "${g.name}" until ${expiresAt}. Give them this code (only their box can read it, and it works once):\n`)
      out(`  coffer groups join ${invite}\n`)
      out('Your box must be running when they join.')
    })

  /** Looks for boxes asking nearby, picks one by fingerprint (or the only one, once confirmed), and sends it the invite. */
  const inviteNearby = async (g: GroupView, o: { name?: string; role: string; expires?: string; to?: string; wait: number; yes?: boolean }) => {
    const seen = await lookNearby(o.to, o.wait)
    const box = o.to ? seen.find((b) => sameFingerprint(o.to!, b.fingerprint)) : seen.length === 1 ? seen[0] : undefined
    if (!box && seen.length === 0) throw new InvalidInput(`No box asked to join nearby within ${o.wait} s: its owner runs \`coffer groups join --lan\` (or asks on their Groups page) on this network.`)
    if (!box) {
      out(nearbyTable(seen))
      throw new InvalidInput(o.to ? `None of them has the fingerprint ${o.to}: compare it with their screen again.` : 'Several boxes are asking nearby: pick one by the fingerprint its owner\'s screen shows, with --to.')
    }
    if (!o.to) {
      out(nearbyTable([box]))
      if (!o.yes && !(await confirm(`Invite ${o.name ?? box.name ?? 'this box'} (${box.fingerprint}) to "${g.name}"? Check the fingerprint on their screen first.`))) {
        throw new InvalidInput('Not invited. Compare the fingerprint with their screen, then run again with --to FINGERPRINT (or --yes).')
      }
    }
    const sent = await client().request<{ invite: string; expiresAt: string; to: NearbyView; adminFingerprint: string; arrived: boolean }>('POST', `/groups/${g.key}/invites/lan`, {
      body: { to: box.fingerprint, ...(o.name ? { name: o.name } : {}), role: o.role, expiresIn: o.expires ?? '1h' },
    })
    out(`Invited ${o.name ?? sent.to.name} (${sent.to.fingerprint}) to "${g.name}" until ${sent.expiresAt}.`)
    out(sent.arrived
      ? `Their box has the invite. It shows your fingerprint ${sent.adminFingerprint}: they compare it before they join.`
      : `Their box did not say it has the invite. It shows your fingerprint ${sent.adminFingerprint}; if nothing arrives there, give them this code another way (only their box can read it):\n\n  coffer groups join ${sent.invite}\n`)
    out('Your box must be running when they join.')
  }

  /** Polls the boxes asking nearby: until the one with `to` is heard, or any, then a moment more to hear whether there are others. */
  const lookNearby = async (to: string | undefined, seconds: number): Promise<NearbyView[]> => {
    const end = Date.now() + seconds * 1000
    let heardAt: number | undefined
    for (;;) {
      const { nearby } = await client().request<{ nearby: NearbyView[] }>('GET', '/groups/lan/nearby')
      if (to ? nearby.some((b) => sameFingerprint(to, b.fingerprint)) : heardAt !== undefined && Date.now() - heardAt > HEAR_OTHERS_MS) return nearby
      if (nearby.length > 0) heardAt ??= Date.now()
      if (Date.now() > end) return nearby
      await new Promise((resolve) => setTimeout(resolve, POLL_MS))
    }
  }

  groups.command('join [code]').description('join a group with an invite made for this box, or with --lan ask to join on this local network')
    .option('--as <name>', 'your name in the group (default: what the admin called you)')
    .option('--lan', 'ask an admin\'s box on this local network to invite this box; you compare fingerprints')
    .option('--wait <seconds>', 'with --lan: how long to ask', (v) => Number(v), 120)
    .option('--yes', 'with --lan: join the first invite that arrives without asking you')
    .action(async (code: string | undefined, o: { as?: string; lan?: boolean; wait: number; yes?: boolean }) => {
      if (o.lan) return joinNearby(o)
      if (!code) throw new InvalidInput('Give the invite code the admin sent, or ask to join on this local network with --lan.')
      joined(await client().request<GroupView>('POST', '/groups/join', { body: { code, ...(o.as ? { as: o.as } : {}) } }))
    })

  const joined = (g: GroupView) => out(`Joined "${g.name}" with ${g.members.length - 1} other ${g.members.length === 2 ? 'member' : 'members'}. Its drive: ${drive(g)}`)

  /** Announces this box until an invite sealed to it arrives, shows it, and joins once the owner says yes. */
  const joinNearby = async (o: { as?: string; wait: number; yes?: boolean }) => {
    let status = await client().request<AskView>('POST', '/groups/lan/ask', { body: { ...(o.as ? { as: o.as } : {}), wait: o.wait } })
    out(`Asking to join on the local network${o.as ? ` as ${o.as}` : ''} for ${o.wait} s. This box's fingerprint: ${status.fingerprint}`)
    out('The admin\'s screen shows it beside your name: they invite the box with that fingerprint.')
    let reported = 0
    while (status.offers.length === 0) {
      for (const r of status.refused.slice(reported)) out(`! ${r.reason}`)
      reported = status.refused.length
      if (!status.asking) throw new InvalidInput(`No invite for this box arrived within ${o.wait} s. Ask the admin to invite the box with the fingerprint ${status.fingerprint}, or for an invite code.`)
      await new Promise((resolve) => setTimeout(resolve, POLL_MS))
      status = await client().request<AskView>('GET', '/groups/lan/ask')
    }
    const offer = status.offers[0]!
    out(`Invited to "${offer.groupName}" as ${offer.as} (${offer.role}), until ${offer.expiresAt}, by the admin whose fingerprint is ${offer.adminFingerprint}.`)
    if (!o.yes && !(await confirm(`Join "${offer.groupName}"? Check the admin's fingerprint on their screen first.`))) {
      await client().request('DELETE', '/groups/lan/ask')
      throw new InvalidInput('Not joined. Run again with --yes once the admin\'s fingerprint matches.')
    }
    joined(await client().request<GroupView>('POST', '/groups/lan/join', { body: { offer: offer.id, ...(o.as ? { as: o.as } : {}) } }))
  }

  groups.command('members <group>').description('a group\'s members, each signed by its own box and added by an admin')
    .option('--json', 'machine-readable output')
    .action(async (ref: string, o: { json?: boolean }) => {
      const { members: list } = await client().request<{ members: MemberView[] }>('GET', `/groups/${(await resolve(ref)).key}/members`)
      if (o.json) return json(list)
      out(members(list))
    })

  groups.command('remove <group> <member>')
    .description('remove a member (by name or box key): it is cut off at once and the group moves to a new key, so it reads nothing written from now on')
    .action(async (ref: string, who: string) => {
      const g = await resolve(ref)
      const found = g.members.filter((m) => !m.you && (m.name === who || m.box.startsWith(who.toLowerCase())))
      if (found.length !== 1) throw new InvalidInput(found.length === 0 ? `No other member "${who}" in "${g.name}": see \`coffer groups members\`.` : `"${who}" names several members: give their box key.`)
      const after = await client().request<GroupView>('DELETE', `/groups/${g.key}/members/${found[0]!.box}`)
      out(`Removed ${found[0]!.name} from "${g.name}". The group now uses a new key (epoch ${after.epoch}); the other members move to it by themselves.`)
      out(`What ${found[0]!.name} already had stays with them; nothing written from now on is readable to them.`)
    })

  const replicator = groups.command('replicator').description('a group\'s blind replicators: they hold its cores, encrypted, for members who are offline')
  const pick = (g: GroupView, ref: string): ReplicatorView => {
    const found = g.replicators.filter((r) => r.name === ref || r.box.startsWith(ref.toLowerCase()))
    if (found.length !== 1) throw new InvalidInput(found.length === 0 ? `No replicator "${ref}" in "${g.name}": see \`coffer groups replicator list\`.` : `"${ref}" names several replicators: give their key.`)
    return found[0]!
  }

  replicator.command('add <group> <replicator-key>')
    .description('invite a blind replicator (its operator runs `coffer replicator id` for the key): the code is sealed to it, pairs once, and expires')
    .requiredOption('--name <name>', 'what to call it, e.g. "Co-op server"')
    .option('--expires <duration>', 'how long the invite stays good: 30m, 12h, 2d', '1h')
    .action(async (ref: string, key: string, o: { name: string; expires: string }) => {
      const g = await resolve(ref)
      const { invite, expiresAt } = await client().request<{ invite: string; expiresAt: string }>('POST', `/groups/${g.key}/replicators`, {
        body: { publicKey: key, name: o.name, expiresIn: o.expires },
      })
      out(`Invited "${o.name}" to hold "${g.name}" until ${expiresAt}. Give its operator this code (only that replicator can read it, and it pairs once):\n`)
      out(`  coffer replicator accept ${invite} --quota 10GiB\n`)
      out('Your box must be running when it pairs. It holds the group\'s files encrypted, and no key to read them.')
    })

  replicator.command('list <group>').description('a group\'s replicators: connected, what each holds, how far behind this box, when last in sync')
    .option('--json', 'machine-readable output')
    .action(async (ref: string, o: { json?: boolean }) => {
      const { replicators: list } = await client().request<{ replicators: ReplicatorView[] }>('GET', `/groups/${(await resolve(ref)).key}/replicators`)
      if (o.json) return json(list)
      out(list.length === 0 ? 'No replicator yet: `coffer groups replicator add <group> <replicator-key> --name <name>`.' : replicators(list))
    })

  replicator.command('set <group> <replicator>').alias('limit')
    .description('this box\'s sync windows and bandwidth limits to a replicator (by name or key); those left out stay as they were')
    .option('--window <HH:MM-HH:MM...>', 'sync only in these windows, in your time zone (may wrap midnight): outside them this box neither dials nor admits it')
    .option('--always', 'sync at any time (no windows)')
    .option('--upload <bytes>', 'upload limit, bytes a second; 0: none', (v) => Number(v))
    .option('--download <bytes>', 'download limit, bytes a second; 0: none', (v) => Number(v))
    .action(async (ref: string, who: string, o: { window?: string[]; always?: boolean; upload?: number; download?: number }) => {
      const g = await resolve(ref)
      const r = pick(g, who)
      const windows = o.always ? [] : o.window?.flatMap((w) => w.split(','))
      const after = await client().request<ReplicatorView>('PATCH', `/groups/${g.key}/replicators/${r.box}`, {
        body: {
          ...(windows !== undefined ? { windows } : {}),
          ...(o.upload !== undefined ? { uploadBytesPerSecond: o.upload } : {}), ...(o.download !== undefined ? { downloadBytesPerSecond: o.download } : {}),
        },
      })
      out(`"${after.name}": syncs ${after.windows.length === 0 ? 'at any time' : `in ${after.windows.join(', ')}`} (${after.inWindow ? 'in a window now' : 'outside its windows now: not connected until one opens'}); upload ${after.limits.uploadBytesPerSecond || 'none'}, download ${after.limits.downloadBytesPerSecond || 'none'} (bytes a second).`)
    })

  replicator.command('remove <group> <replicator>').description('remove a replicator (by name or key): every member stops admitting it')
    .action(async (ref: string, who: string) => {
      const g = await resolve(ref)
      const r = pick(g, who)
      await client().request('DELETE', `/groups/${g.key}/replicators/${r.box}`)
      out(`Removed "${r.name}" from "${g.name}". What it already holds stays on its disk, encrypted; ask its operator to run \`coffer replicator remove ${g.key.slice(0, 8)}\`.`)
    })

  const sources = groups.command('sources').description('sources a group holds: a member shares one, and every member\'s box keeps a read-only copy its apps may be granted, under the sharer\'s rules')
  const ruleOptions = (command: Command) => command
    .option('--apps <what>', 'what members\' apps may be granted: none, aggregates or raw')
    .option('--finest <bucket>', 'with --apps aggregates: the finest bucket apps may read, e.g. 1h or 1d')
    .option('--gateway', 'let an app that reads it send data out of a member\'s box through the gateway')
    .option('--no-gateway', 'an app that reads it sends nothing out of a member\'s box')
    .option('--market', 'let a member\'s box use it in answers to a data market')
    .option('--no-market', 'it answers no data market')

  sources.command('list <group>').description('the sources shared with a group: who shares each, its rules, and what this box holds of it')
    .option('--json', 'machine-readable output')
    .action(async (ref: string, o: { json?: boolean }) => {
      const { sources: list } = await client().request<{ sources: SharedSourceView[] }>('GET', `/groups/${(await resolve(ref)).key}/sources`)
      if (o.json) return json(list)
      out(list.length === 0 ? 'No source is shared with this group yet: `coffer groups sources share <group> <source>`.' : shared(list))
    })

  ruleOptions(sources.command('share <group> <source>'))
    .description('share one of your sources with a group: what it holds now and each new record reach every member\'s box, as a read-only copy (default rules: apps see hourly aggregates; nothing leaves their boxes)')
    .action(async (ref: string, source: string, o: { apps?: string; finest?: string; gateway?: boolean; market?: boolean }) => {
      const g = await resolve(ref)
      const s = await client().request<SharedSourceView>('POST', `/groups/${g.key}/sources`, { body: { source, ...rulesOf(o) } })
      out(`Shared "${s.source}" with "${g.name}". Each member's box holds a read-only copy of it; its records follow as they arrive.`)
      out(`Rules: ${describeRules(s.rules)}.`)
    })

  ruleOptions(sources.command('rules <group> <source>'))
    .description('change the rules a source you share is held under; those you leave out stay as they were')
    .action(async (ref: string, source: string, o: { apps?: string; finest?: string; gateway?: boolean; market?: boolean }) => {
      const g = await resolve(ref)
      const s = await client().request<SharedSourceView>('PATCH', `/groups/${g.key}/sources/${encodeURIComponent(source)}`, { body: rulesOf(o) })
      out(`"${s.source}" in "${g.name}": ${describeRules(s.rules)}. Members' boxes enforce this once they hear it.`)
    })

  sources.command('stop <group> <source>').description('stop sharing a source with a group: no new record reaches the members')
    .action(async (ref: string, source: string) => {
      const g = await resolve(ref)
      await client().request('DELETE', `/groups/${g.key}/sources/${encodeURIComponent(source)}`)
      out(`Stopped sharing "${source}" with "${g.name}". No new record reaches the members; what they already hold stays with them.`)
    })

  groups.command('leave <group>').description('leave a group: its members hear it, and this box deletes its copy of the group and its drive')
    .action(async (ref: string) => {
      const g = await resolveAny(ref)
      await client().request('POST', `/groups/${g.key}/leave`)
      if ('reason' in g) out(`Dropped "${g.name}" from this box. It could not be opened, so its members were not told: they list this box until an admin removes it.`)
      else out(`Left "${g.name}". Files you wrote stay with the other members; this box keeps nothing of the group.`)
    })
}
