/** The `coffer-app` command: build an app, and try it against sample data before installing it. */
import fs from 'node:fs'
import { Command, CommanderError } from 'commander'
import { CofferError } from '@coffer/box'
import { buildApp, runLocal, type Sample } from './tools.ts'

export async function main(argv: string[]): Promise<number> {
  // A reader that stops early (`… | head`) ends the command quietly, as it ends Unix tools.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err
    process.exit(0)
  })
  const program = new Command('coffer-app').description('Build and try Coffer apps.').exitOverride()
  program.command('build <dir>').description('bundle the app\'s src/main.ts into the script its manifest names').action(async (dir: string) => {
    process.stdout.write(`Built ${await buildApp(dir)}\n`)
  })
  program.command('run <dir>')
    .description('build the app, then run it in a throwaway box holding only the sample data; exports are shown, never sent')
    .requiredOption('--sample <file>', 'sample data: {"timeZone": "…", "sources": [{"id", "logicalType", "attributes", "records": [SenML…]}]}')
    .option('--event <json>', 'the event to run with')
    .action(async (dir: string, o: { sample: string; event?: string }) => {
      await buildApp(dir)
      const sample = JSON.parse(fs.readFileSync(o.sample, 'utf8')) as Sample
      const report = await runLocal({ dir, sample, event: o.event === undefined ? undefined : JSON.parse(o.event) })
      for (const line of report.logs) process.stdout.write(`[log] ${line}\n`)
      process.stdout.write(`${JSON.stringify({ value: report.value, views: report.views.map((v) => v.view), exports: report.exports.map((e) => ({ destination: e.destination, bytes: e.bytes, payload: e.payload })), cpuMs: report.cpuMs, calls: report.calls }, null, 2)}\n`)
    })
  try {
    await program.parseAsync(argv)
    return 0
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode
    process.stderr.write(`error: ${err instanceof CofferError ? err.message : (err as Error).stack}\n`)
    return 1
  }
}
