/**
 * The statement as a printable, tagged PDF with the same words and tables as the HTML. It uses
 * the PDF standard fonts, so nothing is embedded or fetched; those fonts cover Windows-1252 only,
 * so other characters print as "?" rather than as whatever glyph their bytes happen to name.
 * The creation date is the statement's own, which makes the same statement the same bytes.
 */
import type { Statement } from './build.ts'
import { auditBanner, backupPart, generated, heading, marketsPart, period, sentences, summary, tables, title, type TableView } from './words.ts'

/** Characters the standard fonts have beyond Latin-1 (WinAnsiEncoding's 0x80–0x9F). */
const WIN_ANSI_EXTRA = new Set('€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ')

export function printable(text: string): string {
  let out = ''
  for (const ch of text) {
    const code = ch.codePointAt(0)!
    if (code === 0x0a || code === 0x09) out += ' '
    else if ((code >= 0x20 && code < 0x7f) || (code >= 0xa0 && code <= 0xff) || WIN_ANSI_EXTRA.has(ch)) out += ch
    else out += '?'
  }
  return out
}

export interface PdfOptions {
  /** Leave content streams uncompressed, so the text can be read from the bytes (tests, debugging). */
  compress?: boolean
}

const COLORS = { text: '#1a1a1a', muted: '#444444', ok: '#0d3b1c', okBackground: '#e7f5ec', bad: '#5c0f0a', badBackground: '#fdecec' }

export async function renderPdf(statement: Statement, options: PdfOptions = {}): Promise<Buffer> {
  // Loaded on the first PDF, not when the box starts: pdfkit and its font data are large, and most boxes never print one.
  const { default: PDFDocument } = await import('pdfkit')
  const doc = new PDFDocument({
    size: 'A4',
    margin: 50,
    compress: options.compress ?? true,
    pdfVersion: '1.7',
    tagged: true,
    lang: 'en',
    displayTitle: true,
    info: {
      Title: printable(title(statement)),
      Author: 'Coffer',
      Subject: `Data-use statement for ${statement.month}`,
      CreationDate: new Date((statement.generatedAt ?? statement.to) * 1000),
    },
  })
  const chunks: Buffer[] = []
  doc.on('data', (chunk: Buffer) => chunks.push(chunk))
  const done = new Promise<Buffer>((resolve, reject) => {
    doc.on('end', () => resolve(Buffer.concat(chunks)))
    doc.on('error', reject)
  })

  const root = doc.struct('Document')
  doc.addStructure(root)
  const text = (value: string, tag: string, font: string, size: number, color = COLORS.text, gap = 0.3) => {
    doc.font(font).fontSize(size).fillColor(color).text(printable(value), { structParent: root, structType: tag })
    doc.moveDown(gap)
  }
  const list = (lines: string[]) => {
    if (lines.length === 0) return
    doc.font('Helvetica').fontSize(10.5).fillColor(COLORS.text).list(lines.map(printable), { structParent: root, bulletRadius: 1.5, textIndent: 12 })
    doc.moveDown(0.5)
  }

  text(title(statement), 'H1', 'Helvetica-Bold', 20, COLORS.text, 0.2)
  text(period(statement), 'P', 'Helvetica', 10, COLORS.muted, 0.1)
  const made = generated(statement)
  if (made) text(made, 'P', 'Helvetica', 10, COLORS.muted, 0.1)
  doc.moveDown(0.8)

  const banner = auditBanner(statement)
  bannerBox(doc, root, banner)

  text('In short', 'H2', 'Helvetica-Bold', 14, COLORS.text, 0.3)
  list(summary(statement))

  const markets = marketsPart(statement)
  if (markets) {
    keepWithNext(doc, 120)
    doc.moveDown(0.6)
    text(markets.heading, 'H2', 'Helvetica-Bold', 14, COLORS.text, 0.3)
    list(markets.lines)
    for (const table of markets.tables) tablePdf(doc, root, table)
  }

  const backup = backupPart(statement)
  if (backup) {
    keepWithNext(doc, 120)
    doc.moveDown(0.6)
    text(backup.heading, 'H2', 'Helvetica-Bold', 14, COLORS.text, 0.3)
    list(backup.lines)
    for (const table of backup.tables) tablePdf(doc, root, table)
  }

  for (const subject of statement.subjects) {
    keepWithNext(doc, 120)
    doc.moveDown(0.6)
    text(heading(subject), 'H2', 'Helvetica-Bold', 14, COLORS.text, 0.3)
    list(sentences(subject))
    for (const table of tables(subject)) tablePdf(doc, root, table)
  }

  doc.end()
  return done
}

function bannerBox(doc: PDFKit.PDFDocument, root: PDFKit.PDFStructureElement, banner: ReturnType<typeof auditBanner>): void {
  const x = doc.page.margins.left
  const width = doc.page.width - doc.page.margins.left - doc.page.margins.right
  const lines = [banner.headline, ...banner.details.map((d) => `- ${d}`)].map(printable)
  const label = banner.ok ? 'Audit log verified' : 'Audit log NOT verified'
  doc.font('Helvetica').fontSize(10.5)
  const height = 28 + doc.heightOfString(lines.join('\n'), { width: width - 20 })
  keepWithNext(doc, height)
  const top = doc.y
  doc.markContent('Artifact', { type: 'Layout' })
  doc.save().roundedRect(x, top, width, height, 4).lineWidth(1.5)
    .fillAndStroke(banner.ok ? COLORS.okBackground : COLORS.badBackground, banner.ok ? COLORS.ok : COLORS.bad).restore()
  doc.endMarkedContent()
  const color = banner.ok ? COLORS.ok : COLORS.bad
  doc.font('Helvetica-Bold').fontSize(12).fillColor(color).text(label, x + 10, top + 8, { width: width - 20, structParent: root, structType: 'H2' })
  doc.font('Helvetica').fontSize(10.5).fillColor(color)
  for (const line of lines) doc.text(line, { width: width - 20, structParent: root, structType: 'P' })
  doc.x = x
  doc.y = top + height + 14
}

/** Starts a new page unless `height` points are left, so a heading or caption is not left alone at the foot of one. */
function keepWithNext(doc: PDFKit.PDFDocument, height: number): void {
  if (doc.y + height > doc.page.height - doc.page.margins.bottom) doc.addPage()
}

function tablePdf(doc: PDFKit.PDFDocument, root: PDFKit.PDFStructureElement, table: TableView): void {
  const x = doc.page.margins.left
  keepWithNext(doc, 60)
  doc.x = x
  doc.font('Helvetica-Bold').fontSize(10).fillColor(COLORS.text).text(printable(table.caption), { structParent: root, structType: 'P' })
  doc.moveDown(0.2)
  const header = table.headers.map((h) => ({ text: printable(h), type: 'TH' as const, font: { src: 'Helvetica-Bold' }, backgroundColor: '#f0f0f0' }))
  const rows = table.rows.map((row) => row.map((cell, i) => ({
    text: printable(cell),
    ...(i === 0 ? { type: 'TH' as const } : {}),
    ...(table.columns[i] === 'number' ? { align: { x: 'right' as const } } : {}),
    ...(table.columns[i] === 'preview' ? { font: { src: 'Courier' } } : {}),
  })))
  doc.font('Helvetica').fontSize(9)
  // pdfkit's table accepts structParent (it builds the Table/TR/TH/TD tree) though its types omit it.
  const width = doc.page.width - doc.page.margins.left - doc.page.margins.right
  const options = { data: [header, ...rows], structParent: root, columnStyles: columnWidths(doc, table, width), defaultStyle: { padding: 4, borderColor: '#bbbbbb', border: 0.5 } }
  doc.table(options as PDFKit.Mixins.TableOptionsWithData)
  doc.x = x
  doc.moveDown(0.8)
}

/** The widest a column asks to be for its content, in points: one long purpose or preview does not starve the rest. */
const MAX_WANT = 180
/** The most a column insists on for its longest word: an id or a URL longer than this wraps anywhere. */
const MAX_NEED = 60
/** The cells' padding (4 points a side), and a point to spare for rounding. */
const CELL_PADDING = 10

/**
 * Column widths in points: each column asks for the width of its widest cell (capped) and needs at
 * least that of its longest word, so a level or a name is not broken mid-word; the page's width is
 * shared out by those. Equal columns squeeze a sentence into a strip beside a "yes".
 */
function columnWidths(doc: PDFKit.PDFDocument, table: TableView, width: number): number[] {
  const measure = (text: string, font: string) => doc.font(font).fontSize(9).widthOfString(printable(text))
  const longestWord = (text: string, font: string) => Math.max(0, ...text.split(/\s+/).map((word) => measure(word, font)))
  const fontOf = (i: number) => (table.columns[i] === 'preview' ? 'Courier' : 'Helvetica')
  const want = table.headers.map((header, i) => CELL_PADDING + Math.min(MAX_WANT, Math.max(measure(header, 'Helvetica-Bold'), ...table.rows.map((row) => measure(row[i] ?? '', fontOf(i))))))
  // A number or a time is not broken at all; other cells break between words.
  const need = table.headers.map((header, i) => table.columns[i] === 'number' || table.columns[i] === 'when'
    ? CELL_PADDING + Math.max(longestWord(header, 'Helvetica-Bold'), ...table.rows.map((row) => measure(row[i] ?? '', fontOf(i))))
    : CELL_PADDING + Math.min(MAX_NEED, Math.max(longestWord(header, 'Helvetica-Bold'), ...table.rows.map((row) => longestWord(row[i] ?? '', fontOf(i))))))
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0)
  doc.font('Helvetica').fontSize(9)
  if (sum(want) <= width) return want.map((w) => Math.floor(w + ((width - sum(want)) * w) / sum(want)))
  if (sum(need) >= width) return need.map((w) => Math.floor((width * w) / sum(need)))
  const spare = width - sum(need)
  const extra = sum(want) - sum(need)
  return need.map((w, i) => Math.floor(w + (spare * (want[i]! - w)) / extra))
}
