/** The monthly data-use statement, as JSON, a self-contained HTML page or a PDF. */
import type { FastifyInstance } from 'fastify'
import { Type } from '@sinclair/typebox'
import { StatementSchema } from '../statement/operations.ts'
import { operationRoute } from './routes.ts'
import type { ApiDeps } from './index.ts'

export function statementRoutes(api: FastifyInstance, deps: ApiDeps): void {
  operationRoute(api, deps.ops, 'GET', '/statement', deps.statementOps.get, {
    tags: ['audit'],
    // Fastify's form for an answer whose schema depends on its content type.
    response: Type.Unsafe({
      description: 'The statement as `format` asks: data, a page or a PDF',
      content: {
        'application/json': { schema: StatementSchema },
        'text/html': { schema: Type.String({ description: 'A self-contained HTML page' }) },
        'application/pdf': { schema: Type.String({ format: 'binary', description: 'Sent as an attachment named coffer-statement-YYYY-MM.pdf' }) },
      },
    }),
    present: (answer, _ctx, _req, reply) => {
      if (!('document' in answer)) return answer
      if (answer.format === 'pdf') {
        reply.type('application/pdf').header('content-disposition', `attachment; filename="coffer-statement-${answer.month}.pdf"`)
      } else {
        reply.type('text/html; charset=utf-8')
      }
      return answer.document
    },
  })
}
