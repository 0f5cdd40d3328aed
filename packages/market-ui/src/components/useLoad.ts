import { useCallback, useEffect, useState } from 'react'

export interface Loaded<T> {
  data: T | undefined
  error: unknown
  loading: boolean
  reload: () => void
}

/**
 * Loads on mount and whenever `deps` change; a newer load aborts the one before. With `delay`,
 * it waits that long after the last change before asking, so a burst of changes (zooming,
 * panning) makes one request; the previous data stays until the new answer arrives.
 */
export function useLoad<T>(load: (signal: AbortSignal) => Promise<T>, deps: unknown[], opts: { delay?: number } = {}): Loaded<T> {
  const [data, setData] = useState<T>()
  const [error, setError] = useState<unknown>()
  const [loading, setLoading] = useState(true)
  const [tick, setTick] = useState(0)
  const reload = useCallback(() => setTick((t) => t + 1), [])
  useEffect(() => {
    const controller = new AbortController()
    const start = () => {
      setLoading(true)
      load(controller.signal).then(
        (value) => {
          if (controller.signal.aborted) return
          setData(value)
          setError(undefined)
          setLoading(false)
        },
        (err: unknown) => {
          if (controller.signal.aborted) return
          setError(err)
          setLoading(false)
        },
      )
    }
    const timer = opts.delay === undefined ? undefined : setTimeout(start, opts.delay)
    if (timer === undefined) start()
    return () => {
      clearTimeout(timer)
      controller.abort()
    }
  }, [...deps, tick])
  return { data, error, loading, reload }
}
