/**
 * Groups: boxes that share an encrypted, multi-writer drive, invite each other with sealed,
 * single-use, expiring codes, and replicate among current members only. A group's log (an
 * Autobase) holds its signed member list and the drive's changes; file contents live in each
 * member's blob core; everything is encrypted with the group's content key.
 */
export { Groups, GroupView, MemberView, ReplicatorView, SharedSourceView, UnopenedGroup, type GroupsDeps } from './groups.ts'
export { DEFAULT_RULES, type ShareRules } from './share-rules.ts'
export { describeRules, sameFingerprint } from './words.ts'
export { Drive, type DriveEntry, type HistoryEntry, type ConflictView } from './drive.ts'
export { groupOperations, type GroupOperations } from './operations.ts'
export { serveDav } from './webdav.ts'
export { fingerprint, LanUnavailable, type AskView, type NearbyView, type OfferView } from './lan.ts'
