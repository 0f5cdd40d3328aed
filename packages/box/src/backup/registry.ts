/**
 * Which sources exist, as a log replicated beside them. A blind replica holds the source logs
 * but cannot read which is which, nor the box's own database; this log, encrypted with a key
 * derived from the seed like every other, is what lets the 24 words and any replica rebuild
 * the box: it names each source's id and generation, from which its log's keys are derived.
 */
import type Hypercore from 'hypercore'
import type { SourceMeta } from '../store/index.ts'

type Entry = { op: 'source'; meta: SourceMeta } | { op: 'removed'; id: string; generation: number }

export class SourceRegistry {
  readonly #core: Hypercore

  constructor(core: Hypercore) {
    this.#core = core
  }

  get core(): Hypercore {
    return this.#core
  }

  /** The sources the log says exist now. */
  async sources(): Promise<Map<string, SourceMeta>> {
    await this.#core.ready()
    const sources = new Map<string, SourceMeta>()
    for (let i = 0; i < this.#core.length; i++) {
      const block = await this.#core.get(i, { wait: false })
      if (!block) continue
      const entry = JSON.parse(block.toString('utf8')) as Entry
      if (entry.op === 'source') sources.set(entry.meta.id, entry.meta)
      else if (sources.get(entry.id)?.generation === entry.generation) sources.delete(entry.id)
    }
    return sources
  }

  async added(meta: SourceMeta): Promise<void> {
    await this.#append([{ op: 'source', meta }])
  }

  async removed(meta: SourceMeta): Promise<void> {
    await this.#append([{ op: 'removed', id: meta.id, generation: meta.generation }])
  }

  /** Brings the log in line with the store's sources: those made before the log, or while it could not be written. */
  async reconcile(current: SourceMeta[]): Promise<void> {
    const known = await this.sources()
    const entries: Entry[] = []
    for (const meta of current) {
      if (known.get(meta.id)?.generation !== meta.generation) entries.push({ op: 'source', meta })
      known.delete(meta.id)
    }
    for (const meta of known.values()) entries.push({ op: 'removed', id: meta.id, generation: meta.generation })
    await this.#append(entries)
  }

  async #append(entries: Entry[]): Promise<void> {
    if (entries.length > 0) await this.#core.append(entries.map((e) => Buffer.from(JSON.stringify(e))))
  }
}
