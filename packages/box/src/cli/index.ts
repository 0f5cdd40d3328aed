/**
 * The `coffer` command. `init`, `start` and `demo` work on the box home directly; every other
 * command goes through the running box's HTTP API, so it is checked and audited like any client.
 * Only commander and the HTTP client (over node:http, not fetch: see http.ts) load with it: each
 * command imports what else it needs, even node:crypto, so one that only talks to the box starts
 * about as fast as a bare node process. `bench/cli.ts` measures it.
 */
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { Command, CommanderError, Option } from 'commander'
import type { Settings } from '../home/index.ts'
import type { VerifyReport } from '../audit/index.ts'
import { CofferError, InvalidInput } from '../errors/index.ts'
import type { AggregateResult } from '../store/index.ts'
import type { CsvPreview, ImportJob } from '../importers/index.ts'
import type { Driver, NewDevice } from '../drivers/index.ts'
import type { ReplicaView } from '../backup/index.ts'
import { Client, NotRunning } from './connect.ts'
import { resolveHomeDir } from '../home/paths.ts'
import { readSecret } from './prompt.ts'
import { statementCommand } from './statement.ts'
import { marketCommands } from './market.ts'
import { backupCommands, replicatorCommands } from './backup.ts'
import { groupCommands } from './groups.ts'
import { bytes, isoTime, json, out, table } from './format.ts'
import { appCommands } from './apps.ts'

const DEMO_PASSPHRASE = 'coffer-demo-passphrase'
/** The repository's example apps, which the demo installs once they are built. */
const EXAMPLE_APPS = fileURLToPath(new URL('../../../../apps/', import.meta.url))

export async function main(argv: string[]): Promise<number> {
  // A reader that stops early (`coffer audit list | head`) ends the command quietly, as it ends Unix
  // tools, instead of an unhandled EPIPE with a stack trace.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err
    process.exit(0)
  })
  const program = buildProgram()
  try {
    await program.parseAsync(argv)
    return 0
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode
    if (err instanceof CofferError) {
      process.stderr.write(`error: ${err.title}: ${err.message}\n`)
      return 1
    }
    process.stderr.write(`error: ${(err as Error).stack ?? String(err)}\n`)
    return 2
  }
}

function buildProgram(): Command {
  const program = new Command('coffer')
    .description('Coffer: a personal data box you control.')
    .option('--home <dir>', 'box home (default: $COFFER_HOME, else ~/.coffer)')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
  const home = () => resolveHomeDir(program.opts().home as string | undefined)
  const client = () => Client.forHome(home())

  program.command('init')
    .description('create a box: a new root seed shown once as 24 words, and the owner passphrase')
    .option('--recover', 'rebuild the same keys from a recovery phrase (read from COFFER_RECOVERY_WORDS or the terminal)')
    .action(async (opts: { recover?: boolean }) => {
      const dir = home()
      const words = opts.recover ? await readSecret('Recovery phrase (24 words): ', 'COFFER_RECOVERY_WORDS') : undefined
      const passphrase = await readSecret('Owner passphrase: ', 'COFFER_PASSPHRASE')
      const { initHome } = await import('../home/index.ts')
      const { home: h, words: phrase, notice } = initHome(dir, { passphrase, words })
      out(`Created a box in ${dir}`)
      if (notice) out(notice)
      out(`Identity: ${h.config.identity}`)
      if (!opts.recover) {
        out('\nRecovery phrase — write these 24 words down and keep them offline. They are shown only now,')
        out('and with them alone `coffer init --recover` rebuilds every key of this box:\n')
        out(phrase.split(' ').map((w, i) => `${String(i + 1).padStart(2)}. ${w}`).join('\n'))
      }
      out(`\nNext: coffer start --home ${dir}`)
    })

  program.command('start')
    .description('serve the box over HTTP')
    .option('--port <port>', 'port to listen on', '7780')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .action(async (opts: { port: string; host: string }) => {
      const { serve } = await import('./serve.ts')
      await serve(home(), opts)
    })

  program.command('demo')
    .description('create a box with three weeks of demo data (if there is none yet) and serve it')
    .option('--port <port>', 'port to listen on', '7780')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--no-market', 'do not start the demo data market beside the box')
    .action(async (opts: { port: string; host: string; market: boolean }) => {
      const dir = program.opts().home ? home() : path.resolve(process.env.COFFER_HOME ?? '.coffer-demo')
      const passphrase = process.env.COFFER_PASSPHRASE ?? DEMO_PASSPHRASE
      const [{ initHome }, { serve }, { loadDemo, loadDemoApps }] = await Promise.all([
        import('../home/index.ts'), import('./serve.ts'), import('../demo/index.ts'),
      ])
      if (!fs.existsSync(path.join(dir, 'config.json'))) {
        const { notice } = initHome(dir, { passphrase })
        out(`Created a demo box in ${dir} (owner passphrase: ${passphrase})`)
        if (notice) out(notice)
      }
      let market: { close(): Promise<void> } | undefined
      await serve(dir, opts, async (box) => {
        await loadDemo(box, Date.now() / 1000, (source, count) => out(`  loaded ${count} demo records into ${source}`))
        await loadDemoApps(box.apps, EXAMPLE_APPS, (app, ran) => out(`  installed the example app ${app} and granted it; ${ran}`))
        if (opts.market) {
          const { startDemoMarket } = await import('../demo/market.ts')
          const port = Number(opts.port)
          market = await startDemoMarket(box, port === 0 ? 0 : port + 10, out)
        }
      }, async () => market?.close())
    })

  program.command('status')
    .description('show whether the box is running, and what it holds')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => {
      const status = await client().request<Record<string, unknown>>('GET', '/status')
      if (opts.json) return json(status)
      out(`Box ${String(status.identity).slice(0, 16)}… running at ${client().url}`)
      out(`Sources: ${status.sources}   audit entries: ${status.auditEntries}   up ${status.uptimeSeconds}s   memory ${bytes(Number(status.rssBytes))}`)
      const drivers = status.drivers as { id: string; state: string; lastError: string | null }[]
      if (drivers.length > 0) out(`Drivers: ${drivers.map((d) => `${d.id} ${d.state}${d.lastError ? ` (last error: ${d.lastError})` : ''}`).join(', ')}`)
      if (Number(status.importsRunning) > 0) out(`Imports running: ${status.importsRunning}`)
      const { replicas } = await client().request<{ replicas: ReplicaView[] }>('GET', '/backup/replicas')
      if (replicas.length === 0) out('Backup: no replica yet (`coffer backup invite`)')
      else out(`Backup: ${replicas.length} ${replicas.length === 1 ? 'replica' : 'replicas'}${replicas.filter((r) => r.stale).map((r) => `; STALE ${r.name}: ${r.problems.join(' ')}`).join('')}`)
    })

  const sources = program.command('sources').description('list, add, show and delete sources')
  sources.command('list').option('--json', 'machine-readable output').action(async (opts: { json?: boolean }) => {
    const list = await client().request<Record<string, unknown>[]>('GET', '/sources')
    if (opts.json) return json(list)
    out(table(list.map((s) => ({ ...s, size: bytes(Number(s.bytes)), last: isoTime(s.last as number | null) })), ['id', 'kind', 'logicalType', 'points', 'keys', 'size', 'last']))
  })
  sources.command('add <id>')
    .description('add a source')
    .addOption(new Option('--kind <kind>', 'timeseries or kv').choices(['timeseries', 'kv']).default('timeseries'))
    .option('--type <logicalType>', 'logical type: location, health, activity, environment, energy, communication, finance, identity, other', 'other')
    .option('--description <text>', 'what this source holds', '')
    .option('--attribute <name:type[:unit]>', 'declare an attribute (type: number, string, boolean, bytes); repeatable', (v: string, all: string[]) => [...all, v], [] as string[])
    .option('--json', 'machine-readable output')
    .action(async (id: string, opts: { kind: string; type: string; description: string; attribute: string[]; json?: boolean }) => {
      const attributes = opts.attribute.map((a) => {
        const [name, technicalType, unit] = a.split(':')
        if (!name || !technicalType) throw new InvalidInput(`--attribute ${a}: write it as name:type or name:type:unit, e.g. temperature:number:Cel.`)
        return { name, technicalType, ...(unit ? { unit } : {}) }
      })
      const meta = await client().request('POST', '/sources', { body: { id, kind: opts.kind, logicalType: opts.type, description: opts.description, attributes } })
      if (opts.json) return json(meta)
      out(`Added source ${id}. Write to it with: coffer ingest FILE --source ${id}`)
    })
  sources.command('show <id>').option('--json', 'machine-readable output').action(async (id: string, opts: { json?: boolean }) => {
    const s = await client().request<Record<string, unknown> & { series: Record<string, unknown>[] }>('GET', `/sources/${encodeURIComponent(id)}`)
    if (opts.json) return json(s)
    out(`${s.id} (${s.kind}, ${s.logicalType}) ${s.description ? `— ${s.description}` : ''}`)
    out(`points ${s.points}, keys ${s.keys}, view ${bytes(Number(s.bytes))}, log blocks ${s.logLength}`)
    out(`from ${isoTime(s.first as number | null)} to ${isoTime(s.last as number | null)}`)
    out(table(s.series, ['name', 'type', 'unit']))
  })
  sources.command('delete <id>')
    .description('delete a source: its view, and its blocks from the local log')
    .option('--yes', 'do not ask for confirmation')
    .action(async (id: string, opts: { yes?: boolean }) => {
      if (!opts.yes) throw new InvalidInput(`Deleting "${id}" removes all its data from this box. Run again with --yes to confirm.`)
      const r = await client().request<{ records: number }>('DELETE', `/sources/${encodeURIComponent(id)}`)
      out(`Deleted source ${id} (${r.records} records).`)
    })

  program.command('ingest <file>')
    .description('append a SenML pack (JSON or CBOR; "-" reads standard input) to a source')
    .requiredOption('--source <id>', 'source to write to')
    .option('--json', 'machine-readable output')
    .action(async (file: string, opts: { source: string; json?: boolean }) => {
      const body = file === '-' ? await readStdin() : readFile(file)
      // Sniffed, not guessed from the name: a SenML JSON pack starts with '[' (after any whitespace).
      const text = body.subarray(0, 64).toString('utf8').replace(/^\uFEFF/, '').trimStart()
      const { SENML_CBOR, SENML_JSON } = await import('../senml/index.ts')
      const contentType = text.startsWith('[') ? SENML_JSON : SENML_CBOR
      const r = await client().request<{ stored: number }>('POST', `/sources/${encodeURIComponent(opts.source)}/records`, { raw: body, contentType })
      if (opts.json) return json(r)
      out(`Stored ${r.stored} records in ${opts.source}.`)
    })

  program.command('import <file>')
    .description('import a file (GPX, Apple Health export, Google location history, iCalendar, or CSV with a --profile); the format is sniffed from the content')
    .option('--source <id>', 'source to import into (default by format: gpx, apple-health, google-location, google-timeline)')
    .option('--format <format>', 'skip sniffing: gpx, apple-health, google-records, google-semantic, google-timeline, ical or csv')
    .option('--profile <name|file.json>', 'CSV: a saved column mapping, or a JSON file with one (saved under its file name)')
    .option('--save-profile <name>', 'CSV: the name to save the --profile file under')
    .option('--json', 'machine-readable output')
    .action(async (file: string, o: { source?: string; format?: string; profile?: string; saveProfile?: string; json?: boolean }) => {
      const c = client()
      let profile = o.profile
      if (profile?.endsWith('.json')) {
        const name = o.saveProfile ?? path.basename(profile, '.json').toLowerCase().replace(/[^a-z0-9._-]/g, '-')
        await c.request('PUT', `/csv-profiles/${encodeURIComponent(name)}`, { body: readJson(profile) })
        if (!o.json) out(`Saved CSV profile "${name}"; next time: --profile ${name}`)
        profile = name
      }
      const size = fileSize(file)
      if (!profile && (o.format === 'csv' || /\.(csv|tsv)$/i.test(file))) await suggestMapping(c, file)
      const { randomUUID } = await import('node:crypto')
      const id = randomUUID()
      const progress = new Progress(path.basename(file), size)
      // Follow the import's progress on the box while the upload is under way.
      const timer = setInterval(() => {
        c.request<ImportJob>('GET', `/imports/${id}`).then((job) => progress.show(job), () => undefined)
      }, 250)
      try {
        const job = await c.request<ImportJob>('POST', '/imports', {
          raw: () => fs.createReadStream(file), contentType: 'application/octet-stream', query: { id, name: path.basename(file), source: o.source, format: o.format, profile },
        })
        progress.done()
        if (o.json) return json(job)
        if (job.state === 'duplicate') out(job.error ?? 'Already imported; nothing was added.')
        else out(`Imported ${job.records} records from ${path.basename(file)} (${job.format}) into ${job.source}.`)
      } finally {
        clearInterval(timer)
        progress.done()
      }
    })

  program.command('query <source>')
    .description('read records: raw (default), --latest, or --aggregate FN with --bucket')
    .option('--latest', 'the newest record of each name')
    .option('--from <time>', 'start, inclusive (ISO 8601 or epoch seconds)')
    .option('--to <time>', 'end, exclusive')
    .option('--limit <n>', 'at most this many records', '1000')
    .addOption(new Option('--order <order>', 'asc or desc').choices(['asc', 'desc']).default('asc'))
    .option('--name <names>', 'record names, comma-separated')
    .option('--aggregate <fn>', 'bucketed statistic: count, sum, min, max, mean, sd, median, p90 or p99 (from sketches within 1%; exact_median, exact_p90, exact_p99 read every point); or several, comma-separated')
    .option('--bucket <size>', 'bucket size for --aggregate: 5m, 1h, 1d …', '1h')
    .option('--tz <zone>', 'time zone for day buckets', 'UTC')
    .option('--json', 'machine-readable output')
    .action(async (source: string, o: { latest?: boolean; from?: string; to?: string; limit: string; order: string; name?: string; aggregate?: string; bucket: string; tz: string; json?: boolean }) => {
      const c = client()
      const base = `/sources/${encodeURIComponent(source)}`
      if (o.aggregate) {
        if (!o.from || !o.to) throw new InvalidInput('--aggregate needs --from and --to.')
        const r = await c.request<AggregateResult>('GET', `${base}/aggregate`, { query: { fn: o.aggregate, bucket: o.bucket, from: o.from, to: o.to, tz: o.tz, name: o.name } })
        if (o.json) return json(r)
        const fns = o.aggregate!.split(',')
        return out(table(r.buckets.map((b) => ({ start: isoTime(b.start), count: b.count, ...(b.values ?? { [fns[0]!]: b.value }) })), ['start', 'count', ...fns.filter((f) => f !== 'count')]))
      }
      const records = o.latest
        ? await c.request<Record<string, unknown>[]>('GET', `${base}/latest`, { query: { name: o.name } })
        : await c.request<Record<string, unknown>[]>('GET', `${base}/records`, { query: { from: o.from, to: o.to, limit: o.limit, order: o.order, name: o.name } })
      const parsed = typeof records === 'string' ? (JSON.parse(records) as Record<string, unknown>[]) : records
      if (o.json) return json(parsed)
      out(table(parsed.map((r) => ({ time: isoTime(r.t as number), name: r.n, value: r.v ?? r.vs ?? r.vb ?? r.vd ?? null, unit: r.u, sum: r.s })), ['time', 'name', 'value', 'unit', 'sum']))
    })

  const token = program.command('token').description('mint, list and revoke tokens')
  token.command('owner')
    .description('print an owner API token for scripts')
    .option('--expires <duration>', 'lifetime: 12h, 30d …', '30d')
    .action(async (opts: { expires: string }) => {
      const [{ parseDuration }, { openHome }, { mintOwnerToken }] = await Promise.all([import('../duration/index.ts'), import('../home/index.ts'), import('./client.ts')])
      const ttl = parseDuration(opts.expires, 'expires')
      out(mintOwnerToken(openHome(home()), ttl).token)
    })
  token.command('device <source>')
    .description('print a token that can only write to one source')
    .option('--name <name>', 'device name (default: the source id)')
    .option('--expires <duration>', 'lifetime: 30d, 52w …', '52w')
    .option('--json', 'machine-readable output')
    .action(async (source: string, opts: { name?: string; expires: string; json?: boolean }) => {
      const r = await client().request<{ token: string; expires: number; grant: { id: string } }>('POST', '/tokens', { body: { subject: 'device', name: opts.name, sources: [source], ops: ['write'], expiresIn: opts.expires } })
      if (opts.json) return json(r)
      out(r.token)
      process.stderr.write(`(grant ${r.grant.id}; expires ${isoTime(r.expires)}; revoke with: coffer token revoke ${r.grant.id})\n`)
    })
  token.command('list').description('list grants').option('--json', 'machine-readable output').action(async (opts: { json?: boolean }) => {
    const grants = await client().request<Record<string, unknown>[]>('GET', '/grants')
    if (opts.json) return json(grants)
    out(table(grants.map((g) => ({ ...g, sources: Array.isArray(g.sources) ? (g.sources as string[]).join(',') : g.sources, ops: (g.ops as string[]).join(',') })), ['id', 'subject', 'sources', 'ops', 'epoch', 'revoked']))
  })
  token.command('revoke <grant>').description('revoke a grant: its tokens stop working at once').action(async (grant: string) => {
    await client().request('DELETE', `/grants/${encodeURIComponent(grant)}`)
    out(`Revoked ${grant}.`)
  })

  const map = program.command('map').description('map tiles under location tracks in the cockpit (none unless you choose a tile server)')
  const showMap = (s: Settings) => out(s.map ? `Tracks are drawn over tiles from ${s.map.tiles}${s.map.attribution ? ` (${s.map.attribution})` : ''}.` : 'No tile server: tracks are drawn on their own.')
  map.command('show', { isDefault: true }).description('the tile server in use, if any').action(async () => showMap(await client().request<Settings>('GET', '/settings')))
  map.command('set <tiles>')
    .description('use a tile server: a URL template with {z}, {x} and {y}; your browser will fetch tiles from it, so it sees which areas you look at')
    .option('--attribution <text>', 'the credit the tile server asks you to show')
    .action(async (tiles: string, o: { attribution?: string }) => showMap(await client().request<Settings>('PUT', '/settings/map', { body: { tiles, attribution: o.attribution } })))
  map.command('clear').description('stop using the tile server').action(async () => showMap(await client().request<Settings>('DELETE', '/settings/map')))

  const drivers = program.command('drivers').description('drivers that bring data in: OwnTracks (HTTP or MQTT) and generic MQTT')
  drivers.command('list').option('--json', 'machine-readable output').action(async (opts: { json?: boolean }) => {
    const list = await client().request<Driver[]>('GET', '/drivers')
    if (opts.json) return json(list)
    out(table(list.map(driverRow), ['id', 'kind', 'sources', 'state', 'records', 'lastData', 'lastError']))
  })
  drivers.command('status <id>').option('--json', 'machine-readable output').action(async (id: string, opts: { json?: boolean }) => {
    const d = await client().request<Driver>('GET', `/drivers/${encodeURIComponent(id)}`)
    if (opts.json) return json(d)
    out(`${d.id} (${d.kind}) ${d.status.state} since ${isoTime(d.status.since)}; writes to ${d.sources.join(', ')} with grant ${d.grant}`)
    out(`records ${d.status.records}, last data ${isoTime(d.status.lastData)}`)
    if (d.status.lastError) out(`last error at ${isoTime(d.status.lastError.at)}: ${d.status.lastError.message}`)
  })
  drivers.command('add <kind> <id>')
    .description('add a driver: kind is owntracks or mqtt; the configuration comes from --config FILE or, for owntracks, the flags')
    .option('--config <file>', 'JSON configuration (see the README for both kinds)')
    .addOption(new Option('--mode <mode>', 'owntracks: http (the app posts to the box) or mqtt').choices(['http', 'mqtt']).default('http'))
    .option('--broker <url>', 'owntracks mqtt mode: mqtt://host:1883')
    .option('--source <id>', 'owntracks: the source to write to', 'location')
    .option('--json', 'machine-readable output')
    .action(async (kind: string, id: string, o: { config?: string; mode: string; broker?: string; source: string; json?: boolean }) => {
      const config = o.config ? readJson(o.config) : { mode: o.mode, source: o.source, ...(o.broker ? { broker: o.broker } : {}) }
      const d = await client().request<Driver>('POST', '/drivers', { body: { id, kind, config } })
      if (o.json) return json(d)
      out(`Added driver ${id}, writing to ${d.sources.join(', ')}; it is ${d.status.state}.`)
      if (kind === 'owntracks' && o.mode === 'http') out(`Next: coffer drivers device add ${id} USER DEVICE — prints the settings for the phone.`)
    })
  drivers.command('configure <id>')
    .description('replace a driver\'s configuration (from --config FILE) and restart it')
    .requiredOption('--config <file>', 'JSON configuration')
    .action(async (id: string, o: { config: string }) => {
      const d = await client().request<Driver>('PUT', `/drivers/${encodeURIComponent(id)}`, { body: { config: readJson(o.config) } })
      out(`Reconfigured ${id}; it is ${d.status.state}.`)
    })
  drivers.command('remove <id>').description('remove a driver and revoke its grant (its sources and data stay)').action(async (id: string) => {
    await client().request('DELETE', `/drivers/${encodeURIComponent(id)}`)
    out(`Removed driver ${id}.`)
  })
  for (const action of ['start', 'stop'] as const) {
    drivers.command(`${action} <id>`).description(`${action} a driver`).action(async (id: string) => {
      const d = await client().request<Driver>('POST', `/drivers/${encodeURIComponent(id)}/${action}`)
      out(`${id} is ${d.status.state}.`)
    })
  }
  drivers.command('device').description('OwnTracks devices').command('add <driver> <user> <device>')
    .description('add a phone to an OwnTracks HTTP driver and print the settings for the app (the password is shown once)')
    .option('--json', 'machine-readable output')
    .action(async (driver: string, user: string, device: string, o: { json?: boolean }) => {
      const r = await client().request<NewDevice>('POST', `/drivers/${encodeURIComponent(driver)}/devices`, { body: { user, device } })
      if (o.json) return json(r)
      out('In the OwnTracks app: Settings → Connection → Mode HTTP, then')
      out(`  URL:       ${r.url}`)
      out(`  User ID:   ${r.user}`)
      out(`  Device ID: ${r.device}`)
      out(`  Password:  ${r.password}    (shown only now)`)
    })

  appCommands(program, client)

  const audit = program.command('audit').description('read and verify the audit log')
  audit.command('list', { isDefault: true })
    .option('--subject <subject>').option('--source <id>').option('--operation <op>')
    .addOption(new Option('--outcome <outcome>').choices(['allow', 'deny']))
    .option('--from <time>').option('--to <time>').option('--limit <n>', 'at most this many entries', '50')
    .option('--json', 'machine-readable output')
    .action(async (o: Record<string, string | boolean | undefined>) => {
      const { json: asJson, ...filter } = o
      const entries = await client().request<Record<string, unknown>[]>('GET', '/audit', { query: filter as Record<string, string> })
      if (asJson) return json(entries)
      out(table(entries.map((e) => ({ ...e, time: isoTime(e.time as number) })), ['seq', 'time', 'subject', 'operation', 'source', 'action', 'records', 'bytes', 'outcome', 'status']))
    })
  audit.command('verify')
    .description('verify every entry against the signed Merkle tree; exits non-zero if anything was altered')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => {
      const report = await verifyAudit(home(), client)
      if (opts.json) json(report)
      else if (report.ok) out(`Audit log intact: ${report.length} entries verified against the signed tree.`)
      else out(`AUDIT LOG DAMAGED:\n${report.problems.map((p) => `  - ${p}`).join('\n')}`)
      if (!report.ok) throw new CommanderError(3, 'coffer.audit', 'audit verification failed')
    })

  statementCommand(program, client)
  marketCommands(program, client)
  backupCommands(program, client, home)
  replicatorCommands(program)
  groupCommands(program, client)

  return program
}

/** Verifies through the running box, or straight from the home when the box is stopped. */
async function verifyAudit(dir: string, client: () => Client) {
  try {
    return await client().request<VerifyReport>('POST', '/audit/verify')
  } catch (err) {
    if (!(err instanceof NotRunning) && !(err instanceof CofferError && err.slug === 'unreachable')) throw err
  }
  const [{ openHome }, { openMetaDb }, { AuditLog }] = await Promise.all([import('../home/index.ts'), import('../db/index.ts'), import('../audit/index.ts')])
  const home = openHome(dir)
  const db = openMetaDb(home.paths.meta)
  const log = new AuditLog(home.paths.audit, home.keys, db)
  try {
    await log.open()
    return await log.verify()
  } catch (err) {
    return { ok: false, length: 0, problems: [`The audit log cannot be opened: ${(err as Error).message}`] }
  } finally {
    await log.close().catch(() => undefined)
    db.close()
  }
}

function driverRow(d: Driver): Record<string, unknown> {
  return { id: d.id, kind: d.kind, sources: d.sources.join(','), state: d.status.state, records: d.status.records, lastData: isoTime(d.status.lastData), lastError: d.status.lastError?.message ?? '-' }
}

/** A CSV without a mapping: the box reads its first lines and guesses one for the owner to check and pass back. */
async function suggestMapping(c: Client, file: string): Promise<never> {
  const { readHead } = await import('../importers/index.ts')
  const p = await c.request<CsvPreview>('POST', '/imports/csv-preview', { raw: readHead(file), contentType: 'application/octet-stream' })
  const guess = {
    time: p.guess.time ?? { column: p.columns[0], format: 'iso' },
    values: p.guess.values.filter((v) => v.type === 'number').map((v) => ({ column: v.column })),
    ...(p.guess.decimal === ',' ? { decimal: ',' } : {}),
  }
  throw new InvalidInput(`A CSV file needs a column mapping. Its columns are ${p.columns.map((col) => `"${col}"`).join(', ')}; from its first lines Coffer guesses:\n${JSON.stringify(guess, null, 2)}\nSave that to a file such as mapping.json, correct it (names, units, a time zone: see the README), then: coffer import ${file} --profile mapping.json`)
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(readFile(file).toString('utf8'))
  } catch (err) {
    throw err instanceof CofferError ? err : new InvalidInput(`${file} is not valid JSON: ${(err as Error).message}`)
  }
}

function fileSize(file: string): number {
  try {
    return fs.statSync(file).size
  } catch {
    throw new InvalidInput(`Cannot read ${file}: no such file.`)
  }
}

/** A one-line progress display on the terminal: bytes, records, rate and time left. */
class Progress {
  readonly #name: string
  readonly #size: number
  readonly #start = Date.now()
  #shown = false

  constructor(name: string, size: number) {
    this.#name = name
    this.#size = size
  }

  show(job: { state: string; bytesRead: number; records: number }): void {
    if (!process.stderr.isTTY) return
    const seconds = (Date.now() - this.#start) / 1000
    const rate = job.bytesRead / Math.max(seconds, 0.001)
    const left = rate > 0 ? Math.max(0, (this.#size - job.bytesRead) / rate) : 0
    const pct = this.#size > 0 ? Math.min(100, Math.floor((job.bytesRead / this.#size) * 100)) : 100
    process.stderr.write(`\r${this.#name}: ${job.state} ${bytes(job.bytesRead)} / ${bytes(this.#size)} ${pct}%  ${job.records} records  ${bytes(rate)}/s  ETA ${Math.ceil(left)}s   `)
    this.#shown = true
  }

  done(): void {
    if (this.#shown) process.stderr.write('\n')
    this.#shown = false
  }
}

function readFile(file: string): Buffer {
  try {
    return fs.readFileSync(file)
  } catch (err) {
    throw new InvalidInput(`Cannot read ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}.`)
  }
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

