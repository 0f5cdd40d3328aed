/**
 * The other process of the replication bench, as a replicator is one: the receiving end of the
 * throughput runs (it asks for the bytes and times them until the last has arrived, or for a
 * hypercore is stored), or a real Replicator for the restore and memory runs. The bench drives
 * it over the IPC channel, one request and one answer at a time.
 */
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import Corestore from 'corestore'
import Hypercore from 'hypercore'
import HyperDHT from 'hyperdht'
import { openSwarm, type Connection } from '../src/backup/network.ts'
import { Replicator } from '../src/backup/index.ts'
import { openCorestore } from '../src/store/index.ts'
import type { DhtNodes, PeerAnswer, PeerRequest, ReaderSettings } from './replication-wire.ts'

type Answer = Omit<PeerAnswer, 'cpuMs'> & { cpuMs?: number }

/** Starts the clock, the process's CPU time and its main thread's busy share; the function returns all three since. */
function measureWindow(): () => Answer {
  const start = performance.now()
  const cpu = process.cpuUsage()
  const busy = performance.eventLoopUtilization()
  return () => {
    const used = process.cpuUsage(cpu)
    return { ms: performance.now() - start, cpuMs: (used.user + used.system) / 1000, busy: performance.eventLoopUtilization(busy).utilization }
  }
}

/** Asks for `total` bytes with one byte, and times them from that request to the last byte. */
function receive(stream: net.Socket | Connection, total: number): Promise<Answer> {
  return new Promise((resolve, reject) => {
    let seen = 0
    const window = measureWindow()
    stream.on('data', (chunk: Buffer) => {
      seen += chunk.byteLength
      if (seen >= total) resolve(window())
    })
    stream.once('error', reject)
    stream.write(Buffer.from([1]))
  })
}

async function overSwarm(request: { writer: string; seed: string; bootstrap: DhtNodes }, use: (conn: Connection) => Promise<Answer>): Promise<Answer> {
  const writer = Buffer.from(request.writer, 'hex')
  let take!: (conn: Connection) => void
  const connected = new Promise<Connection>((resolve) => (take = resolve))
  const swarm = await openSwarm({
    keyPair: HyperDHT.keyPair(Buffer.from(request.seed, 'hex')),
    bootstrap: request.bootstrap,
    allowed: (remote) => remote.equals(writer),
    onConnection: take,
  })
  try {
    swarm.dial(writer)
    return await use(await connected)
  } finally {
    await swarm.close()
  }
}

/** Holds the core by key only, as the blind replicator does, and times it from the first request to the last block stored. */
async function replicate(request: Extract<PeerRequest, { op: 'replicate' }>): Promise<Answer> {
  const settings: ReaderSettings = request.settings
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-replica-'))
  const store = settings.writeBufferBytes ? new Corestore(Hypercore.defaultStorage(dir, { writeBufferSize: settings.writeBufferBytes })) : openCorestore(dir)
  try {
    const core = store.get({ key: Buffer.from(request.core, 'hex'), ...(settings.inflight ? { inflightRange: settings.inflight } : {}) })
    await core.ready()
    return await overSwarm(request, async (conn) => {
      const stored = new Promise<void>((resolve) => core.on('download', () => {
        if (core.contiguousLength >= request.length) resolve()
      }))
      const window = measureWindow()
      core.replicate(conn)
      const range = core.download({ start: 0, end: settings.bounded ? request.length : -1, ...(settings.linear ? { linear: true } : {}) })
      await stored
      const measured = window()
      range.destroy()
      return measured
    })
  } finally {
    await store.close()
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

let replicator: Replicator | undefined

function threads(): number {
  const status = fs.readFileSync('/proc/self/status', 'utf8')
  return Number(/^Threads:\s+(\d+)/m.exec(status)?.[1] ?? NaN)
}

async function answer(request: PeerRequest): Promise<Answer> {
  switch (request.op) {
    case 'tcp': {
      const socket = net.connect(request.port, '127.0.0.1')
      await new Promise((resolve) => socket.once('connect', resolve))
      try {
        return await receive(socket, request.bytes)
      } finally {
        socket.destroy()
      }
    }
    case 'swarm':
      return overSwarm(request, (conn) => receive(conn, request.bytes))
    case 'replicate':
      return replicate(request)
    case 'replicator':
      replicator = new Replicator({ dir: request.dir, bootstrap: request.bootstrap })
      await replicator.open()
      return { publicKey: replicator.publicKey }
    case 'accept':
      replicator!.accept(request.invite, { quotaBytes: request.quotaBytes })
      return {}
    case 'memory': {
      // Garbage not yet collected is not what the process needs: measure after full collections.
      const gc = (globalThis as { gc?: () => void }).gc
      for (let i = 0; i < 3; i++) gc?.()
      const { rss, heapUsed } = process.memoryUsage()
      const owners = replicator?.owners() ?? []
      return { rssBytes: rss, heapBytes: heapUsed, threads: threads(), connected: owners.filter((o) => o.connected).length, cores: owners.reduce((n, o) => n + o.cores, 0) }
    }
    case 'close':
      await replicator?.close()
      replicator = undefined
      return {}
  }
}

process.on('message', (request: PeerRequest) => {
  const cpu = process.cpuUsage()
  const reply = (a: Answer) => {
    const used = process.cpuUsage(cpu)
    process.send!({ cpuMs: (used.user + used.system) / 1000, ...a } satisfies PeerAnswer)
  }
  answer(request).then(reply, (err: Error) => reply({ error: err.stack ?? err.message }))
})
process.on('disconnect', () => process.exit(0))
