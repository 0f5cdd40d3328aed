/**
 * Edge cells: what an aggregate reads where its bucket edges fall inside hours, instead of the raw
 * points around each edge. "Hourly, for the last year, from now" cuts 8,761 hours; their points,
 * read as rows, cost more than the whole answer may. So for every hour in which a numeric series
 * holds at least DENSE values, and no more than MAX_VALUES, the view keeps
 *  - `hourcells`: the count, sum, min, max and sum of squares of each of the hour's twelve
 *    5-minute cells, a row per series and hour; and
 *  - `edgecells`: each 5-minute cell's values with their offsets into the cell, packed, a row per
 *    series, cell and hour, keyed so that the same cell of consecutive hours is consecutive rows:
 *    the edges of buckets a whole number of hours wide fall in the same cell of every hour they
 *    cut, and are read in one range.
 * A piece of a bucket inside such an hour is the whole cells it covers, from `hourcells`, and the
 * values of the cells its ends cut, from `edgecells`; whole hours come from the hourly rollups, and
 * hours without a rollup from their few raw points. Sparser hours keep neither: their points cost
 * little to read raw, and packed copies would outweigh them (bytes per point); denser ones (a
 * sensor read more than ten times a second) keep neither either: every batch would write their
 * growing cells anew, many times the points' own bytes. Several series at once, quantiles, and
 * edges in hours not kept take the general path (stats.ts).
 *
 * Packed values are sorted by offset, then value: the same values give the same bytes and sums
 * however the blocks that brought them were grouped. An offset is kept to the microsecond with a
 * bit saying whether that is exact; a value at an edge's own microsecond whose offset is not exact
 * cannot be put on either side of the edge, and the aggregate then takes the general path.
 * Numbers are little-endian.
 */
import type Database from 'better-sqlite3'
import type { Stats } from './rollups.ts'
import { keyOf, SEQ_SPACE } from './points.ts'
import { emptyStats, merge } from './stats.ts'
import { runsOf, type CellReader, type Span } from './cells.ts'

const HOUR = 3600
const CELL = 300
const CELLS = HOUR / CELL
/** Values of a series an hour must hold for its cells to be kept: about 20 a 5-minute cell. */
export const DENSE = 240
/** Values of a series an hour may hold and still be kept: ten a second. */
export const MAX_VALUES = 36_000
/** Hours since 1970 stay below this until after MAX_TIME; series ids below 2^20: ids below 2^46. */
const HOUR_SPACE = 2 ** 22
/** Rolled hours not kept in which an aggregate's edges may fall before it takes the general path. */
const MAX_RAW_EDGE_HOURS = 16
/** Hours an aggregate may span per bound for this path to take it: buckets up to a few days wide. */
const HOURS_PER_BOUND = 64
/**
 * Rows per range read, so that no one blob read gets large: each comes back as a new buffer, and a
 * large one is fresh memory, which costs a page fault a page to touch (a year of hourly cells in
 * reads of 4,096 rows took half as long again as in reads of 256).
 */
const ROWS_PER_READ = 256
/** The most packed values an aggregate reads this way, in bytes; beyond, the general path reads less at once. */
export const PACKED_BUDGET = 32 * 2 ** 20
/** Hours bounds may cut for this path: their cells are read whole, 480 bytes an hour. */
const MAX_EDGE_HOURS = 20_000
/** Ids per IN list when reading rows that lie far apart. */
const LOOKUPS = 64

const hourId = (series: number, hour: number) => series * HOUR_SPACE + hour
const cellId = (series: number, cell: number, hour: number) => (series * 16 + cell) * HOUR_SPACE + hour

/**
 * A blob, as `length` bytes at `at` in `view`. A cell's packed values are n little-endian doubles
 * and then their n offsets, each twice its microsecond plus 1 when exact, n = length / 12.
 */
interface Slice { view: DataView; at: number; length: number }

function sliceOf(blob: Buffer): Slice {
  return { view: new DataView(blob.buffer, blob.byteOffset, blob.length), at: 0, length: blob.length }
}

/** A time's offset into the cell starting at `start` (which must be the time's cell): twice its microsecond, plus 1 when exact. */
function offsetOf(t: number, start: number): number {
  const off = t - start
  const us = Math.round(off * 1e6)
  return 2 * us + (us / 1e6 === off ? 1 : 0)
}

/** The canonical order of packed values: by microsecond, the exact one after any other there, then by value. */
function compare(offsetA: number, valueA: number, offsetB: number, valueB: number): number {
  return offsetA - offsetB || (valueA < valueB ? -1 : valueA > valueB ? 1 : 0)
}

/** The values of one cell, packed in canonical order, and their statistics in that order. */
function packCell(offsets: number[], values: number[]): { blob: Buffer; stats: Stats } {
  const n = values.length
  const inOrder = (a: number, b: number) => compare(offsets[a]!, values[a]!, offsets[b]!, values[b]!)
  // Values nearly always come in time order, after those already packed: then they need no sort.
  let sorted = true
  for (let i = 1; i < n && sorted; i++) sorted = inOrder(i - 1, i) <= 0
  const order = sorted ? undefined : Array.from({ length: n }, (_, i) => i).sort(inOrder)
  const bytes = new ArrayBuffer(12 * n)
  const view = new DataView(bytes)
  const stats = emptyStats()
  for (let k = 0; k < n; k++) {
    const i = order ? order[k]! : k
    const v = values[i]!
    view.setFloat64(8 * k, v, true)
    view.setUint32(8 * n + 4 * k, offsets[i]!, true)
    merge(stats, 1, v, v, v, v * v)
  }
  return { blob: Buffer.from(bytes), stats }
}

/**
 * A packed cell with values added. Where they all sort after its last value, as values coming in
 * time order do, they are appended and its statistics carried on in that order, which gives what
 * packing all anew gives, bit for bit; else it is packed anew.
 */
function extendCell(old: Buffer, oldStats: Stats, offsets: number[], values: number[]): { blob: Buffer; stats: Stats } {
  const fresh = packCell(offsets, values)
  const a = sliceOf(old)
  const b = sliceOf(fresh.blob)
  const m = old.length / 12
  const n = values.length
  if (compare(offsetAt(a, m - 1), valueAt(a, m - 1), offsetAt(b, 0), valueAt(b, 0)) > 0) {
    const all = { offsets: [] as number[], values: [] as number[] }
    for (const [p, count] of [[a, m], [b, n]] as const) {
      for (let i = 0; i < count; i++) {
        all.offsets.push(offsetAt(p, i))
        all.values.push(valueAt(p, i))
      }
    }
    return packCell(all.offsets, all.values)
  }
  const stats = { ...oldStats }
  for (let i = 0; i < n; i++) {
    const v = valueAt(b, i)
    merge(stats, 1, v, v, v, v * v)
  }
  return { blob: Buffer.concat([old.subarray(0, 8 * m), fresh.blob.subarray(0, 8 * n), old.subarray(8 * m), fresh.blob.subarray(8 * n)]), stats }
}

/** An hour's cells: count, sum, min, max and sum of squares of each of its 5-minute cells, little-endian doubles. */
const HOUR_CELLS_BYTES = CELLS * 5 * 8

function setCell(cells: Buffer, j: number, s: Stats): void {
  ;[s.n, s.sum, s.min, s.max, s.sumsq].forEach((x, i) => cells.writeDoubleLE(x, (j * 5 + i) * 8))
}

function cellAt(cells: Buffer, j: number): Stats {
  const at = (i: number) => cells.readDoubleLE((j * 5 + i) * 8)
  return { n: at(0), sum: at(1), min: at(2), max: at(3), sumsq: at(4) }
}

function emptyCells(): Buffer {
  const cells = Buffer.alloc(HOUR_CELLS_BYTES)
  for (let j = 0; j < CELLS; j++) setCell(cells, j, emptyStats())
  return cells
}

/** A series' values in one hour, on their way in, by 5-minute cell, with their offsets into it. */
interface HourValues { series: number; hour: number; count: number; cells: ({ offsets: number[]; values: number[] } | undefined)[] }

function hourValues(series: number, hour: number): HourValues {
  return { series, hour, count: 0, cells: new Array(CELLS) }
}

function addValue(h: HourValues, t: number, v: number): void {
  const start = Math.floor(t / CELL) * CELL
  const j = (start - h.hour * HOUR) / CELL
  const cell = (h.cells[j] ??= { offsets: [], values: [] })
  cell.offsets.push(offsetOf(t, start))
  cell.values.push(v)
  h.count++
}

/**
 * Reads of many rows of one table, each returned as one blob of all the rows' blobs in id order
 * with the ids and lengths as text: better-sqlite3 makes a Buffer of every blob it returns, which
 * costs more than reading the row. The database's text is UTF-8, so the bytes go through as they are.
 */
interface Reads { range: Database.Statement; inList: Database.Statement }

const reads = new WeakMap<Database.Database, Record<'hours' | 'cells', Reads>>()

function readsOf(db: Database.Database): Record<'hours' | 'cells', Reads> {
  let r = reads.get(db)
  if (!r) {
    const list = Array(LOOKUPS).fill('?').join(', ')
    const of = (table: string, column: string, where: string, limit = '') => db.prepare(`SELECT CAST(group_concat(${column}, '') AS BLOB), group_concat(id), group_concat(length(${column})) FROM (SELECT id, ${column} FROM ${table} WHERE ${where} ORDER BY id${limit})`).raw()
    r = {
      hours: { range: of('hourcells', 'cells', 'id >= ? AND id <= ?', ` LIMIT ${ROWS_PER_READ}`), inList: of('hourcells', 'cells', `id IN (${list})`) },
      cells: { range: of('edgecells', 'pts', 'id >= ? AND id <= ?', ` LIMIT ${ROWS_PER_READ}`), inList: of('edgecells', 'pts', `id IN (${list})`) },
    }
    reads.set(db, r)
  }
  return r
}

/**
 * Rows read by id, added in id order, looked up by binary search: a hash map of the thousands of
 * rows an aggregate reads costs more to build than all its lookups.
 */
class Rows {
  readonly #ids: number[] = []
  readonly #slices: Slice[] = []

  add(id: number, slice: Slice): void {
    this.#ids.push(id)
    this.#slices.push(slice)
  }

  get(id: number): Slice | undefined {
    let lo = 0
    let hi = this.#ids.length - 1
    while (lo <= hi) {
      const mid = (lo + hi) >> 1
      const at = this.#ids[mid]!
      if (at === id) return this.#slices[mid]
      if (id < at) hi = mid - 1
      else lo = mid + 1
    }
    return undefined
  }

  has(id: number): boolean {
    return this.get(id) !== undefined
  }
}

/**
 * The blobs of the rows with these ids (sorted, distinct, above any already in `into`) that
 * exist: one range read where they lie close together, else lists of ids.
 */
function rowsById(ids: readonly number[], reads: Reads, into = new Rows()): Rows {
  if (ids.length === 0) return into
  let wanted = 0
  const add = ([blob, idList, lengths]: [Buffer | null, string | null, string | null]) => {
    if (blob === null) return
    const view = new DataView(blob.buffer, blob.byteOffset, blob.length)
    const idsRead = idList!.split(',')
    const lengthsRead = lengths!.split(',')
    let at = 0
    for (let i = 0; i < idsRead.length; i++) {
      const id = Number(idsRead[i])
      const length = Number(lengthsRead[i])
      // A range read brings the rows between those wanted too.
      while (wanted < ids.length && ids[wanted]! < id) wanted++
      if (ids[wanted] === id) into.add(id, { view, at, length })
      at += length
    }
  }
  const first = ids[0]!
  const last = ids.at(-1)!
  if (last - first < 4 * ids.length) {
    // A read at a time of at most ROWS_PER_READ rows, from the id after the last one read.
    for (let from = first; from <= last;) {
      const read = reads.range.get(from, last) as [Buffer | null, string | null, string | null]
      if (read[0] === null) break
      add(read)
      from = Number(read[1]!.slice(read[1]!.lastIndexOf(',') + 1)) + 1
    }
  } else {
    for (let at = 0; at < ids.length; at += LOOKUPS) {
      const batch = ids.slice(at, at + LOOKUPS)
      while (batch.length < LOOKUPS) batch.push(-1)
      add(reads.inList.get(batch) as [Buffer | null, string | null, string | null])
    }
  }
  return into
}

/** Keeps `hourcells` and `edgecells` in step with the points. */
export class EdgeCells {
  readonly #db: Database.Database
  readonly #isNumeric: (series: number) => boolean
  readonly #putHour: Database.Statement
  readonly #putCell: Database.Statement
  readonly #getCell: Database.Statement
  readonly #hourTotal: Database.Statement
  readonly #hourPoints: Database.Statement
  readonly #dropHour: Database.Statement
  readonly #dropCell: Database.Statement

  constructor(db: Database.Database, isNumeric: (series: number) => boolean) {
    this.#db = db
    this.#isNumeric = isNumeric
    this.#putHour = db.prepare('INSERT OR REPLACE INTO hourcells (id, cells) VALUES (?, ?)')
    this.#putCell = db.prepare('INSERT OR REPLACE INTO edgecells (id, pts) VALUES (?, ?)')
    this.#getCell = db.prepare('SELECT pts FROM edgecells WHERE id = ?').pluck()
    this.#hourTotal = db.prepare(`SELECT n FROM rollups WHERE res = ${HOUR} AND series = ? AND bucket = ?`).pluck()
    this.#dropHour = db.prepare('DELETE FROM hourcells WHERE id = ?')
    this.#dropCell = db.prepare('DELETE FROM edgecells WHERE id = ?')
    this.#hourPoints = db.prepare('SELECT t, val FROM points WHERE id >= ? AND id < ? AND series = ? AND val IS NOT NULL AND block < ?').raw()
  }

  /** Starts adding a group of blocks' numeric values. Finish it after the group's points and rollups are written. */
  batch(): EdgeBatch {
    return new EdgeBatch(this)
  }

  /** Adds a group's values, by series and hour: to hours already kept, or to hours they make dense. `first`: the group's first block. */
  add(hours: Map<number, HourValues>, first: number): void {
    const ids = [...hours.keys()].sort((a, b) => a - b)
    const kept = rowsById(ids, readsOf(this.#db).hours)
    for (const id of ids) {
      const h = hours.get(id)!
      const cells = kept.get(id)
      if (cells) this.#extend(h, Buffer.from(new Uint8Array(cells.view.buffer, cells.view.byteOffset + cells.at, cells.length)))
      else this.#start(h, first)
    }
  }

  /** Recomputes the hours of these series' spans from the points, after points were dropped. Call inside a transaction. */
  rebuild(spans: Map<number, { lo: number; hi: number }>): void {
    const dropHours = this.#db.prepare('DELETE FROM hourcells WHERE id >= ? AND id <= ?')
    const dropCells = this.#db.prepare('DELETE FROM edgecells WHERE id >= ? AND id <= ?')
    for (const [series, span] of spans) {
      if (!this.#isNumeric(series)) continue
      const first = Math.floor(span.lo / HOUR)
      const last = Math.floor(span.hi / HOUR)
      dropHours.run(hourId(series, first), hourId(series, last))
      for (let j = 0; j < CELLS; j++) dropCells.run(cellId(series, j, first), cellId(series, j, last))
      for (let hour = first; hour <= last; hour++) {
        const h = this.#valuesOf(series, hour)
        if (h.count >= DENSE && h.count <= MAX_VALUES) this.#build(h)
      }
    }
  }

  /** Adds values to an hour already kept: each cell they fall in packed anew, and the hour's cells; or, past MAX_VALUES, stops keeping it. */
  #extend(h: HourValues, cells: Buffer): void {
    let total = h.count
    for (let j = 0; j < CELLS; j++) total += cells.readDoubleLE(j * 40)
    if (total > MAX_VALUES) {
      this.#dropHour.run(hourId(h.series, h.hour))
      for (let j = 0; j < CELLS; j++) this.#dropCell.run(cellId(h.series, j, h.hour))
      return
    }
    h.cells.forEach((fresh, j) => {
      if (!fresh) return
      const id = cellId(h.series, j, h.hour)
      const old = this.#getCell.get(id) as Buffer | undefined
      const { blob, stats } = old ? extendCell(old, cellAt(cells, j), fresh.offsets, fresh.values) : packCell(fresh.offsets, fresh.values)
      this.#putCell.run(id, blob)
      setCell(cells, j, stats)
    })
    this.#putHour.run(hourId(h.series, h.hour), cells)
  }

  /** An hour not kept yet: kept from now on once it holds DENSE values, with every value it holds. */
  #start(h: HourValues, first: number): void {
    const total = (this.#hourTotal.get(h.series, h.hour * HOUR) as number | undefined) ?? 0
    if (total < DENSE || total > MAX_VALUES) return
    // What the hour held before this group: fewer than DENSE values, read from the points.
    if (total > h.count) this.#addPoints(h, first)
    this.#build(h)
  }

  #build(h: HourValues): void {
    const cells = emptyCells()
    h.cells.forEach((cell, j) => {
      if (!cell) return
      const { blob, stats } = packCell(cell.offsets, cell.values)
      this.#putCell.run(cellId(h.series, j, h.hour), blob)
      setCell(cells, j, stats)
    })
    this.#putHour.run(hourId(h.series, h.hour), cells)
  }

  /** Every numeric value a series holds in an hour, from the points. */
  #valuesOf(series: number, hour: number): HourValues {
    const h = hourValues(series, hour)
    this.#addPoints(h, Number.MAX_SAFE_INTEGER)
    return h
  }

  /** Adds to an hour's values those its series holds there in the points of blocks before `before`. */
  #addPoints(h: HourValues, before: number): void {
    const start = h.hour * HOUR
    // A hundredth of a second wider on each side: a point's hour is decided by its time, as ingest decides it.
    for (const [t, val] of this.#hourPoints.all(keyOf(start) - SEQ_SPACE, keyOf(start + HOUR) + SEQ_SPACE, h.series, before) as [number, unknown][]) {
      if (typeof val === 'number' && Math.floor(t / HOUR) === h.hour) addValue(h, t, val)
    }
  }
}

/** One group of blocks' numeric values, gathered by series and hour. */
class EdgeBatch {
  readonly #cells: EdgeCells
  readonly #hours = new Map<number, HourValues>()
  #recent: HourValues | undefined
  #first: number | undefined

  constructor(cells: EdgeCells) {
    this.#cells = cells
  }

  add(series: number, t: number, v: number): void {
    const hour = Math.floor(t / HOUR)
    let h = this.#recent
    if (h?.series !== series || h.hour !== hour) {
      const id = hourId(series, hour)
      h = this.#hours.get(id)
      if (!h) this.#hours.set(id, (h = hourValues(series, hour)))
      this.#recent = h
    }
    addValue(h, t, v)
  }

  /** Closes a block whose values were added since the last one. */
  endBlock(block: number): void {
    this.#first ??= block
  }

  finish(): void {
    if (this.#first !== undefined && this.#hours.size > 0) this.#cells.add(this.#hours, this.#first)
  }
}

/** Thrown when a value lies at an edge's microsecond and cannot be placed: the general path answers instead. */
const UNPLACEABLE = Symbol('a value at the edge\'s own microsecond')

/** An edge's offset into a cell, to compare packed offsets with. */
interface EdgeOffset { us: number; exact: boolean }

function edgeOffset(off: number): EdgeOffset {
  const us = Math.round(off * 1e6)
  return { us, exact: us / 1e6 === off }
}

/** The index of the first packed value not before the edge: values are sorted by microsecond, so a binary search finds it. */
function splitAt(cell: Slice, edge: EdgeOffset): number {
  let lo = 0
  let hi = cell.length / 12
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if (offsetAt(cell, mid) < 2 * edge.us) lo = mid + 1
    else hi = mid
  }
  // Values at the edge's own microsecond are at the edge only when both are exact; else they cannot be placed.
  for (let i = lo; i < cell.length / 12 && offsetAt(cell, i) <= 2 * edge.us + 1; i++) if (!(offsetAt(cell, i) % 2 === 1 && edge.exact)) throw UNPLACEABLE
  return lo
}

/** Which of the packed values of the cell starting at `start` lie in [a, b): their indices [from, to). */
function partOf(cell: Slice, start: number, a: number, b: number): [from: number, to: number] {
  return [a > start ? splitAt(cell, edgeOffset(a - start)) : 0, b < start + CELL ? splitAt(cell, edgeOffset(b - start)) : cell.length / 12]
}

/** Adds the packed values of a cell at indices [from, to). */
function addPart(into: Stats, cell: Slice, [from, to]: [number, number]): void {
  let n = 0
  let sum = 0
  let sumsq = 0
  let min = Infinity
  let max = -Infinity
  for (let i = from; i < to; i++) {
    const v = valueAt(cell, i)
    n++
    sum += v
    sumsq += v * v
    if (v < min) min = v
    if (v > max) max = v
  }
  merge(into, n, sum, min, max, sumsq)
}

function valueAt(p: Slice, i: number): number {
  return p.view.getFloat64(p.at + 8 * i, true)
}

function offsetAt(p: Slice, i: number): number {
  return p.view.getUint32(p.at + (2 * p.length) / 3 + 4 * i, true)
}

/**
 * Statistics of one series in each bucket between consecutive bounds, from the hourly rollups,
 * `hourcells` and `edgecells`, and raw points in hours without rollups. Undefined, for the general
 * path to answer, when no bound falls inside an hour, the buckets are days wide, or bounds fall in
 * more than a few rolled hours not kept.
 */
export function edgeStats(db: Database.Database, reader: CellReader, series: number, bounds: readonly number[], budget = PACKED_BUDGET): Stats[] | undefined {
  if (bounds.length < 2) return undefined
  const edgeHours: number[] = []
  const cutCells = new Map<number, number[]>()
  for (const b of bounds) {
    if (b % HOUR === 0) continue
    const hour = Math.floor(b / HOUR)
    if (edgeHours.at(-1) !== hour) edgeHours.push(hour)
    if (b % CELL === 0) continue
    const j = Math.floor(b / CELL) - hour * CELLS
    const id = cellId(series, j, hour)
    const ids = cutCells.get(j)
    if (!ids) cutCells.set(j, [id])
    else if (ids.at(-1) !== id) ids.push(id)
  }
  if (edgeHours.length === 0 || edgeHours.length > MAX_EDGE_HOURS) return undefined
  // Buckets of days on end have few edges for their hours: the general path reads them for less.
  if (Math.ceil(bounds.at(-1)! / HOUR) - Math.floor(bounds[0]! / HOUR) > HOURS_PER_BOUND * bounds.length) return undefined
  const read = readsOf(db)
  const kept = rowsById(edgeHours.map((h) => hourId(series, h)), read.hours)
  const out = bounds.slice(1).map(emptyStats)
  /** Spans read raw, each into a bucket. */
  const raw: (Span & { bucket: number })[] = []

  // The hours each bucket holds whole, summed from their rollup rows; in runs where some hour has no
  // row, the hours without one that are not rolled hold a few points, read raw.
  const runs: (Span & { bucket: number })[] = []
  for (let i = 0; i + 1 < bounds.length; i++) {
    const a = Math.ceil(bounds[i]! / HOUR) * HOUR
    const b = Math.floor(bounds[i + 1]! / HOUR) * HOUR
    if (a < b) runs.push({ lo: a, hi: b, bucket: i })
  }
  const gappy: (Span & { bucket: number })[] = []
  reader.eachRollupStats(HOUR, runs, (i, [n, sum, min, max, sumsq], cells) => {
    const run = runs[i]!
    merge(out[run.bucket]!, n, sum ?? 0, min ?? Infinity, max ?? -Infinity, sumsq ?? 0)
    if (cells < (run.hi - run.lo) / HOUR) gappy.push(run)
  })
  const present = new Set(reader.rollupBuckets(HOUR, gappy))
  const rowless: (Span & { bucket: number })[] = []
  for (const run of gappy) for (let at = run.lo; at < run.hi; at += HOUR) if (!present.has(at)) rowless.push({ lo: at, hi: at + HOUR, bucket: run.bucket })
  const missing = edgeHours.filter((h) => !kept.has(hourId(series, h)))
  const rolled = new Set(reader.rolledCells(HOUR, runsOf([...rowless, ...missing.map((h) => ({ lo: h * HOUR, hi: (h + 1) * HOUR }))].sort((a, b) => a.lo - b.lo))))
  // Edges in hours not kept are read raw: cheap in hours not rolled, which hold a few points; in
  // more than a few rolled ones the general path reads less. So it does where the cut cells' values
  // would take more memory than the budget.
  if (missing.filter((h) => rolled.has(h * HOUR)).length > MAX_RAW_EDGE_HOURS) return undefined
  let packedBytes = 0
  for (const [j, ids] of cutCells) {
    for (const id of ids) {
      const cells = kept.get(hourId(series, id % HOUR_SPACE))
      if (cells) packedBytes += 12 * cells.view.getFloat64(cells.at + j * 40, true)
    }
  }
  if (packedBytes > budget) return undefined
  for (const span of rowless) if (!rolled.has(span.lo)) raw.push(span)

  // The hours bounds cut, piece by piece: from their cells where kept, else raw.
  // In id order: by cell, then hour.
  const packed = new Rows()
  for (const j of [...cutCells.keys()].sort((a, b) => a - b)) rowsById(cutCells.get(j)!, read.cells, packed)
  let k = 0
  try {
    for (const hour of edgeHours) {
      const start = hour * HOUR
      const end = start + HOUR
      while (k < bounds.length && bounds[k]! <= start) k++
      const cells = kept.get(hourId(series, hour))
      // The hour's pieces, each in bucket i - 1: from the hour's start or bounds[i - 1] to bounds[i] or the hour's end.
      for (let i = k, a = start; ; i++) {
        const b = i < bounds.length && bounds[i]! < end ? bounds[i]! : end
        if (i > 0 && i <= out.length) {
          if (cells) addPiece(out[i - 1]!, cells, packed, series, hour, a, b)
          else raw.push({ lo: a, hi: b, bucket: i - 1 })
        }
        if (b === end) break
        a = b
      }
    }
  } catch (err) {
    if (err === UNPLACEABLE) return undefined
    throw err
  }
  raw.sort((a, b) => a.lo - b.lo)
  reader.eachRawPoint(raw, (i, v) => merge(out[raw[i]!.bucket]!, 1, v, v, v, v * v))
  return out
}

/**
 * Calls `each(i, value)` with every value of the spans at `indices` that lie inside one 5-minute
 * cell of a kept hour, from the cell's packed values rather than the raw points, and returns the
 * indices left for the raw points: spans across cells, in hours not kept, or with a value at an
 * edge's microsecond that cannot be placed. Quantiles read the cells their bucket edges cut this
 * way: a 5-minute cell of a dense hour is one packed row, where its raw points are a hundred rows.
 */
export function eachPackedValue(db: Database.Database, series: number, spans: readonly Span[], indices: readonly number[], each: (i: number, value: number) => void, budget = PACKED_BUDGET): number[] {
  const left: number[] = []
  const inCells: number[] = []
  for (const i of indices) {
    const { lo, hi } = spans[i]!
    if (hi > (Math.floor(lo / CELL) + 1) * CELL) left.push(i)
    else inCells.push(i)
  }
  if (inCells.length === 0) return left
  const read = readsOf(db)
  const hourOf = (i: number) => Math.floor(spans[i]!.lo / HOUR)
  const cellOf = (i: number) => cellId(series, Math.floor(spans[i]!.lo / CELL) - hourOf(i) * CELLS, hourOf(i))
  const cellIndex = (id: number) => Math.floor(id / HOUR_SPACE) % 16
  const kept = rowsById(distinctSorted(inCells.map((i) => hourId(series, hourOf(i)))), read.hours)
  const answered: number[] = []
  for (const i of inCells) (kept.has(hourId(series, hourOf(i))) ? answered : left).push(i)
  const ids = distinctSorted(answered.map(cellOf))
  let packedBytes = 0
  for (const id of ids) {
    const cells = kept.get(hourId(series, id % HOUR_SPACE))!
    packedBytes += 12 * cells.view.getFloat64(cells.at + cellIndex(id) * 40, true)
  }
  if (packedBytes > budget) return [...indices]
  // Ids of the same cell of consecutive hours lie together; of different cells, far apart: a read for each cell.
  const packed = new Rows()
  for (let j = 0; j < CELLS; j++) rowsById(ids.filter((id) => cellIndex(id) === j), read.cells, packed)
  for (const i of answered) {
    const { lo, hi } = spans[i]!
    // A kept hour has no row for a cell it holds no values in.
    const cell = packed.get(cellOf(i))
    if (!cell) continue
    let part: [number, number]
    try {
      part = partOf(cell, Math.floor(lo / CELL) * CELL, lo, hi)
    } catch (err) {
      if (err !== UNPLACEABLE) throw err
      left.push(i)
      continue
    }
    for (let k = part[0]; k < part[1]; k++) each(i, valueAt(cell, k))
  }
  return left
}

function distinctSorted(ids: number[]): number[] {
  return [...new Set(ids)].sort((a, b) => a - b)
}

/** Adds the part [a, b) of a kept hour: whole cells from its cells' statistics, cut ones from their packed values. */
function addPiece(into: Stats, cells: Slice, packed: Rows, series: number, hour: number, a: number, b: number): void {
  const { view, at } = cells
  const start = hour * HOUR
  const last = Math.ceil((b - start) / CELL)
  for (let j = Math.floor((a - start) / CELL); j < last; j++) {
    const lo = start + j * CELL
    const hi = lo + CELL
    const c = at + j * 40
    if (a <= lo && hi <= b) merge(into, view.getFloat64(c, true), view.getFloat64(c + 8, true), view.getFloat64(c + 16, true), view.getFloat64(c + 24, true), view.getFloat64(c + 32, true))
    else {
      const values = packed.get(cellId(series, j, hour))
      if (values) addPart(into, values, partOf(values, lo, a, b))
    }
  }
}
