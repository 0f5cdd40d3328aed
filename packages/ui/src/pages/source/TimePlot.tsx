/**
 * An interactive time-series plot in plain SVG. Every change of the visible range asks the box
 * again for buckets sized to that range, so the browser never holds more than a few hundred
 * points, whether the series has a thousand points or ten million. While the new answer is on
 * its way the previous one is drawn at the new scale, so zooming and panning stay immediate.
 */
import { useEffect, useMemo, useRef, useState, type KeyboardEvent, type PointerEvent } from 'react'
import { api } from '../../api/client.ts'
import type { BucketValue } from '@coffer/box'
import { formatTime } from '../../components/format.ts'
import { ErrorNotice } from '../../components/Notice.tsx'
import { DAY } from '../../../../box/src/duration/index.ts'
import { bucketFor } from './buckets.ts'
import { linePath, runs } from '../../components/runs.ts'
import { useLoad } from '../../components/useLoad.ts'

export interface Range { from: number; to: number }

interface Band { buckets: BucketValue[]; bucket: string; unit: string | null }

const HEIGHT = 260
const PAD = { left: 56, right: 12, top: 12, bottom: 28 }
const ZONE = Intl.DateTimeFormat().resolvedOptions().timeZone
const REQUERY_MS = 120
const MIN_SPAN = 10

export function TimePlot({ source, name, range, full, onRange }: { source: string; name: string; range: Range; full: Range; onRange: (r: Range) => void }) {
  const box = useRef<HTMLDivElement>(null)
  const svg = useRef<SVGSVGElement>(null)
  const [width, setWidth] = useState(640)

  useEffect(() => {
    const el = box.current
    if (!el) return
    const observer = new ResizeObserver(([entry]) => entry && setWidth(Math.max(280, Math.floor(entry.contentRect.width))))
    observer.observe(el)
    return () => observer.disconnect()
  }, [])

  const inner = width - PAD.left - PAD.right
  const bucket = bucketFor(range.to - range.from, Math.max(50, Math.floor(inner / 3)))

  const loaded = useLoad(async (signal): Promise<Band> => {
    // Aligned to the bucket grid, so neighbouring views share bucket edges.
    const from = Math.floor(range.from / bucket.seconds) * bucket.seconds
    const to = Math.ceil(range.to / bucket.seconds) * bucket.seconds
    const answer = await api.aggregate(source, { fn: 'mean,min,max', bucket: bucket.spec, from, to: to > from ? to : from + bucket.seconds, name, tz: ZONE }, signal)
    return { buckets: answer.buckets, bucket: bucket.spec, unit: answer.unit }
  }, [source, name, range.from, range.to, bucket.spec, bucket.seconds], { delay: REQUERY_MS })
  const band = loaded.data ?? null

  const x = (t: number) => PAD.left + ((t - range.from) / (range.to - range.from)) * inner
  const yDomain = useMemo(() => {
    const values: number[] = []
    band?.buckets.forEach((b) => {
      if (b.value !== null && b.end > range.from && b.start < range.to) values.push(b.values!.min!, b.values!.max!)
    })
    if (values.length === 0) return { lo: 0, hi: 1 }
    const lo = Math.min(...values)
    const hi = Math.max(...values)
    const pad = (hi - lo) * 0.05 || Math.abs(hi) * 0.05 || 1
    return { lo: lo - pad, hi: hi + pad }
  }, [band, range.from, range.to])
  const plotHeight = HEIGHT - PAD.top - PAD.bottom
  const y = (v: number) => PAD.top + (1 - (v - yDomain.lo) / (yDomain.hi - yDomain.lo)) * plotHeight

  // Zoom around a point, keeping it where it is on screen.
  function zoom(factor: number, at = (range.from + range.to) / 2) {
    const span = Math.min(full.to - full.from, Math.max(MIN_SPAN, (range.to - range.from) * factor))
    const ratio = (at - range.from) / (range.to - range.from)
    onRange(clamp({ from: at - span * ratio, to: at - span * ratio + span }, full))
  }
  function pan(fraction: number) {
    const shift = (range.to - range.from) * fraction
    onRange(clamp({ from: range.from + shift, to: range.to + shift }, full))
  }

  // React's wheel listeners are passive; the plot must stop the page from scrolling while it zooms.
  const zoomRef = useRef(zoom)
  zoomRef.current = zoom
  useEffect(() => {
    const el = svg.current
    if (!el) return
    const onWheel = (e: WheelEvent) => {
      e.preventDefault()
      const rect = el.getBoundingClientRect()
      const at = rangeAt(e.clientX - rect.left)
      zoomRef.current(e.deltaY > 0 ? 1.25 : 0.8, at)
    }
    el.addEventListener('wheel', onWheel, { passive: false })
    return () => el.removeEventListener('wheel', onWheel)
  })
  const rangeAt = (px: number) => range.from + ((px - PAD.left) / inner) * (range.to - range.from)

  const drag = useRef<{ x: number; range: Range } | null>(null)
  const onPointerDown = (e: PointerEvent<SVGSVGElement>) => {
    e.currentTarget.setPointerCapture(e.pointerId)
    drag.current = { x: e.clientX, range }
  }
  const onPointerMove = (e: PointerEvent<SVGSVGElement>) => {
    if (!drag.current) return
    const start = drag.current
    const shift = ((start.x - e.clientX) / inner) * (start.range.to - start.range.from)
    onRange(clamp({ from: start.range.from + shift, to: start.range.to + shift }, full))
  }
  const onPointerUp = () => { drag.current = null }
  const onKeyDown = (e: KeyboardEvent) => {
    const keys: Record<string, () => void> = { ArrowLeft: () => pan(-0.2), ArrowRight: () => pan(0.2), '+': () => zoom(0.5), '=': () => zoom(0.5), '-': () => zoom(2), Home: () => onRange(full) }
    const act = keys[e.key]
    if (act) {
      e.preventDefault()
      act()
    }
  }

  const meanPath = linePath(band?.buckets ?? [], x, y)
  const area = bandPath(band?.buckets ?? [], x, y)
  const xTicks = ticks(range.from, range.to, Math.max(2, Math.floor(inner / 120)))
  const yTicks = niceTicks(yDomain.lo, yDomain.hi, 4)
  // As many decimals as the step between ticks needs, so neighbouring labels never read the same.
  const tickDecimals = yTicks.length > 1 ? Math.max(0, -Math.floor(Math.log10(yTicks[1]! - yTicks[0]!) + 1e-9)) : 0
  const empty = band !== null && band.buckets.every((b) => b.value === null)

  return (
    <div className="plot" ref={box}>
      <div className="toolbar" role="group" aria-label="Plot controls">
        <button type="button" onClick={() => zoom(0.5)}>Zoom in</button>
        <button type="button" onClick={() => zoom(2)}>Zoom out</button>
        <button type="button" onClick={() => pan(-0.5)} aria-label="Earlier">← Earlier</button>
        <button type="button" onClick={() => pan(0.5)} aria-label="Later">Later →</button>
        <button type="button" onClick={() => onRange(full)}>Show all</button>
      </div>
      <p className="muted" aria-live="polite">
        {formatTime(range.from)} – {formatTime(range.to)}{band ? `, in buckets of ${band.bucket}` : ''}{loaded.loading ? ' (updating…)' : ''}
      </p>
      <svg
        ref={svg} width={width} height={HEIGHT} viewBox={`0 0 ${width} ${HEIGHT}`} tabIndex={0} role="img"
        aria-label={`Plot of ${name} in ${source}: mean with minimum and maximum per bucket. Arrow keys pan, plus and minus zoom, Home shows all.`}
        onPointerDown={onPointerDown} onPointerMove={onPointerMove} onPointerUp={onPointerUp} onPointerCancel={onPointerUp} onKeyDown={onKeyDown}
        className="timeplot"
      >
        <defs><clipPath id="plot-area"><rect x={PAD.left} y={PAD.top} width={inner} height={plotHeight} /></clipPath></defs>
        {yTicks.map((v) => (
          <g key={v}>
            <line x1={PAD.left} x2={width - PAD.right} y1={y(v)} y2={y(v)} className="grid" />
            <text x={PAD.left - 6} y={y(v) + 4} textAnchor="end" className="tick">{v.toLocaleString(undefined, { minimumFractionDigits: tickDecimals, maximumFractionDigits: tickDecimals })}</text>
          </g>
        ))}
        {xTicks.map((t) => (
          <text key={t} x={x(t)} y={HEIGHT - 8} textAnchor="middle" className="tick">{tickLabel(t, range.to - range.from)}</text>
        ))}
        <g clipPath="url(#plot-area)">
          <path d={area} className="band" />
          <path d={meanPath} className="line" />
        </g>
        {empty && <text x={PAD.left + inner / 2} y={PAD.top + plotHeight / 2} textAnchor="middle" className="tick">No data in this range</text>}
      </svg>
      {band?.unit && <p className="muted">Unit: {band.unit}</p>}
      <ErrorNotice error={loaded.error} />
    </div>
  )
}

function clamp(r: Range, full: Range): Range {
  const span = r.to - r.from
  if (span >= full.to - full.from) return full
  if (r.from < full.from) return { from: full.from, to: full.from + span }
  if (r.to > full.to) return { from: full.to - span, to: full.to }
  return r
}

/** The min–max envelope, one closed shape per run of filled buckets. */
function bandPath(buckets: BucketValue[], x: (t: number) => number, y: (v: number) => number): string {
  return runs(buckets).map((run) => {
    const top = run.map((p, i) => `${i === 0 ? 'M' : 'L'}${x((p.start + p.end) / 2).toFixed(1)},${y(p.values!.max!).toFixed(1)}`).join('')
    const bottom = run.slice().reverse().map((p) => `L${x((p.start + p.end) / 2).toFixed(1)},${y(p.values!.min!).toFixed(1)}`).join('')
    return `${top}${bottom}Z`
  }).join('')
}

function ticks(from: number, to: number, count: number): number[] {
  const step = (to - from) / count
  // Interior ticks only: labels at the very edges would be cut off.
  return Array.from({ length: count - 1 }, (_, i) => from + (i + 1) * step)
}

function niceTicks(lo: number, hi: number, count: number): number[] {
  const raw = (hi - lo) / count
  const mag = 10 ** Math.floor(Math.log10(raw || 1))
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw
  const out: number[] = []
  for (let v = Math.ceil(lo / step) * step; v <= hi; v += step) out.push(Number(v.toPrecision(12)))
  return out
}

function tickLabel(t: number, span: number): string {
  const d = new Date(t * 1000)
  if (span > 3 * DAY) return d.toLocaleDateString(undefined, { month: 'short', day: 'numeric' })
  if (span > DAY) return d.toLocaleString(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' })
  return d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: span < 600 ? '2-digit' : undefined })
}
