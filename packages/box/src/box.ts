/**
 * createBox wires the capabilities together, in one readable place: home → store, audit,
 * arbiter → HTTP API. Everything that opens files or sockets has open()/close().
 */
import fs from 'node:fs'
import path from 'node:path'
import pino from 'pino'
import type { FastifyInstance } from 'fastify'
import { openHome, writeFileAtomic, type Home } from './home/index.ts'
import { openMetaDb } from './db/index.ts'
import { Store } from './store/index.ts'
import { AuditLog } from './audit/index.ts'
import { Arbiter } from './arbiter/index.ts'
import { Drivers } from './drivers/index.ts'
import { Importers } from './importers/index.ts'
import { Gateway, MARKET_SENDER } from './gateway/index.ts'
import { Sandbox } from './sandbox/index.ts'
import { Apps } from './apps/index.ts'
import { appOperations } from './apps/operations.ts'
import { exportOperations } from './gateway/operations.ts'
import { homeOperations } from './home/operations.ts'
import { grantOperations } from './arbiter/operations.ts'
import { auditOperations } from './audit/operations.ts'
import { statementOperations } from './statement/operations.ts'
import { driverOperations } from './drivers/operations.ts'
import { importOperations } from './importers/operations.ts'
import { Answerer, Evaluator, Membership, marketOperations } from './market/index.ts'
import { Backup, backupOperations, parseBootstrap } from './backup/index.ts'
import { recoveryOperations } from './recovery/index.ts'
import { Groups, groupOperations } from './groups/index.ts'
import { Operations } from './operations/index.ts'
import { sourceOperations, type SourceOperations } from './sources/index.ts'
import { createApi } from './api/index.ts'

export interface BoxConfig {
  home: string
  /** 0 picks a free port. */
  port?: number
  host?: string
  logLevel?: pino.Level | 'silent'
  /** The DHT nodes replicas are found through; default COFFER_DHT_BOOTSTRAP, else HyperDHT's public ones. */
  dhtBootstrap?: { host: string; port: number }[]
  /** How long a request waits for a group being opened or moving to a new epoch before it is answered 503 (default 10 s). */
  groupReadyMs?: number
}

export interface Box {
  home: Home
  store: Store
  audit: AuditLog
  arbiter: Arbiter
  drivers: Drivers
  importers: Importers
  gateway: Gateway
  sandbox: Sandbox
  apps: Apps
  /** The data markets the owner joined, and what became of their queries. */
  membership: Membership
  /** The replicas holding encrypted copies of the logs. */
  backup: Backup
  /** The groups this box is in, and their shared drives. */
  groups: Groups
  /** The operations every caller runs, and the sources capability's table of them. */
  ops: Operations
  sources: SourceOperations
  api: FastifyInstance
  url: string | undefined
  open(): Promise<void>
  listen(): Promise<string>
  close(): Promise<void>
}

export function createBox(config: BoxConfig): Box {
  const home = openHome(config.home)
  const logger = pino({
    level: config.logLevel ?? 'info',
    // Requests are logged without their query string (an event stream may carry its token there) or headers.
    serializers: {
      req: (req: { method: string; url: string; ip?: string }) => ({ method: req.method, url: req.url.split('?')[0], remoteAddress: req.ip }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      err: pino.stdSerializers.err,
    },
  })
  const db = openMetaDb(home.paths.meta)
  const store = new Store({ db, keys: home.keys, logsDir: home.paths.logs, viewsDir: home.paths.views })
  const audit = new AuditLog(home.paths.audit, home.keys, db)
  const arbiter = new Arbiter(db, home.keys.macaroonRootKey)
  // The operation layer files every decision in the audit log.
  const ops = new Operations({ arbiter, audit, logger })
  const sources = sourceOperations({ home, store })
  const drivers = new Drivers({ db, store, arbiter, ingest: { ops, sources }, logger })
  const importers = new Importers({ db, store, arbiter, audit, ingest: { ops, sources }, dir: path.join(home.dir, 'imports'), timeZone: () => home.config.timeZone ?? 'UTC' })
  const gateway: Gateway = new Gateway({
    db, audit,
    destinationsOf: (sender) => sender.startsWith(MARKET_SENDER) ? membership.destinations(sender.slice(MARKET_SENDER.length)) : apps.destinations(sender),
    // An app that reads a source a group keeps in its members' boxes sends nothing out.
    withheld: (sender) => sender.startsWith(MARKET_SENDER) ? undefined
      : groups.withheld(arbiter.grants().filter((g) => g.subject === `app:${sender}` && !g.revoked).flatMap((g) => g.sources === '*' ? [] : g.sources)),
  })
  const sandbox = new Sandbox()
  const apps: Apps = new Apps({
    db, dir: path.join(home.dir, 'apps'), store, arbiter, audit, gateway, sandbox, logger,
    ops, sources, timeZone: home.config.timeZone ?? 'UTC', closedToApps: (source) => groups.closedToApps(source),
  })
  const appOps = appOperations({ apps })
  const exportOps = exportOperations({ gateway })
  const homeOps = homeOperations({ home, store, audit, drivers, importers })
  const grantOps = grantOperations({ arbiter, store })
  const auditOps = auditOperations({ audit })
  const statementOps = statementOperations({
    home, audit, apps, answers: () => membership.queries({ state: 'answered', limit: Number.MAX_SAFE_INTEGER }), accounts: () => membership.payments(),
    replicas: () => backup.replicas(),
  })
  const driverOps = driverOperations({ drivers })
  const importOps = importOperations({ importers })
  const membership: Membership = new Membership({
    db, onSyncError: (market, err) => logger.warn({ market, err: err.message }, 'a market could not be read'), afterSync: () => answerer.answerAccepted(),
  })
  const evaluator = new Evaluator({ ops, sources, timeZone: home.config.timeZone ?? 'UTC' })
  const answerer: Answerer = new Answerer({ membership, evaluator, arbiter, gateway, keys: home.keys, store, logger })
  const marketOps = marketOperations({ membership, answerer, store })
  const backup = new Backup({ db, keys: home.keys, store, audit, logger, timeZone: () => home.config.timeZone ?? 'UTC', bootstrap: config.dhtBootstrap ?? parseBootstrap() })
  const backupOps = backupOperations({ backup })
  const recoveryOps = recoveryOperations({ home, db, courier: backup })
  const groups = new Groups({ db, keys: home.keys, dir: path.join(home.dir, 'groups'), bootstrap: config.dhtBootstrap ?? parseBootstrap(), sources: { store, ops }, timeZone: () => home.config.timeZone ?? 'UTC', logger, readyMs: config.groupReadyMs })
  arbiter.obey(groups.rules)
  const groupOps = groupOperations({ groups })
  const api = createApi({
    home, store, arbiter, drivers, importers, apps, gateway, logger,
    ops, sources, appOps, exportOps, homeOps, grantOps, auditOps, statementOps, driverOps, importOps, marketOps, backupOps, recoveryOps, groups, groupOps,
  })

  const box: Box = {
    home, store, audit, arbiter, drivers, importers, gateway, sandbox, apps, membership, backup, groups, ops, sources, api,
    url: undefined,
    async open() {
      await audit.open()
      await store.open()
      await backup.open()
      await groups.open()
      await importers.open()
      await drivers.open()
      await sandbox.open()
      await apps.open()
      membership.open()
    },
    async listen() {
      const address = await api.listen({ port: config.port ?? 7780, host: config.host ?? '127.0.0.1' })
      box.url = address.replace('[::1]', 'localhost')
      writeFileAtomic(home.paths.runtime, JSON.stringify({ url: box.url, pid: process.pid }))
      return box.url
    },
    async close() {
      if (box.url) fs.rmSync(home.paths.runtime, { force: true })
      await api.close()
      await membership.close()
      await answerer.close()
      await apps.close()
      await sandbox.close()
      await drivers.close()
      await backup.close()
      await groups.close()
      await store.close()
      await audit.close()
      db.close()
    },
  }
  return box
}
