/** The box's settings: its time zone, and a map tile server for location tracks (off unless chosen). */
import { useState } from 'react'
import { api } from '../../api/client.ts'
import type { Settings } from '@coffer/box'
import { ErrorNotice, StatusNotice } from '../../components/Notice.tsx'
import { useAction } from '../../components/useAction.ts'
import { useLoad } from '../../components/useLoad.ts'
import { useTitle } from '../../components/useTitle.ts'

export default function SettingsPage() {
  useTitle('Settings')
  const loaded = useLoad((signal) => api.settings(signal), [])
  const settings = loaded.data
  return (
    <>
      <h1>Settings</h1>
      <ErrorNotice error={loaded.error} />
      {!settings && loaded.loading && <p role="status">Loading…</p>}
      {settings && (
        <>
          <dl className="facts">
            <div><dt>Time zone</dt><dd>{settings.timeZone}</dd></div>
          </dl>
          <p className="muted">Days and hours given to apps follow this zone; it was set when the box was made.</p>
          <MapSettings settings={settings} />
        </>
      )}
    </>
  )
}

/** Each change reloads the page (see reloadWith), which then shows the settings as the box now has them. */
function MapSettings({ settings }: { settings: Settings }) {
  const [tiles, setTiles] = useState(settings.map?.tiles ?? '')
  const [attribution, setAttribution] = useState(settings.map?.attribution ?? '')
  const [done, setDone] = useState<string | null>(() => takeNews())
  const action = useAction()

  const save = () => action.run(async () => {
    setDone(null)
    // A page served over https may not show images fetched over plain http.
    if (window.location.protocol === 'https:' && tiles.trim().startsWith('http:')) throw new Error('This cockpit is open over https, so the browser would block tiles fetched over plain http: use the tile server\'s https address.')
    await api.setMap({ tiles: tiles.trim(), ...(attribution.trim() ? { attribution: attribution.trim() } : {}) })
    reloadWith('Saved. Location tracks are now drawn over these tiles.')
  })
  const clear = () => action.run(async () => {
    setDone(null)
    await api.clearMap()
    reloadWith('Removed. Tracks are drawn on their own, and your browser asks no tile server for anything.')
  })

  return (
    <section aria-labelledby="map-heading">
      <h2 id="map-heading">Map tiles</h2>
      <p>
        Tracks are drawn on their own unless you choose a tile server. Your browser then fetches map images from it while you look
        at a track, so <strong>that server learns which areas you look at</strong>. A tile server on your own network keeps that at home.
      </p>
      <p>Currently: {settings.map ? <>tiles from <code>{settings.map.tiles}</code></> : 'no tile server.'}</p>
      <form onSubmit={(e) => { e.preventDefault(); void save() }} noValidate>
        <div className="inline-form">
          <div className="wide">
            <label htmlFor="map-tiles">Tile URL</label>
            <input id="map-tiles" type="url" value={tiles} onChange={(e) => setTiles(e.target.value)} aria-describedby="map-tiles-hint" spellCheck={false} />
            <span id="map-tiles-hint" className="hint">with {'{z}'}, {'{x}'} and {'{y}'}: https://tiles.example.org/{'{z}'}/{'{x}'}/{'{y}'}.png</span>
          </div>
          <div>
            <label htmlFor="map-attribution">Attribution (optional)</label>
            <input id="map-attribution" value={attribution} onChange={(e) => setAttribution(e.target.value)} aria-describedby="map-attribution-hint" />
            <span id="map-attribution-hint" className="hint">the credit the tile server asks for</span>
          </div>
        </div>
        <div className="actions">
          <button type="submit" disabled={action.busy}>Save</button>
          {settings.map && <button type="button" onClick={() => void clear()} disabled={action.busy}>Stop using tiles</button>}
        </div>
      </form>
      {action.error && <p role="alert" className="notice error">{action.error}</p>}
      {done && <StatusNotice>{done}</StatusNotice>}
    </section>
  )
}

const NEWS = 'coffer.settings-news'

/**
 * The page's security policy names the tile server, and a policy is fixed when the page loads:
 * after a change the cockpit loads again, and says what changed once it has.
 */
function reloadWith(news: string): void {
  sessionStorage.setItem(NEWS, news)
  window.location.reload()
}

function takeNews(): string | null {
  const news = sessionStorage.getItem(NEWS)
  sessionStorage.removeItem(NEWS)
  return news
}
