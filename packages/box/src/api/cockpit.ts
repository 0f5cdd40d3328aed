/**
 * Serves the cockpit (packages/ui, built to static files) at `/`. Any GET outside /api that
 * names no file gets index.html, so the cockpit's own paths survive a reload. Without a build
 * the box still runs; `/` then says how to build it.
 */
import fs from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { relay, type Relay } from './relay.ts'

export const COCKPIT_DIR = fileURLToPath(new URL('../../../ui/dist/', import.meta.url))

// The cockpit loads nothing from elsewhere, so the browser may refuse anything that tries. App
// views are drawn with Vega's expression interpreter, so no eval is allowed either; a view cannot
// fetch or send anywhere but this box (connect-src), and the box refuses specs that name URLs.
// The one exception is images from a map tile server the owner chose (GET /settings).
function csp(tileOrigin?: string): string {
  return [
    "default-src 'self'", "script-src 'self'", "style-src 'self' 'unsafe-inline'",
    `img-src 'self' data: blob:${tileOrigin ? ` ${tileOrigin}` : ''}`, "connect-src 'self'", "frame-src 'self' blob:", "object-src 'none'",
    "base-uri 'none'", "form-action 'self'", "frame-ancestors 'none'",
  ].join('; ')
}

/** The origin map tiles come from, if the owner set a tile server. */
export type TileOrigin = () => string | undefined

const NOT_BUILT = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Coffer</title></head>
<body><main><h1>The cockpit is not built</h1><p>The box is running and its API answers under
<a href="/api/v1/docs">/api/v1</a>. To use the web cockpit, run <code>npm run build</code> in the
Coffer folder, then reload this page.</p></main></body></html>`

/** Each app's cockpit files, for its not-found handler to answer a cockpit path with the page. */
const cockpits = new WeakMap<FastifyInstance, Relay>()

export function cockpitRoutes(app: FastifyInstance, tiles: TileOrigin, dir = COCKPIT_DIR): void {
  const built = fs.existsSync(`${dir}index.html`)
  if (!built) {
    app.get('/', { schema: { hide: true } }, async (_req, reply) => reply.type('text/html; charset=utf-8').send(NOT_BUILT))
    return
  }
  // The files are served by @fastify/static on an instance of their own, made on the first request
  // for one: loading the plugin cost `coffer start` about 20 ms, and a box mostly answers its API.
  const files = relay(async () => {
    const [{ default: Fastify }, { default: fastifyStatic }] = await Promise.all([import('fastify'), import('@fastify/static')])
    const inner = Fastify()
    await inner.register(fastifyStatic, {
      root: dir,
      index: ['index.html'],
      cacheControl: false,
      setHeaders: (res, file) => {
        res.setHeader('content-security-policy', csp(tiles()))
        res.setHeader('x-content-type-options', 'nosniff')
        res.setHeader('referrer-policy', 'no-referrer')
        // Built assets carry a content hash in their name; index.html must always be fresh.
        res.setHeader('cache-control', file.includes('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache')
      },
    })
    return inner
  })
  cockpits.set(app, files)
  app.get('/*', { schema: { hide: true } }, (req, reply) => files.send(req, reply))
}

/** For the not-found handler: a page load outside /api is one of the cockpit's own paths. */
export function isCockpitPath(req: FastifyRequest): boolean {
  const path = req.url.split('?')[0]!
  // A missing file (a name with an extension) stays a 404 rather than turning into the page.
  return (req.method === 'GET' || req.method === 'HEAD') && !path.startsWith('/api/') && path !== '/api' && !/\.[a-z0-9]+$/i.test(path)
}

/** The page itself, for a cockpit path: the app's index.html, or how to build it. */
export async function sendCockpit(req: FastifyRequest, reply: FastifyReply, dir = COCKPIT_DIR): Promise<FastifyReply> {
  const files = cockpits.get(req.server)
  if (!files || !fs.existsSync(`${dir}index.html`)) return reply.status(404).type('text/html; charset=utf-8').send(NOT_BUILT)
  return files.send(req, reply, '/index.html')
}
