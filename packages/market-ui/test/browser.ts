/**
 * Real headless Chromium (the system's, driven by playwright-core) on a real market serving its
 * built pages, and the checks every page gets: the cockpit's (packages/ui/test/browser.ts), kept
 * here so the market's pages test without loading the box.
 */
import fs from 'node:fs'
import path from 'node:path'
import { createRequire } from 'node:module'
import assert from 'node:assert/strict'
import { chromium, type BrowserContext, type Page } from 'playwright-core'
import { MARKET_PAGES_DIR } from '../../market/src/pages/index.ts'

export const CHROMIUM = '/usr/bin/chromium'
export const ARTIFACTS = path.resolve(import.meta.dirname, '../../../test-artifacts')
const AXE = fs.readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8')

export function assertBuilt(): void {
  assert.ok(fs.existsSync(path.join(MARKET_PAGES_DIR, 'index.html')), 'The market pages are not built: run `npm run build` first (npm test does).')
}

export async function screenshot(page: Page, name: string): Promise<void> {
  fs.mkdirSync(ARTIFACTS, { recursive: true })
  await page.screenshot({ path: path.join(ARTIFACTS, `market-${name}.png`), fullPage: true })
}

export async function launch(userDataDir: string): Promise<BrowserContext> {
  assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing: install it with apt-get install -y chromium`)
  return chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    viewport: { width: 1280, height: 900 },
    timezoneId: 'UTC',
    locale: 'en-GB',
  })
}

/**
 * Console errors and uncaught exceptions, collected for the whole walk. A failed request is
 * logged with its URL, so a test can tell an answer it expects (a 404 that means "no result
 * yet") from one it does not.
 */
export function watchErrors(page: Page): string[] {
  const errors: string[] = []
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return
    const url = msg.location().url
    errors.push(url && msg.text().startsWith('Failed to load resource') ? `${msg.text()} ${new URL(url).pathname}` : msg.text())
  })
  page.on('pageerror', (err) => errors.push(String(err)))
  return errors
}

interface AxeResult { violations: { id: string; impact: string | null; help: string; nodes: { target: unknown[] }[] }[] }

/** axe-core on the page as it is now: no serious or critical violations. */
export async function assertAccessible(page: Page, name: string): Promise<void> {
  // Evaluated through the debugging protocol, so the page's own CSP does not stop it.
  await page.evaluate(AXE)
  const result = await page.evaluate(() => (globalThis as unknown as { axe: { run: () => Promise<unknown> } }).axe.run()) as AxeResult
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
  assert.deepEqual(bad.map((v) => `${v.impact} ${v.id}: ${v.help} at ${v.nodes.map((n) => JSON.stringify(n.target)).join(', ')}`), [], `axe on ${name}`)
}

/**
 * Keyboard alone: from the top of the page, Tab reaches every control on it, in turn, and each
 * shows where the focus is.
 * Radio buttons count once per group, as Tab enters a group and the arrow keys move within it.
 */
export async function assertKeyboardReachable(page: Page, name: string): Promise<void> {
  const controls = await page.evaluate(() => {
    const seenGroups = new Set<string>()
    const all = [...document.querySelectorAll<HTMLElement>('a[href], button, input, select, textarea, summary, [tabindex]')]
    let n = 0
    for (const el of all) {
      el.removeAttribute('data-kb')
      const disabled = (el as HTMLButtonElement).disabled || el.getAttribute('tabindex') === '-1' || (el as HTMLInputElement).type === 'hidden'
      if (disabled || el.getClientRects().length === 0 || el.closest('[inert], dialog:not([open])')) continue
      if ((el as HTMLInputElement).type === 'radio') {
        const group = (el as HTMLInputElement).name
        if (seenGroups.has(group)) continue
        seenGroups.add(group)
        el.closest('[role=radiogroup], fieldset')?.setAttribute('data-kb-group', group)
      }
      el.setAttribute('data-kb', String(n++))
    }
    return n
  })
  await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur())
  const reached = new Set<string>()
  const unmarked: string[] = []
  for (let presses = 0; presses < controls * 2 + 10 && reached.size < controls; presses++) {
    await page.keyboard.press('Tab')
    const seen = await page.evaluate(() => {
      const el = document.activeElement as HTMLElement | null
      if (!el || el === document.body) return null
      const radio = (el as HTMLInputElement).type === 'radio' ? document.querySelector(`[data-kb-group="${(el as HTMLInputElement).name}"] [data-kb]`) : null
      const key = radio?.getAttribute('data-kb') ?? el.getAttribute('data-kb')
      // Written without inner functions: the test's compiler would wrap them in a helper the page lacks.
      const style = getComputedStyle(el)
      const visible = style.outlineStyle !== 'none' && style.outlineWidth !== '0px'
      return { key, visible, what: `${el.tagName.toLowerCase()} "${(el.getAttribute('aria-label') ?? el.textContent ?? '').trim().slice(0, 40)}"` }
    })
    if (!seen) continue
    if (seen.key === null) unmarked.push(seen.what)
    else reached.add(seen.key)
    assert.ok(seen.visible, `${name}: ${seen.what} has focus but shows no focus ring`)
  }
  assert.equal(reached.size, controls, `${name}: Tab reached ${reached.size} of ${controls} controls${unmarked.length ? `; also focused: ${unmarked.join(', ')}` : ''}`)
}
