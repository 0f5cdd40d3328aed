/**
 * Recovery: getting a box's root seed back when its machine is lost. Two ways, after CoBox and
 * Dark Crystal: a paper key (the 24 words, printed with a QR code, given out only for the owner
 * passphrase), and social recovery (the seed split among friends' boxes, or the blind replicators
 * friends run for this box, any `threshold` of whose shares rebuild it, none of which can use its
 * share alone).
 *
 * On a running box these are operations (operations.ts); on the new machine, with no box yet,
 * requestRecovery() and recoverHome() work on the new home folder directly.
 */
export { recoveryOperations, type RecoveryOperations, type RecoveryOperationsDeps, type ShareCourier } from './operations.ts'
export { renderPaperKey, type PaperKey, type PaperOptions } from './paper.ts'
export { recoverHome, requestRecovery, RECOVERY_KEY_FILE, type Recovered, type ReleasedFile } from './recover.ts'
export { RELEASE_FORMAT, SHARE_FORMAT, FORMAT_VERSION, checkShare, releaseHeld, short, type Friend, type SharePayload } from './shares.ts'
export { RecoveryRecords, HELD_SHARES_TABLE, type HeldShare, type ShareHolder, type Split } from './records.ts'
export { BadShare, NotEnoughShares, NotForThisKey, WrongPassphrase } from './errors.ts'
