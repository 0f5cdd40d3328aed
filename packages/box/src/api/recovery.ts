/** Recovery over HTTP: the paper key, the split of the seed among friends, the shares held for friends. All owner only. */
import type { FastifyInstance, HTTPMethods } from 'fastify'
import type { TSchema } from '@sinclair/typebox'
import type { Operation } from '../operations/index.ts'
import { operationRoute } from './routes.ts'
import type { ApiDeps } from './index.ts'

export function recoveryRoutes(api: FastifyInstance, deps: ApiDeps): void {
  const { ops, recoveryOps } = deps
  const route = <I extends TSchema, O extends TSchema>(method: HTTPMethods, url: string, op: Operation<I, O>) => operationRoute(api, ops, method, url, op, { tags: ['backup'] })
  // The words as JSON, the PDF as a download, neither kept by a cache.
  operationRoute(api, ops, 'POST', '/recovery/paper-key', recoveryOps.paperKey, {
    tags: ['backup'],
    present: (answer, _ctx, _req, reply) => {
      reply.header('cache-control', 'no-store')
      if (answer.format === 'words') return answer
      reply.type('application/pdf').header('content-disposition', 'attachment; filename="coffer-paper-key.pdf"')
      return answer.document
    },
  })
  route('GET', '/recovery/split', recoveryOps.latestSplit)
  route('POST', '/recovery/split', recoveryOps.split)
  route('GET', '/recovery/held', recoveryOps.held)
  route('POST', '/recovery/held', recoveryOps.hold)
  route('POST', '/recovery/held/:owner/release', recoveryOps.release)
}
