/** The monthly data-use statement, as JSON, a self-contained HTML page or a PDF. */
import type { FastifyInstance } from 'fastify'
import { Type } from '@sinclair/typebox'
import { renderHtml, renderPdf, statementFromLog } from '../statement/index.ts'
import { ownerOnly } from './guard.ts'
import type { ApiDeps } from './index.ts'

const Query = Type.Object({
  month: Type.Optional(Type.String({ description: 'YYYY-MM; default: the current month' })),
  tz: Type.Optional(Type.String({ description: 'IANA time zone the month is read in; default: the box owner\'s' })),
  format: Type.Optional(Type.Union([Type.Literal('html'), Type.Literal('pdf'), Type.Literal('json')], { default: 'html' })),
})

export function statementRoutes(api: FastifyInstance, deps: ApiDeps): void {
  api.get('/statement', {
    schema: {
      summary: 'The monthly statement of who used which data, built from the audit log, with whether the log verified',
      tags: ['audit'],
      querystring: Query,
    },
  }, ownerOnly(deps, async (req, reply, ctx) => {
    const q = req.query as { month?: string; tz?: string; format?: 'html' | 'pdf' | 'json' }
    const timeZone = q.tz ?? ownerTimeZone(deps)
    const names = Object.fromEntries(deps.apps.list().map((app) => [`app:${app.id}`, app.name]))
    const statement = await statementFromLog(deps.audit, { month: q.month, timeZone, now: Math.floor(Date.now() / 1000), names })
    ctx.records = statement.totals.requests
    const format = q.format ?? 'html'
    if (format === 'json') return statement
    const body = format === 'pdf' ? await renderPdf(statement) : renderHtml(statement)
    ctx.bytes = Buffer.byteLength(body)
    if (format === 'pdf') {
      reply.type('application/pdf').header('content-disposition', `attachment; filename="coffer-statement-${statement.month}.pdf"`)
    } else {
      reply.type('text/html; charset=utf-8')
    }
    return body
  }))
}

/** Boxes made before the owner's zone was kept in the home's config have none: they read months in UTC. */
function ownerTimeZone(deps: ApiDeps): string {
  return deps.home.config.timeZone ?? 'UTC'
}
