/**
 * The CLI's transport for the shared API client (client/index.ts): `node:http`, which Node has
 * loaded already, where Node's fetch would load undici first. For one request per process that
 * is most of the time a command takes: measured on Node 20, fetch spent 40–65 ms on a request
 * that node:http answers in 11–16 ms, and its process took ~80 ms more to exit afterwards.
 * `node:https` is loaded only for an https:// box (COFFER_URL).
 */
import http from 'node:http'
import type { Readable } from 'node:stream'
import type { Answer, Transport } from '../client/index.ts'

/** What the CLI sends: text, bytes, or a Node stream (sent as it is read, so a large file never sits in memory). */
export type NodeBody = string | Uint8Array | Readable

/** An answer read whole: what the client reads of it, as a fetch Response would give it. */
export class NodeAnswer implements Answer {
  readonly status: number
  readonly statusText: string
  readonly ok: boolean
  readonly headers: { get(name: string): string | null }
  readonly #body: Promise<string>

  constructor(res: http.IncomingMessage) {
    this.status = res.statusCode ?? 0
    this.statusText = res.statusMessage ?? ''
    this.ok = this.status >= 200 && this.status < 300
    this.headers = {
      get: (name) => {
        const value = res.headers[name.toLowerCase()]
        return value === undefined ? null : Array.isArray(value) ? value.join(', ') : String(value)
      },
    }
    this.#body = new Promise<string>((resolve, reject) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      // Decoded as fetch's text() decodes: UTF-8, a leading byte-order mark dropped.
      res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8').replace(/^\uFEFF/, '')))
      res.on('error', reject)
      res.on('close', () => {
        if (!res.complete) reject(new Error('The box closed the connection before its answer was complete.'))
      })
    })
    // Read or not, a failed body must not surface as an unhandled rejection.
    this.#body.catch(() => undefined)
  }

  text(): Promise<string> {
    return this.#body
  }
}

export const nodeTransport: Transport<NodeBody, NodeAnswer> = async (url, { method, headers, body, signal }) => {
  const target = new URL(url)
  const { request } = target.protocol === 'https:' ? await import('node:https') : http
  return new Promise<NodeAnswer>((resolve, reject) => {
    let answered = false
    const req = request(target, { method, headers, signal }, (res) => {
      answered = true
      resolve(new NodeAnswer(res))
    })
    // Before an answer, an error means there is none; after it (the box answered before the
    // upload ended, e.g. to refuse it), the answer stands and the rest of the upload is dropped.
    req.on('error', (err) => {
      if (!answered) reject(err)
    })
    if (body === undefined) {
      req.end()
    } else if (typeof body === 'string' || body instanceof Uint8Array) {
      // Sent in one piece, so it goes with a Content-Length rather than chunked.
      req.end(body)
    } else {
      body.on('error', (err) => req.destroy(err))
      // A connection that ends early (the box refused the upload) stops the reading too.
      req.on('close', () => {
        if (!body.readableEnded) body.destroy()
      })
      body.pipe(req)
    }
  })
}
