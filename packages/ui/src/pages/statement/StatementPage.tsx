import { useState } from 'react'
import { api, message } from '../../api/client.ts'
import { useLoad } from '../../components/useLoad.ts'
import { ErrorNotice } from '../../components/Notice.tsx'
import { useTitle } from '../../components/useTitle.ts'

function thisMonth(): string {
  const d = new Date()
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}`
}

export default function StatementPage() {
  useTitle('Statement')
  const [month, setMonth] = useState(thisMonth())
  const html = useLoad(async () => (await api.statement(month || undefined, 'html')).text(), [month])
  const [error, setError] = useState<string | null>(null)

  async function downloadPdf() {
    setError(null)
    try {
      const blob = await (await api.statement(month || undefined, 'pdf')).blob()
      const href = URL.createObjectURL(blob)
      const a = document.createElement('a')
      a.href = href
      a.download = `coffer-statement-${month}.pdf`
      a.click()
      setTimeout(() => URL.revokeObjectURL(href), 0)
    } catch (err) {
      setError(message(err))
    }
  }

  return (
    <>
      <h1>Monthly statement</h1>
      <p>Who read, wrote and sent out what, in plain words, built from the audit log.</p>
      <div className="inline-form">
        <div>
          <label htmlFor="month">Month</label>
          <input id="month" type="month" value={month} onChange={(e) => setMonth(e.target.value)} />
        </div>
        <button type="button" onClick={downloadPdf}>Download as PDF</button>
      </div>
      {error && <p role="alert" className="notice error">{error}</p>}
      <ErrorNotice error={html.error} />
      {/* The statement is a page of its own; a sandbox with no permissions keeps it from running anything. */}
      {html.data && <iframe className="statement" title={`Statement for ${month}`} sandbox="" srcDoc={html.data} />}
    </>
  )
}
