/**
 * The shared vocabulary: the logical types and attributes a market's queries may name
 * (`Activity.steps`, `Identity.city`), each with its technical type and unit. The market
 * publishes it; a box maps each attribute to one of its own sources, starting from the defaults
 * named here, which are what the box's own importers and drivers write (Apple Health's
 * `StepCount` in `count`, the demo's living-room `temperature` in `Cel`). An attribute a box has
 * not mapped is one it cannot answer about.
 *
 * Plain data and no imports but TypeBox: boxes, the market and the processors' pages all read it.
 */
import { Type, type Static, type TLiteral, type TUnion } from '@sinclair/typebox'

/**
 * A union of string literals with its exact static type: Type.Union over a mapped array types
 * as a union of an array, which Fastify's type provider reads as `never`.
 */
export function literals<const T extends readonly string[]>(values: T, options: { description?: string } = {}): TUnion<{ -readonly [K in keyof T]: TLiteral<T[K]> }> {
  return Type.Union(values.map((v) => Type.Literal(v)), options) as unknown as TUnion<{ -readonly [K in keyof T]: TLiteral<T[K]> }>
}

/** How values become one: per period (a day's steps are their sum), and over a window of periods. */
export const REDUCTIONS = ['sum', 'mean', 'min', 'max', 'count', 'last', 'mode'] as const
export type Reduction = (typeof REDUCTIONS)[number]

export const TECHNICAL_TYPES = ['number', 'string', 'boolean'] as const
export type TechnicalType = (typeof TECHNICAL_TYPES)[number]

/** A period: a count and a unit (h, d, w, mo, y; m for minutes), as the box writes bucket sizes. */
export const BUCKET_PATTERN = '^[1-9][0-9]{0,2}(mo|m|h|d|w|y)$'

const Name = (pattern: string, description: string) => Type.String({ pattern, maxLength: 64, description })

export const Attribute = Type.Object({
  name: Name('^[a-z][a-z0-9_]*$', 'The attribute, as queries write it after the dot: steps, heart_rate'),
  technicalType: literals(TECHNICAL_TYPES),
  unit: Type.Optional(Type.String({ maxLength: 32, description: 'SenML unit of a number (RFC 8428/8798 where one is registered): count, m, kg, Cel, kWh' })),
  description: Type.String({ maxLength: 500 }),
  series: Type.Optional(Type.Object({
    bucket: Type.String({ pattern: BUCKET_PATTERN, description: 'The usual period: 1d' }),
    reduce: literals(REDUCTIONS, { description: "How a period's readings become its value: a day's steps are their sum" }),
  }, { additionalProperties: false, description: 'Present when the attribute is a time series: how it usually becomes one value per period' })),
  defaults: Type.Optional(Type.Object({
    senmlNames: Type.Optional(Type.Array(Type.String({ maxLength: 128 }), { description: "SenML record names the box's own importers and drivers write for it" })),
    logicalType: Type.Optional(Type.String({ description: "The box's logical type of the sources holding it" })),
  }, { additionalProperties: false })),
  wording: Type.Optional(Type.Object({
    noun: Type.String({ description: 'What one value is, for an owner: "step", "heart rate", "age"' }),
    is: Type.Optional(Type.String({ description: 'A condition, said to the owner, {value} standing for the value: "live in {value}"' })),
    isNot: Type.Optional(Type.String({ description: 'Its negation: "do not live in {value}"' })),
    compare: Type.Optional(Type.String({ description: 'An ordered comparison, {op} being "over", "under", "at least", "at most": "are {op} {value}"' })),
    yes: Type.Optional(Type.String({ description: 'A boolean that is true: "smoke"' })),
    no: Type.Optional(Type.String({ description: 'A boolean that is false: "do not smoke"' })),
    properNoun: Type.Optional(Type.Boolean({ description: 'Its values are names, written capitalised: Aachen' })),
  }, { additionalProperties: false, description: 'How describeQuery says a condition on it to an owner' })),
}, { additionalProperties: false })
export type Attribute = Static<typeof Attribute>

export const LogicalType = Type.Object({
  name: Name('^[A-Z][A-Za-z0-9]*$', 'The logical type, as queries write it before the dot: Activity'),
  description: Type.String({ maxLength: 500 }),
  attributes: Type.Array(Attribute, { minItems: 1 }),
}, { additionalProperties: false })
export type LogicalType = Static<typeof LogicalType>

export const Vocabulary = Type.Object({ types: Type.Array(LogicalType) }, { additionalProperties: false })
export interface Vocabulary {
  types: LogicalType[]
}

/** An attribute and the logical type it belongs to, as `findAttribute` answers. */
export interface FoundAttribute {
  type: LogicalType
  attribute: Attribute
}

/** `Activity.steps` in `vocabulary`, or undefined when either part is unknown. Names are case-sensitive. */
export function findAttribute(vocabulary: Vocabulary, name: string): FoundAttribute | undefined {
  const dot = name.indexOf('.')
  if (dot < 0) return undefined
  const type = vocabulary.types.find((t) => t.name === name.slice(0, dot))
  const attribute = type?.attributes.find((a) => a.name === name.slice(dot + 1))
  return type && attribute ? { type, attribute } : undefined
}

const daily = (reduce: Reduction) => ({ bucket: '1d', reduce })

/**
 * The vocabulary a market starts with. The defaults name what the box writes today: Apple
 * Health's records are the HealthKit identifier without its prefix, in Apple's unit
 * (StepCount in count, DistanceWalkingRunning in km, ActiveEnergyBurned in kcal, HeartRate in
 * count/min, BodyMass in kg, SleepAnalysis with SleepAnalysis/duration in s); Google Takeout's
 * semantic history writes activity/distance in m and visit/name; the demo box writes steps,
 * heart-rate and temperature. A box converts units where they differ from the attribute's.
 */
export const DEFAULT_VOCABULARY: Vocabulary = {
  types: [
    {
      name: 'Activity',
      description: 'Movement: steps, distance, energy spent moving.',
      attributes: [
        {
          name: 'steps', technicalType: 'number', unit: 'count', description: 'Steps counted by a phone or watch.',
          series: daily('sum'), defaults: { senmlNames: ['StepCount', 'steps'], logicalType: 'activity' },
          wording: { noun: 'step' },
        },
        {
          name: 'distance', technicalType: 'number', unit: 'm', description: 'Distance walked or run, in metres.',
          series: daily('sum'), defaults: { senmlNames: ['DistanceWalkingRunning', 'activity/distance', 'workout/distance'], logicalType: 'activity' },
          wording: { noun: 'distance' },
        },
        {
          name: 'active_energy', technicalType: 'number', unit: 'kcal', description: 'Energy spent moving, beyond resting, in kilocalories.',
          series: daily('sum'), defaults: { senmlNames: ['ActiveEnergyBurned', 'workout/energy'], logicalType: 'activity' },
          wording: { noun: 'active energy' },
        },
      ],
    },
    {
      name: 'Health',
      description: 'Body measurements and habits.',
      attributes: [
        {
          name: 'heart_rate', technicalType: 'number', unit: 'beat/min', description: 'Heart rate, in beats per minute.',
          series: daily('mean'), defaults: { senmlNames: ['HeartRate', 'heart-rate'], logicalType: 'health' },
          wording: { noun: 'heart rate' },
        },
        {
          name: 'weight', technicalType: 'number', unit: 'kg', description: 'Body weight, in kilograms.',
          series: daily('last'), defaults: { senmlNames: ['BodyMass'], logicalType: 'health' },
          wording: { noun: 'weight', compare: 'weigh {op} {value}' },
        },
        {
          name: 'sleep_hours', technicalType: 'number', unit: 'h', description: 'Hours asleep.',
          series: daily('sum'), defaults: { senmlNames: ['SleepAnalysis/duration'], logicalType: 'health' },
          wording: { noun: 'sleep' },
        },
        {
          name: 'smoker', technicalType: 'boolean', description: 'Whether the person smokes.',
          wording: { noun: 'smoking', yes: 'smoke', no: 'do not smoke' },
        },
      ],
    },
    {
      name: 'Identity',
      description: 'Who the person is, as they state it in their box.',
      attributes: [
        {
          name: 'city', technicalType: 'string', description: 'The city the person lives in.',
          wording: { noun: 'city', is: 'live in {value}', isNot: 'do not live in {value}', properNoun: true },
        },
        {
          name: 'postcode', technicalType: 'string', description: 'The postcode of their home, as text (leading zeros matter).',
          wording: { noun: 'postcode', is: 'live in postcode {value}', isNot: 'do not live in postcode {value}' },
        },
        {
          name: 'age', technicalType: 'number', unit: 'a', description: 'Age in whole years.',
          wording: { noun: 'age', is: 'are {value}', isNot: 'are not {value}', compare: 'are {op} {value}' },
        },
        {
          name: 'gender', technicalType: 'string', description: 'Gender, in the words the person chose.',
          wording: { noun: 'gender', is: 'are {value}', isNot: 'are not {value}' },
        },
      ],
    },
    {
      name: 'Location',
      description: 'Where the person goes, from their phone.',
      attributes: [
        {
          name: 'visits', technicalType: 'number', unit: 'count', description: 'Places visited (stays the phone recognised).',
          series: daily('count'), defaults: { senmlNames: ['visit/name', 'visit/place'], logicalType: 'location' },
          wording: { noun: 'place visit' },
        },
        {
          name: 'city', technicalType: 'string', description: 'The city the person was in, the one they spent most time in when several.',
          series: daily('mode'), defaults: { logicalType: 'location' },
          wording: { noun: 'city', properNoun: true },
        },
      ],
    },
    {
      name: 'Environment',
      description: 'The surroundings at home, from sensors.',
      attributes: [
        {
          name: 'temperature_indoor', technicalType: 'number', unit: 'Cel', description: 'Indoor temperature, in degrees Celsius.',
          series: daily('mean'), defaults: { senmlNames: ['temperature'], logicalType: 'environment' },
          wording: { noun: 'indoor temperature' },
        },
      ],
    },
    {
      name: 'Energy',
      description: 'Energy used at home, from meters.',
      attributes: [
        {
          name: 'electricity', technicalType: 'number', unit: 'kWh', description: 'Electricity used, in kilowatt-hours.',
          series: daily('sum'), defaults: { senmlNames: ['electricity', 'energy'], logicalType: 'energy' },
          wording: { noun: 'electricity use' },
        },
      ],
    },
  ],
}
