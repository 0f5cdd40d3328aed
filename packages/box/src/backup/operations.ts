/**
 * The owner's backup operations: invite, list, configure, check and remove replicas. Owner only,
 * audited as admin actions; inviting a device, which hands it the seed, takes the passphrase too. Restoring runs with the box stopped, so it is not an operation here.
 */
import { Type } from '@sinclair/typebox'
import { defineOperation, ownerOnly } from '../operations/index.ts'
import { durationPattern, parseDuration } from '../duration/index.ts'
import { ReplicaSettings, ReplicaView, type Backup } from './replicas.ts'

const ReplicaInput = Type.Object({ id: Type.String({ maxLength: 64 }) })

export function backupOperations({ backup }: { backup: Backup }) {
  return {
    list: defineOperation({
      name: 'backup.list', summary: 'The replicas holding copies of this box\'s logs, and how each is doing', audit: 'admin',
      input: Type.Object({}), output: Type.Object({ boxKey: Type.String({ description: 'This box\'s key on the backup network' }), replicas: Type.Array(ReplicaView) }),
      access: ownerOnly,
      run: async () => ({ boxKey: backup.publicKey, replicas: await backup.replicas() }),
    }),

    invite: defineOperation({
      name: 'backup.invite',
      summary: 'Invite a blind replicator, known by its key, to hold encrypted copies of this box\'s logs: the code is sealed to that key and pairs once',
      audit: 'admin',
      input: Type.Object({
        publicKey: Type.String({ pattern: '^[0-9a-fA-F]{64}$', description: 'The replicator\'s key, as `coffer replicator id` prints it' }),
        name: Type.String({ minLength: 1, maxLength: 100, pattern: '^[^\\u0000-\\u001f\\u007f]*$', description: 'What to call it, e.g. "Anna\'s NAS"' }),
        expiresIn: Type.Optional(Type.String({ pattern: durationPattern(['m', 'h', 'd'], 3), description: 'How long the invite stays good (default 1h)' })),
      }, { additionalProperties: false }),
      output: Type.Object({ replica: ReplicaView, invite: Type.String({ description: 'Give this to the replicator\'s operator: `coffer replicator accept <code>`' }) }),
      access: ownerOnly,
      run: async (input) => backup.invite({ publicKey: input.publicKey, name: input.name, expiresInSeconds: parseDuration(input.expiresIn ?? '1h', 'expiresIn') }),
    }),

    inviteDevice: defineOperation({
      name: 'backup.inviteDevice',
      summary: 'Invite the owner\'s other device, known by its key, as a full replica: the code carries the root seed, sealed to that key, so the device can serve as the box. It hands over every key, so it asks for the owner passphrase as well as an owner token',
      audit: 'admin',
      input: Type.Object({
        publicKey: Type.String({ pattern: '^[0-9a-fA-F]{64}$', description: 'The device\'s key, as `coffer device id` prints it there' }),
        name: Type.String({ minLength: 1, maxLength: 100, pattern: '^[^\\u0000-\\u001f\\u007f]*$', description: 'What to call it, e.g. "Laptop"' }),
        passphrase: Type.String({ minLength: 1, maxLength: 1024, description: 'The owner passphrase of this box: the invite hands over the seed' }),
        expiresIn: Type.Optional(Type.String({ pattern: durationPattern(['m', 'h', 'd'], 3), description: 'How long the invite stays good (default 1h)' })),
      }, { additionalProperties: false }),
      output: Type.Object({ replica: ReplicaView, invite: Type.String({ description: 'Type this on the device: `coffer device accept <code>`. Only that device can open it' }) }),
      access: ownerOnly,
      run: async (input) => backup.inviteDevice({ publicKey: input.publicKey, name: input.name, passphrase: input.passphrase, expiresInSeconds: parseDuration(input.expiresIn ?? '1h', 'expiresIn') }),
    }),

    get: defineOperation({
      name: 'backup.get', summary: 'One replica: its state, health per log, traffic and settings', audit: 'admin',
      input: ReplicaInput, output: ReplicaView, access: ownerOnly,
      run: async (input) => backup.get(input.id),
    }),

    configure: defineOperation({
      name: 'backup.configure', summary: 'Set a replica\'s sync windows, bandwidth limits and when it counts as stale', audit: 'admin',
      input: Type.Composite([ReplicaInput, Type.Partial(ReplicaSettings)], { additionalProperties: false }),
      output: ReplicaView, access: ownerOnly,
      run: async ({ id, ...settings }) => backup.configure(id, settings),
    }),

    check: defineOperation({
      name: 'backup.check', summary: 'Check now that a connected replica holds what it says: blocks at random, compared with this box\'s own', audit: 'admin',
      input: ReplicaInput, output: ReplicaView, access: ownerOnly,
      run: async (input) => backup.check(input.id),
    }),

    remove: defineOperation({
      name: 'backup.remove', summary: 'Remove a replica: its connection drops at once and it is refused from then on', audit: 'admin',
      input: ReplicaInput, output: Type.Object({ removed: Type.String() }), access: ownerOnly,
      run: async (input) => backup.remove(input.id),
    }),
  }
}

export type BackupOperations = ReturnType<typeof backupOperations>
