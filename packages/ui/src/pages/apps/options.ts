/** The choices the review offers: only ever coarser detail and shorter windows than the app asked for. */
import { parseDuration } from '../../../../box/src/duration/index.ts'

interface Option { value: string; seconds: number; label: string }

/** `raw` detail and `all` of history are 0 seconds, as in a manifest. */
function option(value: string, label: string): Option {
  return { value, seconds: value === 'raw' || value === 'all' ? 0 : parseDuration(value), label }
}

export const DETAIL: Option[] = [
  option('raw', 'every individual reading'),
  option('5m', 'five-minute totals and averages'),
  option('1h', 'hourly totals and averages'),
  option('1d', 'daily totals and averages'),
  option('1w', 'weekly totals and averages'),
]

export const WINDOW: Option[] = [
  option('1d', 'the last day'),
  option('7d', 'the last 7 days'),
  option('14d', 'the last 14 days'),
  option('30d', 'the last 30 days'),
  option('90d', 'the last 90 days'),
  option('365d', 'the last year'),
  option('all', 'all of its history'),
]

export function detailChoices(asked: number) {
  return DETAIL.filter((d) => d.seconds >= asked)
}

/** 0 means all of history, which only an app that asked for all of it may keep. */
export function windowChoices(asked: number) {
  return WINDOW.filter((w) => (asked === 0 ? true : w.seconds !== 0 && w.seconds <= asked))
}

/** The option for what was asked, even when it is not one of the usual ones. */
export function askedOption(list: Option[], seconds: number, label: string) {
  return list.find((o) => o.seconds === seconds) ?? { value: '', seconds, label }
}
