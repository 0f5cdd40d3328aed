/**
 * The OpenAPI document (`/api/v1/openapi.json`) and its docs UI (`/api/v1/docs`), built on their
 * first request rather than at start: @fastify/swagger and swagger-ui, with the yaml package they
 * load, cost `coffer start` about 40 ms before its first answer, and most starts never serve them.
 *
 * The box's routes are noted as they are added. The first request for the document or the UI
 * adds them, with their schemas and handlers that never run, to a Fastify instance of its own
 * that carries the two plugins (relay.ts), so the document is what @fastify/swagger makes of
 * these routes; the UI's requests are answered from that instance.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, HTTPMethods, RouteOptions } from 'fastify'
import type { SwaggerOptions } from '@fastify/swagger'
import { relay } from './relay.ts'

const DOCS = '/api/v1/docs'

const OPENAPI: SwaggerOptions = {
  openapi: {
    openapi: '3.0.3',
    info: { title: 'Coffer box API', version: '1', description: 'A personal data box: sources, SenML ingest, queries, catalogue, capability tokens and audit.' },
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'A Coffer macaroon token' },
        basic: { type: 'http', scheme: 'basic', description: 'An OwnTracks device: user and device password' },
      },
    },
    security: [{ bearer: [] }],
  },
}

/** A route as the document needs it: what @fastify/swagger reads of one. */
type Documented = Pick<RouteOptions, 'method' | 'url' | 'schema' | 'config'>

/**
 * Notes every route `app` gets from now on, and serves the document and the UI from them. Call
 * before any route is added. The routes' own requests are unaffected: their schemas are the
 * document's, not their validation (see routes.ts).
 */
export function docsRoutes(app: FastifyInstance): void {
  const routes: Documented[] = []
  app.addHook('onRoute', (route) => {
    // As @fastify/swagger does, leaving out what it would leave out: HEAD routes made for GET ones, and hidden routes.
    if (route.method === 'HEAD' || route.schema?.hide === true) return
    routes.push({ method: route.method, url: route.url, schema: route.schema, config: route.config })
  })

  const docs = relay(() => build(routes))
  app.get('/api/v1/openapi.json', { schema: { hide: true } }, async () => (await docs.instance()).swagger())
  const ui = (req: FastifyRequest, reply: FastifyReply) => docs.send(req, reply)
  app.get(DOCS, { schema: { hide: true } }, ui)
  app.get(`${DOCS}/*`, { schema: { hide: true } }, ui)
}

async function build(routes: Documented[]): Promise<FastifyInstance> {
  const [{ default: Fastify }, { default: swagger }, { default: swaggerUi }] = await Promise.all([
    import('fastify'), import('@fastify/swagger'), import('@fastify/swagger-ui'),
  ])
  const docs = Fastify()
  // Its routes never answer a request: nothing to validate or serialise, so no schema is compiled.
  docs.setValidatorCompiler(() => () => true)
  docs.setSerializerCompiler(() => (data) => JSON.stringify(data))
  await docs.register(swagger, OPENAPI)
  await docs.register(swaggerUi, { routePrefix: DOCS })
  const unused = async (): Promise<never> => {
    throw new Error('the docs instance answers only for the document and its UI')
  }
  for (const route of routes) docs.route({ ...route, method: route.method as HTTPMethods | HTTPMethods[], handler: unused })
  await docs.ready()
  return docs
}
