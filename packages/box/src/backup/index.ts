/**
 * Backup: encrypted copies of the box's logs on replicas that cannot read them, their health,
 * and restoring a box from one. The blind replicator (`coffer replicator`) lives here too, as
 * it speaks the same protocol from the other end, and so does the owner's other device (`coffer
 * device`), a replica that holds the keys and can be promoted to serve as the box.
 */
export { Backup, ReplicaSettings, ReplicaView, DEFAULT_SETTINGS, Window, inWindows, type BackupDeps } from './replicas.ts'
export { Replicator, acceptInvite, listOwners, listShares, releaseShare, removeOwner, replicatorIdentity, type OwnerView } from './replicator.ts'
export type { FriendShare } from './friend-shares.ts'
export { restoreFromReplica, RestoreFailed, type RestoreProgress, type RestoreResult } from './restore.ts'
export { DeviceStandby, acceptDevice, deviceIdentity, deviceStatus, promoteDevice, type DeviceStatus } from './device.ts'
export { parseBootstrap, PeerNetwork, type PeerSwarm, type Connection } from './network.ts'
export { backupOperations, type BackupOperations } from './operations.ts'
// What groups share with backup: the wire, what a store holds, bandwidth limits, and a group replicator's messages.
export { openWire, type Wire } from './wire.ts'
export { sealCode, openCode, hashSecret } from './invite.ts'
export { heldBlocks } from './held.ts'
export { throttle, type Rates } from './throttle.ts'
export { FromGroupReplica, admissionsKey, admissionsManifest, groupHealthMessage, lastAdmission, makeGroupReplicaInvite, type Admission, type GroupHealthReport, type GroupPeer, type ToGroupReplica } from './group-wire.ts'
