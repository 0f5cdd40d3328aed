/**
 * What members append to a group's base: membership changes and drive changes. Each is checked
 * against this schema before it is applied, so a writer that appends something malformed changes
 * nothing (apply must never throw: a throw would stop the base for everyone).
 */
import { Type, type Static } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import { Role, Statement } from './members.ts'
import { ShareMeta, ShareRules, SharedSourceId } from './share-rules.ts'

const Hex = (bytes: number) => Type.String({ pattern: `^[0-9a-f]{${bytes * 2}}$` })
const DrivePath = Type.String({ minLength: 2, maxLength: 4096, pattern: '^/' })
const VersionId = Hex(16)
const Count = Type.Integer({ minimum: 0 })
const Time = Type.Number({ minimum: 0 })

export const BlobRef = Type.Object({
  core: Hex(32),
  id: Type.Object({ blockOffset: Count, blockLength: Count, byteOffset: Count, byteLength: Count }, { additionalProperties: false }),
}, { additionalProperties: false })
export type BlobRef = Static<typeof BlobRef>

/** The versions of files under a path that a writer saw when it deleted, moved onto or overwrote it: only those go. */
const Seen = Type.Array(Type.Object({ path: DrivePath, versions: Type.Array(VersionId, { maxItems: 1000 }) }, { additionalProperties: false }), { maxItems: 100_000 })

const Epoch = Type.Integer({ minimum: 0 })
const Name = Type.String({ minLength: 1, maxLength: 100 })
/**
 * Who orders a base's log (its Autobase indexers): the box that began it, alone. Where it is
 * missing (bases begun before it was written) every member does.
 */
const Indexers = Type.Literal('founder')

/** Changes to the drive. Each has an id, so one carried into a later epoch is applied there once. */
export const DriveOp = Type.Union([
  /**
   * A new version of a file, replacing the versions it was written over (`parents`); others stay,
   * as a conflict. `epoch` is the epoch whose key its contents are encrypted with, when not this one.
   */
  Type.Object({
    type: Type.Literal('put'), path: DrivePath, version: VersionId, blob: BlobRef, size: Count, mtime: Time,
    parents: Type.Array(VersionId, { maxItems: 1000 }), epoch: Type.Optional(Epoch),
  }, { additionalProperties: false }),
  Type.Object({ type: Type.Literal('mkdir'), id: VersionId, path: DrivePath, at: Time }, { additionalProperties: false }),
  Type.Object({ type: Type.Literal('delete'), id: VersionId, path: DrivePath, seen: Seen, at: Time }, { additionalProperties: false }),
  /** Moves a file or a folder; `replaced` are the versions at the destination it was moved over. */
  Type.Object({ type: Type.Literal('move'), id: VersionId, from: DrivePath, to: DrivePath, replaced: Seen, at: Time }, { additionalProperties: false }),
])
export type DriveOp = Static<typeof DriveOp>

/** A drive change's id: a new version's, or its own. */
export function opId(op: DriveOp): string {
  return op.type === 'put' ? op.version : op.id
}


export const GroupOp = Type.Union([
  /** The founder's first entry: the group's name, the founder as its first admin, and who orders the base's log. */
  Type.Object({ type: Type.Literal('found'), name: Name, member: Statement, indexers: Type.Optional(Indexers), at: Time }, { additionalProperties: false }),
  /**
   * The first entry of a later epoch's base, by the admin who began it: the members carried over,
   * each of whom may be added back by any member once it says so in the epoch before, and the box
   * removed (kept, so that if another admin's epoch wins the race, this removal is made again there).
   */
  Type.Object({
    type: Type.Literal('epoch'), epoch: Epoch, name: Name, previous: Hex(32), member: Statement,
    carried: Type.Array(Type.Object({ box: Hex(32), role: Role, name: Name }, { additionalProperties: false }), { maxItems: 10_000 }),
    removed: Type.Optional(Hex(32)),
    indexers: Type.Optional(Indexers),
    at: Time,
  }, { additionalProperties: false }),
  /** The drive as it stood, carried into a later epoch's base by the admin who began it, verbatim. */
  Type.Object({ type: Type.Literal('carry'), entries: Type.Array(Type.Object({ key: Type.String({ maxLength: 10_000 }), value: Type.Unknown() }), { maxItems: 10_000 }) }, { additionalProperties: false }),
  /** An admin adds a member, with the statement the member signed; a member carried into this epoch may be added back by any member. */
  Type.Object({ type: Type.Literal('add'), member: Statement, role: Role, at: Time }, { additionalProperties: false }),
  /**
   * An admin adds a blind replicator, known by its box-side key (`box`, which its invite was sealed
   * to) and its key on the group's network (`peer`, which members admit), or drops one.
   */
  Type.Object({ type: Type.Literal('replicator'), peer: Hex(32), box: Hex(32), name: Name, at: Time }, { additionalProperties: false }),
  Type.Object({ type: Type.Literal('drop-replicator'), peer: Hex(32), at: Time }, { additionalProperties: false }),
  /** A member leaves. */
  Type.Object({ type: Type.Literal('leave'), at: Time }, { additionalProperties: false }),
  /**
   * An admin removes a member (by its writer key, or by its box key if it was carried into this
   * epoch and has not come back yet) and ends this epoch: the next one is in `base`, read with a new
   * content key sealed to each remaining member's box. Drive changes written here after it (by a
   * member offline meanwhile) are replayed in the next epoch by its members.
   */
  Type.Object({
    type: Type.Literal('rotate'), epoch: Epoch, base: Hex(32), removed: Hex(32),
    keys: Type.Array(Type.Object({ box: Hex(32), key: Type.String({ maxLength: 200 }) }, { additionalProperties: false }), { maxItems: 10_000 }),
    at: Time,
  }, { additionalProperties: false }),
  /**
   * A remaining member asks, in the ended epoch, to be added back in the next one, as the statement
   * says; `base` names that next epoch's base, so a statement made for an epoch that lost a race is not taken for the winner's.
   */
  Type.Object({ type: Type.Literal('rejoin'), epoch: Epoch, base: Type.Optional(Hex(32)), member: Statement, at: Time }, { additionalProperties: false }),
  /**
   * Drive changes an epoch's earlier writers made that the drive carried into this one did not
   * hold yet (written offline, or while the epoch was ending), applied now as they were then;
   * `epoch` is the one they were written in.
   */
  Type.Object({ type: Type.Literal('replay'), author: Hex(32), epoch: Epoch, op: DriveOp }, { additionalProperties: false }),
  /**
   * A member shares one of its box's sources with the group, or changes the rules it is shared
   * under: its records go in `core`, written by this member alone under the content key of `epoch`
   * (this one: a new epoch takes a new core). Only the member who shared a source may change it.
   */
  Type.Object({
    type: Type.Literal('share'), source: SharedSourceId, meta: ShareMeta, rules: ShareRules, core: Hex(32), epoch: Epoch, at: Time,
  }, { additionalProperties: false }),
  /** The member stops sharing a source: no record is added to it any more; what members hold, they keep. */
  Type.Object({ type: Type.Literal('unshare'), source: SharedSourceId, at: Time }, { additionalProperties: false }),
  DriveOp,
])
export type GroupOp = Static<typeof GroupOp>

export const checkOp = TypeCompiler.Compile(GroupOp)
