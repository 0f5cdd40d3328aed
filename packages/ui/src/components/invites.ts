/** What every invite form shares: how long an invite may stay good, and reading a pasted public key. */

export const INVITE_EXPIRIES = [
  { value: '30m', label: '30 minutes' },
  { value: '1h', label: '1 hour' },
  { value: '1d', label: '1 day' },
  { value: '7d', label: '7 days' },
]

/** A public key (a box's or a replicator's) as the owner pasted it: spaces and line breaks dropped, lower case; undefined if it is not 64 hex characters. */
export function readPublicKey(text: string): string | undefined {
  const key = text.replace(/\s/g, '').toLowerCase()
  return /^[0-9a-f]{64}$/.test(key) ? key : undefined
}
