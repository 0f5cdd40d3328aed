/**
 * Paths in a group drive and where each lives in its view. A node is keyed by its folder and its
 * name (`n<folder>\0<name>`), so a folder's children are one range and its whole subtree two; a
 * file's history is keyed by its path and a counter, and a file holding a conflict has a marker.
 */
import { InvalidInput } from '../errors/index.ts'

const MAX_PATH = 4096
const MAX_NAME = 255

/** `/a/b.txt` as the drive keeps it: absolute, no empty, `.` or `..` parts, no trailing slash; the root is `/`. */
export function normalizePath(path: string): string {
  if (typeof path !== 'string' || path.length > MAX_PATH) throw new InvalidInput(`A drive path is at most ${MAX_PATH} characters.`, { field: 'path' })
  const parts = path.split('/').filter((part) => part !== '')
  for (const part of parts) {
    if (part === '.' || part === '..') throw new InvalidInput(`"${path}": a drive path has no "." or ".." parts.`, { field: 'path' })
    if (part.length > MAX_NAME) throw new InvalidInput(`"${part}": a name in the drive is at most ${MAX_NAME} characters.`, { field: 'path' })
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u001f\u007f]/.test(part)) throw new InvalidInput(`"${path}": a drive path holds no control characters.`, { field: 'path' })
  }
  return '/' + parts.join('/')
}

/** The folder a path is in: '' for the root's children, else `/a`. */
export function folderOf(path: string): string {
  return path.slice(0, path.lastIndexOf('/'))
}

export function nameOf(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1)
}

/** `folder` as folderOf() gives it ('' for the root), for a folder's own path. */
export function asFolder(path: string): string {
  return path === '/' ? '' : path
}

export function join(folder: string, name: string): string {
  return `${folder}/${name}`
}

export function nodeKey(path: string): string {
  return `n${folderOf(path)}\0${nameOf(path)}`
}

export function pathOfNodeKey(key: string): string {
  const at = key.indexOf('\0')
  return `${key.slice(1, at)}/${key.slice(at + 1)}`
}

/** The range of a folder's children. */
export function childrenRange(folder: string): { gte: string; lt: string } {
  return { gte: `n${folder}\0`, lt: `n${folder}\u0001` }
}

/** The ranges of everything under a folder, children first. */
export function subtreeRanges(folder: string): { gte: string; lt: string }[] {
  if (folder === '') return [{ gte: 'n', lt: 'o' }]
  return [childrenRange(folder), { gte: `n${folder}/`, lt: `n${folder}0` }]
}

export function historyRange(path: string): { gte: string; lt: string } {
  return { gte: `h${path}\0`, lt: `h${path}\u0001` }
}

export function historyKey(path: string, seq: number): string {
  return `h${path}\0${String(seq).padStart(12, '0')}`
}

export function conflictKey(path: string): string {
  return `c${path}`
}

export const CONFLICTS = { gte: 'c', lt: 'd' }

/** Whether `path` is `folder` or inside it. */
export function within(path: string, folder: string): boolean {
  return path === folder || path.startsWith(folder + '/')
}
