/** The choices the review offers: only ever coarser detail and shorter windows than the app asked for. */

export const DETAIL: { value: string; seconds: number; label: string }[] = [
  { value: 'raw', seconds: 0, label: 'every individual reading' },
  { value: '5m', seconds: 300, label: 'five-minute totals and averages' },
  { value: '1h', seconds: 3600, label: 'hourly totals and averages' },
  { value: '1d', seconds: 86400, label: 'daily totals and averages' },
  { value: '1w', seconds: 604800, label: 'weekly totals and averages' },
]

export const WINDOW: { value: string; seconds: number; label: string }[] = [
  { value: '1d', seconds: 86400, label: 'the last day' },
  { value: '7d', seconds: 7 * 86400, label: 'the last 7 days' },
  { value: '14d', seconds: 14 * 86400, label: 'the last 14 days' },
  { value: '30d', seconds: 30 * 86400, label: 'the last 30 days' },
  { value: '90d', seconds: 90 * 86400, label: 'the last 90 days' },
  { value: '365d', seconds: 365 * 86400, label: 'the last year' },
  { value: 'all', seconds: 0, label: 'all of its history' },
]

export function detailChoices(asked: number) {
  return DETAIL.filter((d) => d.seconds >= asked)
}

/** 0 means all of history, which only an app that asked for all of it may keep. */
export function windowChoices(asked: number) {
  return WINDOW.filter((w) => (asked === 0 ? true : w.seconds !== 0 && w.seconds <= asked))
}

/** The option for what was asked, even when it is not one of the usual ones. */
export function askedOption(list: { value: string; seconds: number; label: string }[], seconds: number, label: string) {
  return list.find((o) => o.seconds === seconds) ?? { value: '', seconds, label }
}

/** Words for a granted detail or window that is not one of the usual choices. */
export function describeSeconds(seconds: number): string {
  for (const [unit, size] of [['week', 604800], ['day', 86400], ['hour', 3600], ['minute', 60]] as const) {
    if (seconds % size === 0) return `${seconds / size} ${unit}${seconds === size ? '' : 's'}`
  }
  return `${seconds} seconds`
}
