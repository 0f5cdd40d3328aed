import { aggregate, dayEdges, defineApp, granted, view, write } from '@coffer/sdk'

const DAYS = 14

defineApp(async () => {
  const { sources } = await granted()
  const steps = sources.find((s) => s.request === 'steps')
  const edges = await dayEdges(DAYS)
  const from = edges[0]!
  const to = edges[edges.length - 1]!
  // One crossing for every source: the calls below travel together.
  const answers = await Promise.all((steps?.sources ?? []).map((source) => aggregate(source, { fn: 'sum', bucket: '1d', from, to })))
  const days = edges.slice(0, -1).map((start, i) => ({
    start,
    day: new Date(start * 1000).toISOString().slice(0, 10),
    steps: Math.round(answers.reduce((sum, a) => sum + (a.buckets[i]?.value ?? 0), 0)),
  }))
  await write('daily', days.map((d) => ({ n: 'steps', u: 'count', v: d.steps, t: d.start })))
  await view('chart', {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    description: 'Steps per day',
    data: { values: days.map(({ day, steps }) => ({ day, steps })) },
    mark: { type: 'bar', tooltip: true },
    encoding: {
      x: { field: 'day', type: 'ordinal', title: 'Day', axis: { labelAngle: -45 } },
      y: { field: 'steps', type: 'quantitative', title: 'Steps' },
    },
  })
  const total = days.reduce((sum, d) => sum + d.steps, 0)
  console.log(`${days.length} days, ${total} steps from ${steps?.sources.join(', ') || 'no source'}`)
  return { days: days.length, total, average: Math.round(total / days.length), sources: steps?.sources ?? [] }
})
