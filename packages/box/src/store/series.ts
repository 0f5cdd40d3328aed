/**
 * The series a view's points belong to, and how a record's value maps onto one. Points carry a
 * series id, not a name, unit and type; the whole list is kept in memory because ingest looks
 * one up for nearly every record and reads turn ids back into names.
 */
import type Database from 'better-sqlite3'
import type { SenmlRecord } from '../senml/index.ts'
import type { TechnicalType } from './meta.ts'

/** One series: a record name with one unit and one value type. Points refer to it by id. */
export interface Series {
  id: number
  name: string
  unit: string | null
  type: TechnicalType
}

export class SeriesRegistry {
  /** By name, unit and type together. */
  readonly byKey = new Map<string, Series>()
  readonly byId = new Map<number, Series>()
  readonly #byName = new Map<string, Series[]>()
  readonly #insert: Database.Statement

  constructor(db: Database.Database) {
    this.#insert = db.prepare('INSERT INTO series (name, unit, type) VALUES (?, ?, ?)')
    for (const s of db.prepare('SELECT id, name, unit, type FROM series').all() as Series[]) this.#remember(s)
  }

  /** The series for this name, unit and type, added on first sight. Call inside a transaction. */
  of(name: string, unit: string | null, type: TechnicalType): Series {
    const key = seriesKey(name, unit, type)
    let s = this.byKey.get(key)
    if (!s) {
      s = { id: Number(this.#insert.run(name, unit, type).lastInsertRowid), name, unit, type }
      this.#remember(s)
    }
    return s
  }

  /** Every series of one record name, whatever its unit and type. */
  withName(name: string): Series[] {
    return this.#byName.get(name) ?? []
  }

  /** The series of these record names, or every series. */
  named(names: string[] | undefined): Series[] {
    if (names === undefined) return [...this.byId.values()]
    return names.flatMap((name) => this.withName(name))
  }

  #remember(s: Series): void {
    this.byKey.set(seriesKey(s.name, s.unit, s.type), s)
    this.byId.set(s.id, s)
    this.#byName.set(s.name, [...this.withName(s.name), s])
  }
}

function seriesKey(name: string, unit: string | null, type: TechnicalType): string {
  return `${name}\u0000${unit ?? ''}\u0000${type}`
}

export function valueOf(r: SenmlRecord): [TechnicalType, number | string | null] {
  if (r.v !== undefined) return ['number', r.v]
  if (r.vs !== undefined) return ['string', r.vs]
  if (r.vb !== undefined) return ['boolean', r.vb ? 1 : 0]
  if (r.vd !== undefined) return ['bytes', r.vd]
  return ['number', null] // a record carrying only a sum
}

export function toRecord(series: Series, t: number, val: number | string | null, s: number | null, ut: number | null): SenmlRecord {
  const r: SenmlRecord = { n: series.name, t }
  if (series.unit !== null) r.u = series.unit
  if (val !== null) {
    if (series.type === 'number') r.v = val as number
    else if (series.type === 'string') r.vs = val as string
    else if (series.type === 'boolean') r.vb = val === 1
    else r.vd = val as string
  }
  if (s !== null) r.s = s
  if (ut !== null) r.ut = ut
  return r
}
