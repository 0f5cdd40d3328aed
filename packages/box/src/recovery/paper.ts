/**
 * The paper key: one printable A4 page with the 24 words of the root seed, the same words as a QR
 * code, the box identity they rebuild, the date, and what to do with it. Standard PDF fonts only,
 * so nothing is embedded or fetched; the date given is the document's own, so the same key on the
 * same day is the same bytes.
 */
import { InvalidInput } from '../errors/index.ts'

export interface PaperKey {
  /** The box identity, in hex. */
  identity: string
  /** The 24 words, separated by single spaces. */
  words: string
  /** When it was made, epoch seconds. */
  createdAt: number
}

export interface PaperOptions {
  /** Leave content streams uncompressed, so the text can be read from the bytes (tests, debugging). */
  compress?: boolean
}

const PAGE = { width: 595.28, margin: 50 }
const COLORS = { text: '#111111', muted: '#444444', warn: '#5c0f0a', warnBackground: '#fdecec' }
/** Size of one QR module in points: the code prints about 6 cm wide, easy for a phone to read. */
const QR_MODULE = 3
/** The blank margin a QR reader needs around the code, in modules. */
const QR_QUIET = 4

export async function renderPaperKey(key: PaperKey, options: PaperOptions = {}): Promise<Buffer> {
  const words = key.words.split(' ')
  if (words.length !== 24 || !/^[0-9a-f]{64}$/.test(key.identity)) throw new InvalidInput('A paper key needs the 24 words and the 64 hex digits of the box identity.')
  // Loaded when a key is printed, not with the box: pdfkit and its font data are large.
  const [{ default: PDFDocument }, { default: QRCode }] = await Promise.all([import('pdfkit'), import('qrcode')])
  const day = new Date(key.createdAt * 1000).toISOString().slice(0, 10)
  const doc = new PDFDocument({
    size: 'A4', margin: PAGE.margin, compress: options.compress ?? true, pdfVersion: '1.7', lang: 'en', displayTitle: true,
    info: { Title: 'Coffer paper key', Author: 'Coffer', Subject: `The recovery words of box ${key.identity}`, CreationDate: new Date(key.createdAt * 1000) },
  })
  const chunks: Buffer[] = []
  doc.on('data', (chunk: Buffer) => chunks.push(chunk))
  const done = new Promise<Buffer>((resolve, reject) => {
    doc.on('end', () => resolve(Buffer.concat(chunks)))
    doc.on('error', reject)
  })
  const left = PAGE.margin
  const width = PAGE.width - 2 * PAGE.margin
  const text = (value: string, font: string, size: number, color = COLORS.text, opts: PDFKit.Mixins.TextOptions = {}) => {
    doc.font(font).fontSize(size).fillColor(color).text(value, opts)
  }

  text('Coffer paper key', 'Helvetica-Bold', 22)
  doc.moveDown(0.2)
  text(`Made on ${day} for the box with this identity:`, 'Helvetica', 10, COLORS.muted)
  text(key.identity, 'Courier', 9.5, COLORS.text)
  doc.moveDown(0.8)

  // The warning first, in a box: the words are the whole box, not a password to it.
  const warning = 'These 24 words are the root seed of your box. Every key of the box comes from them: whoever reads them can rebuild '
    + 'your box, read everything it holds and act as it. Keep this paper offline and out of sight.'
  doc.font('Helvetica-Bold').fontSize(10.5)
  const warnHeight = doc.heightOfString(warning, { width: width - 20 }) + 16
  const warnTop = doc.y
  doc.rect(left, warnTop, width, warnHeight).fill(COLORS.warnBackground)
  doc.fillColor(COLORS.warn).text(warning, left + 10, warnTop + 8, { width: width - 20 })
  doc.x = left
  doc.y = warnTop + warnHeight + 16

  text('Your 24 words, in order', 'Helvetica-Bold', 13)
  doc.moveDown(0.4)
  const columns = 4
  const rows = words.length / columns
  const cellWidth = width / columns
  const lineHeight = 22
  const gridTop = doc.y
  words.forEach((word, i) => {
    // Numbered down each column, as people copy a list.
    const column = Math.floor(i / rows)
    const row = i % rows
    const x = left + column * cellWidth
    const y = gridTop + row * lineHeight
    doc.font('Helvetica').fontSize(9).fillColor(COLORS.muted).text(`${String(i + 1).padStart(2, ' ')}.`, x, y + 2.5, { width: 18, align: 'right', lineBreak: false })
    doc.font('Courier-Bold').fontSize(13).fillColor(COLORS.text).text(word, x + 24, y, { width: cellWidth - 26, lineBreak: false })
  })
  doc.x = left
  doc.y = gridTop + rows * lineHeight + 14

  // The words in capitals: a QR code holds those in its compact alphanumeric mode, and the words
  // read back the same (`coffer init --recover` takes them in any case).
  const qr = QRCode.create(words.join(' ').toUpperCase(), { errorCorrectionLevel: 'Q' })
  const size = qr.modules.size
  const qrTop = doc.y
  const qrSide = (size + 2 * QR_QUIET) * QR_MODULE
  doc.rect(left, qrTop, qrSide, qrSide).fill('#ffffff')
  for (let row = 0; row < size; row++) {
    // Each run of dark modules in a row is one rectangle: fewer drawing operators, the same code.
    for (let col = 0; col < size;) {
      if (!qr.modules.get(row, col)) {
        col++
        continue
      }
      const start = col
      while (col < size && qr.modules.get(row, col)) col++
      doc.rect(left + (QR_QUIET + start) * QR_MODULE, qrTop + (QR_QUIET + row) * QR_MODULE, (col - start) * QR_MODULE, QR_MODULE)
    }
  }
  doc.fill('#000000')
  const besideQr = left + qrSide + 16
  const besideWidth = width - qrSide - 16
  doc.font('Helvetica-Bold').fontSize(11).fillColor(COLORS.text).text('The same words as a QR code', besideQr, qrTop + QR_QUIET * QR_MODULE, { width: besideWidth })
  doc.moveDown(0.3)
  doc.font('Helvetica').fontSize(10).fillColor(COLORS.text).text(
    'A phone or scanner reads the 24 words from it, so they need not be typed. It is exactly as secret as the words: '
    + 'never scan it with an app that uploads what it sees.', { width: besideWidth })
  doc.x = left
  doc.y = Math.max(doc.y, qrTop + qrSide) + 16

  /** A list item: text, with commands in a typewriter face, so they are typed as printed. */
  type Part = string | { command: string }
  const item = (marker: string, parts: Part[]) => {
    const top = doc.y
    doc.font('Helvetica').fontSize(10.5).fillColor(COLORS.text).text(marker, left, top, { width: 14, lineBreak: false })
    parts.forEach((part, i) => {
      const last = i === parts.length - 1
      const opts = { width: width - 18, continued: !last }
      if (typeof part === 'string') doc.font('Helvetica')
      else doc.font('Courier-Bold')
      const value = typeof part === 'string' ? part : part.command
      if (i === 0) doc.text(value, left + 18, top, opts)
      else doc.text(value, opts)
    })
    doc.x = left
    doc.moveDown(0.35)
  }
  const heading = (title: string) => {
    text(title, 'Helvetica-Bold', 13, COLORS.text, { width })
    doc.moveDown(0.35)
  }

  heading('To recover your box on a new machine')
  const recover: Part[][] = [
    ['Install Coffer, then run ', { command: 'coffer init --recover' }, ' and type the 24 words in order (or scan the QR code). Choose an owner passphrase.'],
    ['Check that ', { command: 'coffer status' }, ' shows the identity printed above.'],
    ['Run ', { command: 'coffer backup restore' }, ' to bring every record and the audit log back from your replicas.'],
  ]
  recover.forEach((parts, i) => item(`${i + 1}.`, parts))
  doc.moveDown(0.6)
  heading('Keep it safe')
  for (const line of [
    'Keep this paper offline: in a drawer that locks, a safe, or with someone you trust. Do not photograph it, and do not keep it in e-mail or the cloud.',
    'Delete the PDF file once it is printed, and empty the trash.',
    'The words of a box cannot be changed. If someone may have read them, move your data to a new box.',
  ]) item('•', [line])
  doc.end()
  return done
}
