/**
 * The editor's form, and the spec it makes. The market's validation checks a spec's shape
 * before its question, so an empty purpose would hide every problem in the question while it is
 * being typed. Fields that are empty or not a number are therefore caught here, in words that
 * say what to write, and stand in with a neutral value for the live check; the market's own
 * problems for those fields are left out until the field holds something it can judge.
 */
import type { QueryProblem } from '@coffer/market/protocol'

export type RetentionUnit = 'd' | 'w' | 'mo' | 'y'
export type Answer = 'statistics' | 'histogram' | 'dataset'

export interface Form {
  question: string
  purpose: string
  price: string
  min: string
  max: string
  /** A datetime-local value, in the processor's own time zone. */
  deadline: string
  retention: string
  retentionUnit: RetentionUnit
  answer: Answer
  bounds: Record<string, { lo: string; hi: string }>
}

/** The JSON pointer of each form field in a spec: problems are shown beside the field they point into. */
export const FIELD_PATHS = {
  question: '/question', purpose: '/purpose', price: '/price', min: '/participants/min', max: '/participants/max',
  deadline: '/deadline', retention: '/retention', answer: '/answer',
} as const

const DAY = 86_400_000

/** `YYYY-MM-DDTHH:MM` in local time, what a datetime-local input holds. */
export function localInput(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0')
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`
}

export function initialForm(now = new Date()): Form {
  const deadline = new Date(now.getTime() + 30 * DAY)
  deadline.setHours(12, 0, 0, 0)
  return {
    question: '', purpose: '', price: '100', min: '10', max: '1000', deadline: localInput(deadline),
    retention: '90', retentionUnit: 'd', answer: 'statistics', bounds: {},
  }
}

const WHOLE = /^\s*\d+\s*$/
const NUMBER = /^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/

/**
 * The spec to check (or post), the problems found here, and the paths whose market problems are
 * to be left out because the field stood in. `boundAttributes` are those the question sums or averages.
 */
export function toSpec(form: Form, boundAttributes: string[]): { spec: Record<string, unknown>; local: QueryProblem[]; stoodIn: string[] } {
  const local: QueryProblem[] = []
  const stoodIn: string[] = []
  const standIn = <T>(path: string, message: string, value: T): T => {
    local.push({ path, message })
    stoodIn.push(path)
    return value
  }

  const question = form.question.trim() !== '' ? form.question
    : standIn('/question', 'Write the question, for example SELECT AVG(Identity.age) WHERE Identity.city = aachen.', 'SELECT COUNT(*)')
  const purpose = form.purpose.trim() !== '' ? form.purpose.trim()
    : standIn('/purpose', 'Say why you ask, in plain words: owners read it before they decide.', 'To be written.')
  const price = WHOLE.test(form.price) ? Number(form.price)
    : standIn('/price', 'Enter the price per participant as a whole number of satoshis, 0 or more.', 0)
  const min = WHOLE.test(form.min) ? Number(form.min)
    : standIn('/participants/min', 'Enter the fewest participants as a whole number, at least 10.', 10)
  const max = WHOLE.test(form.max) ? Number(form.max)
    : standIn('/participants/max', 'Enter the most participants as a whole number.', Math.max(min, 10))
  const deadlineDate = form.deadline ? new Date(form.deadline) : null
  const deadline = deadlineDate && !Number.isNaN(deadlineDate.getTime()) ? deadlineDate.toISOString()
    : standIn('/deadline', 'Choose the date and time consent closes.', new Date(Date.now() + 30 * DAY).toISOString())
  const retention = /^\s*[1-9]\d{0,3}\s*$/.test(form.retention) ? `${form.retention.trim()}${form.retentionUnit}`
    : standIn('/retention', 'Enter how long you keep the answer as a whole number from 1 to 9999.', '90d')

  const bounds: Record<string, { lo: number; hi: number }> = {}
  for (const attribute of boundAttributes) {
    const entered = form.bounds[attribute] ?? { lo: '', hi: '' }
    // Both empty: the market says bounds are missing, in its own words.
    if (entered.lo.trim() === '' && entered.hi.trim() === '') continue
    const lo = NUMBER.test(entered.lo) ? Number(entered.lo) : undefined
    const hi = NUMBER.test(entered.hi) ? Number(entered.hi) : undefined
    if (lo === undefined) standIn(`/bounds/${attribute}/lo`, `Enter the lowest value of ${attribute} you expect, as a number.`, 0)
    if (hi === undefined) standIn(`/bounds/${attribute}/hi`, `Enter the highest value of ${attribute} you expect, as a number.`, 0)
    if (lo !== undefined && hi !== undefined) bounds[attribute] = { lo, hi }
    else stoodIn.push(`/bounds/${attribute}`)
  }

  return {
    spec: { question, purpose, price: { amount: price, currency: 'sat' }, deadline, participants: { min, max }, bounds, answer: form.answer, retention },
    local,
    stoodIn,
  }
}

/** Whether a problem at `path` falls under `field`'s pointer. */
export function under(path: string, field: string): boolean {
  return path === field || path.startsWith(`${field}/`)
}
