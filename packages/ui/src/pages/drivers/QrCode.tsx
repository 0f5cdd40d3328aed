import { useMemo } from 'react'
import QRCode from 'qrcode'

/** Blank modules around the code, which scanners need to find it. */
const QUIET = 4

/**
 * A QR code drawn as SVG in the page: the encoding comes from the qrcode package, the drawing is
 * one path of dark modules, so it stays sharp at any size and needs no image or canvas.
 */
export function QrCode({ text, label, size = 240 }: { text: string; label: string; size?: number }) {
  const { path, modules } = useMemo(() => {
    const qr = QRCode.create(text, { errorCorrectionLevel: 'M' })
    const n = qr.modules.size
    let d = ''
    for (let row = 0; row < n; row++) {
      for (let col = 0; col < n; col++) {
        if (!qr.modules.get(row, col)) continue
        // A run of dark modules on a row becomes one rectangle.
        let end = col
        while (end + 1 < n && qr.modules.get(row, end + 1)) end++
        d += `M${col + QUIET},${row + QUIET}h${end - col + 1}v1h${-(end - col + 1)}z`
        col = end
      }
    }
    return { path: d, modules: n + 2 * QUIET }
  }, [text])
  return (
    <svg className="qr" role="img" aria-label={label} width={size} height={size} viewBox={`0 0 ${modules} ${modules}`} shapeRendering="crispEdges">
      <rect width={modules} height={modules} fill="#fff" />
      <path d={path} fill="#000" />
    </svg>
  )
}
