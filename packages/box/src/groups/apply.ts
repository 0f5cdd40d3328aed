/**
 * How a group's base becomes its view: the member list and the drive, a hyperbee every member
 * computes alike from the same entries in the same order. Apply reads and writes only the view (a
 * batch of it) and decides from nothing else, so when the linearizer reorders entries the view is
 * rebuilt the same everywhere.
 *
 * A file keeps every version no later write replaced: a write names the versions it was made over
 * (`parents`), and any other version, written meanwhile by someone else, stays beside it — a
 * conflict, with who wrote each and when, until a member removes one. A deletion or a move over a
 * file takes only the versions its writer saw; a version it did not see survives it.
 */
import type { ApplyHost, AutobaseNode } from 'autobase'
import type Hyperbee from 'hyperbee'
import type { BeeBatch } from 'hyperbee'
import { statementSigned, type Member, type Statement } from './members.ts'
import { checkOp, type BlobRef, type GroupOp } from './ops.ts'
import {
  childrenRange, conflictKey, folderOf, historyKey, historyRange, nodeKey, normalizePath, pathOfNodeKey, subtreeRanges, within,
} from './paths.ts'

export interface Version {
  id: string
  blob: BlobRef
  size: number
  /** When its writer wrote it (its clock, epoch ms). */
  mtime: number
  /** The writer key of the member who wrote it. */
  author: string
}

export type DriveNode = { type: 'file'; heads: Version[] } | { type: 'dir'; at: number; author: string }

export type HistoryAction = 'created' | 'edited' | 'conflict' | 'deleted' | 'survived' | 'moved-in' | 'moved-out'

export interface HistoryRecord {
  at: number
  author: string
  action: HistoryAction
  /** The version written, or the one a deletion left. */
  version?: string
  size?: number
  /** Where a file moved from or to. */
  other?: string
}

export interface GroupMeta { name: string; founded: number; founder: string }

export type ViewValue = DriveNode | HistoryRecord | Member | GroupMeta | { versions: number }
export type View = Hyperbee<ViewValue>
type Batch = BeeBatch<ViewValue>

export const META_KEY = 'g'
export const MEMBERS = { gte: 'm/', lt: 'm0' }
export const memberKey = (writer: string): string => `m/${writer}`

/** The apply function of a group's base. `founder` is the writer whose base this is: only it may found the group. */
export function applier(group: string, founder: string) {
  return async function apply(nodes: AutobaseNode<GroupOp | null>[], view: View, host: ApplyHost): Promise<void> {
    const batch = view.batch({ update: false })
    for (const node of nodes) {
      if (node.value === null || !checkOp.Check(node.value)) continue
      await applyOp(batch, node.value, node.from.key.toString('hex'), { group, founder, host })
    }
    await batch.flush()
  }
}

async function applyOp(b: Batch, op: GroupOp, author: string, ctx: { group: string; founder: string; host: ApplyHost }): Promise<void> {
  if (op.type === 'found') {
    if (author !== ctx.founder || op.member.writer !== author || await b.get(META_KEY) || !statementSigned(ctx.group, op.member)) return
    await b.put(META_KEY, { name: op.name, founded: op.at, founder: author } satisfies GroupMeta)
    await b.put(memberKey(author), member(op.member, 'admin', op.at, null))
    return
  }
  const self = (await b.get(memberKey(author)))?.value as Member | undefined
  if (!self) return
  switch (op.type) {
    case 'add': {
      if (self.role !== 'admin' || !statementSigned(ctx.group, op.member) || await b.get(memberKey(op.member.writer))) return
      await b.put(memberKey(op.member.writer), member(op.member, op.role, op.at, author))
      await ctx.host.addWriter(Buffer.from(op.member.writer, 'hex'), { indexer: true })
      return
    }
    case 'leave': {
      await b.del(memberKey(author))
      const key = Buffer.from(author, 'hex')
      if (ctx.host.removeable(key)) await ctx.host.removeWriter(key)
      return
    }
    case 'put': {
      const path = drivePath(op.path)
      if (!path) return
      await ensureFolders(b, folderOf(path), op.mtime, author)
      const version: Version = { id: op.version, blob: op.blob, size: op.size, mtime: op.mtime, author }
      // A folder took the name meanwhile: the file is kept beside it, not dropped.
      const target = (await node(b, path))?.type === 'dir' ? `${path} (file ${op.version.slice(0, 8)})` : path
      await merge(b, target, [version], new Set(op.parents), { at: op.mtime, author })
      return
    }
    case 'mkdir': {
      const path = drivePath(op.path)
      if (path) await ensureFolders(b, path, op.at, author)
      return
    }
    case 'delete': {
      const path = drivePath(op.path)
      if (path) await remove(b, path, seenVersions(op.seen), { at: op.at, author })
      return
    }
    case 'move': {
      const from = drivePath(op.from)
      const to = drivePath(op.to)
      if (from && to && from !== to && !within(to, from)) await move(b, from, to, seenVersions(op.replaced), { at: op.at, author })
      return
    }
  }
}

function member(s: Statement, role: Member['role'], since: number, addedBy: string | null): Member {
  return { box: s.box, peer: s.peer, writer: s.writer, blobs: s.blobs, name: s.name, signature: s.signature, role, since, addedBy }
}

function drivePath(path: string): string | undefined {
  try {
    const normal = normalizePath(path)
    return normal === '/' ? undefined : normal
  } catch {
    return undefined
  }
}

function seenVersions(seen: { path: string; versions: string[] }[]): Map<string, Set<string>> {
  const map = new Map<string, Set<string>>()
  for (const { path, versions } of seen) {
    const normal = drivePath(path)
    if (normal) map.set(normal, new Set([...(map.get(normal) ?? []), ...versions]))
  }
  return map
}

async function node(b: Batch, path: string): Promise<DriveNode | undefined> {
  return (await b.get(nodeKey(path)))?.value as DriveNode | undefined
}

/** Makes the folder and every folder above it; a file already at one of those paths stays as it is. */
async function ensureFolders(b: Batch, folder: string, at: number, author: string): Promise<void> {
  const parts = folder.split('/').filter(Boolean)
  for (let i = 1; i <= parts.length; i++) {
    const path = '/' + parts.slice(0, i).join('/')
    if (!(await node(b, path))) await b.put(nodeKey(path), { type: 'dir', at, author } satisfies DriveNode)
  }
}

/** Adds versions to the file at `path`, replacing those of its versions named in `replaced`. */
async function merge(b: Batch, path: string, incoming: Version[], replaced: Set<string>, by: { at: number; author: string }, movedFrom?: string): Promise<void> {
  const before = await node(b, path)
  const heads = before?.type === 'file' ? before.heads : []
  const kept = heads.filter((h) => !replaced.has(h.id))
  const after = [...kept, ...incoming.filter((v) => !kept.some((k) => k.id === v.id))]
  await b.put(nodeKey(path), { type: 'file', heads: after } satisfies DriveNode)
  await markConflict(b, path, after.length)
  const newest = incoming.at(-1)!
  const action: HistoryAction = movedFrom !== undefined ? 'moved-in' : kept.length > 0 ? 'conflict' : heads.length > 0 ? 'edited' : 'created'
  await record(b, path, { at: by.at, author: by.author, action, version: newest.id, size: newest.size, ...(movedFrom !== undefined ? { other: movedFrom } : {}) })
}

async function markConflict(b: Batch, path: string, versions: number): Promise<void> {
  if (versions > 1) await b.put(conflictKey(path), { versions })
  else await b.del(conflictKey(path))
}

async function record(b: Batch, path: string, entry: HistoryRecord): Promise<void> {
  let seq = 0
  for await (const last of b.createReadStream({ ...historyRange(path), reverse: true, limit: 1 })) seq = Number(last.key.slice(last.key.lastIndexOf('\0') + 1)) + 1
  await b.put(historyKey(path, seq), entry)
}

/** Everything at or under `path`: the node itself first, then its subtree, each with its path. */
async function subtree(b: Batch, path: string): Promise<{ path: string; node: DriveNode }[]> {
  const found: { path: string; node: DriveNode }[] = []
  const self = await node(b, path)
  if (self) found.push({ path, node: self })
  if (self?.type !== 'dir') return found
  for (const range of subtreeRanges(path)) {
    for await (const entry of b.createReadStream(range)) found.push({ path: pathOfNodeKey(entry.key), node: entry.value as DriveNode })
  }
  return found
}

async function remove(b: Batch, path: string, seen: Map<string, Set<string>>, by: { at: number; author: string }): Promise<void> {
  const nodes = await subtree(b, path)
  for (const { path: file, node: n } of nodes) {
    if (n.type !== 'file') continue
    const gone = seen.get(file) ?? new Set()
    const left = n.heads.filter((h) => !gone.has(h.id))
    if (left.length === 0) {
      await b.del(nodeKey(file))
      await b.del(conflictKey(file))
      await record(b, file, { at: by.at, author: by.author, action: 'deleted' })
    } else {
      await b.put(nodeKey(file), { type: 'file', heads: left } satisfies DriveNode)
      await markConflict(b, file, left.length)
      await record(b, file, { at: by.at, author: by.author, action: 'survived', version: left.at(-1)!.id, size: left.at(-1)!.size })
    }
  }
  // Folders go once empty, deepest first: one holding a file a deletion did not see stays.
  const folders = nodes.filter((n) => n.node.type === 'dir').map((n) => n.path).sort((x, y) => y.length - x.length)
  for (const folder of folders) {
    if (!(await b.peek(childrenRange(folder)))) await b.del(nodeKey(folder))
  }
}

async function move(b: Batch, from: string, to: string, replaced: Map<string, Set<string>>, by: { at: number; author: string }): Promise<void> {
  const nodes = await subtree(b, from)
  if (nodes.length === 0) return
  await ensureFolders(b, folderOf(to), by.at, by.author)
  for (const { path, node: n } of nodes) {
    const target = to + path.slice(from.length)
    if (n.type === 'dir') {
      if (!(await node(b, target))) await b.put(nodeKey(target), n)
    } else {
      const there = await node(b, target)
      // A folder at the destination keeps its place; the file lands beside it.
      const dest = there?.type === 'dir' ? `${target} (file ${n.heads.at(-1)!.id.slice(0, 8)})` : target
      await merge(b, dest, n.heads, replaced.get(target) ?? new Set(), by, path)
      await record(b, path, { at: by.at, author: by.author, action: 'moved-out', other: dest })
      await b.del(conflictKey(path))
    }
  }
  for (const { path } of nodes) await b.del(nodeKey(path))
}
