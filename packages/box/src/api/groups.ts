/**
 * Groups over HTTP: the owner's group operations, and each group's drive over WebDAV at
 * /dav/groups/<key>/, which any system can mount. The drive answers the owner only — the owner
 * passphrase over Basic auth (what a file manager asks for when it mounts a drive), or an owner
 * token over Bearer — and every request is audited like a route: a read, a write or a deletion.
 */
import { createHash } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest, HTTPMethods } from 'fastify'
import type { TSchema } from '@sinclair/typebox'
import type { AccessKind, Decision, Operation, Operations } from '../operations/index.ts'
import type { Home } from '../home/index.ts'
import { checkPassphrase } from '../keys/index.ts'
import { InvalidInput, Unauthorized } from '../errors/index.ts'
import { serveDav, type GroupOperations, type Groups } from '../groups/index.ts'
import { operationRoute } from './routes.ts'

export function groupRoutes(api: FastifyInstance, deps: { ops: Operations; groupOps: GroupOperations }): void {
  const { ops, groupOps } = deps
  const route = <I extends TSchema, O extends TSchema>(method: HTTPMethods, url: string, op: Operation<I, O>) => operationRoute(api, ops, method, url, op, { tags: ['groups'] })

  route('GET', '/groups', groupOps.list)
  route('POST', '/groups', groupOps.create)
  route('POST', '/groups/join', groupOps.join)
  route('POST', '/groups/lan/ask', groupOps.ask)
  route('GET', '/groups/lan/ask', groupOps.asking)
  route('DELETE', '/groups/lan/ask', groupOps.stopAsking)
  route('POST', '/groups/lan/join', groupOps.joinNearby)
  route('GET', '/groups/lan/nearby', groupOps.nearby)
  route('GET', '/groups/:id', groupOps.get)
  route('GET', '/groups/:id/members', groupOps.members)
  route('GET', '/groups/:id/files', groupOps.files)
  route('POST', '/groups/:id/invites', groupOps.invite)
  route('POST', '/groups/:id/invites/lan', groupOps.inviteNearby)
  route('DELETE', '/groups/:id/members/:member', groupOps.remove)
  route('POST', '/groups/:id/leave', groupOps.leave)
  route('GET', '/groups/:id/replicators', groupOps.replicators)
  route('POST', '/groups/:id/replicators', groupOps.addReplicator)
  route('PATCH', '/groups/:id/replicators/:replicator', groupOps.configureReplicator)
  route('DELETE', '/groups/:id/replicators/:replicator', groupOps.removeReplicator)
  route('GET', '/groups/:id/sources', groupOps.sources)
  route('POST', '/groups/:id/sources', groupOps.share)
  route('PATCH', '/groups/:id/sources/:source', groupOps.shareRules)
  route('DELETE', '/groups/:id/sources/:source', groupOps.stopSharing)
}

/** WebDAV's methods beyond HTTP's own, which Fastify routes only once told of them. */
const DAV_METHODS = ['PROPFIND', 'PROPPATCH', 'MKCOL', 'COPY', 'MOVE', 'LOCK', 'UNLOCK'] as const
const METHODS = ['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS', ...DAV_METHODS]
/** What each method does to the drive, as its audit entry files it. */
const KIND: Record<string, AccessKind> = { GET: 'read', HEAD: 'read', OPTIONS: 'read', PROPFIND: 'read', DELETE: 'delete' }

export const DAV_PREFIX = '/dav/groups'
const CHALLENGE = 'Basic realm="Coffer group drives", charset="UTF-8"'
/** A passphrase checked once is not checked with Argon2 again for this long: a client sends it with every request. */
const CHECKED_MS = 5 * 60_000
const FAILURES_BEFORE_DELAY = 5

/**
 * The drives over WebDAV. Registered at the root, outside the API's prefix, in a context of its
 * own whose body parser reads nothing: a request's body is the upload, streamed into the drive.
 */
export function groupDriveRoutes(app: FastifyInstance, deps: { ops: Operations; home: Home; groups: Groups }): void {
  for (const method of DAV_METHODS) app.addHttpMethod(method, { hasBody: true })
  const checked = new Map<string, { hash: string; until: number }>()
  let failures = 0

  /** Who the request is from: the owner by passphrase or token, or it is refused. */
  const authenticate = async (req: FastifyRequest, reply: FastifyReply, decision: Decision): Promise<void> => {
    const header = req.headers.authorization ?? ''
    if (header.startsWith('Bearer ')) {
      deps.ops.authorize(decision, header.slice(7).trim(), { op: 'admin' })
      return
    }
    decision.subject = 'owner'
    reply.header('www-authenticate', CHALLENGE)
    if (!header.startsWith('Basic ')) throw new Unauthorized('The group drives answer the box\'s owner: give the owner passphrase (any user name), or an owner token.')
    const credentials = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8')
    const passphrase = credentials.slice(credentials.indexOf(':') + 1)
    const id = createHash('sha256').update(credentials).digest('hex')
    const hash = deps.home.config.passphraseHash
    const known = checked.get(id)
    if (known && known.hash === hash && known.until > Date.now()) return
    // Each failure in a row slows the next answer, as at login, so guessing the passphrase here is no faster.
    if (failures >= FAILURES_BEFORE_DELAY) await new Promise((resolve) => setTimeout(resolve, Math.min(5000, 250 * 2 ** (failures - FAILURES_BEFORE_DELAY))))
    if (!checkPassphrase(hash, passphrase)) {
      failures++
      checked.delete(id)
      throw new Unauthorized('Wrong passphrase.')
    }
    failures = 0
    checked.set(id, { hash, until: Date.now() + CHECKED_MS })
  }

  const handler = (req: FastifyRequest, reply: FastifyReply) => {
    const group = (req.params as { group: string }).group
    const kind = KIND[req.method] ?? 'write'
    return deps.ops.audited(kind, `${req.method} ${DAV_PREFIX}/:group/*`, null, async (decision) => {
      await authenticate(req, reply, decision)
      if (!/^[0-9a-f]{64}$/.test(group)) throw new InvalidInput('A group drive is at /dav/groups/<the group\'s key>/.')
      const mount = `${DAV_PREFIX}/${group}`
      const url = req.raw.url ?? mount
      // Once the group is ready (opened, and in an epoch: a 503 if it is not soon); a move to a new epoch waits for the request.
      const failed = (err: unknown) => req.log.error({ err }, 'a WebDAV request on a group drive failed')
      await deps.groups.withDrive(group, async (drive) => {
        reply.hijack()
        try {
          await serveDav(drive, req.raw, reply.raw, { mount, target: url.slice(mount.length) || '/', failed })
        } catch (err) {
          // The response is ours now, not Fastify's: it must still end, and Fastify no longer logs what failed.
          failed(err)
          if (reply.raw.headersSent) reply.raw.destroy()
          else reply.raw.writeHead(500).end()
          throw err
        }
      })
      decision.status = reply.raw.statusCode
      decision.bytes = Number(reply.raw.getHeader('content-length') ?? 0) || Number(req.headers['content-length'] ?? 0)
    })
  }

  app.register(async (dav) => {
    dav.removeAllContentTypeParsers()
    dav.addContentTypeParser('*', (_req, _payload, done) => done(null))
    dav.route({ method: METHODS, url: `${DAV_PREFIX}/:group`, handler, schema: { hide: true } })
    dav.route({ method: METHODS, url: `${DAV_PREFIX}/:group/*`, handler, schema: { hide: true } })
  })
}
