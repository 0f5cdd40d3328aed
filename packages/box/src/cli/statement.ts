/** `coffer statement`: the monthly data-use statement, written to a file. */
import fs from 'node:fs'
import path from 'node:path'
import { Command, CommanderError, Option } from 'commander'
import type { Statement } from '../statement/index.ts'
import type { Client } from './connect.ts'

export function statementCommand(program: Command, client: () => Client): void {
  program.command('statement')
    .description('write the monthly statement of who used your data, made from the audit log; exits 3 if the log did not verify')
    .option('--month <YYYY-MM>', 'the month (default: the current one)')
    .addOption(new Option('--format <format>', 'html, pdf or json').choices(['html', 'pdf', 'json']).default('html'))
    .option('--out <file>', 'where to write it; "-" for standard output (default: coffer-statement-YYYY-MM.FORMAT here)')
    .option('--tz <zone>', "time zone the month is read in (default: the box owner's)")
    .action(async (o: { month?: string; format: 'html' | 'pdf' | 'json'; out?: string; tz?: string }) => {
      // Loaded here, not with the CLI: the PDF library is large and no other command needs it.
      const { parseMonth, renderHtml, renderPdf } = await import('../statement/index.ts')
      if (o.month !== undefined) parseMonth(o.month)
      // The box adds the month up; the document is drawn here, from the same data the API serves.
      const statement = await client().request<Statement>('GET', '/statement', { query: { month: o.month, tz: o.tz, format: 'json' } })
      const body = o.format === 'json' ? JSON.stringify(statement, null, 2) + '\n' : o.format === 'pdf' ? await renderPdf(statement) : renderHtml(statement)
      if (o.out === '-') {
        process.stdout.write(body)
      } else {
        const file = path.resolve(o.out ?? `coffer-statement-${statement.month}.${o.format}`)
        fs.writeFileSync(file, body)
        process.stdout.write(`Wrote the statement for ${statement.month} to ${file}\n`)
      }
      if (!statement.audit.ok) {
        process.stderr.write(`WARNING: the audit log did not verify, so this statement may be incomplete or wrong:\n${statement.audit.problems.map((p) => `  - ${p}`).join('\n')}\n`)
        throw new CommanderError(3, 'coffer.statement', 'audit verification failed')
      }
    })
}
