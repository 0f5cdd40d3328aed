/** The operator's defaults for paying owners; a module of its own so the CLI reads them without loading the rest. */

/** 0.001 BTC: what myneData paid owners out at. */
export const DEFAULT_THRESHOLD = 100_000
/** Satoshis per virtual byte of a payout transaction. */
export const DEFAULT_FEE_RATE = 2
