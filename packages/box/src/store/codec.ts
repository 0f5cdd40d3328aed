/**
 * How log entries are written into hypercore blocks. Record batches — nearly every block —
 * use a compact binary layout (declared once, with compact-encoding, the way hypercore
 * declares its own): names and units are listed once per block and records refer to them
 * by index. Other entries are rare and small, so they are JSON after their tag byte.
 *
 * A range deletion is written as a `delete` entry followed, in the same write, by the points the
 * blocks it drops hold outside the range: one `records` entry per such block, marked `kept` with
 * that block's index, so a reader of the log tells them from new records and knows where they were
 * before (a group's shared copy holds them already when that block was sent). Logs written before
 * the mark have their kept points in one unmarked `records` entry; they read as they always did.
 */
import c from 'compact-encoding'
import { flagsOf, namesAndUnits, HAS_SUM, HAS_UT, V, VALUE_KIND, VB_FALSE, VB_TRUE, VD, VS, type SenmlRecord } from '../senml/index.ts'
import type { SourceMeta } from './meta.ts'
import { InvalidInput } from '../errors/index.ts'

export type LogEntry =
  | { op: 'create'; meta: SourceMeta }
  /** `origin`: the job that wrote them; `kept`: the block a deletion dropped that held them (the entry follows that deletion). */
  | { op: 'records'; records: SenmlRecord[]; origin?: string; kept?: number }
  | { op: 'delete'; from: number; to: number; drop: number[] }
  | { op: 'put'; key: string; value: unknown; t: number }
  | { op: 'del'; key: string; t: number }

const RECORDS = 1
const JSON_ENTRY = 2
/** Records written by a job (an import) that may need taking back: its id precedes the records. */
const RECORDS_WITH_ORIGIN = 3
/** Records a deletion keeps, from a block it drops: that block's index precedes the records. */
const RECORDS_KEPT = 4

const strings = c.array(c.string)

export function encodeEntry(entry: LogEntry): Buffer {
  if (entry.op !== 'records') return Buffer.concat([Buffer.of(JSON_ENTRY), Buffer.from(JSON.stringify(entry))])
  const { records } = entry
  const { names, units, name, unit } = namesAndUnits(records)
  const state = c.state()
  c.uint8.preencode(state, RECORDS)
  if (entry.origin !== undefined) c.string.preencode(state, entry.origin)
  if (entry.kept !== undefined) c.uint.preencode(state, entry.kept)
  strings.preencode(state, names)
  strings.preencode(state, units)
  c.uint.preencode(state, records.length)
  for (let i = 0; i < records.length; i++) record('preencode', state, records[i]!, name[i]!, unit[i]!)
  state.buffer = Buffer.allocUnsafe(state.end)
  c.uint8.encode(state, entry.origin !== undefined ? RECORDS_WITH_ORIGIN : entry.kept !== undefined ? RECORDS_KEPT : RECORDS)
  if (entry.origin !== undefined) c.string.encode(state, entry.origin)
  if (entry.kept !== undefined) c.uint.encode(state, entry.kept)
  strings.encode(state, names)
  strings.encode(state, units)
  c.uint.encode(state, records.length)
  for (let i = 0; i < records.length; i++) record('encode', state, records[i]!, name[i]!, unit[i]!)
  return state.buffer as Buffer
}

type State = ReturnType<typeof c.state>

/** One record's fields, in order; run once to size the buffer (`preencode`) and once to fill it (`encode`). */
function record(pass: 'preencode' | 'encode', state: State, r: SenmlRecord, name: number, unit: number): void {
  const flags = flagsOf(r)
  c.uint[pass](state, name)
  c.uint[pass](state, unit)
  c.uint8[pass](state, flags)
  c.float64[pass](state, r.t)
  const kind = flags & VALUE_KIND
  if (kind === V) c.float64[pass](state, r.v!)
  else if (kind === VS) c.string[pass](state, r.vs!)
  else if (kind === VD) c.string[pass](state, r.vd!)
  if (flags & HAS_SUM) c.float64[pass](state, r.s!)
  if (flags & HAS_UT) c.float64[pass](state, r.ut!)
}

export function decodeEntry(block: Buffer): LogEntry {
  const tag = block[0]
  if (tag === JSON_ENTRY) return JSON.parse(block.subarray(1).toString('utf8')) as LogEntry
  if (tag !== RECORDS && tag !== RECORDS_WITH_ORIGIN && tag !== RECORDS_KEPT) throw new InvalidInput(`Unknown log entry tag ${tag}: this log was written by a newer Coffer.`)
  const state = c.state(1, block.length, block)
  const origin = tag === RECORDS_WITH_ORIGIN ? c.string.decode(state) : undefined
  const kept = tag === RECORDS_KEPT ? c.uint.decode(state) : undefined
  const names = strings.decode(state)
  const units = strings.decode(state)
  const count = c.uint.decode(state)
  const records: SenmlRecord[] = new Array(count)
  for (let i = 0; i < count; i++) {
    const r: SenmlRecord = { n: names[c.uint.decode(state)]!, t: 0 }
    const unit = c.uint.decode(state)
    const flags = c.uint8.decode(state)
    r.t = c.float64.decode(state)
    if (unit > 0) r.u = units[unit - 1]
    const kind = flags & VALUE_KIND
    if (kind === V) r.v = c.float64.decode(state)
    else if (kind === VS) r.vs = c.string.decode(state)
    else if (kind === VB_TRUE) r.vb = true
    else if (kind === VB_FALSE) r.vb = false
    else if (kind === VD) r.vd = c.string.decode(state)
    if (flags & HAS_SUM) r.s = c.float64.decode(state)
    if (flags & HAS_UT) r.ut = c.float64.decode(state)
    records[i] = r
  }
  if (origin !== undefined) return { op: 'records', records, origin }
  return kept === undefined ? { op: 'records', records } : { op: 'records', records, kept }
}
