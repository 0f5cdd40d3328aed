/** SenML JSON (RFC 8428 §5). */
import { InvalidInput } from '../errors/index.ts'
import { RECORD_FIELDS, resolvePack, type SenmlRecord } from './resolve.ts'

// §5 allows only UTF-8; `fatal` turns malformed bytes into an error instead of silent U+FFFD.
const utf8 = new TextDecoder('utf-8', { fatal: true })

export function parseSenmlJson(body: string | Uint8Array, now: number): SenmlRecord[] {
  let pack: unknown
  try {
    pack = JSON.parse(typeof body === 'string' ? body : utf8.decode(body))
  } catch (err) {
    throw new InvalidInput(`SenML JSON body does not parse: ${(err as Error).message}`)
  }
  return resolvePack(pack, now)
}

export function toSenmlJson(records: SenmlRecord[]): string {
  return JSON.stringify(records.map((r) => {
    const o: Record<string, unknown> = {}
    for (const f of RECORD_FIELDS) if (r[f] !== undefined) o[f] = r[f]
    return o
  }))
}
