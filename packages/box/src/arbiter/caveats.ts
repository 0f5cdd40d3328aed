/**
 * The caveat grammar. Every first-party caveat is one line `key = value`; a token's caveats
 * must all hold. Anything that does not parse, or any key not listed here, fails closed.
 *
 *   coffer = 1                             grammar version; always the first caveat
 *   subject = owner | device:ID | driver:ID | app:ID | market:ID
 *   grant = GRANT-ID@EPOCH                 checked against the grant table on every request
 *   sources = * | ID[,ID…]
 *   ops = OP[,OP…]                         read, write, observe, delete, admin
 *   window = FROM..TO                      data time window; each side epoch seconds, now-DURATION (s m h d w mo y), or empty
 *   granularity = raw | BUCKET             finest detail readable: raw points, or aggregates of at least BUCKET
 *   expires = EPOCH-SECONDS
 */
import { InvalidInput } from '../errors/index.ts'
import { SOURCE_ID } from '../store/meta.ts'
import { UNIT_ALTERNATIVES, UNIT_SECONDS, formatDuration, type DurationUnit } from '../duration/index.ts'

export const OPERATIONS = ['read', 'write', 'observe', 'delete', 'admin'] as const
export type Op = (typeof OPERATIONS)[number]

export interface Scope {
  subject: string
  grant: { id: string; epoch: number }
  sources: '*' | string[]
  ops: Op[]
  /** Every window must hold: attenuating a token adds a window, it never widens one. */
  windows: Window[]
  /** Minimum bucket in seconds; 0 means raw points are allowed. */
  granularity: number
  expires?: number
}

/** A window edge: an absolute epoch second, or an offset back from the time of the request. */
export type TimeBound = { at: number } | { ago: number }
export interface Window { from?: TimeBound; to?: TimeBound }

/** Subjects' names and sources' ids are spelled alike. */
const ID = SOURCE_ID.source.slice(1, -1)
const SUBJECT = new RegExp(`^(owner|(device|driver|app|market):${ID})$`)
const GRANT = /^([a-z0-9][a-z0-9._:-]{0,127})@(\d{1,15})$/
const SOURCE_LIST = new RegExp(`^${ID}(,${ID})*$`)
const BOUND = new RegExp(`^(\\d{1,12}(\\.\\d+)?|now-(\\d{1,10})(${UNIT_ALTERNATIVES}))?$`)

export function parseBound(text: string): TimeBound | undefined {
  if (text === '') return undefined
  const match = BOUND.exec(text)
  if (!match) throw new InvalidInput(`"${text}" is not a window edge: use epoch seconds or now-DURATION, like now-30d.`, { field: 'window' })
  if (match[3] !== undefined) return { ago: Number(match[3]) * UNIT_SECONDS[match[4] as DurationUnit] }
  return { at: Number(text) }
}

export function formatBound(bound: TimeBound | undefined): string {
  if (!bound) return ''
  if ('at' in bound) return String(bound.at)
  return `now-${formatDuration(bound.ago)}`
}

export function resolveBound(bound: TimeBound, now: number): number {
  return 'at' in bound ? bound.at : now - bound.ago
}

export function formatScope(scope: Scope): string[] {
  const caveats = [
    'coffer = 1',
    `subject = ${scope.subject}`,
    `grant = ${scope.grant.id}@${scope.grant.epoch}`,
    `sources = ${scope.sources === '*' ? '*' : scope.sources.join(',')}`,
    `ops = ${scope.ops.join(',')}`,
    `granularity = ${scope.granularity === 0 ? 'raw' : `${scope.granularity}s`}`,
  ]
  for (const w of scope.windows) caveats.push(`window = ${formatBound(w.from)}..${formatBound(w.to)}`)
  if (scope.expires !== undefined) caveats.push(`expires = ${Math.floor(scope.expires)}`)
  return caveats
}

/**
 * Folds caveats into one scope, narrowing at each repeat (a holder may attenuate a token by
 * appending caveats). Returns an error string for anything outside the grammar.
 */
export class ScopeBuilder {
  #seen = new Set<string>()
  readonly scope: Partial<Scope> & { ops?: Op[] } = {}

  add(caveat: string): string | null {
    const match = /^([a-z]+) = (.+)$/.exec(caveat)
    if (!match) return `malformed caveat "${caveat.slice(0, 80)}"`
    const [, key, value] = match as unknown as [string, string, string]
    if (this.#seen.size === 0 && !(key === 'coffer' && value === '1')) return 'the first caveat must be "coffer = 1"'
    const s = this.scope
    switch (key) {
      case 'coffer':
        if (value !== '1' || this.#seen.has('coffer')) return 'unsupported caveat grammar version'
        break
      case 'subject':
        if (!SUBJECT.test(value)) return `malformed subject "${value}"`
        if (s.subject !== undefined && s.subject !== value) return 'conflicting subjects'
        s.subject = value
        break
      case 'grant': {
        const g = GRANT.exec(value)
        if (!g || this.#seen.has('grant')) return `malformed grant "${value}"`
        s.grant = { id: g[1]!, epoch: Number(g[2]) }
        break
      }
      case 'sources': {
        if (value !== '*' && !SOURCE_LIST.test(value)) return `malformed sources "${value}"`
        const list = value === '*' ? '*' : value.split(',')
        s.sources = s.sources === undefined || s.sources === '*' ? list : list === '*' ? s.sources : s.sources.filter((x) => list.includes(x))
        break
      }
      case 'ops': {
        const ops = value.split(',')
        if (!ops.every((op) => (OPERATIONS as readonly string[]).includes(op))) return `malformed ops "${value}"`
        s.ops = s.ops === undefined ? (ops as Op[]) : s.ops.filter((op) => ops.includes(op))
        break
      }
      case 'window': {
        if (this.#seen.has('window') && s.windows!.length >= 8) return 'too many window caveats'
        const parts = value.split('..')
        if (parts.length !== 2 || !BOUND.test(parts[0]!) || !BOUND.test(parts[1]!)) return `malformed window "${value}"`
        s.windows = [...(s.windows ?? []), { from: parseBound(parts[0]!), to: parseBound(parts[1]!) }]
        break
      }
      case 'granularity': {
        const seconds = value === 'raw' ? 0 : /^\d{1,9}s$/.test(value) ? Number(value.slice(0, -1)) : NaN
        if (Number.isNaN(seconds)) return `malformed granularity "${value}"`
        s.granularity = Math.max(s.granularity ?? 0, seconds)
        break
      }
      case 'expires':
        if (!/^\d{1,12}$/.test(value)) return `malformed expiry "${value}"`
        s.expires = Math.min(s.expires ?? Infinity, Number(value))
        break
      default:
        return `unknown caveat "${key}"`
    }
    this.#seen.add(key)
    return null
  }

  /** The scope, if every caveat a token must carry was present. */
  finish(): Scope | string {
    const s = this.scope
    for (const key of ['subject', 'grant', 'sources', 'ops'] as const) if (s[key] === undefined) return `the token has no ${key} caveat`
    return { granularity: 0, windows: [], ...s } as Scope
  }
}
