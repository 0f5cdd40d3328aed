/** How numbers, sizes and times read in the cockpit. */

export function formatTime(epochSeconds: number | null | undefined): string {
  if (epochSeconds === null || epochSeconds === undefined) return '—'
  return new Date(epochSeconds * 1000).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' })
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB']
  let n = bytes
  let i = 0
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024
    i++
  }
  return `${i === 0 ? n : n.toFixed(n < 10 ? 1 : 0)} ${units[i]}`
}

export function formatNumber(n: number | null | undefined, unit?: string | null): string {
  if (n === null || n === undefined || Number.isNaN(n)) return '—'
  const abs = Math.abs(n)
  // Seven significant digits keep a reading as precise as it was taken (a latitude to about 10 cm).
  const text = abs !== 0 && (abs >= 1e7 || abs < 1e-3) ? n.toExponential(3) : n.toLocaleString(undefined, { maximumSignificantDigits: 7 })
  return unit ? `${text} ${unit}` : text
}

export function recordValue(r: { v?: number; vs?: string; vb?: boolean; vd?: string; s?: number; u?: string }): string {
  if (r.v !== undefined) return formatNumber(r.v, r.u)
  if (r.vs !== undefined) return r.vs
  if (r.vb !== undefined) return r.vb ? 'true' : 'false'
  if (r.vd !== undefined) return `${r.vd.length} bytes of data`
  if (r.s !== undefined) return formatNumber(r.s, r.u)
  return '—'
}

/** A value for <input type="datetime-local"> in the browser's zone. */
export function toLocalInput(epochSeconds: number): string {
  const d = new Date(epochSeconds * 1000)
  const pad = (n: number) => String(n).padStart(2, '0')
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`
}

export function fromLocalInput(value: string): number | null {
  const ms = new Date(value).getTime()
  return Number.isNaN(ms) ? null : Math.floor(ms / 1000)
}
