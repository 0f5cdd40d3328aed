/** Recovery's refusals: each says what went wrong and what to do, and changes nothing. */
import { CofferError } from '../errors/index.ts'

/**
 * The owner's passphrase did not match. 403, not 401: the token was good, and a cockpit takes a
 * 401 to mean its session ended.
 */
export class WrongPassphrase extends CofferError {
  constructor() {
    super(403, 'wrong-passphrase', 'Wrong passphrase', 'That is not the owner passphrase of this box. The seed, or a share of it, leaves the box only for the owner passphrase.')
  }
}

/** A share file that is damaged, forged, of another kind, or that does not fit with the others. */
export class BadShare extends CofferError {
  constructor(detail: string) {
    super(422, 'bad-share', 'Share refused', detail)
  }
}

/** A share sealed to another box or another recovery code. */
export class NotForThisKey extends CofferError {
  constructor(format: string, sealedTo: string, mine: string) {
    const detail = format === 'coffer-recovery-share'
      ? `This share is sealed to the box ${sealedTo.slice(0, 12)}…, not to this one (${mine.slice(0, 12)}…): only that box can hold it.`
      : `This share was released to the recovery code ${sealedTo.slice(0, 12)}…, not to this home's (${mine.slice(0, 12)}…): ask your friend to release it to this home's code.`
    super(403, 'share-not-for-this-box', 'Share sealed to someone else', detail)
  }
}

/** Fewer distinct shares than the split's threshold: the seed cannot be rebuilt, and no guess is made. */
export class NotEnoughShares extends CofferError {
  constructor(have: number, threshold: number, count: number) {
    const missing = threshold - have
    super(422, 'not-enough-shares', 'Not enough shares',
      `${have} of ${threshold} shares: ask ${missing === 1 ? 'one more friend' : `${missing} more friends`}. Any ${threshold} of the ${count} friends holding a share can rebuild the seed; nothing was created.`,
      { have, threshold, count })
  }
}
