/**
 * What the iCalendar importer (ical.ts) and the worker thread that runs ical.js for it
 * (ical-worker.ts) agree on: how far recurrences are expanded, and the messages between them.
 * Its own module, so that the importer knows these without loading ical.js, which only the
 * worker needs.
 */
import type { MessagePort } from 'node:worker_threads'

/** Recurring events are expanded from this many years before the import… */
export const YEARS_BEFORE = 10
/** …to this many years after it. */
export const YEARS_AFTER = 2
/** The most occurrences of one event: a daily series fills the window with about 4,400. */
export const MAX_OCCURRENCES = 10_000
/** The most steps one rule takes, so that a rule firing every second stops with what it found. */
export const MAX_STEPS = 100_000

/** One entry of the file to read: the text of a VTIMEZONE or VEVENT and the line it starts at. */
export interface Entry {
  /** A VTIMEZONE; a VEVENT read for what it tells of its series (an occurrence it moves, a calendar scale); a VEVENT read for its occurrences. */
  kind: 'timezone' | 'series' | 'event'
  text: string
  line: number
}

/** What a worker must know of the entries read before it started. */
export type Remembered =
  | { kind: 'timezone'; text: string; line: number }
  /** An occurrence an override moves: the series' UID and the instant it no longer happens at. */
  | { kind: 'moved'; key: string }
  | { kind: 'skipped-series'; uid: string; scale: string }

/** Marks a reading worker's start: the module serves only in a thread started with it. */
export const READER = 'ical-reader'

export interface WorkerStart {
  reader: typeof READER
  /** Where entries come in and answers go out: a port of its own, so that the importer can look for an answer that came before it gave up waiting. */
  port: MessagePort
  ownerZone: string
  /** The import's time, in epoch seconds: the window is around it, whichever worker reads. */
  now: number
  remembered: Remembered[]
}

/** Something the import tells the owner of, by kind; ical.ts words and gathers them. */
export type Note =
  | { kind: 'timezone-without-id'; line: number }
  | { kind: 'scale'; scale: string; line: number; moved: boolean }
  | { kind: 'unknown-zone'; tzid: string; line: number }
  | { kind: 'trimmed'; line: number }
  | { kind: 'exhausted'; line: number }

/** An event's records: its summary, location and UID, and its occurrences as start, length, start, length… (seconds). */
export interface EventRead {
  summary: string
  location: string | null
  uid: string | null
  occurrences: Float64Array
}

export type Answer =
  | { kind: 'read'; notes: Note[]; remember?: Remembered; event?: EventRead }
  /** The entry is not valid iCalendar: the import is refused with this. */
  | { kind: 'refused'; message: string; where: { index?: number; field?: string } }
