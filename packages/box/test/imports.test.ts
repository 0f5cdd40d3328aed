/** Imports through the HTTP upload: real files written from the public format descriptions. */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import zlib from 'node:zlib'
import crypto from 'node:crypto'
import { startBox, until, type Running } from './helpers.ts'
import { wallClockToEpoch } from '../src/store/index.ts'

let r: Running
before(async () => {
  r = await startBox()
})
after(() => r.close())

// GPX 1.1 with Garmin's TrackPointExtension, CRLF line ends and a byte-order mark; a leap day;
// points out of order; a track point without a time (skipped); a route point and a waypoint.
const GPX = '\uFEFF' + `<?xml version="1.0" encoding="UTF-8"?>
<gpx version="1.1" creator="test" xmlns="http://www.topografix.com/GPX/1/1"
     xmlns:gpxtpx="http://www.garmin.com/xmlschemas/TrackPointExtension/v1">
  <wpt lat="52.5163" lon="13.3777"><time>2024-02-29T07:00:00Z</time><name>Brandenburger Tor</name></wpt>
  <rte><rtept lat="52.52" lon="13.40"><time>2024-02-29T07:30:00Z</time></rtept></rte>
  <trk><name>Morning run</name><trkseg>
    <trkpt lat="52.5200" lon="13.4050"><ele>34.5</ele><time>2024-02-29T08:00:00Z</time>
      <extensions><gpxtpx:TrackPointExtension><gpxtpx:hr>121</gpxtpx:hr><gpxtpx:cad>84</gpxtpx:cad></gpxtpx:TrackPointExtension></extensions></trkpt>
    <trkpt lat="52.5210" lon="13.4060"><ele>35.0</ele><time>2024-02-29T08:00:10Z</time>
      <extensions><gpxtpx:TrackPointExtension><gpxtpx:hr>125</gpxtpx:hr></gpxtpx:TrackPointExtension></extensions></trkpt>
    <trkpt lat="52.5205" lon="13.4055"><ele>34.8</ele><time>2024-02-29T08:00:05Z</time></trkpt>
    <trkpt lat="52.5220" lon="13.4070"><ele>36</ele></trkpt>
  </trkseg></trk>
</gpx>
`.replace(/\n/g, '\r\n')

async function upload(body: string, query = '') {
  const res = await fetch(`${r.url}/api/v1/imports${query}`, { method: 'POST', body, headers: { authorization: `Bearer ${r.token}`, 'content-type': 'application/octet-stream' } })
  return { status: res.status, body: await res.json() }
}

test('GPX: tracks, routes and waypoints with elevation, heart rate and cadence; sniffed, not named', async () => {
  const res = await upload(GPX, '?name=run.txt&source=run')
  assert.equal(res.status, 200, JSON.stringify(res.body))
  assert.equal(res.body.format, 'gpx')
  assert.equal(res.body.state, 'done')
  const records = (await r.api('GET', '/api/v1/sources/run/records?limit=1000')).body as { n: string; t: number; v?: number; vs?: string }[]
  const hr = records.filter((x) => x.n === 'hr').map((x) => [new Date(x.t * 1000).toISOString(), x.v])
  assert.deepEqual(hr, [['2024-02-29T08:00:00.000Z', 121], ['2024-02-29T08:00:10.000Z', 125]])
  assert.deepEqual(records.filter((x) => x.n === 'lat').map((x) => x.v), [52.52, 52.5205, 52.521])
  assert.equal(records.find((x) => x.n === 'cad')!.v, 84)
  assert.equal(records.find((x) => x.n === 'waypoint/name')!.vs, 'Brandenburger Tor')
  assert.equal(records.filter((x) => x.n === 'route/lat').length, 1)
  assert.equal(res.body.records, records.length)
})

/** Runs `fn` with the process in another time zone, so a result that leans on the host's zone shows. */
async function inTimeZone<T>(zone: string, fn: () => Promise<T>): Promise<T> {
  const before = process.env.TZ
  process.env.TZ = zone
  try {
    return await fn()
  } finally {
    if (before === undefined) delete process.env.TZ
    else process.env.TZ = before
  }
}

test('GPX: a time without an offset is UTC, as GPX 1.1 defines it, whatever the host\'s zone', async () => {
  const gpx = `<?xml version="1.0"?>
<gpx version="1.1" creator="t" xmlns="http://www.topografix.com/GPX/1/1"><trk><trkseg>
  <trkpt lat="52.52" lon="13.405"><time>2024-02-29T08:00:00</time></trkpt>
  <trkpt lat="52.53" lon="13.406"><time>2024-02-29T08:00:05.250</time></trkpt>
  <trkpt lat="52.54" lon="13.407"><time>2024-02-29T10:00:10+02:00</time></trkpt>
</trkseg></trk></gpx>
`
  for (const zone of ['America/Los_Angeles', 'Asia/Kolkata']) {
    const source = `gpx-${zone.split('/')[1]!.toLowerCase().replace('_', '-')}`
    const res = await inTimeZone(zone, () => upload(gpx, `?source=${source}`))
    assert.equal(res.status, 200, JSON.stringify(res.body))
    const lat = (await r.api('GET', `/api/v1/sources/${source}/records?name=lat`)).body as { t: number }[]
    assert.deepEqual(lat.map((x) => new Date(x.t * 1000).toISOString()), ['2024-02-29T08:00:00.000Z', '2024-02-29T08:00:05.250Z', '2024-02-29T08:00:10.000Z'], zone)
  }
})

test('a character split across two read chunks arrives whole (GPX and Apple Health)', async () => {
  // Files are read 64 KiB at a time: put the two bytes of an "é" on either side of that edge.
  const edge = 64 * 1024
  const gpxHead = `<?xml version="1.0"?>\n<gpx version="1.1" creator="t">\n<!--`
  const gpxTail = `-->\n<wpt lat="52.5" lon="13.4"><time>2024-03-01T10:00:00Z</time><name>Caf`
  const gpx = gpxHead + 'x'.repeat(edge - 1 - Buffer.byteLength(gpxHead + gpxTail)) + gpxTail + 'é Zoë</name></wpt></gpx>\n'
  assert.equal(Buffer.from(gpx).subarray(edge - 1, edge + 1).toString(), 'é')
  assert.equal((await upload(gpx, '?source=split-gpx')).status, 200)
  const waypoint = (await r.api('GET', '/api/v1/sources/split-gpx/records')).body as { n: string; vs?: string }[]
  assert.deepEqual(waypoint.filter((x) => x.n === 'waypoint/name').map((x) => x.vs), ['Café Zoë'])

  const healthHead = `<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE HealthData [\n<!ELEMENT HealthData (Record)*>\n]>\n<HealthData locale="en_US">\n<!--`
  const healthTail = `-->\n <Record type="HKCategoryTypeIdentifierMindfulSession" sourceName="Zoë" creationDate="2024-03-01 10:00:00 +0000" startDate="2024-03-01 10:00:00 +0000" endDate="2024-03-01 10:10:00 +0000" value="Caf`
  const health = healthHead + 'x'.repeat(edge - 1 - Buffer.byteLength(healthHead + healthTail)) + healthTail + 'é"/>\n</HealthData>\n'
  assert.equal(Buffer.from(health).subarray(edge - 1, edge + 1).toString(), 'é')
  assert.equal((await upload(health, '?source=split-health')).status, 200)
  const values = ((await r.api('GET', '/api/v1/sources/split-health/records')).body as { vs?: string }[]).map((x) => x.vs).filter(Boolean)
  assert.deepEqual(values, ['Café'])
})

test('importing the same file twice adds nothing', async () => {
  const again = await upload(GPX, '?source=run')
  assert.equal(again.status, 200)
  assert.equal(again.body.state, 'duplicate')
  const count = (await r.api('GET', '/api/v1/sources/run')).body.points
  assert.equal(count, 17)
})

test('a truncated file gets an error with its line and leaves nothing half-imported', async () => {
  // More than one batch of points, so some are written before the parser meets the damage.
  const points = Array.from({ length: 1500 }, (_, i) => `<trkpt lat="52.5" lon="13.4"><time>${new Date(Date.UTC(2025, 0, 1) + i * 1000).toISOString()}</time></trkpt>`).join('\n')
  const whole = `<?xml version="1.0"?>\n<gpx version="1.1" creator="t"><trk><trkseg>\n${points}\n</trkseg></trk></gpx>\n`
  const truncated = whole.slice(0, whole.length - 200).replace(/<\/trkpt>\n<trkpt lat="52.5" lon="13.4"><time>2025-01-01T00:24:5/, '</trkpt>\n<trkpt lat="52.5" lon=13.4><time>2025-01-01T00:24:5')
  const res = await upload(truncated, '?source=broken')
  assert.equal(res.status, 400)
  assert.match(res.body.detail, /line \d+/)
  assert.match(res.body.detail, /Nothing was imported/)
  assert.equal((await r.api('GET', '/api/v1/sources/broken')).status, 404, 'the source the import created went with it')
  const jobs = (await r.api('GET', '/api/v1/imports')).body
  assert.equal(jobs[0].state, 'failed')
})

test('a failed import takes back the source it created, and leaves a source that was there before', async () => {
  const broken = '<?xml version="1.0"?><gpx version="1.1" creator="t"><trk><trkseg><trkpt lat="52.5" lon="13.4"><time>2025-01-01T00:00:00Z</time></trkpt><trkpt lat="x"'
  const empty = '<?xml version="1.0"?><gpx version="1.1" creator="t"></gpx>'
  for (const [body, source] of [[broken, 'new-broken'], [empty, 'new-empty']]) {
    assert.equal((await upload(body!, `?source=${source}`)).status, 400)
    assert.equal((await r.api('GET', `/api/v1/sources/${source}`)).status, 404, source)
    assert.ok(!((await r.api('GET', '/api/v1/sources')).body as { id: string }[]).some((x) => x.id === source), source)
  }
  // A source that was there before keeps what it held.
  const good = '<?xml version="1.0"?><gpx version="1.1" creator="t"><wpt lat="52.5" lon="13.4"><time>2025-01-01T00:00:00Z</time></wpt></gpx>'
  assert.equal((await upload(good, '?source=kept')).status, 200)
  assert.equal((await upload(broken, '?source=kept')).status, 400)
  assert.equal((await upload(empty, '?source=kept')).status, 400)
  assert.equal((await r.api('GET', '/api/v1/sources/kept')).body.points, 2)
})

test('Google Records.json with timestamp and timestampMs', async () => {
  const json = JSON.stringify({ locations: [
    { latitudeE7: 525200000, longitudeE7: 134050000, accuracy: 20, timestamp: '2016-02-29T12:00:00.000Z', source: 'WIFI', deviceTag: 12345 },
    { latitudeE7: 525210000, longitudeE7: 134060000, accuracy: 12, timestampMs: '1456747260000', altitude: 40, velocity: 1, heading: 90 },
  ] }, null, 1)
  const res = await upload(json, '?name=Records.json')
  assert.equal(res.status, 200, JSON.stringify(res.body))
  assert.equal(res.body.source, 'google-location')
  const lat = (await r.api('GET', '/api/v1/sources/google-location/records?name=lat')).body as { t: number; v: number }[]
  assert.deepEqual(lat.map((x) => [x.t, x.v]), [[1456747200, 52.52], [1456747260, 52.521]])
  const bad = await upload(JSON.stringify({ locations: [{ latitudeE7: 1 }] }))
  assert.equal(bad.status, 400)
  assert.equal(bad.body.index, 0)
})

test('Google Semantic Location History: place visits and activity segments', async () => {
  const month = { timelineObjects: [
    { activitySegment: { startLocation: { latitudeE7: 525200000, longitudeE7: 134050000 }, endLocation: { latitudeE7: 525076000, longitudeE7: 133904000 },
      duration: { startTimestamp: '2021-03-01T08:30:00.000Z', endTimestamp: '2021-03-01T08:55:00.000Z' }, distance: 1834, activityType: 'CYCLING' } },
    { placeVisit: { location: { latitudeE7: 525076000, longitudeE7: 133904000, placeId: 'ChIJ-work', name: 'Office' },
      duration: { startTimestampMs: '1614589200000', endTimestampMs: '1614618000000' } } },
  ] }
  const res = await upload(JSON.stringify(month), '?name=2021_MARCH.json')
  assert.equal(res.status, 200, JSON.stringify(res.body))
  assert.equal(res.body.format, 'google-semantic')
  const records = (await r.api('GET', '/api/v1/sources/google-timeline/records?limit=100')).body as { n: string; t: number; v?: number; vs?: string }[]
  const byName = Object.fromEntries(records.map((x) => [x.n, x.v ?? x.vs]))
  assert.equal(byName['activity/type'], 'CYCLING')
  assert.equal(byName['activity/distance'], 1834)
  assert.equal(byName['activity/duration'], 1500)
  assert.equal(byName['activity/end/lat'], 52.5076)
  assert.equal(byName['visit/name'], 'Office')
  assert.equal(byName['visit/duration'], 8 * 3600)
})

test('Google Timeline.json from the phone: segments, timeline paths and raw signals', async () => {
  const timeline = {
    semanticSegments: [
      { startTime: '2024-05-01T09:00:00.000+02:00', endTime: '2024-05-01T10:00:00.000+02:00', visit: { topCandidate: { placeId: 'p1', semanticType: 'HOME', placeLocation: { latLng: '52.5200000°, 13.4050000°' } } } },
      { startTime: '2024-05-01T10:00:00.000+02:00', endTime: '2024-05-01T10:20:00.000+02:00', activity: { start: { latLng: '52.52°, 13.405°' }, end: { latLng: '52.5076°, 13.3904°' }, distanceMeters: 2100.5, topCandidate: { type: 'WALKING' } } },
      { startTime: '2024-05-01T10:00:00.000+02:00', endTime: '2024-05-01T12:00:00.000+02:00', timelinePath: [{ point: '52.515°, 13.40°', time: '2024-05-01T10:05:00.000+02:00' }, { point: '52.51°, 13.395°', time: '2024-05-01T10:10:00.000+02:00' }] },
    ],
    rawSignals: [
      { position: { LatLng: '52.5201°, 13.4049°', accuracyMeters: 9, altitudeMeters: 41.2, source: 'GPS', timestamp: '2024-05-01T08:59:00.000+02:00' } },
      { wifiScan: { deliveryTime: '2024-05-01T09:00:00.000+02:00', devicesRecords: [] } },
    ],
    userLocationProfile: { frequentPlaces: [] },
  }
  const res = await upload(JSON.stringify(timeline), '?source=phone-timeline')
  assert.equal(res.status, 200, JSON.stringify(res.body))
  assert.equal(res.body.format, 'google-timeline')
  const lat = (await r.api('GET', '/api/v1/sources/phone-timeline/records?name=lat')).body as { t: number; v: number }[]
  assert.deepEqual(lat.map((x) => [new Date(x.t * 1000).toISOString(), x.v]), [
    ['2024-05-01T06:59:00.000Z', 52.5201], ['2024-05-01T08:05:00.000Z', 52.515], ['2024-05-01T08:10:00.000Z', 52.51],
  ])
  const types = (await r.api('GET', '/api/v1/sources/phone-timeline/records?name=visit/type,activity/type')).body as { vs: string }[]
  assert.deepEqual(types.map((x) => x.vs), ['HOME', 'WALKING'])
})

test('Google: an all-digit timestamp is seconds or milliseconds by its size; a time without an offset is UTC', async () => {
  const json = JSON.stringify({ locations: [
    { latitudeE7: 525200000, longitudeE7: 134050000, timestamp: '1456747200' },
    { latitudeE7: 525210000, longitudeE7: 134060000, timestampMs: '1456747260000' },
    { latitudeE7: 525220000, longitudeE7: 134070000, timestamp: '2016-02-29T12:02:00' },
  ] })
  const res = await inTimeZone('Asia/Kolkata', () => upload(json, '?source=google-digits'))
  assert.equal(res.status, 200, JSON.stringify(res.body))
  const lat = (await r.api('GET', '/api/v1/sources/google-digits/records?name=lat')).body as { t: number; v: number }[]
  assert.deepEqual(lat.map((x) => [x.t, x.v]), [[1456747200, 52.52], [1456747260, 52.521], [1456747320, 52.522]])
})

// Timeline.json as the phone's Maps app exports it on iOS (and older Android versions): a
// top-level array of segments, places written "geo:lat,lon", numbers as strings, and path
// points timed by minutes from the segment's start.
const PHONE_TIMELINE = [
  { endTime: '2024-05-01T10:00:00.000+02:00', startTime: '2024-05-01T09:00:00.000+02:00',
    visit: { hierarchyLevel: '0', probability: '0.91', topCandidate: { probability: '0.85', semanticType: 'Home', placeID: 'ChIJ-home', placeLocation: 'geo:52.520000,13.405000' } } },
  { endTime: '2024-05-01T10:20:00.000+02:00', startTime: '2024-05-01T10:00:00.000+02:00',
    activity: { probability: '0.99', start: 'geo:52.520000,13.405000', end: 'geo:52.507600,13.390400', distanceMeters: '2100.5', topCandidate: { type: 'walking', probability: '0.93' } } },
  { endTime: '2024-05-01T12:00:00.000+02:00', startTime: '2024-05-01T10:00:00.000+02:00',
    timelinePath: [{ point: 'geo:52.515000,13.400000', durationMinutesOffsetFromStartTime: '5' }, { point: 'geo:52.510000,13.395000', durationMinutesOffsetFromStartTime: '10' }] },
  { endTime: '2024-05-02T00:00:00.000+02:00', startTime: '2024-05-01T00:00:00.000+02:00', timelineMemory: { destinations: [{ identifier: 'ChIJ-berlin' }], distanceFromOriginKms: '3' } },
]

test('Google Timeline.json from the phone as a top-level array of segments, named or sniffed', async () => {
  for (const [query, source] of [['?format=google-timeline&source=phone-array', 'phone-array'], ['?source=phone-array-sniffed', 'phone-array-sniffed']]) {
    const res = await upload(JSON.stringify(PHONE_TIMELINE, null, 2), query)
    assert.equal(res.status, 200, JSON.stringify(res.body))
    assert.equal(res.body.format, 'google-timeline')
    const records = (await r.api('GET', `/api/v1/sources/${source}/records?limit=100`)).body as { n: string; t: number; v?: number; vs?: string }[]
    const rows = records.map((x) => [x.n, new Date(x.t * 1000).toISOString(), x.v ?? x.vs])
    assert.deepEqual(rows, [
      ['visit/duration', '2024-05-01T07:00:00.000Z', 3600], ['visit/lat', '2024-05-01T07:00:00.000Z', 52.52], ['visit/lon', '2024-05-01T07:00:00.000Z', 13.405],
      ['visit/type', '2024-05-01T07:00:00.000Z', 'Home'], ['visit/place', '2024-05-01T07:00:00.000Z', 'ChIJ-home'],
      ['activity/duration', '2024-05-01T08:00:00.000Z', 1200], ['activity/start/lat', '2024-05-01T08:00:00.000Z', 52.52], ['activity/start/lon', '2024-05-01T08:00:00.000Z', 13.405],
      ['activity/distance', '2024-05-01T08:00:00.000Z', 2100.5], ['activity/type', '2024-05-01T08:00:00.000Z', 'walking'],
      ['lat', '2024-05-01T08:05:00.000Z', 52.515], ['lon', '2024-05-01T08:05:00.000Z', 13.4],
      ['lat', '2024-05-01T08:10:00.000Z', 52.51], ['lon', '2024-05-01T08:10:00.000Z', 13.395],
      ['activity/end/lat', '2024-05-01T08:20:00.000Z', 52.5076], ['activity/end/lon', '2024-05-01T08:20:00.000Z', 13.3904],
    ])
  }
})

test('an import that writes no records fails and says so, whatever the format', async () => {
  for (const [body, query] of [
    [JSON.stringify({ semanticSegments: [], rawSignals: [] }), '?source=empty-timeline'],
    [JSON.stringify([{ some: 'thing' }]), '?format=google-timeline&source=empty-array'],
    ['<?xml version="1.0"?><gpx version="1.1" creator="t"><trk><trkseg><trkpt lat="52.5" lon="13.4"/></trkseg></trk></gpx>', '?source=empty-gpx'],
  ]) {
    const res = await upload(body!, query)
    assert.equal(res.status, 400, `${query}: ${JSON.stringify(res.body)}`)
    assert.match(res.body.detail, /wrote no records: /)
    const job = ((await r.api('GET', '/api/v1/imports')).body as { state: string; error: string }[])[0]!
    assert.equal(job.state, 'failed')
    assert.match(job.error, /wrote no records: /)
  }
})

test('a file that is none of the formats is refused with what Coffer does import', async () => {
  const res = await upload('hello, world')
  assert.equal(res.status, 400)
  assert.match(res.body.detail, /GPX/)
})

// An Apple Health export.xml as iOS writes it: an internal DTD (here deliberately not
// well-formed, as some iOS versions wrote it), quantity and category records, the same reading
// from iPhone and Watch, and a workout.
const HEALTH = `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE HealthData [
<!ELEMENT HealthData (ExportDate,Me,(Record|Correlation|Workout|ActivitySummary|ClinicalRecord)*)>
<!ATTLIST HealthData locale CDATA #REQUIRED>
<!ATTLIST Record type CDATA #REQUIRED unit CDATA #IMPLIED "broken >
]>
<HealthData locale="en_US">
 <ExportDate value="2024-03-01 09:00:00 +0100"/>
 <Me HKCharacteristicTypeIdentifierDateOfBirth="1990-01-01"/>
 <Record type="HKQuantityTypeIdentifierStepCount" sourceName="Alice’s iPhone" unit="count" creationDate="2024-02-29 10:10:00 +0100" startDate="2024-02-29 10:00:00 +0100" endDate="2024-02-29 10:05:00 +0100" value="420"/>
 <Record type="HKQuantityTypeIdentifierHeartRate" sourceName="Alice’s Apple Watch" unit="count/min" creationDate="2024-02-29 10:01:00 +0100" startDate="2024-02-29 10:01:00 +0100" endDate="2024-02-29 10:01:00 +0100" value="88">
  <MetadataEntry key="HKMetadataKeyHeartRateMotionContext" value="0"/>
 </Record>
 <Record type="HKQuantityTypeIdentifierHeartRate" sourceName="Alice’s iPhone" unit="count/min" creationDate="2024-02-29 10:02:00 +0100" startDate="2024-02-29 10:01:00 +0100" endDate="2024-02-29 10:01:00 +0100" value="88"/>
 <Record type="HKCategoryTypeIdentifierSleepAnalysis" sourceName="Alice’s Apple Watch" creationDate="2024-02-29 07:00:00 +0100" startDate="2024-02-28 23:30:00 +0100" endDate="2024-02-29 06:45:00 +0100" value="HKCategoryValueSleepAnalysisAsleepCore"/>
 <Workout workoutActivityType="HKWorkoutActivityTypeRunning" duration="31.5" durationUnit="min" totalDistance="5.2" totalDistanceUnit="km" totalEnergyBurned="320" totalEnergyBurnedUnit="kcal" sourceName="Alice’s Apple Watch" startDate="2024-02-29 18:00:00 +0100" endDate="2024-02-29 18:31:30 +0100"/>
</HealthData>
`

/** A zip with one stored (uncompressed) file, written from the ZIP application note. */
function zip(name: string, data: Buffer): Buffer {
  return zipOf([[name, data]])
}

/** A zip of stored files, in the order given: local headers and data, then the central directory. */
function zipOf(files: [name: string, data: Buffer][]): Buffer {
  const locals: Buffer[] = []
  const centrals: Buffer[] = []
  let offset = 0
  for (const [name, data] of files) {
    const crc = zlib.crc32(data)
    const local = Buffer.alloc(30)
    local.writeUInt32LE(0x04034b50, 0); local.writeUInt16LE(20, 4); local.writeUInt32LE(crc, 14)
    local.writeUInt32LE(data.length, 18); local.writeUInt32LE(data.length, 22); local.writeUInt16LE(Buffer.byteLength(name), 26)
    const central = Buffer.alloc(46)
    central.writeUInt32LE(0x02014b50, 0); central.writeUInt16LE(20, 4); central.writeUInt16LE(20, 6); central.writeUInt32LE(crc, 16)
    central.writeUInt32LE(data.length, 20); central.writeUInt32LE(data.length, 24); central.writeUInt16LE(Buffer.byteLength(name), 28)
    central.writeUInt32LE(offset, 42)
    locals.push(local, Buffer.from(name), data)
    centrals.push(central, Buffer.from(name))
    offset += local.length + Buffer.byteLength(name) + data.length
  }
  const directory = Buffer.concat(centrals)
  const end = Buffer.alloc(22)
  end.writeUInt32LE(0x06054b50, 0); end.writeUInt16LE(files.length, 8); end.writeUInt16LE(files.length, 10)
  end.writeUInt32LE(directory.length, 12); end.writeUInt32LE(offset, 16)
  return Buffer.concat([...locals, directory, end])
}

test('Apple Health: export.xml with a broken DTD, duplicates across sources stored once, workouts', async () => {
  const res = await upload(HEALTH, '?name=export.xml&source=health-xml')
  assert.equal(res.status, 200, JSON.stringify(res.body))
  assert.equal(res.body.format, 'apple-health')
  const records = (await r.api('GET', '/api/v1/sources/health-xml/records?limit=100')).body as { n: string; t: number; u?: string; v?: number; vs?: string }[]
  const rows = records.map((x) => [x.n, new Date(x.t * 1000).toISOString(), x.v ?? x.vs, x.u ?? null])
  assert.deepEqual(rows, [
    ['SleepAnalysis', '2024-02-28T22:30:00.000Z', 'HKCategoryValueSleepAnalysisAsleepCore', null],
    ['SleepAnalysis/duration', '2024-02-28T22:30:00.000Z', 7.25 * 3600, 's'],
    ['StepCount', '2024-02-29T09:00:00.000Z', 420, 'count'],
    ['HeartRate', '2024-02-29T09:01:00.000Z', 88, 'count/min'],
    ['workout/type', '2024-02-29T17:00:00.000Z', 'Running', null],
    ['workout/duration', '2024-02-29T17:00:00.000Z', 1890, 's'],
    ['workout/distance', '2024-02-29T17:00:00.000Z', 5.2, 'km'],
    ['workout/energy', '2024-02-29T17:00:00.000Z', 320, 'kcal'],
  ])
})

test('Apple Health: the exported zip is read as it is, without unpacking', async () => {
  const file = zip('apple_health_export/export.xml', Buffer.from(HEALTH))
  const res = await fetch(`${r.url}/api/v1/imports?name=export.zip&source=health-zip`, { method: 'POST', body: new Uint8Array(file), headers: { authorization: `Bearer ${r.token}`, 'content-type': 'application/zip' } })
  const body = await res.json()
  assert.equal(res.status, 200, JSON.stringify(body))
  assert.equal(body.records, 8)
  const notHealth = await fetch(`${r.url}/api/v1/imports?source=health-zip`, { method: 'POST', body: new Uint8Array(zip('notes.txt', Buffer.from('hi'))), headers: { authorization: `Bearer ${r.token}` } })
  assert.equal(notHealth.status, 400)
  assert.match((await notHealth.json()).detail, /no export\.xml/)
})

// The HL7 CDA document Apple puts beside the export (export_cda.xml): XML too, but not the export.
const CDA = `<?xml version="1.0" encoding="UTF-8"?>
<?xml-stylesheet type="text/xsl" href="cda.xsl"?>
<ClinicalDocument xmlns="urn:hl7-org:v3"><realmCode code="US"/><title>Health Export CDA</title></ClinicalDocument>
`

test('Apple Health: a zip whose export has a localised name is found by its <HealthData> root; the CDA is not taken for it', async () => {
  const post = async (file: Buffer, source: string) => {
    const res = await fetch(`${r.url}/api/v1/imports?name=export.zip&source=${source}`, { method: 'POST', body: new Uint8Array(file), headers: { authorization: `Bearer ${r.token}`, 'content-type': 'application/zip' } })
    return { status: res.status, body: await res.json() }
  }
  for (const name of ['exportar.xml', 'exporter.xml', 'エクスポート.xml']) {
    const file = zipOf([
      ['apple_health_export/export_cda.xml', Buffer.from(CDA)],
      ['apple_health_export/workout-routes/route_2024-02-29_6.00pm.gpx', Buffer.from('<?xml version="1.0"?><gpx version="1.1" creator="Apple Health Export"></gpx>')],
      [`apple_health_export/${name}`, Buffer.from(HEALTH)],
    ])
    const source = `health-${Buffer.from(name).toString('hex').slice(0, 16)}`
    const res = await post(file, source)
    assert.equal(res.status, 200, `${name}: ${JSON.stringify(res.body)}`)
    assert.equal(res.body.records, 8)
  }
  const onlyCda = await post(zipOf([['apple_health_export/export_cda.xml', Buffer.from(CDA)]]), 'health-cda')
  assert.equal(onlyCda.status, 400)
  assert.match(onlyCda.body.detail, /HealthData/)
})

// A bank-style export: Windows-1252 (ä in the header, € in a cell), semicolons, decimal commas,
// German dates, CRLF, a BOM-less file; and a sensor log in UTF-8 with a BOM, commas and ISO times.
const BANK_PROFILE = {
  time: { column: 'Buchungstag', format: 'DD.MM.YYYY', tz: 'Europe/Berlin' },
  values: [{ column: 'Betrag', name: 'amount', unit: 'EUR' }, { column: 'Empfänger', name: 'payee', type: 'string' }],
  logicalType: 'finance', decimal: ',',
}
const BANK = Buffer.from(iconvEncode('Buchungstag;Empfänger;Betrag\r\n29.02.2024;"Bäckerei Müller; Filiale 2";-4,50\r\n01.03.2024;Miete €;-1.250,00\r\n'))

function iconvEncode(text: string): Uint8Array {
  // Windows-1252 by hand for the few characters used here, so the fixture needs no encoder.
  const map: Record<string, number> = { 'ä': 0xe4, 'ü': 0xfc, '€': 0x80 }
  return Uint8Array.from([...text].map((ch) => map[ch] ?? ch.charCodeAt(0)))
}

test('CSV with a saved profile: delimiter and encoding detected, decimal commas, local dates', async () => {
  const saved = await r.api('PUT', '/api/v1/csv-profiles/bank', { body: BANK_PROFILE })
  assert.equal(saved.status, 200, JSON.stringify(saved.body))
  const res = await fetch(`${r.url}/api/v1/imports?profile=bank&source=bank&name=umsatz.csv`, { method: 'POST', body: BANK, headers: { authorization: `Bearer ${r.token}` } })
  const job = await res.json()
  assert.equal(res.status, 200, JSON.stringify(job))
  assert.equal(job.format, 'csv')
  const records = (await r.api('GET', '/api/v1/sources/bank/records')).body as { n: string; t: number; v?: number; vs?: string }[]
  assert.deepEqual(records.map((x) => [x.n, new Date(x.t * 1000).toISOString(), x.v ?? x.vs]), [
    ['amount', '2024-02-28T23:00:00.000Z', -4.5], ['payee', '2024-02-28T23:00:00.000Z', 'Bäckerei Müller; Filiale 2'],
    ['amount', '2024-02-29T23:00:00.000Z', -1250], ['payee', '2024-02-29T23:00:00.000Z', 'Miete €'],
  ])
  assert.equal((await r.api('GET', '/api/v1/sources/bank')).body.logicalType, 'finance')
})

test('a CSV preview reads the start of a file as the import will, and guesses a mapping to start from', async () => {
  const preview = async (body: Buffer | string) => fetch(`${r.url}/api/v1/imports/csv-preview`, { method: 'POST', body: typeof body === 'string' ? body : new Uint8Array(body), headers: { authorization: `Bearer ${r.token}` } })
  const bank = await (await preview(BANK)).json()
  assert.equal(bank.encoding, 'windows-1252')
  assert.equal(bank.delimiter, ';')
  assert.deepEqual(bank.columns, ['Buchungstag', 'Empfänger', 'Betrag'])
  assert.deepEqual(bank.rows[0], ['29.02.2024', 'Bäckerei Müller; Filiale 2', '-4,50'])
  assert.deepEqual(bank.guess, { time: { column: 'Buchungstag', format: 'DD.MM.YYYY' }, values: [{ column: 'Empfänger', type: 'string' }, { column: 'Betrag', type: 'number' }], decimal: ',' })

  const sensor = await (await preview('\uFEFFtime,temp,room\n2024-01-01T00:00:00Z,20.5,hall\n2024-01-01T00:05:00Z,20.7,hall\n')).json()
  assert.deepEqual(sensor.guess, { time: { column: 'time', format: 'iso' }, values: [{ column: 'temp', type: 'number' }, { column: 'room', type: 'string' }], decimal: '.' })
  const epoch = await (await preview('ts;kWh\n1735689600;1,5\n1735693200;2\n')).json()
  assert.deepEqual(epoch.guess.time, { column: 'ts', format: 'epoch' })

  // Past the first 64 KiB the box does not read on: the preview is for the start of a file.
  const big = await preview('time,temp\n' + '2024-01-01T00:00:00Z,20.5\n'.repeat(3000))
  assert.equal(big.status, 413)
  const notCsv = await preview('just one line of words\n')
  assert.equal(notCsv.status, 400)
  assert.match((await notCsv.json()).detail, /header line/)
})

test('CSV errors name the line and column; a bad profile is refused', async () => {
  await r.api('PUT', '/api/v1/csv-profiles/sensor', { body: { time: { column: 'time', format: 'iso' }, values: [{ column: 'temp', unit: 'Cel' }] } })
  const good = '\uFEFFtime,temp\n2024-01-01T00:00:00Z,20.5\n2024-01-01T00:05:00Z,20.7\n'
  assert.equal((await upload(good, '?profile=sensor&source=sensor')).body.records, 2)
  const badTime = await upload('time,temp\n2024-01-01T00:00:00Z,20.5\nyesterday,20.7\n', '?profile=sensor&source=sensor2')
  assert.equal(badTime.status, 400)
  assert.match(badTime.body.detail, /Line 3/)
  assert.equal((await r.api('GET', '/api/v1/sources/sensor2')).status, 404, 'the source the import created went with it')
  const noColumn = await upload('when,temp\n2024-01-01T00:00:00Z,20.5\n', '?profile=sensor&source=sensor3')
  assert.match(noColumn.body.detail, /no column "time"/)
  const badProfile = await r.api('PUT', '/api/v1/csv-profiles/bad', { body: { time: { column: 'd', format: 'HH:mm' }, values: [{ column: 'x' }] } })
  assert.equal(badProfile.status, 400)
  assert.match(badProfile.body.detail, /YYYY, MM and DD/)
  assert.equal((await upload('a,b\n1,2\n')).status, 400, 'a CSV without a profile is not guessed at')
  // Whatever the body says it is, it is read as bytes.
  const asText = await fetch(`${r.url}/api/v1/imports?profile=sensor&source=sensor4`, { method: 'POST', body: good, headers: { authorization: `Bearer ${r.token}`, 'content-type': 'text/plain' } })
  assert.equal((await asText.json()).records, 2)
})

// iCalendar per RFC 5545: a VTIMEZONE, a weekly series with an EXDATE and one moved occurrence,
// an event in a zone the file does not define, an all-day event (in the owner's time zone), and a folded line.
const ICS = [
  'BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//Coffer test//EN',
  'BEGIN:VTIMEZONE', 'TZID:Europe/Berlin',
  'BEGIN:DAYLIGHT', 'TZOFFSETFROM:+0100', 'TZOFFSETTO:+0200', 'TZNAME:CEST', 'DTSTART:19700329T020000', 'RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU', 'END:DAYLIGHT',
  'BEGIN:STANDARD', 'TZOFFSETFROM:+0200', 'TZOFFSETTO:+0100', 'TZNAME:CET', 'DTSTART:19701025T030000', 'RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU', 'END:STANDARD',
  'END:VTIMEZONE',
  'BEGIN:VEVENT', 'UID:standup@coffer', 'DTSTAMP:20260101T000000Z', 'DTSTART;TZID=Europe/Berlin:20260318T090000', 'DTEND;TZID=Europe/Berlin:20260318T091500',
  'RRULE:FREQ=WEEKLY;COUNT=4', 'EXDATE;TZID=Europe/Berlin:20260401T090000', 'SUMMARY:Stand-up with a rather long title that an exporter has fol', ' ded onto a second line', 'LOCATION:Room 1', 'END:VEVENT',
  'BEGIN:VEVENT', 'UID:standup@coffer', 'DTSTAMP:20260101T000000Z', 'RECURRENCE-ID;TZID=Europe/Berlin:20260325T090000', 'DTSTART;TZID=Europe/Berlin:20260325T100000', 'DTEND;TZID=Europe/Berlin:20260325T101500', 'SUMMARY:Stand-up (moved)', 'END:VEVENT',
  'BEGIN:VEVENT', 'UID:call@coffer', 'DTSTAMP:20260101T000000Z', 'DTSTART;TZID=America/New_York:20260310T120000', 'DTEND;TZID=America/New_York:20260310T130000', 'SUMMARY:Call', 'END:VEVENT',
  'BEGIN:VEVENT', 'UID:holiday@coffer', 'DTSTAMP:20260101T000000Z', 'DTSTART;VALUE=DATE:20260406', 'DTEND;VALUE=DATE:20260407', 'SUMMARY:Easter Monday', 'END:VEVENT',
  'END:VCALENDAR', '',
].join('\r\n')

test('iCalendar: time zones, a recurring series expanded with its exception and moved occurrence', async () => {
  const res = await upload(ICS, '?name=work.ics')
  assert.equal(res.status, 200, JSON.stringify(res.body))
  assert.equal(res.body.format, 'ical')
  const summaries = (await r.api('GET', '/api/v1/sources/calendar/records?name=summary')).body as { t: number; vs: string }[]
  const easterMonday = new Date(wallClockToEpoch(r.box.home.config.timeZone ?? 'UTC', Date.UTC(2026, 3, 6) / 1000) * 1000).toISOString()
  assert.deepEqual(summaries.map((x) => [new Date(x.t * 1000).toISOString(), x.vs]), [
    ['2026-03-10T16:00:00.000Z', 'Call'],
    ['2026-03-18T08:00:00.000Z', 'Stand-up with a rather long title that an exporter has folded onto a second line'],
    ['2026-03-25T09:00:00.000Z', 'Stand-up (moved)'],
    [easterMonday, 'Easter Monday'],
    ['2026-04-08T07:00:00.000Z', 'Stand-up with a rather long title that an exporter has folded onto a second line'],
  ])
  const durations = (await r.api('GET', '/api/v1/sources/calendar/records?name=duration')).body as { v: number }[]
  assert.deepEqual(durations.map((x) => x.v), [3600, 900, 900, 86400, 900])
  const truncated = await upload(ICS.slice(0, ICS.indexOf('SUMMARY:Call')), '?source=calendar2')
  assert.equal(truncated.status, 400)
  assert.match(truncated.body.detail, /truncated/)
  assert.equal((await r.api('GET', '/api/v1/sources/calendar2')).status, 404, 'the source the import created went with it')
})

test('progress events: an import can be followed as server-sent events until it ends', async () => {
  const id = crypto.randomUUID()
  const points = Array.from({ length: 20_000 }, (_, i) => `<trkpt lat="52.5" lon="13.4"><time>${new Date(Date.UTC(2023, 0, 1) + i * 1000).toISOString()}</time></trkpt>`).join('\n')
  const importing = upload(`<?xml version="1.0"?>\n<gpx version="1.1" creator="t"><trk><trkseg>\n${points}\n</trkseg></trk></gpx>\n`, `?id=${id}&source=followed`)
  const events = await until('the import to be known to the box', async () => {
    const res = await fetch(`${r.url}/api/v1/imports/${id}/events`, { headers: { authorization: `Bearer ${r.token}` } })
    if (res.status !== 404) return res
    await res.arrayBuffer()
    return undefined
  })
  assert.equal(events.headers.get('content-type'), 'text/event-stream')
  const text = await events.text()
  const last = text.trim().split('\n\n').at(-1)!
  assert.match(last, /^event: end/)
  assert.equal(JSON.parse(last.split('data: ')[1]!).records, 40_000)
  assert.equal((await importing).body.records, 40_000)
})
