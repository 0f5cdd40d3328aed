/**
 * A CSV profile: the column mapping a CSV file is read through — which column holds the time
 * and in what format, which columns hold values, with names, units and types. Profiles are
 * checked when saved and kept by name, to be reused.
 */
import { Type, type Static } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import type Database from 'better-sqlite3'
import { InvalidInput, NotFound } from '../errors/index.ts'
import { LOGICAL_TYPES, wallClockToEpoch, assertTimeZone } from '../store/index.ts'

export const CsvProfile = Type.Object({
  time: Type.Object({
    column: Type.String({ minLength: 1, description: 'Header of the time column' }),
    format: Type.String({ description: 'iso, epoch, epoch-ms, or a pattern of YYYY MM DD HH mm ss, e.g. DD.MM.YYYY HH:mm' }),
    tz: Type.Optional(Type.String({ description: 'IANA zone for times without an offset; default UTC' })),
  }, { additionalProperties: false }),
  values: Type.Array(Type.Object({
    column: Type.String({ minLength: 1 }),
    name: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9:./_-]*$', maxLength: 128 })),
    unit: Type.Optional(Type.String({ maxLength: 32 })),
    type: Type.Optional(Type.Union([Type.Literal('number'), Type.Literal('string')])),
  }, { additionalProperties: false }), { minItems: 1, maxItems: 256 }),
  logicalType: Type.Optional(Type.Union(LOGICAL_TYPES.map((t) => Type.Literal(t)))),
  decimal: Type.Optional(Type.Union([Type.Literal('.'), Type.Literal(',')], { description: 'Decimal separator; with "," a "." groups thousands' })),
  delimiter: Type.Optional(Type.String({ minLength: 1, maxLength: 1, description: 'Overrides detection' })),
  encoding: Type.Optional(Type.String({ description: 'Overrides detection, e.g. windows-1252' })),
}, { additionalProperties: false })
export type CsvProfile = Static<typeof CsvProfile>

async function checkProfile(profile: unknown): Promise<CsvProfile> {
  const error = Value.Errors(CsvProfile, profile).First()
  if (error) throw new InvalidInput(`CSV profile${error.path ? ` ${error.path}` : ''}: ${error.message}.`, { field: error.path.replace(/^\//, '') || 'profile' })
  const p = profile as CsvProfile
  if (p.time.tz) assertTimeZone(p.time.tz)
  // The decoder is loaded when a profile names an encoding, not with the box.
  if (p.encoding && !(await import('iconv-lite')).default.encodingExists(p.encoding)) throw new InvalidInput(`Unknown encoding "${p.encoding}".`, { field: 'encoding' })
  for (const v of p.values) {
    if (!v.name && !/^[A-Za-z0-9][A-Za-z0-9:./_-]*$/.test(v.column)) throw new InvalidInput(`Column "${v.column}" cannot be a record name as it is: give it a "name".`, { field: 'values' })
  }
  timeParser(p)
  return p
}

/** Reads a cell's time as epoch seconds (NaN when it is not in the profile's format); refuses a format it cannot read. */
export function timeParser(p: CsvProfile): (text: string) => number {
  const { format, tz = 'UTC' } = p.time
  if (format === 'iso') {
    return (text) => {
      const hasOffset = /(Z|[+-]\d{2}:?\d{2})$/.test(text)
      const ms = Date.parse(hasOffset ? text : `${text.replace(' ', 'T')}Z`)
      return hasOffset || tz === 'UTC' ? ms / 1000 : wallClockToEpoch(tz, ms / 1000)
    }
  }
  if (format === 'epoch') return (text) => Number(text)
  if (format === 'epoch-ms') return (text) => Number(text) / 1000
  const order: string[] = []
  const source = format.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/YYYY|MM|DD|HH|mm|ss/g, (token) => {
    order.push(token)
    return token === 'YYYY' ? '(\\d{4})' : '(\\d{1,2})'
  })
  if (!order.includes('YYYY') || !order.includes('MM') || !order.includes('DD')) {
    throw new InvalidInput(`Time format "${format}" needs at least YYYY, MM and DD (or use iso, epoch, epoch-ms).`, { field: 'time.format' })
  }
  const re = new RegExp(`^${source}$`)
  return (text) => {
    const m = re.exec(text)
    if (!m) return NaN
    const part = (token: string) => (order.includes(token) ? Number(m[order.indexOf(token) + 1]) : 0)
    const wall = Date.UTC(part('YYYY'), part('MM') - 1, part('DD'), part('HH'), part('mm'), part('ss')) / 1000
    return wallClockToEpoch(tz, wall)
  }
}

/** Saved profiles, by name. */
export class CsvProfiles {
  readonly #db: Database.Database

  constructor(db: Database.Database) {
    this.#db = db
  }

  list(): { name: string; profile: CsvProfile }[] {
    return (this.#db.prepare('SELECT name, profile FROM csv_profiles ORDER BY name').all() as { name: string; profile: string }[]).map((r) => ({ name: r.name, profile: JSON.parse(r.profile) as CsvProfile }))
  }

  get(name: string): CsvProfile {
    const row = this.#db.prepare('SELECT profile FROM csv_profiles WHERE name = ?').get(name) as { profile: string } | undefined
    if (!row) throw new NotFound(`There is no CSV profile "${name}". Save one with \`coffer import FILE --profile mapping.json --save-profile ${name}\`.`)
    return JSON.parse(row.profile) as CsvProfile
  }

  async save(name: string, profile: unknown): Promise<CsvProfile> {
    if (!/^[a-z0-9][a-z0-9._-]{0,62}$/.test(name)) throw new InvalidInput(`"${name}" is not a valid profile name: use lower-case letters, digits, '.', '_' or '-'.`, { field: 'name' })
    const checked = await checkProfile(profile)
    this.#db.prepare('INSERT OR REPLACE INTO csv_profiles (name, profile) VALUES (?, ?)').run(name, JSON.stringify(checked))
    return checked
  }

  delete(name: string): void {
    if (this.#db.prepare('DELETE FROM csv_profiles WHERE name = ?').run(name).changes === 0) throw new NotFound(`There is no CSV profile "${name}".`)
  }
}
