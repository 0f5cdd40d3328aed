/**
 * The statement as one self-contained HTML document: no scripts, no external fonts, styles or
 * images, so it opens the same offline, from a mail attachment or a USB stick. Every string that
 * came from the audit log (subjects, sources, destinations, previews, reasons), from a market
 * (processors' names, purposes) or from a replica's record (its name) is escaped: an app chooses
 * its own destination and preview text, a processor its name and purpose, and none of them must
 * be able to script the page.
 */
import type { Statement } from './build.ts'
import { auditBanner, backupPart, generated, heading, marketsPart, period, sentences, summary, tables, title, type TableView } from './words.ts'

// Column headers and short cells (a name, a level) break between words, not inside them; long
// values in the first column or a preview (a URL, an id) still wrap anywhere, so a table fits the page.
const STYLE = `
  :root { color-scheme: light; }
  body { font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1a1a1a; background: #fff; max-width: 60rem; margin: 0 auto; padding: 1.5rem; }
  h1 { font-size: 1.8rem; margin: 0 0 .25rem; }
  h2 { font-size: 1.3rem; margin: 2rem 0 .5rem; border-bottom: 1px solid #ccc; padding-bottom: .25rem; }
  .period, .generated { color: #444; margin: 0; }
  .banner { border: 2px solid; border-radius: .4rem; padding: .75rem 1rem; margin: 1.25rem 0; }
  .banner.ok { background: #e7f5ec; border-color: #1e7a3c; color: #0d3b1c; }
  .banner.bad { background: #fdecec; border-color: #b3261e; color: #5c0f0a; }
  .banner h2 { font-size: 1.1rem; margin: 0 0 .25rem; border: 0; padding: 0; }
  .banner p { margin: 0; font-weight: 600; }
  ul { padding-left: 1.25rem; }
  li { margin: .2rem 0; }
  table { border-collapse: collapse; width: 100%; margin: .75rem 0 1.25rem; font-size: .95rem; }
  caption { text-align: left; font-weight: 600; padding: .25rem 0; }
  th, td { border: 1px solid #bbb; padding: .3rem .5rem; text-align: left; vertical-align: top; overflow-wrap: anywhere; }
  thead th { background: #f0f0f0; }
  thead th { overflow-wrap: normal; }
  td { overflow-wrap: break-word; }
  td.preview { overflow-wrap: anywhere; }
  td.number { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
  td.when { white-space: nowrap; }
  td.preview { font-family: ui-monospace, Menlo, Consolas, monospace; white-space: pre-wrap; }
  @media print { body { padding: 0; } .banner { break-inside: avoid; } section { break-inside: avoid-page; } }
`

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]!)
}

export function renderHtml(statement: Statement): string {
  const banner = auditBanner(statement)
  const made = generated(statement)
  const parts: string[] = [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    // Nothing on this page may load or run anything, even if an escape were ever missed.
    '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; style-src \'unsafe-inline\'">',
    `<title>${escapeHtml(title(statement))}</title>`,
    `<style>${STYLE}</style>`,
    '</head>',
    '<body>',
    '<main>',
    '<header>',
    `<h1>${escapeHtml(title(statement))}</h1>`,
    `<p class="period">${escapeHtml(period(statement))}</p>`,
    made ? `<p class="generated">${escapeHtml(made)}</p>` : '',
    '</header>',
    `<section class="banner ${banner.ok ? 'ok' : 'bad'}" role="${banner.ok ? 'status' : 'alert'}" aria-labelledby="audit-heading">`,
    `<h2 id="audit-heading">${banner.ok ? 'Audit log verified' : 'Audit log NOT verified'}</h2>`,
    `<p>${escapeHtml(banner.headline)}</p>`,
    banner.details.length > 0 ? `<ul>${banner.details.map((d) => `<li>${escapeHtml(d)}</li>`).join('')}</ul>` : '',
    '</section>',
    '<section aria-labelledby="summary-heading">',
    '<h2 id="summary-heading">In short</h2>',
    `<ul>${summary(statement).map((line) => `<li>${escapeHtml(line)}</li>`).join('')}</ul>`,
    '</section>',
  ]
  const markets = marketsPart(statement)
  if (markets) {
    parts.push(
      '<section aria-labelledby="markets-heading">',
      `<h2 id="markets-heading">${escapeHtml(markets.heading)}</h2>`,
      `<ul>${markets.lines.map((line) => `<li>${escapeHtml(line)}</li>`).join('')}</ul>`,
      ...markets.tables.map(tableHtml),
      '</section>',
    )
  }
  const backup = backupPart(statement)
  if (backup) {
    parts.push(
      '<section aria-labelledby="backup-heading">',
      `<h2 id="backup-heading">${escapeHtml(backup.heading)}</h2>`,
      `<ul>${backup.lines.map((line) => `<li>${escapeHtml(line)}</li>`).join('')}</ul>`,
      ...backup.tables.map(tableHtml),
      '</section>',
    )
  }
  statement.subjects.forEach((subject, i) => {
    const id = `subject-${i + 1}`
    parts.push(
      `<section aria-labelledby="${id}">`,
      `<h2 id="${id}">${escapeHtml(heading(subject))}</h2>`,
      `<ul>${sentences(subject).map((line) => `<li>${escapeHtml(line)}</li>`).join('')}</ul>`,
      ...tables(subject).map(tableHtml),
      '</section>',
    )
  })
  parts.push('</main>', '</body>', '</html>', '')
  return parts.filter((p) => p !== '').join('\n')
}

function tableHtml(table: TableView): string {
  const head = `<thead><tr>${table.headers.map((h) => `<th scope="col">${escapeHtml(h)}</th>`).join('')}</tr></thead>`
  const body = table.rows.map((row) => {
    const cells = row.map((cell, i) => {
      if (i === 0) return `<th scope="row">${escapeHtml(cell)}</th>`
      const kind = table.columns[i]
      return `<td${kind === 'text' ? '' : ` class="${kind}"`}>${escapeHtml(cell)}</td>`
    })
    return `<tr>${cells.join('')}</tr>`
  }).join('')
  return `<table><caption>${escapeHtml(table.caption)}</caption>${head}<tbody>${body}</tbody></table>`
}
