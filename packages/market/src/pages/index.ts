/**
 * Serves the processors' pages (packages/market-ui, built to static files): `/` and the pages'
 * own paths answer index.html, so a reload or a bookmark of a query's page works; the built
 * assets are served as files. Without a build the market still runs, and its pages say how to
 * build them.
 *
 * Register it on the API's Fastify instance before it is ready: `app.register(marketPages)`.
 */
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { FastifyPluginAsync, FastifyReply } from 'fastify'
import fastifyStatic from '@fastify/static'

/** Where `npm run build --workspace packages/market-ui` puts the pages; the same from src/ and dist/. */
export const MARKET_PAGES_DIR = fileURLToPath(new URL('../../../market-ui/dist/', import.meta.url))

/** The pages' own paths (see packages/market-ui/src/App.tsx): each is index.html, routed in the browser. */
export const PAGE_PATHS = ['/', '/register', '/queries', '/queries/new', '/queries/:id'] as const

/**
 * The pages load nothing from elsewhere and need no eval or inline script, so the browser may
 * refuse anything that tries: a script injected through a query's text could neither run nor
 * send the processor's API key anywhere but this market (connect-src). Downloads are blobs the
 * page makes itself. React sets styles through the CSSOM, which style-src does not govern, so
 * no 'unsafe-inline' is needed either.
 */
export const PAGES_CSP = [
  "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "connect-src 'self'",
  "object-src 'none'", "base-uri 'none'", "form-action 'self'", "frame-ancestors 'none'",
].join('; ')

const NOT_BUILT = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Coffer market</title></head>
<body><main><h1>The market's pages are not built</h1><p>The market is running and its API answers under
<a href="/api/v1/openapi.json">/api/v1</a>. To use its pages, run <code>npm run build</code> in the
Coffer folder, then restart the market and reload this page.</p></main></body></html>`

export interface MarketPagesOptions {
  /** The built pages; MARKET_PAGES_DIR unless given. */
  dist?: string
}

function secure(reply: FastifyReply): FastifyReply {
  return reply
    .header('content-security-policy', PAGES_CSP)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('x-frame-options', 'DENY')
}

export const marketPages: FastifyPluginAsync<MarketPagesOptions> = async (app, opts) => {
  const dist = path.resolve(opts.dist ?? MARKET_PAGES_DIR)
  const built = fs.existsSync(path.join(dist, 'index.html'))
  if (built) {
    await app.register(fastifyStatic, {
      root: dist,
      // One route per built file, found now: no catch-all, so an unknown path (under /api too)
      // still reaches the market's own problem+json 404.
      wildcard: false,
      index: false,
      decorateReply: true,
      cacheControl: false,
      setHeaders: (res, file) => {
        res.setHeader('content-security-policy', PAGES_CSP)
        res.setHeader('x-content-type-options', 'nosniff')
        res.setHeader('referrer-policy', 'no-referrer')
        res.setHeader('x-frame-options', 'DENY')
        // Built assets carry a content hash in their name; index.html must always be fresh.
        res.setHeader('cache-control', file.includes(`${path.sep}assets${path.sep}`) ? 'public, max-age=31536000, immutable' : 'no-cache')
      },
    })
  }
  for (const url of PAGE_PATHS) {
    app.get(url, { schema: { hide: true } }, async (_req, reply) => {
      if (!built) return secure(reply).type('text/html; charset=utf-8').send(NOT_BUILT)
      return secure(reply).header('cache-control', 'no-cache').sendFile('index.html', dist)
    })
  }
}
