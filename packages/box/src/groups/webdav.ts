/**
 * A group's drive over WebDAV, so any system can mount it and any WebDAV client use it: a
 * webdav-server (v2) file system over the drive. Contents stream both ways — an upload goes into
 * the blob core block by block as it arrives, a download leaves as it is read — so no file sits
 * whole in memory. Locks and dead properties, which clients set while they work, are kept in
 * memory only: the drive's own state is the group's log.
 *
 * Whoever calls serveDav() has authenticated the request: this module only serves it.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Readable, Writable } from 'node:stream'
import type { v2 as WebDAV } from 'webdav-server'
import { Conflict, InvalidInput, NotFound } from '../errors/index.ts'
import type { Drive } from './drive.ts'

type Dav = typeof WebDAV

/**
 * Where the drive is mounted (`/dav/groups/<key>`, for the links in answers), the request's target
 * below it, as sent, and who is told of a failure that the client sees only as a 500.
 */
export interface DavRequest { mount: string; target: string; failed(err: Error): void }

const servers = new WeakMap<Drive, WebDAV.WebDAVServer>()
const failing = new WeakMap<IncomingMessage, (err: Error) => void>()
/** Requests whose failure was told already. */
const told = new WeakSet<IncomingMessage>()
const OWNER = { uid: 'owner', username: 'owner', isAdministrator: true }
let loaded: Promise<Dav> | undefined

/** Serves one WebDAV request on a drive. */
export async function serveDav(drive: Drive, req: IncomingMessage, res: ServerResponse, where: DavRequest): Promise<void> {
  // Loaded with the first request, not with the box: most boxes never mount a drive.
  const dav = await (loaded ??= import('webdav-server').then((m) => m.v2))
  let server = servers.get(drive)
  if (!server) {
    server = new dav.WebDAVServer({
      rootFileSystem: driveFileSystem(dav, drive), serverName: 'coffer-drive', version: '1', requireAuthentification: false,
      // The request was authenticated before it came here: every one is the owner's.
      httpAuthentication: { askForAuthentication: () => ({}), getUser: (_ctx, callback) => callback(undefined as never, OWNER) },
    })
    // A 500 webdav-server answers on its own, from no error of the drive's, is told too.
    server.afterRequest((ctx, next) => {
      const status = ctx.response.statusCode
      if (status >= 500 && !told.has(ctx.request)) failing.get(ctx.request)?.(new Error(`webdav-server answered ${status} to ${ctx.request.method} ${ctx.requested.uri}`))
      next()
    })
    servers.set(drive, server)
  }
  failing.set(req, where.failed)
  req.url = where.target.startsWith('/') ? where.target : `/${where.target}`
  // The drives are the owner's alone: webdav-server's blanket cross-origin headers are not sent.
  const setHeader = res.setHeader.bind(res)
  res.setHeader = (name, value) => name.toLowerCase().startsWith('access-control-') ? res : setHeader(name, value)
  await new Promise<void>((resolve) => {
    res.once('close', resolve)
    server.executeRequest(req, res, where.mount)
  })
}

function driveFileSystem(dav: Dav, drive: Drive): WebDAV.FileSystem {
  const { Errors, ResourceType, LocalLockManager, LocalPropertyManager } = dav

  /** The drive's errors as webdav-server's, which it answers with the matching status; any other is a 500, and told to the request's `failed`. */
  const davError = (err: unknown, ctx: WebDAV.IContextInfo): Error => {
    if (err instanceof NotFound) return Errors.ResourceNotFound
    if (err instanceof Conflict) return Errors.ResourceAlreadyExists
    if (err instanceof InvalidInput) return Errors.Forbidden
    // Every request here comes over HTTP, so its context is webdav-server's HTTP one.
    const req = (ctx.context as WebDAV.HTTPRequestContext).request
    told.add(req)
    failing.get(req)?.(err as Error)
    return err as Error
  }
  const answer = <T>(work: Promise<T>, ctx: WebDAV.IContextInfo, callback: (error?: Error, data?: T) => void) => {
    work.then((value) => callback(undefined, value), (err: unknown) => callback(davError(err, ctx)))
  }

  class DriveFileSystem extends dav.FileSystem {
    readonly #locks = new Map<string, WebDAV.LocalLockManager>()
    readonly #props = new Map<string, WebDAV.LocalPropertyManager>()
    /** Files a client created and has not written yet: webdav-server makes a file before it opens it for writing. */
    readonly #creating = new Set<string>()

    constructor() {
      super({
        uid: () => 'coffer-group-drive-1',
        serialize: (_fs, callback) => callback(new Error('A group drive is not serialized: its state is the group\'s log.')),
        unserialize: (_data, callback) => callback(new Error('A group drive is not serialized: its state is the group\'s log.')),
      })
    }

    async #stat(path: WebDAV.Path) {
      const entry = await drive.stat(path.toString())
      if (entry) return entry
      if (this.#creating.has(path.toString())) return { type: 'file' as const, size: 0, mtime: Date.now(), version: null }
      throw new NotFound(`Nothing at "${path.toString()}".`)
    }

    protected override _fastExistCheck(_ctx: WebDAV.RequestContext, path: WebDAV.Path, callback: (exists: boolean) => void): void {
      this.#stat(path).then(() => callback(true), () => callback(false))
    }

    protected override _type(path: WebDAV.Path, ctx: WebDAV.TypeInfo, callback: WebDAV.ReturnCallback<WebDAV.ResourceType>): void {
      answer(this.#stat(path).then((e) => e.type === 'dir' ? ResourceType.Directory : ResourceType.File), ctx, callback)
    }

    protected override _size(path: WebDAV.Path, ctx: WebDAV.SizeInfo, callback: WebDAV.ReturnCallback<number>): void {
      answer(this.#stat(path).then((e) => e.size), ctx, callback)
    }

    protected override _lastModifiedDate(path: WebDAV.Path, ctx: WebDAV.LastModifiedDateInfo, callback: WebDAV.ReturnCallback<number>): void {
      answer(this.#stat(path).then((e) => e.mtime), ctx, callback)
    }

    protected override _etag(path: WebDAV.Path, ctx: WebDAV.ETagInfo, callback: WebDAV.ReturnCallback<string>): void {
      answer(this.#stat(path).then((e) => `"${e.version ?? `dir-${e.mtime}`}"`), ctx, callback)
    }

    protected override _readDir(path: WebDAV.Path, ctx: WebDAV.ReadDirInfo, callback: WebDAV.ReturnCallback<string[] | WebDAV.Path[]>): void {
      answer(drive.list(path.toString()).then((entries) => entries.map((e) => e.name)), ctx, callback)
    }

    protected override _create(path: WebDAV.Path, ctx: WebDAV.CreateInfo, callback: WebDAV.SimpleCallback): void {
      if (ctx.type.isDirectory) return answer(drive.mkdir(path.toString()), ctx, callback)
      this.#creating.add(path.toString())
      callback()
    }

    protected override _openWriteStream(path: WebDAV.Path, ctx: WebDAV.OpenWriteStreamInfo, callback: WebDAV.ReturnCallback<Writable>): void {
      const key = path.toString()
      answer(drive.write(key).then((stream) => {
        stream.once('close', () => this.#creating.delete(key))
        // An upload that fails once it is under way (storing the version, say) is a 500 too.
        stream.once('error', (err) => davError(err, ctx))
        return stream
      }), ctx, callback)
    }

    protected override _openReadStream(path: WebDAV.Path, ctx: WebDAV.OpenReadStreamInfo, callback: WebDAV.ReturnCallback<Readable>): void {
      answer(drive.read(path.toString()), ctx, callback)
    }

    protected override _delete(path: WebDAV.Path, ctx: WebDAV.DeleteInfo, callback: WebDAV.SimpleCallback): void {
      answer(drive.remove(path.toString()), ctx, callback)
    }

    protected override _move(from: WebDAV.Path, to: WebDAV.Path, ctx: WebDAV.MoveInfo, callback: WebDAV.ReturnCallback<boolean>): void {
      answer(drive.move(from.toString(), to.toString(), { overwrite: ctx.overwrite }), ctx, callback)
    }

    protected override _lockManager(path: WebDAV.Path, _ctx: WebDAV.LockManagerInfo, callback: WebDAV.ReturnCallback<WebDAV.ILockManager>): void {
      callback(undefined, held(this.#locks, path, () => new LocalLockManager()))
    }

    protected override _propertyManager(path: WebDAV.Path, _ctx: WebDAV.PropertyManagerInfo, callback: WebDAV.ReturnCallback<WebDAV.IPropertyManager>): void {
      callback(undefined, held(this.#props, path, () => new LocalPropertyManager()))
    }
  }
  return new DriveFileSystem()
}

function held<T>(map: Map<string, T>, path: WebDAV.Path, make: () => T): T {
  let value = map.get(path.toString())
  if (!value) map.set(path.toString(), value = make())
  return value
}
