/**
 * Backup benchmarks on loopback, each against a baseline measured in the same run:
 *
 * - throughput: 64 MiB of 64 KiB blocks in an encrypted hypercore, replicated over a hyperswarm
 *   connection to a process that holds the core by key only (as the blind replicator does),
 *   from the first request to the last block stored; against raw bytes over the same kind of
 *   connection (the transport's own limit) and raw Node TCP.
 * - knobs: the same replication with one of hypercore's settings changed at a time (blocks in
 *   flight, download range, block size, the receiver's memtable), to see where the time goes.
 * - restore: a box of BENCH_RECORDS records (1,000,000) paired with a replicator in its own
 *   process, closed, then restored into a new home made with the same words.
 * - owners: BENCH_OWNERS boxes (20) paired with one replicator process: its memory when idle,
 *   against the same process with no owner.
 *
 *   node --import tsx packages/box/bench/replication.ts [throughput] [knobs] [restore] [owners]
 *
 * BENCH_RUNS sets the rounds of throughput and knobs (5), after one round not counted;
 * BENCH_KNOBS=defaults,inflight128,… runs only those knobs;
 * BENCH_PROFILE=<folder> writes a CPU profile of the other process there (run the bench itself
 * with `node --cpu-prof` for this one's). Prints a
 * Markdown table for BENCHMARKS.md on stdout, and each measurement on stderr as it comes.
 */
import { execFileSync, fork } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import createTestnet from 'hyperdht/testnet.js'
import HyperDHT from 'hyperdht'
import type Hypercore from 'hypercore'
import { openSwarm, type Connection } from '../src/backup/network.ts'
import { restoreFromReplica, type RestoreProgress } from '../src/backup/index.ts'
import { openCorestore } from '../src/store/index.ts'
import { createBox, initHome, type Box } from '../src/index.ts'
import type { SenmlRecord } from '../src/senml/index.ts'
import type { DhtNodes, PeerAnswer, PeerRequest, ReaderSettings } from './replication-wire.ts'

const PARTS = ['throughput', 'knobs', 'restore', 'owners']
const chosen = process.argv.slice(2)
for (const name of chosen) if (!PARTS.includes(name)) throw new Error(`Unknown benchmark "${name}": choose from ${PARTS.join(', ')}.`)
const selected = (name: string) => (chosen.length === 0 ? name !== 'knobs' : chosen.includes(name))

const MiB = 2 ** 20
const TOTAL = 64 * MiB
const BLOCK = 64 * 1024
const RUNS = Number(process.env.BENCH_RUNS ?? 5)
const RECORDS = Number(process.env.BENCH_RECORDS ?? 1_000_000)
const OWNERS = Number(process.env.BENCH_OWNERS ?? 20)
const PASSPHRASE = 'benchmark passphrase'
const here = path.dirname(fileURLToPath(import.meta.url))
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-replication-'))
const rows: string[][] = []

function row(name: string, figure: string, baseline: string, ratio: string, target: string, met: string) {
  rows.push([name, figure, baseline, ratio, target, met])
  console.error(`  → ${name}: ${figure} (baseline ${baseline}; ratio ${ratio}; target ${target}: ${met})`)
}

interface Peer {
  ask(request: PeerRequest): Promise<PeerAnswer>
  stop(): void
}

/** The other process: the receiving end of a transfer, or a replicator. */
function startPeer(): Peer {
  const profile = process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : []
  const child = fork(path.join(here, 'replication-peer.ts'), [], { execArgv: ['--import', 'tsx', '--expose-gc', ...profile], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  let waiting: ((a: PeerAnswer) => void) | undefined
  child.on('message', (a: PeerAnswer) => waiting?.(a))
  return {
    ask: (request) => new Promise((resolve, reject) => {
      waiting = (a) => (a.error ? reject(new Error(a.error)) : resolve(a))
      child.send(request)
    }),
    stop: () => child.disconnect(),
  }
}

/** Writes `total` bytes as fast as the stream takes them, once the reader asks with its first byte. */
function pour(stream: net.Socket | Connection, total: number): void {
  const chunk = randomBytes(BLOCK)
  stream.once('data', async () => {
    for (let sent = 0; sent < total; sent += chunk.byteLength) {
      if (!stream.write(chunk)) await new Promise((resolve) => stream.once('drain', resolve))
    }
  })
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!
const span = (values: number[], digits: number) => `${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)}`
const mibs = (ms: number, bytes = TOTAL) => bytes / MiB / (ms / 1000)

// ─── throughput and knobs ────────────────────────────────────────────────────────────────────

interface Transfer { mibs: number; senderCpuMs: number; receiverCpuMs: number; receiverBusy: number }

/** Measures each variant named, in rounds, beside the raw transfers (TCP, hyperswarm) of the same round. */
async function transfers(names: string[]) {
  const testnet = await createTestnet(3)
  const bootstrap = testnet.bootstrap
  const peer = startPeer()
  const store = openCorestore(path.join(dir, 'writer'))
  /** One encrypted core per block size, each written like the box's logs: a keyPair and `encryption: { key }`. */
  const cores = new Map<number, Hypercore>()
  for (const size of new Set(names.map((name) => VARIANTS[name]!.block ?? BLOCK))) {
    const core = store.get({ keyPair: HyperDHT.keyPair(), encryption: { key: randomBytes(32) } })
    await core.ready()
    for (let i = 0; i < TOTAL / size; i += 16) await core.append(Array.from({ length: Math.min(16, TOTAL / size - i) }, () => randomBytes(size)))
    cores.set(size, core)
  }

  /**
   * Times one transfer in the other process. This process's CPU is counted from the connection
   * to the answer, the other's over the timed transfer alone.
   */
  async function measure(request: PeerRequest, connected: { cpu?: NodeJS.CpuUsage }): Promise<Transfer> {
    const answer = await peer.ask(request)
    const used = process.cpuUsage(connected.cpu)
    return { mibs: mibs(answer.ms!), senderCpuMs: (used.user + used.system) / 1000, receiverCpuMs: answer.cpuMs, receiverBusy: answer.busy! }
  }

  /** A fresh pair of swarm nodes for each transfer, the writer's handing its connection to `onConnection`. */
  async function overSwarm(onConnection: (conn: Connection) => void, request: (swarm: { writer: string; seed: string; bootstrap: DhtNodes }) => PeerRequest): Promise<Transfer> {
    const seed = randomBytes(32)
    const reader = HyperDHT.keyPair(seed).publicKey
    const keyPair = HyperDHT.keyPair()
    const connected: { cpu?: NodeJS.CpuUsage } = {}
    const swarm = await openSwarm({ keyPair, bootstrap, allowed: (remote) => remote.equals(reader), onConnection: (conn) => {
      connected.cpu = process.cpuUsage()
      onConnection(conn)
    } })
    try {
      return await measure(request({ writer: keyPair.publicKey.toString('hex'), seed: seed.toString('hex'), bootstrap }), connected)
    } finally {
      await swarm.close()
    }
  }

  const tcp = async () => {
    const connected: { cpu?: NodeJS.CpuUsage } = {}
    const server = net.createServer((socket) => {
      connected.cpu = process.cpuUsage()
      pour(socket, TOTAL)
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    try {
      return await measure({ op: 'tcp', port: (server.address() as net.AddressInfo).port, bytes: TOTAL }, connected)
    } finally {
      server.close()
    }
  }
  const raw = () => overSwarm((conn) => pour(conn, TOTAL), (s) => ({ op: 'swarm', ...s, bytes: TOTAL }))
  const replicate = ({ settings = {}, block = BLOCK }: Variant) => {
    const core = cores.get(block)!
    return overSwarm((conn) => core.replicate(conn), (s) => ({ op: 'replicate', ...s, core: core.key.toString('hex'), length: core.length, settings }))
  }
  const mean = (a: Transfer, b: Transfer): Transfer => ({
    mibs: (a.mibs + b.mibs) / 2, senderCpuMs: (a.senderCpuMs + b.senderCpuMs) / 2, receiverCpuMs: (a.receiverCpuMs + b.receiverCpuMs) / 2, receiverBusy: (a.receiverBusy + b.receiverBusy) / 2,
  })

  const results = new Map<string, Transfer[]>()
  try {
    for (let round = -1; round < RUNS; round++) {
      const taken = new Map<string, Transfer>()
      // The transport's limit is taken before and after the replications it is compared with, as the machine's load drifts.
      const before = await raw()
      taken.set('tcp', await tcp())
      for (const name of names) taken.set(name, await replicate(VARIANTS[name]!))
      taken.set('swarm', mean(before, await raw()))
      console.error(`${round < 0 ? 'warm-up (not counted)' : `round ${round + 1}`}:`)
      for (const [name, t] of taken) {
        console.error(`  ${name.padEnd(12)} ${t.mibs.toFixed(1).padStart(7)} MiB/s ${(t.mibs / taken.get('swarm')!.mibs).toFixed(2)}× raw hyperswarm; CPU sender ${t.senderCpuMs.toFixed(0)} ms, receiver ${t.receiverCpuMs.toFixed(0)} ms (its main thread busy ${(100 * t.receiverBusy).toFixed(0)} %)`)
      }
      if (round < 0) continue
      for (const [name, t] of taken) results.set(name, [...(results.get(name) ?? []), t])
    }
  } finally {
    peer.stop()
    await store.close()
    await testnet.destroy()
  }
  return results
}

/** One way of replicating the 64 MiB: how the receiver holds and fetches the core, and the size of its blocks. */
interface Variant { label: string; settings?: ReaderSettings; block?: number }

const VARIANTS: Record<string, Variant> = {
  defaults: { label: 'as the replicator does it: hypercore\'s defaults, `download({ start: 0, end: -1 })`, 16 blocks in flight on loopback' },
  inflight32: { label: '32 blocks in flight', settings: { inflight: [32, 512] } },
  inflight64: { label: '64 blocks in flight', settings: { inflight: [64, 512] } },
  inflight128: { label: '128 blocks in flight', settings: { inflight: [128, 512] } },
  inflight256: { label: '256 blocks in flight', settings: { inflight: [256, 1024] } },
  inflight512: { label: '512 blocks in flight', settings: { inflight: [512, 1024] } },
  linear: { label: '`linear: true`', settings: { linear: true } },
  bounded: { label: 'a bounded range (`end: length`)', settings: { bounded: true } },
  memtable16: { label: 'receiver\'s memtable 16 MiB (store/logs.ts has 4 MiB)', settings: { writeBufferBytes: 16 * MiB } },
  memtable64: { label: 'receiver\'s memtable 64 MiB (RocksDB\'s default)', settings: { writeBufferBytes: 64 * MiB } },
  block16k: { label: '16 KiB blocks', block: 16 * 1024 },
  block256k: { label: '256 KiB blocks', block: 256 * 1024 },
  block1m: { label: '1 MiB blocks', block: MiB },
}

/** Both processes' CPU for the 64 MiB. */
const cpuOf = (t: Transfer) => t.senderCpuMs + t.receiverCpuMs

/** A variant's figures against the raw hyperswarm transfers of the same rounds: speed, and the CPU it takes for the same bytes. */
function compared(results: Map<string, Transfer[]>, name: string) {
  const swarm = results.get('swarm')!
  const taken = results.get(name)!
  const speed = taken.map((t, i) => t.mibs / swarm[i]!.mibs)
  const cpu = taken.map((t, i) => cpuOf(swarm[i]!) / cpuOf(t))
  return {
    figure: `${span(taken.map((t) => t.mibs), 1)} MiB/s (median ${median(taken.map((t) => t.mibs)).toFixed(1)}); CPU ${median(taken.map((t) => t.senderCpuMs)).toFixed(0)} ms sender + ${median(taken.map((t) => t.receiverCpuMs)).toFixed(0)} ms receiver`,
    ratio: `${span(speed, 2)} (median ${median(speed).toFixed(2)}); CPU ${median(cpu).toFixed(2)}`,
    met: median(speed) >= 0.7 ? 'yes' : 'no',
  }
}

async function throughput(): Promise<void> {
  console.error('\nthroughput: 64 MiB of 64 KiB blocks')
  const results = await transfers(['defaults'])
  const swarm = results.get('swarm')!
  const tcp = results.get('tcp')!.map((t) => t.mibs)
  const raw = swarm.map((t) => t.mibs)
  row('raw bytes over a hyperswarm connection on loopback, sender and receiver in processes of their own', `${span(raw, 0)} MiB/s (median ${median(raw).toFixed(0)}); CPU ${median(swarm.map((t) => t.senderCpuMs)).toFixed(0)} ms sender + ${median(swarm.map((t) => t.receiverCpuMs)).toFixed(0)} ms receiver`,
    `raw Node TCP ${span(tcp, 0)} MiB/s`, span(raw.map((s, i) => s / tcp[i]!), 2), 'reported', '—')
  const defaults = compared(results, 'defaults')
  row('encrypted hypercore, 64 MiB of 64 KiB blocks, replicated to a process holding the key only as the replicator does, first request to last block stored', defaults.figure, 'raw hyperswarm, same rounds', defaults.ratio, '≥ 0.7', defaults.met)
}

async function knobs(): Promise<void> {
  const names = process.env.BENCH_KNOBS?.split(',') ?? Object.keys(VARIANTS)
  for (const name of names) if (!VARIANTS[name]) throw new Error(`Unknown knob "${name}": choose from ${Object.keys(VARIANTS).join(', ')}.`)
  console.error(`\nknobs: ${names.join(', ')}`)
  const results = await transfers(names)
  for (const name of names) {
    const { figure, ratio, met } = compared(results, name)
    row(`replication, ${VARIANTS[name]!.label}`, figure, 'raw hyperswarm, same rounds', ratio, '≥ 0.7', met)
  }
}

// ─── restore ─────────────────────────────────────────────────────────────────────────────────

const T0 = 1_735_689_600

async function fill(box: Box, source: string, records: number): Promise<void> {
  await box.store.add({ id: source })
  const target = box.store.get(source)
  const running = new Set<Promise<unknown>>()
  for (let first = 0; first < records; first += 1000) {
    const batch: SenmlRecord[] = Array.from({ length: Math.min(1000, records - first) }, (_, i) => ({ n: 'temperature', u: 'Cel', t: T0 + (first + i) * 30, v: 20 + Math.sin((first + i) / 500) * 3 }))
    const p = target.appendRecords(batch).finally(() => running.delete(p))
    running.add(p)
    if (running.size >= 4) await Promise.race(running)
  }
  await Promise.all(running)
}

/** Pairs the box with the replicator process and resolves once the replica holds every block the box does. */
async function pair(box: Box, replicator: Peer, replicatorKey: string, timeoutMs: number): Promise<void> {
  const { replica, invite } = await box.backup.invite({ publicKey: replicatorKey, name: 'bench', expiresInSeconds: 600 })
  await replicator.ask({ op: 'accept', invite, quotaBytes: 64 * 2 ** 30 })
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const view = await box.backup.get(replica.id)
    if (view.state === 'paired' && view.health && view.health.behindBlocks === 0 && view.health.cores.length > 0) return
    if (Date.now() > deadline) throw new Error(`The replica did not catch up within ${timeoutMs / 1000} s: ${JSON.stringify(view.health)}`)
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

function sizeOf(p: string): number {
  return fs.statSync(p).isDirectory() ? fs.readdirSync(p).reduce((n, f) => n + sizeOf(path.join(p, f)), 0) : fs.statSync(p).size
}

async function restore(): Promise<void> {
  console.error(`\nrestore: a box of ${RECORDS.toLocaleString('en')} records`)
  const testnet = await createTestnet(3)
  const bootstrap = testnet.bootstrap
  const replicator = startPeer()
  try {
    const { publicKey } = await replicator.ask({ op: 'replicator', dir: path.join(dir, 'replicator-restore'), bootstrap })
    const home = path.join(dir, 'restore-home')
    const { words } = initHome(home, { passphrase: PASSPHRASE, timeZone: 'UTC' })
    const box = createBox({ home, port: 0, logLevel: 'silent', dhtBootstrap: bootstrap })
    await box.open()
    let t = performance.now()
    await fill(box, 'series', RECORDS)
    const ingestMs = performance.now() - t
    console.error(`  ingested in ${(ingestMs / 1000).toFixed(2)} s`)
    t = performance.now()
    await pair(box, replicator, publicKey!, 600_000)
    const syncMs = performance.now() - t
    console.error(`  paired and synced in ${(syncMs / 1000).toFixed(2)} s`)
    const logBytes = sizeOf(path.join(home, 'logs'))
    await box.close()
    const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`

    const runs: { connect: number; download: number; views: number; verify: number; total: number; blocks: number; auditEntries: number }[] = []
    for (let run = 0; run < RUNS; run++) {
      const fresh = path.join(dir, `restored-home-${run}`)
      initHome(fresh, { passphrase: PASSPHRASE, words, timeZone: 'UTC' })
      const phases = new Map<RestoreProgress['phase'], number>()
      const start = performance.now()
      const result = await restoreFromReplica({ home: fresh, replica: publicKey!, bootstrap, timeoutMs: 600_000, onProgress: (p) => phases.has(p.phase) || phases.set(p.phase, performance.now() - start) })
      const total = performance.now() - start
      const restored = result.sources.find((source) => source.id === 'series')?.points
      if (restored !== RECORDS || !result.audit.ok) throw new Error(`The restore brought back ${restored} of ${RECORDS} records; audit ${JSON.stringify(result.audit)}`)
      const taken = {
        connect: phases.get('registry')!,
        download: phases.get('views')! - phases.get('registry')!,
        views: phases.get('verifying')! - phases.get('views')!,
        verify: total - phases.get('verifying')!,
        total,
        blocks: result.blocks,
        auditEntries: result.audit.length,
      }
      runs.push(taken)
      console.error(`  restore ${run + 1}: connect ${s(taken.connect)}, download ${s(taken.download)} (${taken.blocks} blocks), views ${s(taken.views)}, audit check ${s(taken.verify)}, total ${s(taken.total)}`)
      fs.rmSync(fresh, { recursive: true, force: true })
    }
    const of = (key: 'connect' | 'download' | 'views' | 'verify' | 'total') => runs.map((r) => r[key])
    const range = (key: 'connect' | 'download' | 'views' | 'verify' | 'total') => `${span(of(key).map((ms) => ms / 1000), 2)} s`
    const downloadRates = of('download').map((ms) => mibs(ms, logBytes))
    row(`restore a box of ${RECORDS.toLocaleString('en')} records from a replicator process (${(logBytes / MiB).toFixed(0)} MiB of logs on disk, ${runs[0]!.blocks.toLocaleString('en')} blocks), ${RUNS} runs`,
      `total ${range('total')}: connect ${range('connect')}, download ${range('download')} (${span(downloadRates, 0)} MiB/s of logs on disk), view rebuild ${range('views')}, audit check ${range('verify')} (${runs[0]!.auditEntries} audit entries: the records went in through the store, not the operations)`,
      `ingesting the same records ${s(ingestMs)}; the replicator's first sync ${s(syncMs)}`, `${span(of('total').map((ms) => ms / ingestMs), 2)} of ingest`, 'reported', '—')
  } finally {
    await replicator.ask({ op: 'close' }).catch(() => {})
    replicator.stop()
    await testnet.destroy()
  }
}

// ─── a replicator's memory ───────────────────────────────────────────────────────────────────

/** The RSS of a Node process that has only started, with the loader the bench runs TypeScript through, or without. */
function bareRss(loader: boolean): number {
  const script = 'setTimeout(() => process.stdout.write(String(process.memoryUsage().rss)), 500)'
  return Number(execFileSync(process.execPath, [...(loader ? ['--import', 'tsx'] : []), '-e', script], { encoding: 'utf8' }))
}

async function owners(): Promise<void> {
  console.error(`\nowners: ${OWNERS} boxes paired with one replicator`)
  const testnet = await createTestnet(3)
  const bootstrap = testnet.bootstrap
  const replicator = startPeer()
  const boxes: Box[] = []
  const m = (bytes: number) => `${(bytes / MiB).toFixed(0)} MiB`
  try {
    const loaded = await replicator.ask({ op: 'memory' })
    const { publicKey } = await replicator.ask({ op: 'replicator', dir: path.join(dir, 'replicator-owners'), bootstrap })
    await new Promise((resolve) => setTimeout(resolve, 5000))
    const idle = await replicator.ask({ op: 'memory' })
    for (let i = 0; i < OWNERS; i++) {
      const home = path.join(dir, `owner-${i}`)
      initHome(home, { passphrase: PASSPHRASE, timeZone: 'UTC' })
      const box = createBox({ home, port: 0, logLevel: 'silent', dhtBootstrap: bootstrap })
      await box.open()
      boxes.push(box)
      await fill(box, 'series', 2000)
    }
    const t = performance.now()
    for (const box of boxes) await pair(box, replicator, publicKey!, 120_000)
    console.error(`  ${OWNERS} paired and synced in ${((performance.now() - t) / 1000).toFixed(1)} s`)
    await new Promise((resolve) => setTimeout(resolve, 5000))
    const held = await replicator.ask({ op: 'memory' })
    const loader = bareRss(true) - bareRss(false)
    const perOwner = (held.rssBytes! - idle.rssBytes!) / OWNERS
    if (held.connected !== OWNERS) throw new Error(`Only ${held.connected} of ${OWNERS} owners are connected to the replicator.`)
    console.error(`  replicator process: modules loaded ${m(loaded.rssBytes!)}; open with no owner ${m(idle.rssBytes!)} (heap ${m(idle.heapBytes!)}, ${idle.threads} threads); ${held.connected} owners connected, ${held.cores} cores held: ${m(held.rssBytes!)} (heap ${m(held.heapBytes!)}, ${held.threads} threads); the TypeScript loader ${m(loader)} of it`)
    row(`a replicator process's RSS, idle after ${OWNERS} owners synced (2,000 records each), after a full GC`,
      `${m(held.rssBytes!)}: ${(perOwner / MiB).toFixed(1)} MiB an owner; ${held.cores} cores held, heap ${m(held.heapBytes!)}, ${held.threads} threads`,
      `the same process open with no owner ${m(idle.rssBytes!)}, ${idle.threads} threads (${m(loader)} of it the TypeScript loader the bench runs under, which \`coffer replicator\` does not carry)`,
      (held.rssBytes! / idle.rssBytes!).toFixed(2), 'reported', '—')
  } finally {
    for (const box of boxes) await box.close()
    await replicator.ask({ op: 'close' }).catch(() => {})
    replicator.stop()
    await testnet.destroy()
  }
}

try {
  if (selected('throughput')) await throughput()
  if (selected('knobs')) await knobs()
  if (selected('restore')) await restore()
  if (selected('owners')) await owners()
} finally {
  fs.rmSync(dir, { recursive: true, force: true })
}

console.log(`\n${os.cpus().length} × ${os.cpus()[0]?.model ?? 'CPU'}, Node ${process.version}, load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}\n`)
console.log('| benchmark | Coffer | baseline (same run) | ratio | target | met |')
console.log('|---|---|---|---|---|---|')
for (const r of rows) console.log(`| ${r.join(' | ')} |`)
