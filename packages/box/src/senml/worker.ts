/**
 * A parsing thread: SenML JSON and CBOR bodies in, resolved records out as packed columns, so
 * the box's main thread keeps its time for the log, the view and the audit. A body it rejects
 * comes back as the very refusal the main thread would have made (status, message, index and
 * field).
 */
import { parentPort } from 'node:worker_threads'
import { CofferError } from '../errors/index.ts'
import { parseSenmlCbor } from './cbor.ts'
import { parseSenmlJson } from './json.ts'
import { packRecords, transferablesOf } from './columns.ts'
import type { ParseReply, ParseRequest } from './pool.ts'

const port = parentPort!

port.on('message', ({ id, format, body, now }: ParseRequest) => {
  let reply: ParseReply
  try {
    const records = format === 'cbor' ? parseSenmlCbor(body, now) : parseSenmlJson(body, now)
    const packed = packRecords(records)
    port.postMessage({ id, ok: true, packed } satisfies ParseReply, transferablesOf(packed))
    return
  } catch (err) {
    reply = err instanceof CofferError
      ? { id, ok: false, refusal: { status: err.status, slug: err.slug, title: err.title, detail: err.message, extras: err.extras } }
      : { id, ok: false, failure: (err as Error).message }
  }
  port.postMessage(reply)
})

port.postMessage('ready')
