/** An app's views, drawn from their Vega-Lite specs. Vega is large, so this module (and it) load only here. */
import { useEffect, useRef } from 'react'
import embed from 'vega-embed'
import { expressionInterpreter } from 'vega-interpreter'
import { api } from '../../api/client.ts'
import type { AppView } from '@coffer/box'
import { formatTime } from '../../components/format.ts'
import { ErrorNotice } from '../../components/Notice.tsx'
import { useLoad } from '../../components/useLoad.ts'

export default function AppViews({ app }: { app: string }) {
  const views = useLoad((signal) => api.views(app, signal), [app])
  return (
    <div className="views">
      <ErrorNotice error={views.error} />
      {views.loading && <p role="status">Loading views…</p>}
      {views.data?.length === 0 && <p>This app has not shown anything yet. Run it to make its views.</p>}
      {views.data?.map((v) => <View key={v.view} view={v} />)}
    </div>
  )
}

function View({ view }: { view: AppView }) {
  const ref = useRef<HTMLDivElement>(null)
  useEffect(() => {
    const el = ref.current
    if (!el) return
    // No actions menu: its "open in editor" link would send the data to a website. Expressions are
    // interpreted, not compiled with Function(), so the page's policy need not allow eval.
    const result = embed(el, view.spec as Parameters<typeof embed>[1], { actions: false, renderer: 'svg', ast: true, expr: expressionInterpreter })
    result.catch((err: unknown) => {
      el.textContent = `This view could not be drawn: ${String(err)}`
    })
    return () => { result.then((r) => r.finalize(), () => undefined) }
  }, [view])
  return (
    <figure className="view">
      <figcaption><strong>{view.title}</strong> <span className="muted">updated {formatTime(view.updatedAt)}</span></figcaption>
      <div ref={ref} role="img" aria-label={`Chart: ${view.title}`} />
    </figure>
  )
}
