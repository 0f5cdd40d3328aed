/** How the Backup page says what a replica is doing, and reads what the owner types. */
import { formatBytes, formatTime } from '../../components/format.ts'
import type { ReplicaSettings, ReplicaView, ShareHolder } from './api.ts'

/** The quota a replicator's operator is suggested; they choose their own. */
export const SUGGESTED_QUOTA = '10GiB'

export function acceptCommand(code: string): string {
  return `coffer replicator accept ${code} --quota ${SUGGESTED_QUOTA}`
}

/** What the owner's other device runs with its invite: take it, then follow the box. */
export function deviceCommands(code: string): { accept: string; start: string } {
  return { accept: `coffer device accept ${code}`, start: 'coffer device start' }
}

export function short(key: string): string {
  return `${key.slice(0, 12)}…`
}

/** How a friend's share of the seed reached them: a file handed over, or through the replica they run, delivered or not yet. */
export function deliveryWords(holder: ShareHolder): string {
  if (!holder.replica) return 'handed over as a file'
  if (holder.deliveredAt !== null) return `delivered to ${holder.replica.name} ${formatTime(holder.deliveredAt)}`
  return holder.problem ? `refused by ${holder.replica.name}: ${holder.problem}` : `waiting for ${holder.replica.name} to connect`
}

/** A log as the owner knows it: each source by its name, the audit log, and the list of sources that restores the rest. */
export function logName(log: string): string {
  if (log.startsWith('source:')) return `Source ${log.slice('source:'.length)}`
  if (log === 'audit') return 'Audit log'
  if (log === 'registry') return 'List of sources'
  return log
}

export function connectionWords(r: ReplicaView): string {
  if (r.connected) return 'Connected'
  if (!r.inWindow) return 'Outside its sync window'
  return r.state === 'invited' ? 'Not connected: waiting for its operator to accept the invite' : 'Not connected'
}

export type SyncTone = 'ok' | 'behind' | 'unknown'

/** In sync, or how far behind, from the replica's last verified report. */
export function syncWords(r: ReplicaView): { text: string; tone: SyncTone } {
  if (r.state === 'invited') return { text: 'Not paired yet', tone: 'unknown' }
  if (!r.health) return { text: 'No health report yet', tone: 'unknown' }
  const { behindBlocks, behindBytes } = r.health
  if (behindBlocks === 0) return { text: 'In sync', tone: 'ok' }
  // The box counts bytes behind from the log's length as the replica knows it, so blocks it knows of but has not fetched count none: the blocks say it.
  const bytes = behindBytes > 0 ? ` (${formatBytes(behindBytes)})` : ''
  return { text: `Behind by ${behindBlocks.toLocaleString('en')} ${behindBlocks === 1 ? 'block' : 'blocks'}${bytes}`, tone: 'behind' }
}

/** The last time the box asked it for blocks at random and compared them with its own. */
export function checkWords(check: NonNullable<ReplicaView['health']>['check']): string {
  if (!check) return 'Not checked yet'
  if (check.blocks === 0) return 'Nothing to check yet'
  const matched = check.blocks - check.failed
  return `${matched} of ${check.blocks} ${check.blocks === 1 ? 'block' : 'blocks'} matched`
}

export function quotaWords(health: NonNullable<ReplicaView['health']>): string {
  const share = health.quotaBytes > 0 ? Math.round((health.usedBytes / health.quotaBytes) * 100) : 0
  return `${formatBytes(health.usedBytes)} of ${formatBytes(health.quotaBytes)} (${share}%)`
}

export function windowsWords(windows: string[]): string {
  return windows.length === 0 ? 'At any time' : windows.map((w) => w.replace('-', '–')).join(', ')
}

export function limitWords(bytesPerSecond: number): string {
  return bytesPerSecond === 0 ? 'No limit' : `${formatBytes(bytesPerSecond)}/s`
}

/**
 * Whether the page should look again soon: something is under way that the owner is waiting to
 * see finish. A replica away, or whose quota is full, will not change until something else does.
 */
export function unsettled(replicas: ReplicaView[]): boolean {
  return replicas.some((r) => {
    if (r.state === 'invited') return r.inviteExpiresAt !== null && Date.parse(r.inviteExpiresAt) > Date.now()
    return r.connected && !r.health?.overQuota && (!r.health || r.health.behindBlocks > 0 || !r.health.check)
  })
}

const WINDOW = /^([01][0-9]|2[0-3]):([0-5][0-9])-([01][0-9]|2[0-3]):([0-5][0-9])$/

type Read<T> = { value: T; error?: undefined } | { value?: undefined; error: string }

/** Sync windows as typed: HH:MM-HH:MM, several separated by commas; nothing for "at any time". */
export function readWindows(text: string): Read<string[]> {
  const windows = text.split(/[,\s]+/).map((w) => w.replace(/[–—]/g, '-')).filter((w) => w !== '')
  for (const w of windows) {
    const match = WINDOW.exec(w)
    if (!match) return { error: `“${w}” is not a sync window: write it as HH:MM-HH:MM in 24-hour time, like 22:00-06:00.` }
    if (match[1] === match[3] && match[2] === match[4]) return { error: `${w} starts and ends at the same minute, so it would never sync: leave the windows empty to sync at any time.` }
  }
  if (windows.length > 24) return { error: 'At most 24 sync windows.' }
  return { value: windows }
}

/** A rate limit in KB/s (1 KB = 1024 bytes, as the page shows sizes); empty or 0 for none. */
export function readLimit(text: string, what: string): Read<number> {
  const trimmed = text.trim()
  if (trimmed === '') return { value: 0 }
  const n = Number(trimmed)
  if (!Number.isFinite(n) || n < 0) return { error: `The ${what} limit is a number of KB per second, or empty for no limit.` }
  return { value: Math.round(n * 1024) }
}

/** Hours after which a replica not in sync is flagged; the box takes no less than a minute. */
/** A replica's sync as typed in SyncFields: its windows and both limits, or the first problem. */
export function readSync(text: { windows: string; upload: string; download: string }): Read<{ windows: string[]; uploadBytesPerSecond: number; downloadBytesPerSecond: number }> {
  const windows = readWindows(text.windows)
  const upload = readLimit(text.upload, 'upload')
  const download = readLimit(text.download, 'download')
  const error = windows.error ?? upload.error ?? download.error
  if (error !== undefined) return { error }
  return { value: { windows: windows.value!, uploadBytesPerSecond: upload.value!, downloadBytesPerSecond: download.value! } }
}

export function readStaleHours(text: string): Read<number> {
  const n = Number(text.trim())
  if (text.trim() === '' || !Number.isFinite(n) || n * 3600 < 60) return { error: 'Flag it after a number of hours, at least 0.02 (a minute).' }
  return { value: Math.round(n * 3600) }
}

export function settingsText(settings: ReplicaSettings): { windows: string; upload: string; download: string; stale: string } {
  const kb = (bytes: number) => bytes === 0 ? '' : String(Math.round((bytes / 1024) * 100) / 100)
  return {
    windows: settings.windows.join(', '),
    upload: kb(settings.uploadBytesPerSecond),
    download: kb(settings.downloadBytesPerSecond),
    stale: String(Math.round((settings.staleAfterSeconds / 3600) * 100) / 100),
  }
}
