/**
 * The market's query language: a text form (grammar.peggy, a superset of myneData's) and a
 * JSON form (TypeBox schemas), parsed, checked against a vocabulary, printed back and described
 * in plain words for an owner. README.md beside this file describes the language.
 */
export {
  Query, QuerySpec, Value, Selection, Column, Comparison, Bounds, OPERATORS, ANSWER_KINDS,
  MAX_QUERY_TEXT, MAX_SELECTIONS, MAX_GROUPS, MAX_COMPARISONS_PER_GROUP, MAX_HISTOGRAM_EDGES, MIN_PARTICIPANTS_FLOOR, MAX_PARTICIPANTS,
  type QueryProblem, type SeriesValue, type Operator, type AnswerKind,
} from './schema.ts'
export { parseQuery, QuerySyntaxError, type TextPosition } from './parse.ts'
export { checkQuery, checkSpec, MAX_WINDOW_DAYS } from './check.ts'
export { printQuery } from './print.ts'
export { describeQuery } from './describe.ts'
