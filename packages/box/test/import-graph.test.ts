/**
 * The import graph has no cycle, between files or between capability folders, so a reader can
 * tell from the folder tree which capability owns what: a folder that imports another is built
 * on it, never the other way round as well. Type-only imports (`import type`) are left out:
 * they vanish when the code is compiled.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const SRC = fileURLToPath(new URL('../src/', import.meta.url))
const RELATIVE_IMPORT = /(?:import|export)\s[^'"]*?from\s+['"](\.[^'"]+)['"]/g

interface Edge { from: string; to: string; file: string; specifier: string }

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const file = path.join(dir, entry.name)
    if (entry.isDirectory()) return sourceFiles(file)
    return file.endsWith('.ts') && !file.endsWith('.test.ts') && !file.endsWith('.d.ts') ? [file] : []
  })
}

/** Every relative import that stays in the compiled code: from the importing file to the imported one. */
function imports(): Edge[] {
  return sourceFiles(SRC).flatMap((file) => [...fs.readFileSync(file, 'utf8').matchAll(RELATIVE_IMPORT)]
    .filter((m) => !m[0].startsWith('import type'))
    .map((m) => ({ from: path.relative(SRC, file), to: path.relative(SRC, path.resolve(path.dirname(file), m[1]!)), file: path.relative(SRC, file), specifier: m[1]! })))
}

/** The capability folder a file belongs to; files at the top of src/ (box.ts, index.ts) are the root. */
function folderOf(file: string): string {
  const parts = file.split(path.sep)
  return parts.length > 1 ? parts[0]! : '(root)'
}

/** Strongly connected components with more than one member (Tarjan): each is a cycle. */
function cycles(edges: Edge[]): string[][] {
  const next = new Map<string, Set<string>>()
  for (const e of edges) if (e.from !== e.to) next.set(e.from, (next.get(e.from) ?? new Set()).add(e.to))
  const index = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: string[] = []
  const onStack = new Set<string>()
  const found: string[][] = []
  const visit = (v: string) => {
    index.set(v, index.size)
    low.set(v, index.get(v)!)
    stack.push(v)
    onStack.add(v)
    for (const w of next.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w)
        low.set(v, Math.min(low.get(v)!, low.get(w)!))
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!))
      }
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = []
      let w: string
      do {
        w = stack.pop()!
        onStack.delete(w)
        component.push(w)
      } while (w !== v)
      if (component.length > 1) found.push(component.sort())
    }
  }
  for (const v of next.keys()) if (!index.has(v)) visit(v)
  return found
}

/** The imports that close each cycle, for the failure message. */
function explain(found: string[][], edges: Edge[]): string {
  return found.map((members) => {
    const inside = edges.filter((e) => e.from !== e.to && members.includes(e.from) && members.includes(e.to))
    return `${members.join(', ')} import one another:\n${inside.map((e) => `  ${e.file} imports ${e.specifier}`).join('\n')}`
  }).join('\n')
}

test('no file imports itself back through other files', () => {
  const edges = imports()
  const found = cycles(edges)
  assert.deepEqual(found, [], `import cycles between files:\n${explain(found, edges)}`)
})

test('no capability folder imports itself back through other folders', () => {
  const edges = imports().map((e) => ({ ...e, from: folderOf(e.from), to: folderOf(e.to) }))
  // The scan sees the imports it must: every capability builds on the operation layer.
  assert.ok(edges.some((e) => e.from === 'sources' && e.to === 'operations'), 'the scan finds sources/ importing operations/')
  const found = cycles(edges)
  assert.deepEqual(found, [], `import cycles between folders (move what both sides need to where both can import it, or have box.ts hand it over):\n${explain(found, edges)}`)
})
