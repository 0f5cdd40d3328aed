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
import { statementSigned, type Member, type Role, type Statement } from './members.ts'
import { checkOp, opId, type BlobRef, type DriveOp, type GroupOp } from './ops.ts'
import { sharedKey, type SharedSource } from './share-rules.ts'
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
  /** The epoch whose content key its contents are encrypted with. */
  epoch: number
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

/** An epoch's founding: by whom, after which base, and (for a later epoch) the box whose removal began it. */
export interface GroupMeta { name: string; founded: number; founder: string; epoch: number; previous: string | null; removed?: string; indexers?: 'founder' }

/** A writer that is no longer a member: the name its versions still go by, its box, and the epoch it stopped writing in. */
export interface Author { name: string; box: string; epoch: number }

/** How an epoch ended: the next one's base, its content key sealed to each remaining member's box, and who was removed (a writer key, or the box key of a member carried in and not back yet). */
export interface Rotation { epoch: number; base: string; keys: { box: string; key: string }[]; by: string; removed: string; at: number }

/** A blind replicator the group's members admit: it holds the group's cores, and no key to read them. */
export interface GroupReplicator { peer: string; box: string; name: string; addedBy: string; since: number }

/** A member carried into this epoch, not yet added back. */
export interface Carried { role: Role; name: string }

/** A drive change applied, by whom, written in which epoch: what a later epoch replays if the drive carried into it did not hold it. */
export interface Applied { author: string; op: DriveOp; epoch: number }

export type ViewValue = DriveNode | HistoryRecord | Member | GroupMeta | Author | Rotation | Carried | Statement | Applied | GroupReplicator | SharedSource | { versions: number }
export type View = Hyperbee<ViewValue>
type Batch = BeeBatch<ViewValue>

export const META_KEY = 'g'
export const ROTATION_KEY = 'e'
export const MEMBERS = { gte: 'm/', lt: 'm0' }
export const AUTHORS = { gte: 'a/', lt: 'a0' }
export const REJOINS = { gte: 'j/', lt: 'j0' }
export const APPLIED = { gte: 'o/', lt: 'o0' }
export const REPLICATORS = { gte: 'r/', lt: 'r0' }
const replicatorKey = (peer: string): string => `r/${peer}`
export const appliedKey = (id: string): string => `o/${id}`
export const memberKey = (writer: string): string => `m/${writer}`
const authorKey = (writer: string): string => `a/${writer}`
export const carriedKey = (box: string): string => `k/${box}`
const rejoinKey = (box: string): string => `j/${box}`
/** What a later epoch's founder may carry over: the drive (nodes, history, conflicts, the changes applied), former writers' names, the replicators and the shared sources. */
const CARRIED_ENTRY = /^([nhc]|a\/|o\/|r\/|s\/)/

/**
 * The apply function of one epoch's base. `founder` is the writer whose base it is: only it may
 * found the group (epoch 0) or begin the epoch and carry the drive into it.
 */
export function applier(group: string, founder: string, epoch: number) {
  return async function apply(nodes: AutobaseNode<GroupOp | null>[], view: View, host: ApplyHost): Promise<void> {
    const batch = view.batch({ update: false })
    for (const node of nodes) {
      if (node.value === null || !checkOp.Check(node.value)) continue
      await applyOp(batch, node.value, node.from.key.toString('hex'), { group, founder, epoch, host })
    }
    await batch.flush()
  }
}

interface Ctx { group: string; founder: string; epoch: number; host: ApplyHost }

async function applyOp(b: Batch, op: GroupOp, author: string, ctx: Ctx): Promise<void> {
  if (op.type === 'found' || op.type === 'epoch') {
    if (author !== ctx.founder || op.member.writer !== author || await b.get(META_KEY) || !statementSigned(ctx.group, op.member)) return
    if (op.type === 'found' ? ctx.epoch !== 0 : op.epoch !== ctx.epoch || ctx.epoch === 0) return
    await b.put(META_KEY, {
      name: op.name, founded: op.at, founder: author, epoch: ctx.epoch, previous: op.type === 'epoch' ? op.previous : null,
      ...(op.type === 'epoch' && op.removed ? { removed: op.removed } : {}),
      ...(op.indexers ? { indexers: op.indexers } : {}),
    } satisfies GroupMeta)
    await b.put(memberKey(author), member(op.member, 'admin', op.at, null))
    if (op.type === 'epoch') {
      for (const c of op.carried) if (c.box !== op.member.box) await b.put(carriedKey(c.box), { role: c.role, name: c.name } satisfies Carried)
    }
    return
  }
  if (op.type === 'carry') {
    if (author !== ctx.founder || ctx.epoch === 0) return
    for (const { key, value } of op.entries) if (CARRIED_ENTRY.test(key)) await b.put(key, value as ViewValue)
    return
  }
  const self = (await b.get(memberKey(author)))?.value as Member | undefined
  if (!self) return
  switch (op.type) {
    case 'add': {
      const carried = (await b.get(carriedKey(op.member.box)))?.value as Carried | undefined
      if ((self.role !== 'admin' && !carried) || !statementSigned(ctx.group, op.member) || await b.get(memberKey(op.member.writer))) return
      for await (const e of b.createReadStream(MEMBERS)) if ((e.value as Member).box === op.member.box) return
      await b.put(memberKey(op.member.writer), member(op.member, carried?.role ?? op.role, op.at, author))
      await b.del(carriedKey(op.member.box))
      // A change of indexers makes Autobase copy the view to new cores, waiting on peers for blocks
      // it lacks: the base stops applying until they come. A member of a base its founder orders changes none.
      const meta = (await b.get(META_KEY))?.value as GroupMeta | undefined
      await ctx.host.addWriter(Buffer.from(op.member.writer, 'hex'), { indexer: meta?.indexers !== 'founder' })
      return
    }
    case 'leave': {
      await dropMember(b, self, ctx)
      return
    }
    case 'replicator': {
      if (self.role !== 'admin') return
      await b.put(replicatorKey(op.peer), { peer: op.peer, box: op.box, name: op.name, addedBy: author, since: op.at } satisfies GroupReplicator)
      return
    }
    case 'drop-replicator': {
      if (self.role === 'admin') await b.del(replicatorKey(op.peer))
      return
    }
    case 'rotate': {
      const removed = (await b.get(memberKey(op.removed)))?.value as Member | undefined
      const carried = !removed && await b.get(carriedKey(op.removed))
      if (self.role !== 'admin' || op.epoch !== ctx.epoch + 1 || (!removed && !carried) || op.removed === author || await b.get(ROTATION_KEY)) return
      await b.put(ROTATION_KEY, { epoch: op.epoch, base: op.base, keys: op.keys, by: author, removed: op.removed, at: op.at } satisfies Rotation)
      if (removed) await dropMember(b, removed, ctx)
      else await b.del(carriedKey(op.removed))
      return
    }
    case 'rejoin': {
      const rotation = (await b.get(ROTATION_KEY))?.value as Rotation | undefined
      if (rotation?.epoch !== op.epoch || (op.base !== undefined && op.base !== rotation.base) || op.member.box !== self.box || !statementSigned(ctx.group, op.member)) return
      await b.put(rejoinKey(self.box), op.member)
      return
    }
    case 'replay': {
      await applyDrive(b, op.op, op.author, op.epoch)
      return
    }
    case 'share': {
      // A member changes only what it shares itself; a core is announced in the epoch whose key encrypts it.
      if (op.epoch !== ctx.epoch) return
      const key = sharedKey(self.box, op.source)
      const before = (await b.get(key))?.value as SharedSource | undefined
      const cores = before?.cores ?? []
      await b.put(key, {
        source: op.source, box: self.box, name: self.name, meta: op.meta, rules: op.rules,
        cores: cores.some((c) => c.core === op.core) ? cores : [...cores, { core: op.core, epoch: op.epoch }],
        since: before && before.stopped === null ? before.since : op.at, changed: op.at, stopped: null,
      } satisfies SharedSource)
      return
    }
    case 'unshare': {
      const key = sharedKey(self.box, op.source)
      const before = (await b.get(key))?.value as SharedSource | undefined
      if (before && before.stopped === null) await b.put(key, { ...before, changed: op.at, stopped: op.at } satisfies SharedSource)
      return
    }
    default:
      await applyDrive(b, op, author, ctx.epoch)
  }
}

/**
 * A drive change, once: its id is kept (and carried into later epochs), so a replay of it changes
 * nothing. `epoch` is the one it was written in, whose key a new version's contents are encrypted with.
 */
async function applyDrive(b: Batch, op: DriveOp, author: string, epoch: number): Promise<void> {
  const id = opId(op)
  if (await b.get(appliedKey(id))) return
  await b.put(appliedKey(id), { author, op, epoch } satisfies Applied)
  switch (op.type) {
    case 'put': {
      const path = drivePath(op.path)
      if (!path) return
      await ensureFolders(b, folderOf(path), op.mtime, author)
      const version: Version = { id: op.version, blob: op.blob, size: op.size, mtime: op.mtime, author, epoch: op.epoch ?? epoch }
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

/** A member leaves the list and stops being a writer; the versions it wrote keep its name. */
async function dropMember(b: Batch, gone: Member, ctx: Ctx): Promise<void> {
  await b.del(memberKey(gone.writer))
  await b.put(authorKey(gone.writer), { name: gone.name, box: gone.box, epoch: ctx.epoch } satisfies Author)
  const key = Buffer.from(gone.writer, 'hex')
  if (ctx.host.removeable(key)) await ctx.host.removeWriter(key)
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

/** Tries a read of a group's view takes before its error is the caller's: together they wait up to 1.4 s. */
const REREADS = 8

/**
 * Makes a read of a group's view again when autobase cut it short: as it reorders what members
 * wrote, autobase truncates the view and writes it anew, and a read begun on the view as it was
 * fails with SNAPSHOT_NOT_AVAILABLE. Only reads: a write is never made twice.
 */
export async function reread<T>(read: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await read()
    } catch (err) {
      if ((err as { code?: string }).code !== 'SNAPSHOT_NOT_AVAILABLE' || attempt === REREADS) throw err
      await new Promise((resolve) => setTimeout(resolve, 50 * attempt))
    }
  }
}
