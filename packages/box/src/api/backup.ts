/** The box's replicas over HTTP. All owner only; inviting a device takes the owner passphrase too. */
import type { FastifyInstance, HTTPMethods } from 'fastify'
import type { TSchema } from '@sinclair/typebox'
import type { Operation } from '../operations/index.ts'
import { operationRoute } from './routes.ts'
import type { ApiDeps } from './index.ts'

export function backupRoutes(api: FastifyInstance, deps: ApiDeps): void {
  const { ops, backupOps } = deps
  const route = <I extends TSchema, O extends TSchema>(method: HTTPMethods, url: string, op: Operation<I, O>) => operationRoute(api, ops, method, url, op, { tags: ['backup'] })

  route('GET', '/backup/replicas', backupOps.list)
  route('POST', '/backup/replicas', backupOps.invite)
  route('POST', '/backup/devices', backupOps.inviteDevice)
  route('GET', '/backup/replicas/:id', backupOps.get)
  route('PATCH', '/backup/replicas/:id', backupOps.configure)
  route('POST', '/backup/replicas/:id/check', backupOps.check)
  route('DELETE', '/backup/replicas/:id', backupOps.remove)
}
