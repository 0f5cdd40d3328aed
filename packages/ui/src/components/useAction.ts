import { useCallback, useState } from 'react'
import { message } from '../api/client.ts'

/**
 * One user action at a time: `busy` while it runs (for disabling its button), and its failure
 * as a sentence to show with role=alert. A form may also set its own error before running.
 */
export function useAction() {
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const run = useCallback(async (action: () => Promise<unknown>) => {
    setBusy(true)
    setError(null)
    try {
      await action()
    } catch (err) {
      setError(message(err))
    } finally {
      setBusy(false)
    }
  }, [])
  return { busy, error, setError, run }
}
