/** Views for the store's tests: a fresh one in a directory of its own, and blocks applied to it as a source drains them. */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { SenmlRecord } from '../src/senml/index.ts'
import { View } from '../src/store/view.ts'

export function tempView(): View {
  return new View(path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-view-')), 'view.sqlite'))
}

/** Applies blocks in groups of `groupSize()` blocks, each group in one transaction, as a source drains them. */
export function apply(view: View, blocks: SenmlRecord[][], groupSize: () => number, first = view.applied): void {
  for (let i = 0; i < blocks.length;) {
    const group = blocks.slice(i, i + groupSize())
    const at = first + i
    view.db.transaction(() => {
      view.insertBlocks(group.map((records, k) => ({ index: at + k, records })))
      view.setApplied(at + group.length)
    })()
    i += group.length
  }
}
