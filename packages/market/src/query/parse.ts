/**
 * Text → JSON form, through the parser peggy generates from grammar.peggy. Where each node came
 * from is kept beside it (not in it: a parsed query deep-equals the same query given as JSON),
 * so that checkQuery can point into the text.
 */
import { parse, SyntaxError as PeggySyntaxError } from './grammar.generated.js'
import { MAX_QUERY_TEXT, type Query, type QueryProblem } from './schema.ts'

export interface TextPosition {
  offset: number
  line: number
  column: number
}

type LocationRange = { start: TextPosition }

/**
 * For each node parsed from a text, where it and its notable fields ('' is the node itself)
 * are, as the parser hands them over: copied only when a problem asks (most nodes have none).
 */
const positions = new WeakMap<object, Record<string, LocationRange>>()

/** Where `field` of `node` (or the node, for '') was in the text it was parsed from, if it was parsed. */
export function positionOf(node: object, field = ''): TextPosition | undefined {
  const fields = positions.get(node)
  const range = fields?.[field] ?? fields?.['']
  return range && position(range.start)
}

/** A text that is not a query. `offset` (0-based), `line` and `column` (1-based) say where; the message says what was expected. */
export class QuerySyntaxError extends Error {
  readonly status = 400
  readonly offset: number
  readonly line: number
  readonly column: number
  /** The JSON pointer of the text in what the caller was given ('' for a bare query text). */
  readonly path: string

  constructor(message: string, at: TextPosition, path = '') {
    super(message)
    this.name = 'QuerySyntaxError'
    this.offset = at.offset
    this.line = at.line
    this.column = at.column
    this.path = path
  }

  /** The same error for a text found at `path` in a larger document. */
  at(path: string): QuerySyntaxError {
    return new QuerySyntaxError(this.message, this, path)
  }

  get problem(): QueryProblem {
    return { path: this.path, message: this.message, offset: this.offset, line: this.line, column: this.column }
  }

  /** RFC 9457 problem details, with the place and the problem in the form checks report them. */
  toProblem() {
    return {
      type: 'https://coffer.dev/problems/query-syntax', title: 'Query syntax error', status: this.status,
      detail: `At line ${this.line}, column ${this.column}: ${this.message}`, problems: [this.problem],
    }
  }
}

/** Parses the text form of a query; throws QuerySyntaxError naming the place and what was expected. */
export function parseQuery(text: string): Query {
  if (text.length > MAX_QUERY_TEXT) {
    throw new QuerySyntaxError(`The query is ${text.length} characters long; at most ${MAX_QUERY_TEXT} are read.`, positionIn(text, MAX_QUERY_TEXT))
  }
  try {
    return parse(text, {
      note(node: object, fields: Record<string, LocationRange>) {
        positions.set(node, fields)
      },
    }) as Query
  } catch (err) {
    if (err instanceof PeggySyntaxError) throw new QuerySyntaxError(err.message, position(err.location.start))
    throw err
  }
}

function position(at: TextPosition): TextPosition {
  return { offset: at.offset, line: at.line, column: at.column }
}

function positionIn(text: string, offset: number): TextPosition {
  const before = text.slice(0, offset)
  const line = before.split('\n').length
  return { offset, line, column: offset - before.lastIndexOf('\n') }
}
