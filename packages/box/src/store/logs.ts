/** How Coffer opens a corestore: the logs' storage engine with its memory bounded. */
import Corestore from 'corestore'
import Hypercore from 'hypercore'

/**
 * RocksDB, under hypercore's storage, buffers writes in memtables of 64 MiB by default, two per
 * store (one filling while the other is flushed), so a long import or a busy box could hold up
 * to 128 MiB per corestore in memory before any of it reached a table file. Log writes are
 * already durable in RocksDB's write-ahead log, so a small memtable only means more, smaller
 * table files for compaction to merge.
 */
const WRITE_BUFFER_BYTES = 4 * 1024 * 1024

export function openCorestore(dir: string): Corestore {
  return new Corestore(Hypercore.defaultStorage(dir, { writeBufferSize: WRITE_BUFFER_BYTES }))
}
