/** @coffer/box: the public door of the box core. */
export { createBox, type Box, type BoxConfig } from './box.ts'
export { initHome, openHome, resolveHomeDir, type Home } from './home/index.ts'
export { BoxKeys, seedToWords, wordsToSeed } from './keys/index.ts'
export * from './errors/index.ts'
