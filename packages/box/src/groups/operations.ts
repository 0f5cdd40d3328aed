/**
 * The owner's group operations: found a group, invite a box to it, join one with an invite, its
 * members, remove one, leave it. Owner only, audited as admin actions. The drive itself is reached over
 * WebDAV (webdav.ts), each request audited as a read or a write; a folder of it is listed here too,
 * with what WebDAV cannot say: who wrote each file, and which copies a conflict keeps.
 */
import { Type, type Static } from '@sinclair/typebox'
import { defineOperation, ownerOnly } from '../operations/index.ts'
import { durationPattern, parseDuration } from '../duration/index.ts'
import { Window } from '../backup/index.ts'
import { GroupView, MemberView, ReplicatorView, SharedSourceView, UnopenedGroup, type Groups } from './groups.ts'
import { MemberName, Role } from './members.ts'
import { normalizePath } from './paths.ts'
import { APP_RULES, SharedSourceId, type ShareRules } from './share-rules.ts'
import { AskView, NearbyView } from './lan.ts'

const GroupInput = Type.Object({ id: Type.String({ pattern: '^[0-9a-f]{64}$', description: 'The group\'s key' }) })

const DriveEntryView = Type.Object({
  path: Type.String({ description: 'Its path in the drive, e.g. /photos/beach.jpg: the same below /dav/groups/<key>' }),
  name: Type.String(),
  type: Type.Union([Type.Literal('file'), Type.Literal('dir')]),
  size: Type.Integer({ description: 'Bytes; 0 for a folder' }),
  mtime: Type.String({ description: 'When the version shown was written, or the folder made' }),
  version: Type.Union([Type.String(), Type.Null()], { description: 'The version shown at this path; none for a folder' }),
  author: Type.String({ description: 'The member who wrote it, or made the folder' }),
  conflict: Type.Boolean({ description: 'Members wrote this file at once: each other version is kept beside it as a copy' }),
  conflictOf: Type.Union([Type.String(), Type.Null()], { description: 'For a conflict copy: the path of the file whose version it is' }),
})

/** The rules a source is shared under, as the owner spells them; anything left out stays as it was (or the default, hourly aggregates kept in the box). */
const RulesInput = Type.Object({
  apps: Type.Optional(Type.Union(APP_RULES.map((r) => Type.Literal(r)), { description: 'What members\' apps may be granted: none, aggregates (default) or raw' })),
  finest: Type.Optional(Type.String({ pattern: durationPattern(['m', 'h', 'd', 'w'], 3), description: 'With apps "aggregates": the finest bucket apps may read (default 1h)' })),
  gateway: Type.Optional(Type.Boolean({ description: 'May an app that reads it send anything out of a member\'s box (default no)' })),
  market: Type.Optional(Type.Boolean({ description: 'May a member\'s box use it in answers to a data market (default no)' })),
})

function rulesOf(input: Static<typeof RulesInput>): Partial<ShareRules> {
  return {
    ...(input.apps !== undefined ? { apps: input.apps } : {}),
    ...(input.finest !== undefined ? { finest: parseDuration(input.finest, 'finest') } : {}),
    ...(input.gateway !== undefined ? { gateway: input.gateway } : {}),
    ...(input.market !== undefined ? { market: input.market } : {}),
  }
}

const SharedInput = Type.Object({ id: Type.String({ pattern: '^[0-9a-f]{64}$', description: 'The group\'s key' }), source: SharedSourceId })

export function groupOperations({ groups }: { groups: Groups }) {
  return {
    list: defineOperation({
      name: 'groups.list', summary: 'The groups this box is in, their members and any conflicting versions in their drives', audit: 'admin',
      input: Type.Object({}),
      output: Type.Object({
        boxKey: Type.String({ description: 'This box\'s key: an admin invites this box to a group with it' }),
        groups: Type.Array(GroupView),
        unopened: Type.Array(UnopenedGroup, { description: 'Groups this box is in but could not open: it keeps trying, and leaving one drops it from this box' }),
      }),
      access: ownerOnly,
      run: async () => ({ boxKey: groups.publicKey, groups: await groups.list(), unopened: groups.unopened() }),
    }),

    create: defineOperation({
      name: 'groups.create', summary: 'Found a group with a shared drive; this box is its first admin', audit: 'admin', status: 201,
      input: Type.Object({
        name: Type.String({ minLength: 1, maxLength: 100, pattern: '^[^\\u0000-\\u001f\\u007f]*$', description: 'What the group is called, e.g. "Household"' }),
        as: Type.Optional({ ...MemberName, description: 'Your name in the group (default "owner")' }),
      }, { additionalProperties: false }),
      output: GroupView, access: ownerOnly,
      run: async (input) => groups.create({ name: input.name, as: input.as ?? 'owner' }),
    }),

    get: defineOperation({
      name: 'groups.get', summary: 'One group: its members, who is connected, and conflicting versions in its drive', audit: 'admin',
      input: GroupInput, output: GroupView, access: ownerOnly,
      run: async (input) => groups.get(input.id),
    }),

    invite: defineOperation({
      name: 'groups.invite',
      summary: 'Invite a box, known by its key, to a group: the code is sealed to that key, lets it in once, and expires',
      audit: 'admin',
      input: Type.Object({
        id: GroupInput.properties.id,
        publicKey: Type.String({ pattern: '^[0-9a-fA-F]{64}$', description: 'The invited box\'s key, as `coffer groups list` prints it there' }),
        name: { ...MemberName, description: 'What to call the new member, e.g. "Bea"' },
        role: Type.Optional({ ...Role, description: 'admin (may invite) or member (default)' }),
        expiresIn: Type.Optional(Type.String({ pattern: durationPattern(['m', 'h', 'd'], 3), description: 'How long the invite stays good (default 1d)' })),
      }, { additionalProperties: false }),
      output: Type.Object({ invite: Type.String({ description: 'Give this to the invited box\'s owner: `coffer groups join <code>`' }), expiresAt: Type.String() }),
      access: ownerOnly,
      run: async (input) => groups.invite(input.id, {
        publicKey: input.publicKey, name: input.name, role: input.role ?? 'member', expiresInSeconds: parseDuration(input.expiresIn ?? '1d', 'expiresIn'),
      }),
    }),

    join: defineOperation({
      name: 'groups.join', summary: 'Join a group with an invite sealed to this box: the admin\'s box must be online', audit: 'admin', status: 201,
      input: Type.Object({
        code: Type.String({ minLength: 1, maxLength: 4096, description: 'The invite code, coffer-group:…' }),
        as: Type.Optional({ ...MemberName, description: 'Your name in the group (default: what the admin called you)' }),
      }, { additionalProperties: false }),
      output: GroupView, access: ownerOnly,
      run: async (input) => groups.join({ code: input.code, ...(input.as ? { as: input.as } : {}) }),
    }),

    ask: defineOperation({
      name: 'groups.lan.ask',
      summary: 'Ask to join a group on the local network: this box announces its key and name for a while, and holds the invites sealed to it that arrive',
      audit: 'admin',
      input: Type.Object({
        as: Type.Optional({ ...MemberName, description: 'The name to join as, which the admin sees beside this box\'s fingerprint' }),
        wait: Type.Optional(Type.Integer({ minimum: 5, maximum: 3600, description: 'How long to announce, in seconds (default 120)' })),
      }, { additionalProperties: false }),
      output: AskView, access: ownerOnly,
      run: async (input) => groups.lan.ask({ ...(input.as ? { as: input.as } : {}), seconds: input.wait ?? 120 }),
    }),

    asking: defineOperation({
      name: 'groups.lan.asking', summary: 'Whether this box asks to join on the local network, its fingerprint, and the invites that arrived for it', audit: 'admin',
      input: Type.Object({}), output: AskView, access: ownerOnly,
      run: async () => groups.lan.asking(),
    }),

    stopAsking: defineOperation({
      name: 'groups.lan.stop', summary: 'Stop asking to join on the local network', audit: 'admin',
      input: Type.Object({}), output: AskView, access: ownerOnly,
      run: async () => groups.lan.stopAsking(),
    }),

    joinNearby: defineOperation({
      name: 'groups.lan.join', summary: 'Join a group with an invite that arrived on the local network: the admin\'s box must be online', audit: 'admin', status: 201,
      input: Type.Object({
        offer: Type.String({ pattern: '^[0-9a-f]{64}$', description: 'The invite\'s id, as the asking status lists it' }),
        as: Type.Optional({ ...MemberName, description: 'Your name in the group (default: the name asked under, else what the admin called you)' }),
      }, { additionalProperties: false }),
      output: GroupView, access: ownerOnly,
      run: async (input) => groups.joinNearby({ offer: input.offer, ...(input.as ? { as: input.as } : {}) }),
    }),

    nearby: defineOperation({
      name: 'groups.lan.nearby', summary: 'The boxes asking to join on the local network, each with its key\'s fingerprint; the first look starts listening', audit: 'admin',
      input: Type.Object({}), output: Type.Object({ nearby: Type.Array(NearbyView) }), access: ownerOnly,
      run: async () => ({ nearby: await groups.lan.nearby() }),
    }),

    inviteNearby: defineOperation({
      name: 'groups.lan.invite',
      summary: 'Invite a box asking nearby, picked by its fingerprint: the usual sealed, single-use, expiring invite, sent to it over the local network',
      audit: 'admin',
      input: Type.Object({
        id: GroupInput.properties.id,
        to: Type.String({ pattern: '^[0-9A-Fa-f -]{12,20}$', description: 'The fingerprint both screens show, e.g. 3F2A-91C0-77DE' }),
        name: Type.Optional({ ...MemberName, description: 'What to call the new member (default: the name it asks under)' }),
        role: Type.Optional({ ...Role, description: 'admin (may invite) or member (default)' }),
        expiresIn: Type.Optional(Type.String({ pattern: durationPattern(['m', 'h', 'd'], 3), description: 'How long the invite stays good (default 1h)' })),
      }, { additionalProperties: false }),
      output: Type.Object({
        invite: Type.String({ description: 'The same code, to hand over another way if it did not arrive: `coffer groups join <code>`' }),
        expiresAt: Type.String(),
        to: NearbyView,
        adminFingerprint: Type.String({ description: 'Of this box\'s key on the group\'s network: the invitee\'s screen shows the same' }),
        arrived: Type.Boolean({ description: 'The invited box said it has the invite (only its joining proves it)' }),
      }),
      access: ownerOnly,
      run: async (input) => groups.inviteNearby(input.id, {
        to: input.to, ...(input.name ? { name: input.name } : {}), role: input.role ?? 'member', expiresInSeconds: parseDuration(input.expiresIn ?? '1h', 'expiresIn'),
      }),
    }),

    members: defineOperation({
      name: 'groups.members', summary: 'A group\'s members, each signed by its own box and added by an admin', audit: 'admin',
      input: GroupInput, output: Type.Object({ members: Type.Array(MemberView) }), access: ownerOnly,
      run: async (input) => ({ members: await groups.members(input.id) }),
    }),

    remove: defineOperation({
      name: 'groups.remove',
      summary: 'Remove a member: its box is dropped at once and the group moves to a new content key, so it reads nothing written from now on',
      audit: 'admin',
      input: Type.Object({
        id: GroupInput.properties.id,
        member: Type.String({ pattern: '^[0-9a-fA-F]{64}$', description: 'The member\'s box key, as `coffer groups members` shows it' }),
      }, { additionalProperties: false }),
      output: GroupView, access: ownerOnly,
      run: async (input) => groups.remove(input.id, input.member),
    }),

    files: defineOperation({
      name: 'groups.files', summary: 'A folder in a group\'s drive: its files and folders, who wrote each, and the copies a conflict keeps', audit: 'read',
      input: Type.Object({
        id: GroupInput.properties.id,
        path: Type.Optional(Type.String({ maxLength: 4096, description: 'The folder, e.g. /photos (default: the drive\'s root)' })),
      }, { additionalProperties: false }),
      output: Type.Object({ path: Type.String({ description: 'The folder, as the drive spells it' }), entries: Type.Array(DriveEntryView) }),
      access: ownerOnly,
      run: async (input) => {
        const path = normalizePath(input.path ?? '/')
        const entries = await groups.withDrive(input.id, (drive) => drive.list(path))
        return { path, entries: entries.map((e) => ({ ...e, mtime: new Date(e.mtime).toISOString() })) }
      },
    }),

    leave: defineOperation({
      name: 'groups.leave', summary: 'Leave a group: its members hear it, and this box deletes its copy of the group', audit: 'admin',
      input: GroupInput, output: Type.Object({ left: Type.String() }), access: ownerOnly,
      run: async (input) => groups.leave(input.id),
    }),

    addReplicator: defineOperation({
      name: 'groups.replicators.add',
      summary: 'Invite a blind replicator, known by its key, to hold the group\'s cores (ciphertext only): the code is sealed to that key, pairs once, and expires',
      audit: 'admin',
      input: Type.Object({
        id: GroupInput.properties.id,
        publicKey: Type.String({ pattern: '^[0-9a-fA-F]{64}$', description: 'The replicator\'s key, as `coffer replicator id` prints it' }),
        name: Type.String({ minLength: 1, maxLength: 100, pattern: '^[^\\u0000-\\u001f\\u007f]*$', description: 'What to call it, e.g. "Co-op server"' }),
        expiresIn: Type.Optional(Type.String({ pattern: durationPattern(['m', 'h', 'd'], 3), description: 'How long the invite stays good (default 1h)' })),
      }, { additionalProperties: false }),
      output: Type.Object({ invite: Type.String({ description: 'Give this to the replicator\'s operator: `coffer replicator accept <code>`' }), expiresAt: Type.String() }),
      access: ownerOnly,
      run: async (input) => groups.inviteReplicator(input.id, { publicKey: input.publicKey, name: input.name, expiresInSeconds: parseDuration(input.expiresIn ?? '1h', 'expiresIn') }),
    }),

    replicators: defineOperation({
      name: 'groups.replicators.list', summary: 'A group\'s blind replicators: connected or not, what each holds, when each last held everything', audit: 'admin',
      input: GroupInput, output: Type.Object({ replicators: Type.Array(ReplicatorView) }), access: ownerOnly,
      run: async (input) => ({ replicators: await groups.replicators(input.id) }),
    }),

    configureReplicator: defineOperation({
      name: 'groups.replicators.configure', summary: 'Set this box\'s sync windows and bandwidth limits to one of a group\'s replicators', audit: 'admin',
      input: Type.Object({
        id: GroupInput.properties.id,
        replicator: Type.String({ pattern: '^[0-9a-fA-F]{64}$', description: 'The replicator\'s key' }),
        uploadBytesPerSecond: Type.Optional(Type.Integer({ minimum: 0, description: 'Upload limit to it; 0: none' })),
        downloadBytesPerSecond: Type.Optional(Type.Integer({ minimum: 0, description: 'Download limit from it; 0: none' })),
        windows: Type.Optional(Type.Array(Window, { maxItems: 24, description: 'When this box syncs with it; outside them it neither dials nor admits it, and drops it when one closes. Empty: always' })),
      }, { additionalProperties: false }),
      output: ReplicatorView, access: ownerOnly,
      run: async ({ id, replicator, ...settings }) => groups.configureReplicator(id, replicator, settings),
    }),

    sources: defineOperation({
      name: 'groups.sources.list', summary: 'The sources members share with a group: who shares each, under which rules, and what this box holds of it', audit: 'admin',
      input: GroupInput, output: Type.Object({ sources: Type.Array(SharedSourceView) }), access: ownerOnly,
      run: async (input) => ({ sources: (await groups.get(input.id)).sources }),
    }),

    share: defineOperation({
      name: 'groups.sources.share',
      summary: 'Share one of this box\'s sources with a group: every member\'s box gets a read-only copy, live, held under these rules',
      audit: 'admin', status: 201,
      input: Type.Object({ id: GroupInput.properties.id, source: SharedSourceId, ...RulesInput.properties }, { additionalProperties: false }),
      output: SharedSourceView, access: ownerOnly,
      run: async ({ id, source, ...rules }) => groups.share(id, source, rulesOf(rules)),
    }),

    shareRules: defineOperation({
      name: 'groups.sources.rules', summary: 'Change the rules a source this box shares is held under: members\' boxes enforce them once they hear it', audit: 'admin',
      input: Type.Object({ ...SharedInput.properties, ...RulesInput.properties }, { additionalProperties: false }),
      output: SharedSourceView, access: ownerOnly,
      run: async ({ id, source, ...rules }) => groups.setShareRules(id, source, rulesOf(rules)),
    }),

    stopSharing: defineOperation({
      name: 'groups.sources.stop', summary: 'Stop sharing a source with a group: no new record reaches the members; what they hold, they keep', audit: 'admin',
      input: SharedInput, output: SharedSourceView, access: ownerOnly,
      run: async ({ id, source }) => groups.stopSharing(id, source),
    }),

    removeReplicator: defineOperation({
      name: 'groups.replicators.remove', summary: 'Remove a group\'s replicator: every member stops admitting it; what it holds stays on its disk, encrypted', audit: 'admin',
      input: Type.Object({ id: GroupInput.properties.id, replicator: Type.String({ pattern: '^[0-9a-fA-F]{64}$', description: 'The replicator\'s key' }) }, { additionalProperties: false }),
      output: Type.Object({ removed: Type.String() }), access: ownerOnly,
      run: async (input) => groups.removeReplicator(input.id, input.replicator),
    }),
  }
}

export type GroupOperations = ReturnType<typeof groupOperations>
