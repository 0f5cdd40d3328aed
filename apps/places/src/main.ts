import { aggregate, dayEdges, defineApp, granted, view } from '@coffer/sdk'

const DAYS = 30
/** About 110 m of latitude: positions in one cell count as one place. */
const CELL = 0.001
const TOP = 20

defineApp(async () => {
  const { sources } = await granted()
  const location = sources.find((s) => s.request === 'location')
  const edges = await dayEdges(DAYS)
  const from = edges[0]!
  const to = edges[edges.length - 1]!
  // Each device writes NAME/lat and NAME/lon (or plain lat and lon): pair them by prefix.
  const pairs = (location?.sources ?? []).flatMap((source) => {
    const names = (location!.series[source] ?? []).map((s) => s.name)
    return names.filter((n) => n.endsWith('lat')).map((lat) => ({ source, lat, lon: lat.slice(0, -3) + 'lon' })).filter((p) => names.includes(p.lon))
  })
  const answers = await Promise.all(pairs.flatMap(({ source, lat, lon }) => [
    aggregate(source, { fn: 'mean', bucket: '1h', from, to, name: lat }),
    aggregate(source, { fn: 'mean', bucket: '1h', from, to, name: lon }),
  ]))
  const hours = new Map<string, { lat: number; lon: number; hours: number }>()
  for (let i = 0; i < answers.length; i += 2) {
    const lats = answers[i]!.buckets
    const lons = answers[i + 1]!.buckets
    lats.forEach((b, j) => {
      const lon = lons[j]?.value
      if (b.value === null || lon === null || lon === undefined) return
      const lat = Math.round(b.value / CELL) * CELL
      const lng = Math.round(lon / CELL) * CELL
      const key = `${lat.toFixed(3)},${lng.toFixed(3)}`
      const place = hours.get(key) ?? { lat: Number(lat.toFixed(3)), lon: Number(lng.toFixed(3)), hours: 0 }
      place.hours++
      hours.set(key, place)
    })
  }
  const places = [...hours.values()].sort((a, b) => b.hours - a.hours).slice(0, TOP).map((p, i) => ({ ...p, rank: i + 1 }))
  await view('places', {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    description: 'Places by hours spent there',
    data: { values: places },
    mark: { type: 'circle', tooltip: true },
    encoding: {
      x: { field: 'lon', type: 'quantitative', title: 'Longitude', scale: { zero: false } },
      y: { field: 'lat', type: 'quantitative', title: 'Latitude', scale: { zero: false } },
      size: { field: 'hours', type: 'quantitative', title: 'Hours' },
    },
  })
  return { places: places.length, top: places.slice(0, 3) }
})
