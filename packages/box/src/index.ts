/** @coffer/box: the public door of the box core. */
export { createBox, type Box, type BoxConfig } from './box.ts'
export { initHome, openHome, resolveHomeDir, type Home } from './home/index.ts'
export { BoxKeys, seedToWords, wordsToSeed } from './keys/index.ts'
export * from './errors/index.ts'
export { readBundle, parseManifest, type Manifest, type ConsentInput, type RunReport, type AppView } from './apps/index.ts'
export type { ExportRecord } from './gateway/index.ts'
export type { SenmlRecord } from './senml/index.ts'
export type { AggregateFn, BucketValue } from './store/index.ts'
