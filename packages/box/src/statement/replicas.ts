/**
 * The statement's backup part: which replicas held encrypted copies of which sources' logs and
 * of the audit log. Unlike the rest of the statement it is not read from the month's audit log:
 * it is what the box knew when the statement was made, from each replica's last signed health
 * report, so a statement of a past month still says where copies are now.
 */

/**
 * What the box knows of one replica: the backup module's view of it, of which the statement
 * needs only this. A blind replica cannot read what it holds; the owner's own device holds the keys
 * and can: each kind has its own words, and a new kind must be given its own before it can be passed here.
 */
export interface ReplicaRecord {
  name: string
  kind: 'blind' | 'device'
  state: 'invited' | 'paired'
  /** ISO 8601: when it last spoke to the box; null: never. */
  lastSeen: string | null
  /** Why the box flags it (not synced within the owner's threshold, its quota full, a block that did not match); empty when it does not. */
  problems: string[]
  /** Its last verified health report, compared with the box's own logs; null while none has come. */
  health: {
    /** ISO 8601 */
    reportedAt: string
    behindBlocks: number
    behindBytes: number
    /** Each log the box replicates — `source:<id>`, `audit` or `registry` — with the blocks of it the report showed held. */
    cores: { log: string; heldBlocks: number }[]
  } | null
}

export interface ReplicaHolding {
  name: string
  kind: 'blind' | 'device'
  state: 'invited' | 'paired'
  /** Epoch seconds; null: never seen. */
  lastSeen: number | null
  /** Epoch seconds of its last verified health report; null: none yet, so what it holds is not known. */
  reportedAt: number | null
  /** Whether its last report showed it holding every block the box holds; null without a report. */
  inSync: boolean | null
  /** How far behind the box's logs its last report showed it; 0 without a report. */
  behindBlocks: number
  behindBytes: number
  /** The sources whose logs its last report showed it holding blocks of, by id. */
  sources: string[]
  /** Its last report showed it holding blocks of the audit log. */
  audit: boolean
  problems: string[]
}

export interface ReplicasPart {
  replicas: ReplicaHolding[]
  /**
   * Sources the box replicates whose logs no replica's last report showed held. Known only from
   * reports: empty while no replica has reported.
   */
  unheld: string[]
}

const SOURCE_LOG = 'source:'

/** The part, or null when the box has no replica. */
export function replicasPart(records: Iterable<ReplicaRecord>): ReplicasPart | null {
  const known = [...records]
  const replicas = known.map((r): ReplicaHolding => {
    const held = (r.health?.cores ?? []).filter((c) => c.heldBlocks > 0).map((c) => c.log)
    return {
      name: r.name, kind: r.kind, state: r.state,
      lastSeen: seconds(r.lastSeen),
      reportedAt: seconds(r.health?.reportedAt ?? null),
      inSync: r.health === null ? null : r.health.behindBlocks === 0,
      behindBlocks: r.health?.behindBlocks ?? 0,
      behindBytes: r.health?.behindBytes ?? 0,
      sources: held.filter((log) => log.startsWith(SOURCE_LOG)).map((log) => log.slice(SOURCE_LOG.length)).sort(compare),
      audit: held.includes('audit'),
      problems: [...r.problems],
    }
  }).sort((a, b) => compare(a.name, b.name))
  if (replicas.length === 0) return null
  const held = new Set(replicas.flatMap((r) => r.sources))
  const replicated = new Set(known.flatMap((r) => r.health?.cores ?? []).filter((c) => c.log.startsWith(SOURCE_LOG)).map((c) => c.log.slice(SOURCE_LOG.length)))
  return { replicas, unheld: [...replicated].filter((source) => !held.has(source)).sort(compare) }
}

function seconds(iso: string | null): number | null {
  return iso === null ? null : Math.floor(Date.parse(iso) / 1000)
}

function compare(a: string, b: string): number {
  return a === b ? 0 : a < b ? -1 : 1
}
