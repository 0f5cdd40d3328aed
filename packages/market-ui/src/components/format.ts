/** Numbers and dates the way the processor's browser writes them. */
const whole = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 })

export function sats(n: number): string {
  return `${whole.format(n)} sat`
}

export function count(n: number): string {
  return whole.format(n)
}

/** Enough digits for an answer with error bars: four significant, never exponent notation for everyday sizes. */
export function decimal(n: number): string {
  if (!Number.isFinite(n)) return String(n)
  return new Intl.NumberFormat(undefined, { maximumSignificantDigits: Math.abs(n) >= 1000 ? 7 : 4 }).format(n)
}

export function dateTime(iso: string): string {
  const d = new Date(iso)
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' })
}

const RETENTION_UNITS: Record<string, [string, string]> = { d: ['day', 'days'], w: ['week', 'weeks'], mo: ['month', 'months'], y: ['year', 'years'] }

/** `90d` → "90 days". */
export function retention(spec: string): string {
  const m = /^(\d+)(d|w|mo|y)$/.exec(spec)
  if (!m) return spec
  const [singular, plural] = RETENTION_UNITS[m[2]!]!
  return `${m[1]} ${m[1] === '1' ? singular : plural}`
}

export const ANSWER_WORDS: Record<string, string> = {
  statistics: 'statistics (counts, sums, means)',
  histogram: 'a histogram',
  dataset: 'an anonymised dataset',
}
