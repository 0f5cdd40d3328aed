/** What every importer shares: the batch size, and how a parser's failure is told to a person. */
import { InvalidInput } from '../errors/index.ts'

/** Records per log block an import writes. */
export const BATCH = 1000

/** A parser's error, where it stood, and the promise that nothing was kept. */
export function malformed(where: string, err: unknown): InvalidInput {
  const reason = (err as Error).message.split('\n')[0]!.replace(/^\d+:\d+: /, '').replace(/\.$/, '')
  return new InvalidInput(`The file is malformed ${where}: ${reason}. Nothing was imported.`)
}
