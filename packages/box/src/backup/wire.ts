/**
 * What a box and a replica say to each other beside the logs' own replication, on one protomux
 * channel of the same connection: JSON messages, each with a `type`. The logs travel on
 * hypercore's channels; this channel carries only what a blind replica may know — core keys,
 * block numbers, figures — and the signed answers that prove what it holds.
 */
import Protomux from 'protomux'
import c from 'compact-encoding'
import { Type, type Static, type TSchema } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import type { Connection } from './network.ts'

export const PROTOCOL = 'coffer/backup/1'

const Hex = (bytes: number) => Type.String({ pattern: `^[0-9a-f]{${bytes * 2}}$` })
const CoreKey = Hex(32)
const Index = Type.Integer({ minimum: 0 })
const Blocks = Type.Array(Index, { maxItems: 1_000_000 })

/** The box → replica messages. */
export const ToReplica = Type.Union([
  /** The replica is known (or its invite was good), or not, and why. */
  Type.Object({ type: Type.Literal('welcome') }),
  Type.Object({ type: Type.Literal('refused'), reason: Type.String({ maxLength: 500 }) }),
  /** Hold these cores; forget `dropped`; `clears` are blocks the box deleted, in order, through clear number `through`. */
  Type.Object({
    type: Type.Literal('cores'),
    keys: Type.Array(CoreKey, { maxItems: 100_000 }),
    dropped: Type.Array(CoreKey, { maxItems: 100_000 }),
    clears: Type.Array(Type.Object({ core: CoreKey, blocks: Blocks }), { maxItems: 10_000 }),
    through: Index,
  }),
  /** Send back these stored blocks, to show they are really held. */
  Type.Object({ type: Type.Literal('challenge'), id: Type.String({ maxLength: 64 }), blocks: Type.Array(Type.Object({ core: CoreKey, index: Index }), { maxItems: 64 }) }),
  /** Restoring: say which cores you hold for me, and which of their blocks. */
  Type.Object({ type: Type.Literal('inventory') }),
  /**
   * Social recovery: the owner's split in force is `set`; here is this replica's share of it, sealed
   * to the replica's key (a recovery share file); or none (null), so a share of an older split goes.
   */
  Type.Object({ type: Type.Literal('share'), set: Type.Integer({ minimum: 1 }), file: Type.Union([Type.String({ maxLength: 8192 }), Type.Null()]) }),
])
export type ToReplica = Static<typeof ToReplica>

/** What a replica says it holds for one owner, signed with its key. */
export const HealthReport = Type.Object({
  owner: Hex(32),
  at: Type.Number(),
  quotaBytes: Type.Number({ minimum: 0 }),
  usedBytes: Type.Number({ minimum: 0 }),
  overQuota: Type.Boolean(),
  cores: Type.Array(Type.Object({
    key: CoreKey, length: Index, blocks: Index, bytes: Type.Number({ minimum: 0 }),
    /** The runs of blocks held, [start, end): what the owner's checks ask for. */
    held: Type.Array(Type.Tuple([Index, Index]), { maxItems: 100_000 }),
  }), { maxItems: 100_000 }),
})
export type HealthReport = Static<typeof HealthReport>

/** The replica → box messages. */
export const ToBox = Type.Union([
  /** First words on every connection; a replica holding an unspent invite says its secret, which proves it. */
  Type.Object({ type: Type.Literal('hello'), invite: Type.Optional(Hex(32)) }),
  Type.Object({ type: Type.Literal('heard'), through: Index }),
  Type.Object({ type: Type.Literal('health'), report: HealthReport, signature: Hex(64) }),
  Type.Object({
    type: Type.Literal('proof'), id: Type.String({ maxLength: 64 }),
    blocks: Type.Array(Type.Object({ core: CoreKey, index: Index, block: Type.Union([Type.String({ maxLength: 4 * 2 ** 20 }), Type.Null()]) }), { maxItems: 64 }),
  }),
  Type.Object({
    type: Type.Literal('inventory'),
    cores: Type.Array(Type.Object({ key: CoreKey, length: Index, held: Type.Array(Type.Tuple([Index, Index])) }), { maxItems: 100_000 }),
  }),
  /** The answer to a `share`: kept (or, for none, an older one dropped), or refused and why. */
  Type.Object({ type: Type.Literal('share-held'), set: Type.Integer({ minimum: 1 }) }),
  Type.Object({ type: Type.Literal('share-refused'), set: Type.Integer({ minimum: 1 }), reason: Type.String({ maxLength: 500 }) }),
])
export type ToBox = Static<typeof ToBox>

const checkers = new Map<TSchema, ReturnType<typeof TypeCompiler.Compile>>()

export interface Wire<Out, In> {
  send(message: Out): void
  close(): void
  readonly opened: Promise<void>
  readonly closed: Promise<void>
  /** Resolves with the next message of this type, or rejects when the channel closes first or after `ms`. */
  next<T extends In extends { type: infer K } ? K : never>(type: T, ms?: number): Promise<Extract<In, { type: T }>>
}

/**
 * Opens the backup channel on a connection. The connection's protomux is shared with
 * hypercore's replication, so it is made once and kept on the connection.
 */
export function openWire<Out, In extends { type: string }>(conn: Connection, incoming: TSchema, onMessage: (message: In) => void): Wire<Out, In> {
  let check = checkers.get(incoming)
  if (!check) checkers.set(incoming, check = TypeCompiler.Compile(incoming))
  const mux = Protomux.from(conn)
  conn.userData = mux
  const waiting = new Set<{ type: string; resolve: (m: In) => void; reject: (e: Error) => void }>()
  let markOpen!: () => void
  let markClosed!: () => void
  const opened = new Promise<void>((resolve) => (markOpen = resolve))
  const closed = new Promise<void>((resolve) => (markClosed = resolve))
  const channel = mux.createChannel({
    protocol: PROTOCOL,
    onopen: () => markOpen(),
    onclose: () => {
      for (const w of waiting) w.reject(new Error('The replica connection closed.'))
      waiting.clear()
      markClosed()
    },
  })
  if (!channel) throw new Error('The backup channel is already open on this connection.')
  const message = channel.addMessage({
    encoding: c.json,
    onmessage: (value: In) => {
      // A peer that says something malformed is not one to keep talking to.
      if (!check.Check(value)) return conn.destroy()
      for (const w of waiting) {
        if (w.type === value.type) {
          waiting.delete(w)
          w.resolve(value)
          return
        }
      }
      onMessage(value)
    },
  })
  channel.open()
  return {
    send: (m) => void message.send(m),
    close: () => channel.close(),
    opened,
    closed,
    next: (type, ms = 30_000) => new Promise((resolve, reject) => {
      const w = {
        type,
        resolve: (m: In) => {
          clearTimeout(timer)
          resolve(m as never)
        },
        reject: (e: Error) => {
          clearTimeout(timer)
          reject(e)
        },
      }
      const timer = setTimeout(() => {
        waiting.delete(w)
        reject(new Error(`The replica did not answer in ${ms / 1000} s.`))
      }, ms)
      waiting.add(w)
    }),
  }
}
