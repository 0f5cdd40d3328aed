/** `coffer apps …` and `coffer exports …`: install and consent, run, revoke; the export queue and history. */
import fs from 'node:fs'
import { Command, Option } from 'commander'
import { InvalidInput } from '../errors/index.ts'
import type { AppInfo, ConsentInput, InstallResult, Review, RunReport, AppView } from '../apps/index.ts'
import type { ExportRecord } from '../gateway/index.ts'
import type { Client } from './connect.ts'
import { bytes, isoTime, json, out, table } from './format.ts'
import { confirm } from './prompt.ts'

interface NarrowingOptions { refuse?: string[]; sources?: string[]; granularity?: string[]; window?: string[]; export?: string[] }

/** Flags by which the owner grants less than an app asks. */
function withNarrowing(command: Command): Command {
  return command
    .option('--refuse <request...>', 'refuse an optional source request')
    .option('--sources <request=ids...>', 'only these sources for a request, e.g. steps=steps,watch-steps')
    .option('--granularity <request=bucket...>', 'coarser detail for a request, e.g. steps=1w')
    .option('--window <request=duration...>', 'a shorter window for a request, e.g. steps=7d')
    .option('--export <id=policy...>', 'auto, ask (each time; the default) or deny for a destination')
}

function consentFrom(o: NarrowingOptions): ConsentInput {
  const sources: NonNullable<ConsentInput['sources']> = {}
  const answer = (request: string) => (sources[request] ??= {})
  for (const request of o.refuse ?? []) answer(request).refuse = true
  for (const [request, value] of pairs(o.sources, '--sources')) answer(request).sources = value.split(',').filter(Boolean)
  for (const [request, value] of pairs(o.granularity, '--granularity')) answer(request).granularity = value
  for (const [request, value] of pairs(o.window, '--window')) answer(request).window = value
  const exports = Object.fromEntries(pairs(o.export, '--export')) as ConsentInput['exports']
  return { sources, exports }
}

function pairs(values: string[] | undefined, flag: string): [string, string][] {
  return (values ?? []).map((v) => {
    const at = v.indexOf('=')
    if (at < 1) throw new InvalidInput(`${flag} takes NAME=VALUE, like steps=1d; got "${v}".`)
    return [v.slice(0, at), v.slice(at + 1)]
  })
}

function printReview(review: Review): void {
  const [title, description, purposes, ...rest] = review.text
  out(title!)
  out(`  ${description}`)
  out(`  ${purposes}`)
  for (const line of rest) out(`  • ${line}`)
}

export function appCommands(program: Command, client: () => Client): void {
  const apps = program.command('apps').description('apps that compute over your data inside the box, under your grants')
  const path = (id: string, rest = '') => `/apps/${encodeURIComponent(id)}${rest}`

  apps.command('list').option('--json', 'machine-readable output').action(async (o: { json?: boolean }) => {
    const list = await client().request<AppInfo[]>('GET', '/apps')
    if (o.json) return json(list)
    out(table(list.map((a) => ({ id: a.id, version: a.version, state: a.update ? `${a.state} (update waiting)` : a.state, lastRun: a.lastRun ? `${isoTime(a.lastRun.startedAt)} ${a.lastRun.ok ? 'ok' : a.lastRun.error}` : null })), ['id', 'version', 'state', 'lastRun']))
  })

  withNarrowing(apps.command('install <bundle>')
    .description('install or update an app from its folder or tarball: shows what it asks for, then asks you to grant it')
    .option('--yes', 'grant without asking (with any narrowing flags)')
    .option('--json', 'machine-readable output'))
    .action(async (location: string, o: NarrowingOptions & { yes?: boolean; json?: boolean }) => {
      // Loaded here: reading a bundle needs the app tooling, which no other command does.
      const { readBundle } = await import('../apps/index.ts')
      const result = await client().request<InstallResult>('POST', '/apps', { body: await readBundle(location) })
      if (!result.needsConsent) {
        if (o.json) return json(result)
        return out(`Updated ${result.app.id} to ${result.app.version}: it asks for nothing beyond what you granted, so your grant carries over.`)
      }
      if (!o.json) printReview(result.review)
      if (!o.yes && !(await confirm(`Grant ${result.app.name} what it asks${hasNarrowing(o) ? ' (narrowed as you said)' : ''}?`))) {
        if (o.json) return json(result)
        return out(`Not granted; ${result.app.id} is installed but will not run. Grant it with \`coffer apps grant ${result.app.id}\` (narrow with --granularity, --window, --sources, --refuse, --export).`)
      }
      const app = await client().request<AppInfo>('POST', path(result.app.id, '/grant'), { body: consentFrom(o) })
      if (o.json) return json({ ...result, app, needsConsent: false })
      out(`Granted. ${app.id} ${app.version} is active; run it with \`coffer apps run ${app.id}\`.`)
    })

  apps.command('review <id>').description('what the app (or its waiting update) asks for, in plain words').option('--json', 'machine-readable output')
    .action(async (id: string, o: { json?: boolean }) => {
      const review = await client().request<Review>('GET', path(id, '/review'))
      if (o.json) return json(review)
      printReview(review)
    })

  withNarrowing(apps.command('grant <id>').description('grant what the app asks, or a narrower part; replaces any earlier grant'))
    .action(async (id: string, o: NarrowingOptions) => {
      const app = await client().request<AppInfo>('POST', path(id, '/grant'), { body: consentFrom(o) })
      out(`Granted. ${app.id} ${app.version} is active.`)
      for (const s of app.consent?.sources ?? []) out(`  ${s.request}: ${s.sources.join(', ') || '(no such source yet)'}`)
    })

  apps.command('revoke <id>').description('revoke every grant of the app and stop it now; its next call fails').action(async (id: string) => {
    await client().request('POST', path(id, '/revoke'))
    out(`Revoked ${id}: its tokens no longer work and it will not run until you grant it again.`)
  })

  apps.command('uninstall <id>').description('remove the app, its tokens, views and code').option('--delete-data', 'also delete the sources the app wrote')
    .action(async (id: string, o: { deleteData?: boolean }) => {
      const r = await client().request<{ deletedSources: string[] }>('DELETE', path(id), { query: { deleteData: o.deleteData ? 'true' : undefined } })
      out(`Uninstalled ${id}.${r.deletedSources.length ? ` Deleted ${r.deletedSources.join(', ')}.` : ''}`)
    })

  apps.command('run <id>').description('run the app now').option('--event <json>', 'an event for the app, as JSON').option('--json', 'machine-readable output')
    .action(async (id: string, o: { event?: string; json?: boolean }) => {
      const event = o.event === undefined ? undefined : parseJson(o.event, '--event')
      const report = await client().request<RunReport>('POST', path(id, '/run'), { body: { event } })
      if (o.json) return json(report)
      for (const line of report.logs) out(`[${id}] ${line}`)
      out(`${id} ran in ${report.wallMs} ms (${report.cpuMs} ms CPU, ${report.calls} calls).`)
      if (report.value !== undefined && report.value !== null) out(JSON.stringify(report.value, null, 2))
    })

  apps.command('views <id>').description('the views the app has shown (Vega-Lite)').option('--out <dir>', 'write each spec to DIR/VIEW.vl.json').option('--json', 'machine-readable output')
    .action(async (id: string, o: { out?: string; json?: boolean }) => {
      const views = await client().request<AppView[]>('GET', path(id, '/views'))
      if (o.json) return json(views)
      if (o.out) {
        fs.mkdirSync(o.out, { recursive: true })
        for (const v of views) fs.writeFileSync(`${o.out}/${v.view}.vl.json`, JSON.stringify(v.spec, null, 2))
      }
      out(table(views.map((v) => ({ view: v.view, title: v.title, updated: isoTime(v.updatedAt) })), ['view', 'title', 'updated']))
    })

  apps.command('schema').description('print the JSON Schema of app manifests').action(async () => {
    json(await client().request('GET', '/apps/manifest-schema'))
  })

  const exports = program.command('exports').description('what apps send out of the box: approve or deny, and the history')
  const listExports = (state?: string) => async (o: { app?: string; json?: boolean }) => {
    const list = await client().request<ExportRecord[]>('GET', '/exports', { query: { state, app: o.app } })
    if (o.json) return json(list)
    out(table(list.map((e) => ({ ...e, createdAt: isoTime(e.createdAt), bytes: bytes(e.bytes), preview: e.preview.slice(0, 60) })), ['id', 'createdAt', 'app', 'destination', 'state', 'bytes', 'preview']))
  }
  exports.command('pending').description('exports waiting for your approval').option('--app <id>').option('--json', 'machine-readable output').action(listExports('pending'))
  exports.command('history').description('every export: sent, waiting, denied or failed')
    .addOption(new Option('--state <state>').choices(['pending', 'sent', 'denied', 'failed'])).option('--app <id>').option('--json', 'machine-readable output')
    .action(async (o: { state?: string; app?: string; json?: boolean }) => listExports(o.state)(o))
  exports.command('show <id>').description('one export with the exact payload').action(async (id: string) => {
    json(await client().request('GET', `/exports/${encodeURIComponent(id)}`))
  })
  exports.command('approve <id>').description('send a waiting export now').action(async (id: string) => {
    const e = await client().request<ExportRecord>('POST', `/exports/${encodeURIComponent(id)}/approve`)
    out(`Sent ${bytes(e.bytes)} to ${e.destination} (answered ${e.responseStatus}).`)
  })
  exports.command('deny <id>').description('deny a waiting export: it never leaves the box').action(async (id: string) => {
    const e = await client().request<ExportRecord>('POST', `/exports/${encodeURIComponent(id)}/deny`)
    out(`Denied: nothing was sent to ${e.destination}.`)
  })
}

function hasNarrowing(o: NarrowingOptions): boolean {
  return Boolean(o.refuse?.length || o.sources?.length || o.granularity?.length || o.window?.length || o.export?.length)
}

function parseJson(text: string, flag: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    throw new InvalidInput(`${flag} must be JSON, like '{"month":"2026-11"}'.`)
  }
}
