import { MarketError } from '../errors/index.ts'

/** A privacy parameter that cannot be used: a negative or zero ε, empty bounds, no aggregator. */
export class InvalidPrivacyParameter extends MarketError {
  constructor(detail: string) {
    super(400, 'invalid-privacy-parameter', 'Invalid privacy parameter', detail)
  }
}

/** The owner chose "don't share" for a logical type the query touches: the box never answers. */
export class NotShared extends MarketError {
  constructor(logicalType: string) {
    super(403, 'not-shared', 'Not shared', `the owner does not share ${logicalType}`, { logicalType })
  }
}

/** Answering would spend more ε on a logical type than is left of its budget for the period. */
export class BudgetExceeded extends MarketError {
  constructor(detail: string, extras: { logicalType?: string; remaining: string; requested: string; periodEnd: string }) {
    super(409, 'privacy-budget-exceeded', 'Privacy budget exceeded', detail, extras)
  }
}
