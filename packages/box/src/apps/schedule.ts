/**
 * When an active app runs by itself: on a timer for `{"every": …}`, or shortly after new records
 * reach a source it was granted to observe for `{"onNewData": […]}`. A run already under way is
 * not started twice.
 */
import type { Logger } from 'pino'
import type { Store } from '../store/index.ts'
import { durationSeconds } from './manifest.ts'
import type { AppInfo, RunSummary } from './index.ts'

/** New records arriving in a burst wake the app once. */
const NEW_DATA_DELAY_MS = 1000
const TICK_MS = 60_000

export interface SchedulesDeps {
  store: Store
  logger: Logger
  isRunning(app: string): boolean
  run(app: string, trigger: RunSummary['trigger']): Promise<unknown>
}

export class Schedules {
  readonly #deps: SchedulesDeps
  readonly #cancels = new Map<string, () => void>()

  constructor(deps: SchedulesDeps) {
    this.#deps = deps
  }

  /** (Re)schedules an app from its manifest and consent. */
  set(app: AppInfo): void {
    this.cancel(app.id)
    const { schedule } = app.manifest
    const { store } = this.#deps
    const start = (trigger: RunSummary['trigger']) => {
      if (this.#deps.isRunning(app.id)) return
      this.#deps.run(app.id, trigger).catch((err: Error) => this.#deps.logger.warn({ app: app.id, err: err.message }, 'scheduled app run failed'))
    }
    if ('every' in schedule) {
      // Node's timers hold at most 24.8 days, so long periods are counted in ticks of a minute.
      const period = durationSeconds(schedule.every) * 1000
      let due = Date.now() + period
      const timer = setInterval(() => {
        if (Date.now() < due) return
        due = Date.now() + period
        start('schedule')
      }, Math.min(period, TICK_MS))
      timer.unref()
      this.#cancels.set(app.id, () => clearInterval(timer))
    } else if ('onNewData' in schedule && app.consent) {
      let pending: NodeJS.Timeout | undefined
      const onRecords = () => {
        pending ??= setTimeout(() => {
          pending = undefined
          start('new-data')
        }, NEW_DATA_DELAY_MS)
      }
      const watched = app.consent.sources.filter((s) => schedule.onNewData.includes(s.request) && s.ops.includes('observe'))
        .flatMap((s) => s.sources).filter((s) => store.has(s))
      for (const source of watched) store.get(source).events.on('records', onRecords)
      this.#cancels.set(app.id, () => {
        clearTimeout(pending)
        for (const source of watched) if (store.has(source)) store.get(source).events.off('records', onRecords)
      })
    }
  }

  cancel(app: string): void {
    this.#cancels.get(app)?.()
    this.#cancels.delete(app)
  }

  clear(): void {
    for (const app of [...this.#cancels.keys()]) this.cancel(app)
  }
}
