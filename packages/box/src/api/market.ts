/** The data markets the owner joined, their queries and the owner's decisions, levels and rules, over HTTP. All owner only. */
import type { FastifyInstance, HTTPMethods } from 'fastify'
import type { TSchema } from '@sinclair/typebox'
import type { Operation } from '../operations/index.ts'
import { operationRoute } from './routes.ts'
import type { ApiDeps } from './index.ts'

export function marketRoutes(api: FastifyInstance, deps: ApiDeps): void {
  const { ops, marketOps } = deps
  const route = <I extends TSchema, O extends TSchema>(method: HTTPMethods, url: string, op: Operation<I, O>) => operationRoute(api, ops, method, url, op, { tags: ['market'] })

  route('GET', '/markets', marketOps.list)
  route('POST', '/markets', marketOps.join)
  route('DELETE', '/markets/:market', marketOps.leave)
  route('POST', '/markets/:market/sync', marketOps.sync)
  route('GET', '/market/queries', marketOps.queries)
  route('GET', '/market/queries/:id', marketOps.query)
  route('POST', '/market/queries/:id/accept', marketOps.accept)
  route('POST', '/market/queries/:id/decline', marketOps.decline)
  route('GET', '/market/levels', marketOps.levels)
  route('PUT', '/market/levels', marketOps.setLevels)
  route('GET', '/markets/:market/mapping', marketOps.mapping)
  route('PUT', '/market/mapping', marketOps.setMapping)
  route('GET', '/market/budget', marketOps.budget)
  route('GET', '/market/payments', marketOps.payments)
  route('PUT', '/markets/:market/payout-address', marketOps.setPayoutAddress)
  route('GET', '/market/rules', marketOps.rules)
  route('PUT', '/market/rules', marketOps.setRules)
}
