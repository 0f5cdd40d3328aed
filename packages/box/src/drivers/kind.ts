/**
 * What a kind of driver is, and what the registry lends it. A kind owns everything particular
 * to it — its configuration, how it connects, its own routes and credentials — and the registry
 * owns what every driver shares: persistence, grants and tokens, lifecycle and status.
 */
import type { TSchema } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import type { Operations } from '../operations/index.ts'
import type { SenmlRecord } from '../senml/index.ts'
import type { LogicalType } from '../store/index.ts'

export interface DriverKind<C = unknown, H extends DriverHandle = DriverHandle> {
  kind: string
  /** Validates a configuration up front, and documents it. */
  configSchema: TSchema
  /** Checks the schema cannot express, e.g. a field one mode needs; throws InvalidInput. */
  check?(config: C): void
  /** The sources a configuration writes to. */
  sources(config: C): string[]
  /** The logical type of the sources the driver creates. */
  logicalType: LogicalType
  /** The configuration as it leaves the box: secrets hidden or left out. */
  publicConfig(config: C): C
  /** A new configuration comes without the secrets publicConfig hid: they are kept from the previous one. */
  keepSecrets?(next: C, previous: C): void
  /** Starts the driver; it reports its state and writes through `ctx`. */
  start(ctx: DriverContext<C>): H
  /** Routes the kind itself answers, under /api/v1. */
  routes?(api: FastifyInstance, host: KindHost<C, H>): void
}

/** A started driver. */
export interface DriverHandle {
  /** Stops taking messages and finishes those under way. */
  stop(): Promise<void>
}

/** What the registry gives a starting driver. */
export interface DriverContext<C> {
  readonly id: string
  readonly config: C
  /** Reports the connection's state; an error is kept as the driver's last error. */
  setState(state: 'running' | 'reconnecting' | 'offline', error?: Error): void
  /** Writes as the driver: its own token, checked by the arbiter and audited like any request. */
  write(source: string, records: SenmlRecord[], action: string): Promise<void>
  /** Whether `source` already holds a record `name` at time `t`. */
  stored(source: string, name: string, t: number): boolean
  /** Handles one message; a bad message becomes the driver's last error and is not retried. */
  safely(handle: () => Promise<void>): Promise<void>
}

/** What the registry gives a kind's routes. */
export interface KindHost<C, H> {
  /** Driver `id` if it is of this kind, with its handle while it runs. */
  driver(id: string): { config: C; handle: H | undefined } | undefined
  /** The kind of any driver; NotFound if there is none. */
  kindOf(id: string): string
  /** Replaces a driver's configuration and restarts it. */
  configure(id: string, config: C): Promise<unknown>
  /** Runs a request the routes answer themselves, filing its decision like any operation's. */
  audited: Operations['audited']
}
