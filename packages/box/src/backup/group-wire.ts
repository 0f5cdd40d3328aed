/**
 * A group's blind replicator and the group's members: the invite an admin seals to a replicator,
 * and what the two ends say beside the cores' own replication (on the backup channel of the same
 * connection). A replicator learns only what a blind copy needs — the group's address, the keys
 * of its cores, which peers it may admit and which of them are admins — and sends back signed
 * accounts of what it holds. It never learns a content key, a member's name or a file's.
 *
 * Pairing: the admin's box makes an invite sealed to the replicator's key, naming the group's
 * address and the admin's key on the group's network, and keeps only the hash of its secret. The
 * replicator, having opened it, dials the admin under its own key, says the secret once and the
 * key it will use on the group's network; the admin writes that key into the group's log (so
 * every member admits it) and answers with the peers it may admit. An expired or spent invite is
 * refused at both ends, as backup's are.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto'
import Hypercore from 'hypercore'
import { Type, type Static } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import type { KeyPair } from '../keys/index.ts'
import { hashSecret, openCode, sealCode } from './invite.ts'

export const GROUP_INVITE_PREFIX = 'coffer-group-replica:'

const Hex = (bytes: number) => Type.String({ pattern: `^[0-9a-f]{${bytes * 2}}$` })
const CoreKey = Hex(32)
const Index = Type.Integer({ minimum: 0 })

const GroupReplicaInvite = Type.Object({
  v: Type.Literal(1),
  /** The group's key, which names it, and where its members meet on the DHT. */
  group: Hex(32),
  address: Hex(32),
  /** What the group is called, for the replicator's operator to see whose copy this is. */
  name: Type.String({ maxLength: 100 }),
  /** The inviting admin's key on the group's network: whom to dial. */
  admin: Hex(32),
  secret: Hex(32),
  expiresAt: Type.Number(),
}, { additionalProperties: false })
export type GroupReplicaInvite = Static<typeof GroupReplicaInvite>
const checkInvite = TypeCompiler.Compile(GroupReplicaInvite)

export function makeGroupReplicaInvite(invite: Omit<GroupReplicaInvite, 'v' | 'secret'>, replicator: Buffer): { code: string; secretHash: string } {
  const full: GroupReplicaInvite = { v: 1, ...invite, secret: randomBytes(32).toString('hex') }
  const code = sealCode(GROUP_INVITE_PREFIX, full, replicator, 'That is not a replicator\'s key: copy the whole key `coffer replicator id` prints.')
  return { code, secretHash: hashSecret(full.secret) }
}

/** Opens a group invite sealed to this replicator; refuses one sealed to another, altered, or expired. */
export function openGroupReplicaInvite(code: string, keyPair: KeyPair, now = Date.now()): GroupReplicaInvite {
  return openCode(code.trim().slice(GROUP_INVITE_PREFIX.length), keyPair, (v): v is GroupReplicaInvite => checkInvite.Check(v), {
    notForYou: 'This invite was not made for this replicator (or it was altered): ask the group\'s admin for an invite to this replicator\'s key.', askWhom: 'the group\'s admin',
  }, now)
}

/** A key the replicator may admit on the group's network, and whether it may change that list. */
export const GroupPeer = Type.Object({ peer: Hex(32), admin: Type.Boolean() }, { additionalProperties: false })
export type GroupPeer = Static<typeof GroupPeer>
const Peers = Type.Array(GroupPeer, { maxItems: 10_000 })

/**
 * An admin's word on which peers the group's replicators may admit, from its epoch on. Each admin
 * appends one, whenever the list it would give changes, to a core of its own signed with its key on
 * the group's network (its admissions core). Every member keeps every admin's admissions core and
 * replicates it like any other core of the group, so a replicator that only plain members reach
 * still gets the latest, and hypercore checks each block against the admin's key, which the
 * replicator already trusts: a member can pass on what an admin signed, but not make it up, alter
 * it, or hand back an older one in place of a newer (the core only grows).
 */
export const Admission = Type.Object({
  v: Type.Literal(1),
  group: Hex(32),
  /** The group's epoch when the admin wrote it: a list from an earlier epoch never replaces one from a later. */
  epoch: Index,
  peers: Peers,
  at: Type.Number(),
}, { additionalProperties: false })
export type Admission = Static<typeof Admission>
const checkAdmission = TypeCompiler.Compile(Admission)

const ADMISSIONS_NAMESPACE = createHash('sha256').update('coffer/v1/group-admissions').digest()

/** How an admin's admissions core is signed: by its key on the group's network alone, under a namespace no other core of ours uses. */
export function admissionsManifest(admin: string): object {
  return { version: 1, signers: [{ signature: 'ed25519', namespace: ADMISSIONS_NAMESPACE, publicKey: Buffer.from(admin, 'hex') }] }
}

/** The key of an admin's admissions core, which anyone knowing the admin's key on the group's network can work out. */
export function admissionsKey(admin: string): Buffer {
  return (Hypercore as unknown as { key(manifest: object): Buffer }).key(admissionsManifest(admin))
}

/** The last admission an admin's core holds for this group; null if none, its block is not here yet, or it is something else. */
export async function lastAdmission(core: Hypercore, group: string): Promise<Admission | null> {
  if (core.length === 0) return null
  const block = await core.get(core.length - 1, { wait: false })
  let admission: unknown
  try {
    admission = JSON.parse(block?.toString() ?? '')
  } catch {
    return null
  }
  return checkAdmission.Check(admission) && admission.group === group ? admission : null
}

/** What a group replicator says it holds, signed with its key on the group's network. */
export const GroupHealthReport = Type.Object({
  group: Hex(32),
  at: Type.Number(),
  quotaBytes: Type.Number({ minimum: 0 }),
  usedBytes: Type.Number({ minimum: 0 }),
  overQuota: Type.Boolean(),
  cores: Type.Array(Type.Object({ key: CoreKey, length: Index, blocks: Index, bytes: Type.Number({ minimum: 0 }) }, { additionalProperties: false }), { maxItems: 100_000 }),
}, { additionalProperties: false })
export type GroupHealthReport = Static<typeof GroupHealthReport>

export function groupHealthMessage(report: GroupHealthReport): Buffer {
  return Buffer.from(`coffer/v1/group-replica-health\n${JSON.stringify(report)}`)
}

/** Member → replicator. */
export const ToGroupReplica = Type.Union([
  /** The admin's answer to a pairing: the peers to admit. */
  Type.Object({ type: Type.Literal('paired'), peers: Peers }, { additionalProperties: false }),
  Type.Object({ type: Type.Literal('refused'), reason: Type.String({ maxLength: 500 }) }, { additionalProperties: false }),
  /** Cores of the group to hold (the replicator keeps every core it was told of, across epochs). */
  Type.Object({ type: Type.Literal('cores'), keys: Type.Array(CoreKey, { maxItems: 100_000 }) }, { additionalProperties: false }),
  /** The peers to admit from now on: heeded from an admin connected to it only (its admissions core says the same, and reaches it through any member). */
  Type.Object({ type: Type.Literal('peers'), peers: Peers }, { additionalProperties: false }),
])
export type ToGroupReplica = Static<typeof ToGroupReplica>

/** Replicator → member. */
export const FromGroupReplica = Type.Union([
  /** Pairing: the invite's secret, and the key the replicator will use on the group's network. */
  Type.Object({ type: Type.Literal('pair'), secret: Hex(32), peer: Hex(32) }, { additionalProperties: false }),
  Type.Object({ type: Type.Literal('health'), report: GroupHealthReport, signature: Hex(64) }, { additionalProperties: false }),
])
export type FromGroupReplica = Static<typeof FromGroupReplica>

/** A replicator's key on one group's network: its own per group, so the groups and owners it serves cannot be linked by key. */
export function groupPeerSeed(identitySeed: Buffer, group: string): Buffer {
  return createHmac('sha256', identitySeed).update(`coffer/v1/replicator-group\n${group}`).digest()
}
