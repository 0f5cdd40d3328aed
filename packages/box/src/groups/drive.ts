/**
 * A group's drive as its members use it: a tree of folders and files read from the group's view,
 * file contents streamed from and to the writers' blob cores, changes appended to the base.
 *
 * A file with several kept versions (a conflict) shows its newest at its path, and each other
 * version beside it as a copy named for who wrote it and when — `notes (conflict Bea 2026-11-30
 * 18.02 3f9a1c2b).txt` — so any client sees both. Deleting a copy drops that version; writing to
 * it replaces that version only; the conflict ends when one version is left.
 */
import { randomBytes } from 'node:crypto'
import { Readable, Writable } from 'node:stream'
import { finished } from 'node:stream/promises'
import type Hyperblobs from 'hyperblobs'
import type { BlobId } from 'hyperblobs'
import { Conflict, NotFound } from '../errors/index.ts'
import { reread, type DriveNode, type HistoryAction, type HistoryRecord, type Version, type View } from './apply.ts'
import type { GroupOp } from './ops.ts'
import { CONFLICTS, childrenRange, folderOf, historyRange, join, nameOf, nodeKey, normalizePath, pathOfNodeKey, subtreeRanges, asFolder } from './paths.ts'

const newId = (): string => randomBytes(16).toString('hex')

/** File contents go in blocks of this size, whatever size the upload arrives in. */
const BLOCK_BYTES = 64 * 1024
/** How long a read waits for a block no connected member has yet. */
const READ_TIMEOUT_MS = 60_000

export interface DriveEntry {
  path: string
  name: string
  type: 'file' | 'dir'
  size: number
  /** Epoch ms. */
  mtime: number
  /** The version shown at this path; none for a folder. */
  version: string | null
  /** The member who wrote it (or made the folder). */
  author: string
  /** The file keeps other versions too, shown beside it as conflict copies. */
  conflict: boolean
  /** For a conflict copy: the path of the file whose version it is. */
  conflictOf: string | null
}

export interface HistoryEntry { at: number; author: string; action: HistoryAction; version: string | null; size: number | null; other: string | null }

export interface ConflictView { path: string; versions: { version: string; author: string; mtime: number; size: number }[] }

/** What the drive needs of its group. */
export interface DriveHost {
  view(): View
  /** Appends to the base as this member, once it may write, and waits until the view shows it. */
  append(op: GroupOp): Promise<void>
  /** This member's blob core, and its key. */
  ownBlobs(): { blobs: Hyperblobs; key: string }
  /** Any member's blob core, by key, read with the content key of the epoch it was written in. */
  blobs(core: string, epoch: number): Hyperblobs
  /** A member's name by writer key. */
  memberName(writer: string): string
}

const CONFLICT_NAME = /^(.*) \(conflict .+ ([0-9a-f]{8})\)((?:\.[^.]*)?)$/

interface Resolved {
  path: string
  node: DriveNode
  /** When the path named a conflict copy: the version it is. */
  copy?: Version
}

export class Drive {
  readonly #host: DriveHost

  constructor(host: DriveHost) {
    this.#host = host
  }

  async stat(path: string): Promise<DriveEntry | undefined> {
    const normal = normalizePath(path)
    if (normal === '/') return { path: '/', name: '', type: 'dir', size: 0, mtime: 0, version: null, author: '', conflict: false, conflictOf: null }
    const found = await this.#resolve(normal)
    if (!found) return undefined
    if (found.copy) return this.#copyEntry(found.path, found.copy)
    return this.#entries(found.path, found.node)[0]
  }

  /** A folder's entries, conflict copies included. */
  async list(folder: string): Promise<DriveEntry[]> {
    const normal = normalizePath(folder)
    const found = normal === '/' ? undefined : await this.#resolve(normal)
    if (normal !== '/' && found?.node.type !== 'dir') throw new NotFound(`"${normal}" is not a folder in this drive.`)
    const entries = await reread(async () => {
      const read: DriveEntry[] = []
      for await (const e of this.#host.view().createReadStream(childrenRange(asFolder(normal)))) read.push(...this.#entries(pathOfNodeKey(e.key), e.value as DriveNode))
      return read
    })
    return entries.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
  }

  /** Every entry in the drive, conflict copies included, by path. */
  async tree(): Promise<DriveEntry[]> {
    const entries = await reread(async () => {
      const read: DriveEntry[] = []
      for (const range of subtreeRanges('')) {
        for await (const e of this.#host.view().createReadStream(range)) read.push(...this.#entries(pathOfNodeKey(e.key), e.value as DriveNode))
      }
      return read
    })
    return entries.sort((a, b) => a.path < b.path ? -1 : a.path > b.path ? 1 : 0)
  }

  /** A file's contents, streamed; `end` is inclusive. */
  async read(path: string, range: { start?: number; end?: number } = {}): Promise<Readable> {
    const { version } = await this.#file(path)
    const stream = this.#host.blobs(version.blob.core, version.epoch).createReadStream(version.blob.id, { ...range, wait: true, timeout: READ_TIMEOUT_MS })
    return Readable.from(stream, { objectMode: false })
  }

  /**
   * A stream that stores what is written to it as a new version of the file at `path`: the
   * version shown there now (or the conflict copy named) is the one it replaces. It finishes once
   * the version is in the drive.
   */
  async write(path: string): Promise<Writable> {
    const normal = normalizePath(path)
    if (normal === '/') throw new Conflict('The drive\'s root is a folder.')
    const found = await this.#resolve(normal)
    if (found?.node.type === 'dir') throw new Conflict(`"${normal}" is a folder.`)
    const target = found?.path ?? normal
    const parents = found?.node.type === 'file' ? [(found.copy ?? found.node.heads.at(-1)!).id] : []
    const { blobs, key } = this.#host.ownBlobs()
    return new BlobUpload(blobs, async (id, size) => {
      await this.#host.append({ type: 'put', path: target, version: newId(), blob: { core: key, id }, size, mtime: Date.now(), parents })
    })
  }

  async writeFile(path: string, data: Buffer | string): Promise<void> {
    const stream = await this.write(path)
    // Settled by the upload's own end: a change the log refuses rejects here.
    stream.end(data)
    await finished(stream)
  }

  async readFile(path: string): Promise<Buffer> {
    const chunks: Buffer[] = []
    for await (const chunk of await this.read(path)) chunks.push(chunk as Buffer)
    return Buffer.concat(chunks)
  }

  async mkdir(path: string): Promise<void> {
    const normal = normalizePath(path)
    if (normal === '/' || await this.#resolve(normal)) throw new Conflict(`"${normal}" exists already.`)
    await this.#host.append({ type: 'mkdir', id: newId(), path: normal, at: Date.now() })
  }

  /** Removes a file's shown version (the next kept one, if any, takes its place), a conflict copy's version, or a folder with all it holds. */
  async remove(path: string): Promise<void> {
    const found = await this.#existing(path)
    const seen = found.copy ? [{ path: found.path, versions: [found.copy.id] }]
      : found.node.type === 'file' ? [{ path: found.path, versions: [found.node.heads.at(-1)!.id] }]
      : await this.#versionsUnder(found.path)
    await this.#host.append({ type: 'delete', id: newId(), path: found.path, seen, at: Date.now() })
  }

  /** Moves or renames a file or folder; says whether something at `to` was replaced. */
  async move(from: string, to: string, opts: { overwrite: boolean }): Promise<boolean> {
    const source = await this.#existing(from)
    const dest = normalizePath(to)
    if (dest === '/' || dest === source.path || dest.startsWith(source.path + '/')) throw new Conflict(`"${source.path}" cannot be moved to "${dest}".`)
    const there = await this.#resolve(dest)
    if (there && !opts.overwrite) throw new Conflict(`"${dest}" exists already.`)
    const replaced = there ? (there.copy ? [{ path: there.path, versions: [there.copy.id] }] : await this.#versionsUnder(there.path)) : []
    if (source.copy) {
      // A conflict copy moved away becomes a file of its own: its version is written there and leaves the conflict.
      const copy = source.copy
      await this.#host.append({
        type: 'put', path: dest, version: newId(), blob: copy.blob, size: copy.size, mtime: copy.mtime,
        parents: replaced.flatMap((r) => r.versions), epoch: copy.epoch,
      })
      await this.#host.append({ type: 'delete', id: newId(), path: source.path, seen: [{ path: source.path, versions: [copy.id] }], at: Date.now() })
    } else {
      await this.#host.append({ type: 'move', id: newId(), from: source.path, to: dest, replaced, at: Date.now() })
    }
    return there !== undefined
  }

  async history(path: string): Promise<HistoryEntry[]> {
    const normal = normalizePath(path)
    return reread(async () => {
      const entries: HistoryEntry[] = []
      for await (const e of this.#host.view().createReadStream(historyRange(normal))) {
        const r = e.value as HistoryRecord
        entries.push({ at: r.at, author: this.#host.memberName(r.author), action: r.action, version: r.version ?? null, size: r.size ?? null, other: r.other ?? null })
      }
      return entries
    })
  }

  /** Every file that keeps more than one version, with who wrote each and when. */
  async conflicts(): Promise<ConflictView[]> {
    return reread(async () => {
      const found: ConflictView[] = []
      for await (const e of this.#host.view().createReadStream(CONFLICTS)) {
        const path = e.key.slice(1)
        const node = (await this.#host.view().get(nodeKey(path)))?.value as DriveNode | undefined
        if (node?.type !== 'file') continue
        found.push({ path, versions: node.heads.map((h) => ({ version: h.id, author: this.#host.memberName(h.author), mtime: h.mtime, size: h.size })) })
      }
      return found
    })
  }

  async #node(path: string): Promise<DriveNode | undefined> {
    return (await reread(() => this.#host.view().get(nodeKey(path))))?.value as DriveNode | undefined
  }

  async #resolve(path: string): Promise<Resolved | undefined> {
    const node = await this.#node(path)
    if (node) return { path, node }
    const match = CONFLICT_NAME.exec(nameOf(path))
    if (!match) return undefined
    const original = join(folderOf(path), match[1]! + match[3]!)
    const of = await this.#node(original)
    if (of?.type !== 'file') return undefined
    const copy = of.heads.slice(0, -1).find((h) => h.id.startsWith(match[2]!) && this.#conflictName(nameOf(original), h) === nameOf(path))
    return copy ? { path: original, node: of, copy } : undefined
  }

  async #existing(path: string): Promise<Resolved> {
    const normal = normalizePath(path)
    const found = normal === '/' ? undefined : await this.#resolve(normal)
    if (!found) throw new NotFound(`Nothing at "${normal}" in this drive.`)
    return found
  }

  async #file(path: string): Promise<{ path: string; version: Version }> {
    const found = await this.#existing(path)
    if (found.node.type !== 'file') throw new Conflict(`"${found.path}" is a folder.`)
    return { path: found.path, version: found.copy ?? found.node.heads.at(-1)! }
  }

  /** Every version of every file at or under a path: what a deletion or an overwrite of it saw. */
  async #versionsUnder(path: string): Promise<{ path: string; versions: string[] }[]> {
    const node = await this.#node(path)
    const seen: { path: string; versions: string[] }[] = []
    if (node?.type === 'file') seen.push({ path, versions: node.heads.map((h) => h.id) })
    if (node?.type !== 'dir') return seen
    for (const range of subtreeRanges(path)) {
      for await (const e of this.#host.view().createReadStream(range)) {
        const n = e.value as DriveNode
        if (n.type === 'file') seen.push({ path: pathOfNodeKey(e.key), versions: n.heads.map((h) => h.id) })
      }
    }
    return seen
  }

  #entries(path: string, node: DriveNode): DriveEntry[] {
    if (node.type === 'dir') return [{ path, name: nameOf(path), type: 'dir', size: 0, mtime: node.at, version: null, author: this.#host.memberName(node.author), conflict: false, conflictOf: null }]
    const shown = node.heads.at(-1)!
    const conflict = node.heads.length > 1
    return [
      { path, name: nameOf(path), type: 'file', size: shown.size, mtime: shown.mtime, version: shown.id, author: this.#host.memberName(shown.author), conflict, conflictOf: null },
      ...node.heads.slice(0, -1).map((h) => this.#copyEntry(path, h)),
    ]
  }

  #copyEntry(path: string, version: Version): DriveEntry {
    const name = this.#conflictName(nameOf(path), version)
    return {
      path: join(folderOf(path), name), name, type: 'file', size: version.size, mtime: version.mtime, version: version.id,
      author: this.#host.memberName(version.author), conflict: true, conflictOf: path,
    }
  }

  #conflictName(name: string, version: Version): string {
    const dot = name.lastIndexOf('.')
    const [stem, ext] = dot > 0 ? [name.slice(0, dot), name.slice(dot)] : [name, '']
    const author = this.#host.memberName(version.author).replace(/[()/\\:*?"<>|]/g, '_')
    const when = new Date(version.mtime).toISOString().slice(0, 16).replace('T', ' ').replace(':', '.')
    return `${stem} (conflict ${author} ${when} ${version.id.slice(0, 8)})${ext}`
  }
}

/** Stores what is written to it in a blob core, in blocks of BLOCK_BYTES, never holding more than a block and the core's batch. */
class BlobUpload extends Writable {
  readonly #blob: ReturnType<Hyperblobs['createWriteStream']>
  readonly #stored: (id: BlobId, size: number) => Promise<void>
  #block = Buffer.allocUnsafe(BLOCK_BYTES)
  #filled = 0
  #size = 0
  #failed: Error | undefined
  #closed = false

  constructor(blobs: Hyperblobs, stored: (id: BlobId, size: number) => Promise<void>) {
    super()
    this.#blob = blobs.createWriteStream()
    this.#blob.once('error', (err) => (this.#failed = err))
    this.#blob.once('close', () => (this.#closed = true))
    this.#stored = stored
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (err?: Error | null) => void): void {
    this.#size += chunk.length
    let offset = 0
    let waiting = false
    while (offset < chunk.length) {
      const n = chunk.copy(this.#block, this.#filled, offset)
      offset += n
      this.#filled += n
      if (this.#filled === BLOCK_BYTES) waiting = !this.#push() || waiting
    }
    if (this.#failed) return done(this.#failed)
    if (waiting) this.#blob.once('drain', () => done(this.#failed))
    else done()
  }

  override _final(done: (err?: Error | null) => void): void {
    if (this.#filled > 0) this.#push()
    this.#blob.once('close', () => {
      if (this.#failed) return done(this.#failed)
      this.#stored(this.#blob.id, this.#size).then(() => done(), done)
    })
    this.#blob.end()
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    // An upload cut off midway stores no version, and lets the next one have the blob core.
    if (!this.#closed) this.#blob.destroy(err ?? new Error('The upload was cut off.'))
    done(err)
  }

  /** Hands the filled block to the blob core; false when it wants no more for now. */
  #push(): boolean {
    const block = this.#filled === BLOCK_BYTES ? this.#block : this.#block.subarray(0, this.#filled)
    this.#block = Buffer.allocUnsafe(BLOCK_BYTES)
    this.#filled = 0
    return this.#blob.write(block)
  }
}
