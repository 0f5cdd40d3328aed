/** What every importer shares: the batch size, the head of a file it is recognised by, and how a parser's failure is told to a person. */
import fs from 'node:fs'
import { InvalidInput } from '../errors/index.ts'

/** Records per log block an import writes. */
export const BATCH = 1000

/** How much of the start of a file tells its format, encoding and delimiter. */
export const HEAD_BYTES = 64 * 1024

export function readHead(file: string): Buffer {
  const head = Buffer.alloc(HEAD_BYTES)
  const fd = fs.openSync(file, 'r')
  try {
    return head.subarray(0, fs.readSync(fd, head, 0, HEAD_BYTES, 0))
  } finally {
    fs.closeSync(fd)
  }
}

/** A parser's error, where it stood, and the promise that nothing was kept. */
export function malformed(where: string, err: unknown): InvalidInput {
  const reason = (err as Error).message.split('\n')[0]!.replace(/^\d+:\d+: /, '').replace(/\.$/, '')
  return new InvalidInput(`The file is malformed ${where}: ${reason}. Nothing was imported.`)
}
