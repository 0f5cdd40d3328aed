/**
 * Sensor Measurement Lists (SenML, RFC 8428): reads JSON and CBOR packs into resolved
 * records, and writes resolved records back out. This file is the module's only entry point.
 */
export { resolvePack, type SenmlRecord } from './resolve.ts'
export { flagsOf, namesAndUnits, HAS_SUM, HAS_UT, V, VALUE_KIND, VB_FALSE, VB_TRUE, VD, VS } from './fields.ts'
export { parseSenmlJson, toSenmlJson } from './json.ts'
export { parseSenmlCbor, toSenmlCbor } from './cbor.ts'
export { parseSenml, parsingStats, INLINE_BYTES, type BodyFormat } from './pool.ts'

export const SENML_JSON = 'application/senml+json'
export const SENML_CBOR = 'application/senml+cbor'
