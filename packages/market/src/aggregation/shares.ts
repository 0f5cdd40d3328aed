/**
 * Reading Prio3's wire formats back. @divviup/prio3 0.8 encodes shares but ships no decoders
 * (a client library needs none), so the aggregators read them here, from VDAF-08 §7.2.7, with
 * the library's own field decoding and XOF: a helper's share is three seeds that expand into its
 * measurement and proof shares exactly as the library expanded them when sharding.
 */
import type { Buffer } from 'node:buffer'
import { FramingError, Reader } from './encoding.ts'
import type { AnyPrio3 } from './task.ts'

export type PublicShare = Parameters<AnyPrio3['prepareInit']>[4]
export type InputShare = Parameters<AnyPrio3['prepareInit']>[5]
export type PreparationShare = Parameters<AnyPrio3['unshardPreparationShares']>[1][number]
export type PreparationMessage = Parameters<AnyPrio3['prepareNext']>[1]
export type PreparationState = Parameters<AnyPrio3['prepareNext']>[0]

// VDAF-08 §7.2.1: the usages that separate Prio3's XOF domains.
const USAGE_MEASUREMENT_SHARE = 1
const USAGE_PROOF_SHARE = 2

function usesJointRand(vdaf: AnyPrio3): boolean {
  return vdaf.flp.jointRandLen !== 0
}

function copy(bytes: Uint8Array): Buffer {
  return globalThis.Buffer.from(bytes)
}

/**
 * Little-endian field elements, read 32 bits at a time. The library's own decode builds each
 * element from a power of 256 per byte; an aggregator decodes every share it opens, and that
 * was a tenth of its work per report.
 */
function fieldVector(vdaf: AnyPrio3, reader: Reader, length: number): bigint[] {
  const { encodedSize, modulus } = vdaf.flp.field
  const bytes = reader.bytes(length * encodedSize)
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const out = new Array<bigint>(length)
  for (let i = 0; i < length; i++) {
    let value = 0n
    for (let at = (i + 1) * encodedSize - 4; at >= i * encodedSize; at -= 4) value = (value << 32n) | BigInt(view.getUint32(at, true))
    if (value >= modulus) throw new FramingError('a share holds an element outside the field')
    out[i] = value
  }
  return out
}

export function decodePublicShare(vdaf: AnyPrio3, bytes: Uint8Array): PublicShare {
  const reader = new Reader(bytes)
  const jointRandParts = usesJointRand(vdaf) ? Array.from({ length: vdaf.shares }, () => copy(reader.bytes(vdaf.xof.seedSize))) : []
  reader.end()
  return { jointRandParts }
}

/** Throws FramingError when the bytes are not a share of this VDAF for this aggregator. */
export async function decodeInputShare(vdaf: AnyPrio3, aggregatorId: 0 | 1, bytes: Uint8Array): Promise<InputShare> {
  const { flp, xof, proofs } = vdaf
  const reader = new Reader(bytes)
  if (aggregatorId === 0) {
    const wireMeasurementShare = copy(reader.bytes(flp.measurementLen * flp.field.encodedSize))
    const wireProofShare = copy(reader.bytes(flp.proofLen * proofs * flp.field.encodedSize))
    const blind = usesJointRand(vdaf) ? copy(reader.bytes(xof.seedSize)) : copy(new Uint8Array(0))
    reader.end()
    const measurementShare = fieldVector(vdaf, new Reader(wireMeasurementShare), flp.measurementLen)
    const proofsShare = fieldVector(vdaf, new Reader(wireProofShare), flp.proofLen * proofs)
    return { measurementShare, proofsShare, wireMeasurementShare, wireProofShare, blind }
  }
  const wireMeasurementShare = copy(reader.bytes(xof.seedSize))
  const wireProofShare = copy(reader.bytes(xof.seedSize))
  const blind = usesJointRand(vdaf) ? copy(reader.bytes(xof.seedSize)) : copy(new Uint8Array(0))
  reader.end()
  const shareId = aggregatorId
  const measurementShare = await xof.expandIntoVec(flp.field, wireMeasurementShare, vdaf.domainSeparationTag(USAGE_MEASUREMENT_SHARE), Uint8Array.of(shareId), flp.measurementLen)
  const proofsShare = await xof.expandIntoVec(flp.field, wireProofShare, vdaf.domainSeparationTag(USAGE_PROOF_SHARE), Uint8Array.of(proofs, shareId), flp.proofLen * proofs)
  return { measurementShare, proofsShare, wireMeasurementShare, wireProofShare, blind }
}

export function decodePreparationShare(vdaf: AnyPrio3, bytes: Uint8Array): PreparationShare {
  const reader = new Reader(bytes)
  const verifiersShare = fieldVector(vdaf, reader, vdaf.flp.verifierLen * vdaf.proofs)
  const jointRandomnessPart = copy(usesJointRand(vdaf) ? reader.bytes(vdaf.xof.seedSize) : new Uint8Array(0))
  reader.end()
  return { verifiersShare, jointRandomnessPart }
}

export function decodePreparationMessage(vdaf: AnyPrio3, bytes: Uint8Array): PreparationMessage {
  const reader = new Reader(bytes)
  const jointRand = copy(usesJointRand(vdaf) ? reader.bytes(vdaf.xof.seedSize) : new Uint8Array(0))
  reader.end()
  return { jointRand }
}
