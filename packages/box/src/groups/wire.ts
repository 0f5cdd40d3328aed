/**
 * What a box holding an invite and the admin who made it say, on one protomux channel of the
 * connection the invitee opened under the key the invite was sealed to: the invitee's signed
 * statement and the invite's secret, then the admin's answer — the group's content keys sealed to
 * the invitee, or why not. Members' own connections carry only the group's replication.
 */
import Protomux from 'protomux'
import c from 'compact-encoding'
import { Type, type Static } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import { Statement } from './members.ts'
import type { Connection } from '../backup/index.ts'

const PROTOCOL = 'coffer/groups/join/1'

export const JoinRequest = Type.Object({
  type: Type.Literal('join'),
  secret: Type.String({ pattern: '^[0-9a-f]{64}$' }),
  epoch: Type.Integer({ minimum: 0 }),
  member: Statement,
}, { additionalProperties: false })
export type JoinRequest = Static<typeof JoinRequest>

export const JoinAnswer = Type.Union([
  Type.Object({
    type: Type.Literal('admitted'),
    /** Every epoch's base and content key, each key sealed to the invitee's box key: it reads what was written before it came. */
    epochs: Type.Array(Type.Object({
      epoch: Type.Integer({ minimum: 0 }),
      base: Type.String({ pattern: '^[0-9a-f]{64}$' }),
      contentKey: Type.String({ maxLength: 200 }),
    }, { additionalProperties: false }), { minItems: 1, maxItems: 10_000 }),
  }, { additionalProperties: false }),
  Type.Object({ type: Type.Literal('refused'), reason: Type.String({ maxLength: 500 }) }, { additionalProperties: false }),
])
export type JoinAnswer = Static<typeof JoinAnswer>

const checkRequest = TypeCompiler.Compile(JoinRequest)
const checkAnswer = TypeCompiler.Compile(JoinAnswer)

export interface JoinChannel<Out, In> {
  send(message: Out): void
  /** The other end's one message, or a rejection when the channel closes first or `ms` pass. */
  readonly received: (ms: number) => Promise<In>
}

function open<Out, In>(conn: Connection, check: (value: unknown) => boolean): JoinChannel<Out, In> {
  const mux = Protomux.from(conn)
  conn.userData = mux
  let settle: { resolve: (m: In) => void; reject: (e: Error) => void } | undefined
  let early: In | undefined
  let closed = false
  const channel = mux.createChannel({
    protocol: PROTOCOL,
    onclose: () => {
      closed = true
      settle?.reject(new Error('The connection closed before an answer came.'))
    },
  })
  if (!channel) throw new Error('A join is already under way on this connection.')
  const message = channel.addMessage({
    encoding: c.json,
    onmessage: (value: In) => {
      // A peer that says something malformed is not one to keep talking to.
      if (!check(value)) return conn.destroy()
      if (settle) settle.resolve(value)
      else early = value
    },
  })
  channel.open()
  return {
    send: (m) => void message.send(m),
    received: (ms) => new Promise<In>((resolve, reject) => {
      if (early !== undefined) return resolve(early)
      if (closed) return reject(new Error('The connection closed before an answer came.'))
      const timer = setTimeout(() => reject(new Error(`No answer in ${ms / 1000} s.`)), ms)
      settle = {
        resolve: (m) => { clearTimeout(timer); resolve(m) },
        reject: (e) => { clearTimeout(timer); reject(e) },
      }
    }),
  }
}

/** The admin's end: it receives the request and answers it. */
export function adminChannel(conn: Connection): JoinChannel<JoinAnswer, JoinRequest> {
  return open(conn, (v) => checkRequest.Check(v))
}

/** The invitee's end. */
export function inviteeChannel(conn: Connection): JoinChannel<JoinRequest, JoinAnswer> {
  return open(conn, (v) => checkAnswer.Check(v))
}
