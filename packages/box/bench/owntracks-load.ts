/**
 * The OwnTracks load: 200 phones posting locations, each with its own Basic credentials. Runs in
 * a process of its own, as phones are not inside the box, so the load generator does not take the
 * box's event loop. Reads {url, devices, duration} as JSON on stdin; prints one JSON line.
 */
import autocannon from 'autocannon'

const T0 = 1_735_689_600 // 2025-01-01T00:00:00Z

let input = ''
for await (const chunk of process.stdin) input += chunk
const { url, devices, duration } = JSON.parse(input) as { url: string; devices: string[]; duration: number }

let next = 0
// Each device posts its next location one second after its last, so no post is a retry.
const post = (req: object) => {
  const i = next++
  const body = JSON.stringify({ _type: 'location', lat: 52.52, lon: 13.405, acc: 10, batt: 80, tid: 'ph', t: 'u', tst: T0 + Math.floor(i / devices.length) })
  return { ...req, body, headers: { 'content-type': 'application/json', authorization: devices[i % devices.length]!, 'x-limit-d': 'phone' } }
}
const result = await autocannon({ url, method: 'POST', duration, connections: devices.length, requests: [{ setupRequest: post }] })
console.log(JSON.stringify({ rps: result.requests.average, p50: result.latency.p50, errors: result.errors + result.non2xx + result.timeouts, statusCodes: result.statusCodeStats }))
