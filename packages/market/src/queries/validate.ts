/**
 * One check for a posted query, used by both posting and the validation endpoint: first the
 * shape (the QuerySpec schema, every fault with its JSON path), then the question itself
 * (checkSpec: syntax with line and column, names against the vocabulary, declared bounds).
 * Posting refuses what has problems; validating answers them.
 */
import { Value } from '@sinclair/typebox/value'
import { QuerySpec, QuerySyntaxError, checkSpec, printQuery, type Query, type QueryProblem } from '../query/index.ts'
import type { Vocabulary } from '../vocabulary/index.ts'

export interface Validation {
  valid: boolean
  problems: QueryProblem[]
  /** The question's JSON form, when it parsed. */
  query?: Query
  /** The question's canonical text, when it is valid. */
  text?: string
}

/** Enough to fix a spec by; a body wrong everywhere need not be answered in full. */
const MAX_PROBLEMS = 20

export function validateSpec(body: unknown, vocabulary: Vocabulary): Validation {
  const shape: QueryProblem[] = []
  for (const error of Value.Errors(QuerySpec, body)) {
    shape.push({ path: error.path || '/', message: error.message })
    if (shape.length >= MAX_PROBLEMS) break
  }
  if (shape.length > 0) return { valid: false, problems: shape }
  let checked: ReturnType<typeof checkSpec>
  try {
    checked = checkSpec(body as QuerySpec, vocabulary)
  } catch (err) {
    if (err instanceof QuerySyntaxError) return { valid: false, problems: [err.problem] }
    throw err
  }
  const { query, problems } = checked
  if (problems.length > 0) return { valid: false, problems: problems.slice(0, MAX_PROBLEMS), query }
  return { valid: true, problems: [], query, text: printQuery(query) }
}
