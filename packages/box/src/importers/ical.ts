/**
 * iCalendar (.ics, RFC 5545): each occurrence of an event becomes `summary`, `duration` (s), and
 * where given `location` and `uid`, timed by its start. A time with a TZID is read in that zone:
 * the file's VTIMEZONE of that name, else the IANA zone of that name. A time in UTC is read as
 * such. An all-day date, a floating time, or a TZID that is neither is read in the owner's time
 * zone; the import's warnings name such TZIDs.
 *
 * A recurring event's occurrences are its DTSTART and the union of all its RRULEs' and RDATEs'
 * (a PERIOD's start, its end or duration giving the length), minus its EXDATEs and the
 * occurrences that RECURRENCE-ID overrides move (those appear once, at their new time), each
 * once — all matched by instant, whatever zone each is written in. They are kept from ten years
 * before the import to two years after it, at most 10,000 per event (those nearest the import).
 * Rules in another calendar scale (RFC 7529 RSCALE) are not expanded: those events and their
 * overrides are skipped and named in the import's warnings; the rest of the file is imported.
 *
 * ical.js reads the entries in a worker thread (ical-worker.ts), because it can loop for ever on
 * a rule that never matches and the box is one event loop. An entry whose reading takes longer
 * than `limits.entryMs`, or more memory than the worker has, is skipped and named in the
 * warnings, and the worker started again for the rest of the file; a file with more such entries
 * than `limits.overruns` is refused.
 *
 * Files are read entry by entry in three passes (time zones; overrides; events), so memory stays
 * small whatever the calendar's size. Each import keeps its own time zones: one file's VTIMEZONEs
 * never change how another is read.
 */
import fs from 'node:fs'
import readline from 'node:readline'
import { MessageChannel, Worker, receiveMessageOnPort, type MessagePort } from 'node:worker_threads'
import { InvalidInput } from '../errors/index.ts'
import type { SenmlRecord } from '../senml/index.ts'
import { BATCH } from './common.ts'
import type { FileToRead, ImportFormat } from './format.ts'
import { MAX_OCCURRENCES, MAX_STEPS, READER, YEARS_AFTER, YEARS_BEFORE, type Answer, type Entry, type Note, type Remembered, type WorkerStart } from './ical-protocol.ts'

export const ical: ImportFormat = {
  name: 'ical',
  defaultSource: 'calendar',
  logicalType: () => 'communication',
  sniff: (_head, text) => /^\s*BEGIN:VCALENDAR\r?\n/i.test(text),
  // The calendar is read from the file, in passes, so that time zones and overrides are known
  // before expansion; the upload stream only flows through, for progress.
  parse: (input, file) => {
    input.resume()
    return events(file)
  },
}

/**
 * How long the worker may take over one entry before it is skipped (a normal one takes
 * milliseconds; the slowest sensible rules measured, BYSETPOS over twelve years, half a second),
 * and how many entries may be skipped so before the file is refused: each costs that long.
 */
export const limits = { entryMs: 5_000, overruns: 10 }
/** The heap of a reading worker: far more than any calendar entry needs. */
const WORKER_HEAP_MB = 256
/** Entries handed to the worker ahead of the answer awaited, so that neither thread waits on the other. */
const AHEAD = 32

type Kind = 'vtimezone' | 'vevent'

/** Each VTIMEZONE and VEVENT block, as text, in file order. */
async function* blocks(file: string): AsyncGenerator<{ kind: Kind; text: string; line: number }> {
  const lines = readline.createInterface({ input: fs.createReadStream(file, 'utf8'), crlfDelay: Infinity })
  let current: string[] | null = null
  let kind: Kind = 'vevent'
  let depth = 0
  let start = 0
  let n = 0
  for await (const raw of lines) {
    n++
    const line = n === 1 ? raw.replace(/^\uFEFF/, '') : raw
    const upper = line.toUpperCase()
    if (current === null && (upper === 'BEGIN:VEVENT' || upper === 'BEGIN:VTIMEZONE')) {
      current = []
      kind = upper === 'BEGIN:VEVENT' ? 'vevent' : 'vtimezone'
      depth = 0
      start = n
    }
    if (current === null) continue
    current.push(line)
    if (upper.startsWith('BEGIN:')) depth++
    if (upper.startsWith('END:')) depth--
    if (depth === 0) {
      yield { kind, text: current.join('\r\n'), line: start }
      current = null
    }
  }
  if (current !== null) throw new InvalidInput(`The calendar ends inside the ${kind.toUpperCase()} that starts at line ${start}: the file is truncated. Nothing was imported.`)
}

/** An event that overrides an occurrence, or whose rule may be in another calendar scale: what pass 2 reads. */
const TELLS_OF_SERIES = /^(RECURRENCE-ID[;:]|RRULE[;:].*RSCALE=)/im

async function drain(answers: AsyncGenerator<unknown>): Promise<void> {
  while (!(await answers.next()).done);
}

const unfold = (text: string) => text.replace(/\r\n[ \t]/g, '')

function count(n: number, noun: string): string {
  return `${n.toLocaleString('en-US')} ${noun}${n === 1 ? '' : 's'}`
}

function lines(at: number[]): string {
  if (at.length === 1) return `line ${at[0]}`
  const shown = at.slice(0, 5)
  return at.length > shown.length ? `lines ${shown.join(', ')} and ${at.length - shown.length} more` : `lines ${shown.slice(0, -1).join(', ')} and ${shown.at(-1)}`
}

/** What the import skipped or read in a particular way, told once per kind, naming the lines. */
class Notes {
  readonly #timezonesWithoutId: number[] = []
  readonly #scales = new Map<string, { events: number[]; moved: number[] }>()
  readonly #unknownZones = new Map<string, number[]>()
  readonly #trimmed: number[] = []
  readonly #exhausted: number[] = []
  readonly #overran = { time: [] as number[], memory: [] as number[] }

  add(note: Note): void {
    switch (note.kind) {
      case 'timezone-without-id':
        this.#timezonesWithoutId.push(note.line)
        break
      case 'scale': {
        let skipped = this.#scales.get(note.scale)
        if (!skipped) this.#scales.set(note.scale, (skipped = { events: [], moved: [] }))
        ;(note.moved ? skipped.moved : skipped.events).push(note.line)
        break
      }
      case 'unknown-zone': {
        const at = this.#unknownZones.get(note.tzid) ?? []
        if (at.at(-1) !== note.line) at.push(note.line)
        this.#unknownZones.set(note.tzid, at)
        break
      }
      case 'trimmed':
        this.#trimmed.push(note.line)
        break
      case 'exhausted':
        if (this.#exhausted.at(-1) !== note.line) this.#exhausted.push(note.line)
        break
    }
  }

  overran(line: number, reason: 'time' | 'memory'): void {
    this.#overran[reason].push(line)
  }

  messages(ownerZone: string): string[] {
    const said: string[] = []
    const them = (n: number) => (n === 1 ? 'it' : 'them')
    if (this.#timezonesWithoutId.length > 0) {
      const at = this.#timezonesWithoutId
      said.push(`skipped ${count(at.length, 'VTIMEZONE')} without a TZID (${lines(at)}): no time can refer to ${them(at.length)}`)
    }
    for (const [scale, { events, moved }] of this.#scales) {
      const movedToo = moved.length > 0 ? ` and ${count(moved.length, 'moved occurrence')} of ${them(events.length)} (${lines(moved)})` : ''
      const what = events.length > 0 ? `${count(events.length, 'event')} with ${scale} (${lines(events)})${movedToo}` : `${count(moved.length, 'moved occurrence')} of events with ${scale} (${lines(moved)})`
      said.push(`skipped ${what}: not supported; only Gregorian recurrence rules are expanded`)
    }
    for (const [tzid, at] of this.#unknownZones) {
      said.push(`read ${count(at.length, 'event')} in the box's time zone (${ownerZone}): ${at.length === 1 ? 'its' : 'their'} TZID "${tzid}" is neither defined in the file nor an IANA zone (${lines(at)})`)
    }
    if (this.#trimmed.length > 0) {
      const at = this.#trimmed
      said.push(`kept the ${MAX_OCCURRENCES.toLocaleString('en-US')} occurrences nearest the import of ${count(at.length, 'event')} (${lines(at)}) that recur${at.length === 1 ? 's' : ''} more often than that over the ${YEARS_BEFORE + YEARS_AFTER} years expanded`)
    }
    if (this.#exhausted.length > 0) {
      const at = this.#exhausted
      said.push(`stopped expanding ${count(at.length, 'event')} (${lines(at)}) after ${MAX_STEPS.toLocaleString('en-US')} steps of a rule: later occurrences were not imported`)
    }
    if (this.#overran.time.length > 0) {
      const at = this.#overran.time.sort((a, b) => a - b)
      said.push(`skipped ${count(at.length, 'event')} (${lines(at)}) whose recurrence rule never matches or takes too long to expand (more than ${limits.entryMs / 1000} s)`)
    }
    if (this.#overran.memory.length > 0) {
      const at = this.#overran.memory.sort((a, b) => a - b)
      said.push(`skipped ${count(at.length, 'event')} (${lines(at)}) whose recurrence rule takes more memory to expand than an import may use`)
    }
    return said
  }
}

/** What the worker made of an entry, or that it overran, or that the worker failed. */
type Outcome = Answer | { kind: 'overran'; reason: 'time' | 'memory' } | { kind: 'failed'; message: string }

/** A reading worker: its built JavaScript, or from source its TypeScript through tsx. */
function startWorker(start: WorkerStart): Worker {
  const fromSource = new URL(import.meta.url).pathname.endsWith('.ts')
  const script = new URL(fromSource ? './ical-worker.ts' : './ical-worker.js', import.meta.url)
  const options = { workerData: start, transferList: [start.port], resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB } }
  if (!fromSource) return new Worker(script, options)
  // A worker thread does not inherit the --import that runs TypeScript: it registers tsx itself.
  const boot = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then(({ register }) => { register(); return import(${JSON.stringify(script.href)}) })`
  return new Worker(boot, { ...options, eval: true })
}

/**
 * Hands entries to a worker and gives back its answers, in order. The clock for an entry starts
 * when the worker turns to it; when it overruns, the worker is ended, the entry answered as
 * overrun, and a new worker, told what the entries read so far left (their time zones and moved
 * occurrences), takes up the entries after it.
 */
class Reader {
  readonly #ownerZone: string
  readonly #now: number
  readonly #remembered: Remembered[] = []
  #worker: { thread: Worker; port: MessagePort; ready: boolean } | null = null
  #clock: NodeJS.Timeout | undefined
  /** Entries handed over and not yet answered, oldest first. */
  #waiting: { entry: Entry; settle: (outcome: Outcome) => void }[] = []

  constructor(ownerZone: string, now: number) {
    this.#ownerZone = ownerZone
    this.#now = now
  }

  /** What the worker makes of an entry. Never rejects: a failure is an outcome, so that entries read ahead cannot fail unheard. */
  read(entry: Entry): Promise<Outcome> {
    return new Promise((settle) => {
      this.#waiting.push({ entry, settle })
      if (!this.#worker) return this.#spawn()
      if (!this.#worker.ready) return
      this.#worker.port.postMessage(entry)
      if (this.#waiting.length === 1) this.#startClock()
    })
  }

  close(): void {
    clearTimeout(this.#clock)
    this.#end()
    this.#waiting = []
  }

  #spawn(): void {
    const { port1: port, port2 } = new MessageChannel()
    const thread = startWorker({ reader: READER, port: port2, ownerZone: this.#ownerZone, now: this.#now, remembered: this.#remembered })
    const worker = { thread, port, ready: false }
    this.#worker = worker
    port.on('message', (message: Answer | { kind: 'ready' }) => this.#heard(message))
    thread.on('error', (err: Error & { code?: string }) => {
      if (worker !== this.#worker) return
      if (err.code === 'ERR_WORKER_OUT_OF_MEMORY' && worker.ready && this.#waiting.length > 0) this.#overrun('memory')
      else this.#fail(err.message)
    })
    thread.on('exit', (code) => {
      if (worker === this.#worker) this.#fail(`the calendar reader stopped (exit code ${code})`)
    })
  }

  #heard(message: Answer | { kind: 'ready' }): void {
    const worker = this.#worker!
    clearTimeout(this.#clock)
    if (message.kind === 'ready') {
      worker.ready = true
      for (const { entry } of this.#waiting) worker.port.postMessage(entry)
    } else {
      if (message.kind === 'read' && message.remember) this.#remembered.push(message.remember)
      this.#waiting.shift()!.settle(message)
    }
    if (this.#waiting.length > 0) this.#startClock()
  }

  #startClock(): void {
    this.#clock = setTimeout(() => {
      // An answer may have come while this thread was busy: the clock stops at the answer, not when it is read.
      const came = receiveMessageOnPort(this.#worker!.port)
      if (came) this.#heard(came.message as Answer | { kind: 'ready' })
      else this.#overrun('time')
    }, limits.entryMs)
  }

  #overrun(reason: 'time' | 'memory'): void {
    clearTimeout(this.#clock)
    this.#end()
    this.#waiting.shift()!.settle({ kind: 'overran', reason })
    if (this.#waiting.length > 0) this.#spawn()
  }

  #end(): void {
    if (!this.#worker) return
    this.#worker.port.close()
    void this.#worker.thread.terminate()
    this.#worker = null
  }

  #fail(message: string): void {
    const waiting = this.#waiting
    this.close()
    for (const { settle } of waiting) settle({ kind: 'failed', message })
  }
}

async function* events(file: FileToRead): AsyncGenerator<SenmlRecord[]> {
  const notes = new Notes()
  const reader = new Reader(file.timeZone, Date.now() / 1000)
  const overran = new Set<number>()

  /** What the worker reads each chosen entry as, in file order, with up to AHEAD entries handed over at once; overrun ones are noted and left out. */
  async function* read(kind: Entry['kind'], chosen: (block: { kind: Kind; text: string; line: number }) => boolean) {
    const ahead: { line: number; outcome: Promise<Outcome> }[] = []
    const settle = async () => {
      const { line, outcome } = ahead.shift()!
      const answer = await outcome
      switch (answer.kind) {
        case 'read':
          for (const note of answer.notes) notes.add(note)
          return answer
        case 'refused': throw new InvalidInput(answer.message, answer.where)
        case 'failed': throw new Error(`The calendar could not be read: ${answer.message}`)
        case 'overran':
          overran.add(line)
          notes.overran(line, answer.reason)
          if (overran.size > limits.overruns) {
            const at = [...overran].sort((a, b) => a - b)
            throw new InvalidInput(`The calendar has ${count(at.length, 'event')} (${lines(at)}) whose recurrence rule never matches or takes too long to expand; an import skips at most ${limits.overruns}. Nothing was imported.`, { index: line })
          }
          return undefined
      }
    }
    for await (const block of blocks(file.file)) {
      if (!chosen(block)) continue
      ahead.push({ line: block.line, outcome: reader.read({ kind, text: block.text, line: block.line }) })
      if (ahead.length < AHEAD) continue
      const answer = await settle()
      if (answer) yield answer
    }
    while (ahead.length > 0) {
      const answer = await settle()
      if (answer) yield answer
    }
  }

  try {
    // Pass 1: time zones. Pass 2: the occurrences overrides move, the series in other calendar scales. The worker keeps what they tell.
    await drain(read('timezone', (block) => block.kind === 'vtimezone'))
    await drain(read('series', (block) => block.kind === 'vevent' && !overran.has(block.line) && TELLS_OF_SERIES.test(unfold(block.text))))
    // Pass 3: events and their occurrences.
    let batch: SenmlRecord[] = []
    for await (const { event } of read('event', (block) => block.kind === 'vevent' && !overran.has(block.line))) {
      if (!event) continue
      const { summary, location, uid, occurrences } = event
      for (let i = 0; i < occurrences.length; i += 2) {
        const t = occurrences[i]!
        batch.push({ n: 'summary', t, vs: summary })
        batch.push({ n: 'duration', u: 's', t, v: occurrences[i + 1]! })
        if (location !== null) batch.push({ n: 'location', t, vs: location })
        if (uid !== null) batch.push({ n: 'uid', t, vs: uid })
        if (batch.length >= BATCH) {
          yield batch
          batch = []
        }
      }
    }
    if (batch.length > 0) yield batch
    for (const message of notes.messages(file.timeZone)) file.warn(message)
  } finally {
    reader.close()
  }
}
