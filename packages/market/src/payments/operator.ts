/** The operator's routes answer only the operator's token, compared in constant time. */
import { createHash, timingSafeEqual } from 'node:crypto'
import { Unauthorized } from '../errors/index.ts'

const digest = (text: string) => createHash('sha256').update(text).digest()

export function operatorGuard(token: string): { authenticate(authorization: string | undefined): void } {
  const expected = digest(token)
  return {
    authenticate(authorization) {
      const given = /^Bearer (.+)$/i.exec(authorization ?? '')?.[1]
      if (given === undefined || !timingSafeEqual(digest(given), expected)) {
        throw new Unauthorized('This is for the market\'s operator: send the operator token (`coffer-market serve --operator-token`) as `Authorization: Bearer <token>`.')
      }
    },
  }
}
