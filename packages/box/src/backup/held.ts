/** What a replica holds of a core: its blocks beyond the contiguous prefix count too, since deletions leave holes. */
import type Hypercore from 'hypercore'

export function heldBlocks(core: Hypercore): number {
  return core.length === 0 ? 0 : core.core.bitfield.countSet(0, core.length)
}

/** The runs of blocks held, as [start, end) pairs. */
export function heldRanges(core: Hypercore): [number, number][] {
  const ranges: [number, number][] = []
  const bitfield = core.core.bitfield
  let start = bitfield.firstSet(0)
  while (start !== -1 && start < core.length) {
    const gap = bitfield.firstUnset(start)
    const end = gap === -1 || gap > core.length ? core.length : gap
    ranges.push([start, end])
    start = end >= core.length ? -1 : bitfield.firstSet(end)
  }
  return ranges
}
