/**
 * A Fastify instance of its own for what most starts of the box never serve (the docs UI, the
 * cockpit's files): it is built, with the plugins that serve it, on its first request rather than
 * at start, and the box's answers are its answers, relayed through inject().
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'

/** Headers of the inner instance's answers that belong to its own connection, not to the one answered. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'date'])

export interface Relay {
  /** The inner instance, built on the first call (again after a build that failed). */
  instance(): Promise<FastifyInstance>
  /**
   * Answers `req` with the inner instance's answer to a GET of `url` (the request's own by
   * default): a HEAD request is a GET whose body Fastify leaves out. What the inner instance does
   * not have is the box's own 404.
   */
  send(req: FastifyRequest, reply: FastifyReply, url?: string): Promise<FastifyReply>
}

export function relay(build: () => Promise<FastifyInstance>): Relay {
  let built: Promise<FastifyInstance> | undefined
  const instance = (): Promise<FastifyInstance> => {
    built ??= build().catch((err: unknown) => {
      built = undefined
      throw err
    })
    return built
  }
  return {
    instance,
    async send(req, reply, url = req.url) {
      const res = await (await instance()).inject({ method: 'GET', url, headers: req.headers })
      if (res.statusCode === 404) {
        reply.callNotFound()
        return reply
      }
      reply.code(res.statusCode)
      for (const [name, value] of Object.entries(res.headers)) if (value !== undefined && !HOP_BY_HOP.has(name)) reply.header(name, value)
      // A redirect or a 304 has no body, and gets no content type for one.
      return res.rawPayload.length > 0 ? reply.send(res.rawPayload) : reply.send()
    },
  }
}
