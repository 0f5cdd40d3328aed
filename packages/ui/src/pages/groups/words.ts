/** How the Groups page names what a group and its drive are doing, reads what the owner types, and says what went wrong. */
import { ApiError } from '@coffer/box/client'
import type { GroupView, MemberView, ReplicatorView, SharedSourceView } from '../../../../box/src/groups/index.ts'
import { message } from '../../api/client.ts'

export function joinCommand(code: string): string {
  return `coffer groups join ${code}`
}

export function short(key: string): string {
  return `${key.slice(0, 12)}…`
}

/** What this box is in the group, in words. */
export function roleWords(group: GroupView): string {
  if (group.removed) return 'Removed by an admin'
  if (group.role === null) return 'Not let in yet'
  return group.role === 'admin' ? 'Admin' : 'Member'
}

export function connectionWords(member: MemberView): string {
  if (member.you) return 'This box'
  return member.connected ? 'Connected' : 'Not connected'
}

export function replicatorConnectionWords(r: ReplicatorView): string {
  if (r.connected) return 'Connected'
  return r.inWindow ? 'Not connected' : 'Outside its sync windows'
}

/** How many of the other members are connected now. */
export function connectedWords(group: GroupView): string {
  const others = group.members.filter((m) => !m.you)
  if (others.length === 0) return 'No other member yet'
  const connected = others.filter((m) => m.connected).length
  return `${connected} of ${others.length} other ${others.length === 1 ? 'member' : 'members'}`
}

/** A member may be removed by an admin, and not by the admin themself (who leaves instead). */
export function removable(group: GroupView, member: MemberView): boolean {
  return group.role === 'admin' && !group.removed && !member.you
}

/** A drive path's folders from the root down, each with the path that opens it. */
export function crumbs(path: string): { name: string; path: string }[] {
  const parts = path.split('/').filter((p) => p !== '')
  return [{ name: 'Top folder', path: '/' }, ...parts.map((name, i) => ({ name, path: '/' + parts.slice(0, i + 1).join('/') }))]
}

export function joinPath(folder: string, name: string): string {
  return `${folder === '/' ? '' : folder}/${name}`
}

/** A path in a group's drive as a WebDAV URL below /dav/groups, each name encoded. */
export function davPath(group: string, path: string): string {
  return `/${group}${path.split('/').map(encodeURIComponent).join('/')}`
}

/** A name for a new file or folder, as the drive takes it; an error sentence when it cannot. */
export function checkName(name: string): string | undefined {
  if (name.trim() === '') return 'Give it a name.'
  if (name.includes('/')) return 'A name holds no “/”: open the folder first, then add to it.'
  if (name === '.' || name === '..') return '“.” and “..” are not names in the drive.'
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) return 'A name holds no control characters.'
  if (name.length > 255) return 'A name in the drive is at most 255 characters.'
  return undefined
}

type DriveAction = 'upload' | 'download' | 'delete' | 'mkdir'
const DOING: Record<DriveAction, string> = { upload: 'Uploading', download: 'Downloading', delete: 'Deleting', mkdir: 'Making the folder' }

/**
 * What went wrong with a drive request, and what to do next. The box answers a refused request
 * (no such group, a bad token) with a problem, whose detail is said as it is; WebDAV answers the
 * rest with a bare status, said here in words.
 */
export function driveProblem(err: unknown, action: DriveAction, name: string): string {
  if (!(err instanceof ApiError) || err.type !== '') return message(err)
  const what = `“${name}”`
  switch (err.status) {
    case 404: return `${what} is not in the drive any more: another member may have moved or deleted it. Refresh the folder.`
    case 403: return `The drive refused ${what}: a name holds no control characters and is at most 255 characters.`
    case 405: return action === 'mkdir' ? `${what} exists already in this folder: pick another name.` : `${what} is a folder: open it instead.`
    case 409: return `The folder ${what} was to go in is not in the drive any more: another member may have moved or deleted it. Refresh the folder.`
    case 423: return `${what} is locked by a file manager that has the drive mounted: try again once it is done with it.`
    case 507: return `This box's disk is full: ${what} was not stored. Free some space on it and try again.`
    default: return `${DOING[action]} ${what} failed (the drive answered ${err.status}). Try again; the box's log says more.`
  }
}

/** A bucket size as a person says it: 3600 → "1 hour", 172800 → "2 days". */
export function bucketWords(seconds: number): string {
  const [size, word] = seconds % 604800 === 0 ? [604800, 'week'] : seconds % 86400 === 0 ? [86400, 'day'] : seconds % 3600 === 0 ? [3600, 'hour'] : [60, 'minute']
  const n = seconds / size
  return `${n} ${word}${n === 1 ? '' : 's'}`
}

/** What a shared source's rules let members' boxes do with it, in one sentence. */
export function rulesWords(rules: SharedSourceView['rules']): string {
  const apps = rules.apps === 'raw' ? 'Apps may read every reading' : rules.apps === 'none' ? 'No app may be granted it' : `Apps may read totals and averages over ${bucketWords(rules.finest)} or more`
  const out = rules.gateway ? 'an app reading it may send data out' : 'nothing read from it leaves a member’s box'
  return `${apps}; ${out}; ${rules.market ? 'it may answer data markets' : 'it answers no data market'}.`
}
