/** Real headless Chromium (the system's, driven by playwright-core) and the checks every page gets. */
import fs from 'node:fs'
import path from 'node:path'
import { createRequire } from 'node:module'
import assert from 'node:assert/strict'
import { chromium, type BrowserContext, type Page } from 'playwright-core'
import { PASSPHRASE, tempDir } from '../../box/test/helpers.ts'
import { COCKPIT_DIR } from '../../box/src/api/cockpit.ts'

export const CHROMIUM = '/usr/bin/chromium'
export const ARTIFACTS = path.resolve(import.meta.dirname, '../../../test-artifacts')
const AXE = fs.readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8')

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

export function assertBuilt(): void {
  assert.ok(fs.existsSync(path.join(COCKPIT_DIR, 'index.html')), 'The cockpit is not built: run `npm run build` first (npm test does).')
}

/** A fresh Chromium on a box's cockpit, logged in as the owner, its console errors collected. */
export async function loggedIn(url: string): Promise<{ context: BrowserContext; page: Page; errors: string[] }> {
  assertBuilt()
  const context = await launch(tempDir('coffer-chromium-'))
  const page = context.pages()[0] ?? await context.newPage()
  const errors = watchErrors(page)
  await page.goto(url)
  await page.getByLabel('Passphrase').fill(PASSPHRASE)
  await page.keyboard.press('Enter')
  await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor()
  return { context, page, errors }
}

/** Console errors and uncaught exceptions, collected for the whole walk. */
export function watchErrors(page: Page): string[] {
  const errors: string[] = []
  page.on('console', (msg) => { if (msg.type() === 'error') errors.push(msg.text()) })
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

/** The page as it is now, at whatever width it is set to, does not scroll sideways; `what` names it in the failure. */
export async function assertNoSidewaysScroll(page: Page, what: string): Promise<void> {
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)
  assert.ok(overflow <= 0, `${what} scrolls sideways by ${overflow}px at ${page.viewportSize()?.width}px`)
}

export async function screenshot(page: Page, name: string): Promise<void> {
  fs.mkdirSync(ARTIFACTS, { recursive: true })
  await page.screenshot({ path: path.join(ARTIFACTS, `cockpit-${name}.png`), fullPage: true })
}

/**
 * Keyboard alone: from the top of the page, Tab reaches every control on it, in turn, and each
 * shows where the focus is (its own ring, or its box's, for a file input hidden inside a drop zone).
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
      const ring = el.getBoundingClientRect().width <= 1 ? el.closest('.dropzone') : el
      const style = ring ? getComputedStyle(ring) : null
      const visible = !!style && style.outlineStyle !== 'none' && style.outlineWidth !== '0px'
      return { key, visible, what: `${el.tagName.toLowerCase()} "${(el.getAttribute('aria-label') ?? el.textContent ?? '').trim().slice(0, 40)}"` }
    })
    if (!seen) continue
    if (seen.key === null) unmarked.push(seen.what)
    else reached.add(seen.key)
    assert.ok(seen.visible, `${name}: ${seen.what} has focus but shows no focus ring`)
  }
  assert.equal(reached.size, controls, `${name}: Tab reached ${reached.size} of ${controls} controls${unmarked.length ? `; also focused: ${unmarked.join(', ')}` : ''}`)
}
