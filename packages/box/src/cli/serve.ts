/**
 * `coffer start` and `coffer demo`: the box, served until SIGINT or SIGTERM. Loaded only by those
 * commands, since it loads the whole box. While it runs, it keeps a short-lived owner token in the
 * home's runtime file (0600, beside the seed, which whoever can read it holds anyway), so that
 * other commands reach the box without loading the seed, SQLite or any crypto (see connect.ts).
 */
import { createBox, type Box } from '../box.ts'
import { readRuntime, writeFileAtomic, type Runtime } from '../home/index.ts'
import { out } from './format.ts'

/** The runtime file's token lives this long; it is renewed at half its life, and soon after the owner grant rotates. */
const CLI_TOKEN_SECONDS = 15 * 60
const CLI_TOKEN_CHECK_MS = 5_000

export async function serve(dir: string, opts: { port: string; host: string }, beforeListen?: (box: Box) => Promise<void>, afterClose?: () => Promise<void>): Promise<void> {
  const box = createBox({ home: dir, port: Number(opts.port), host: opts.host, logLevel: (process.env.COFFER_LOG_LEVEL as 'info') ?? 'warn' })
  // The routes are made ready (their schemas, the router) while the box opens its logs, which
  // mostly waits on the disk: about 100 ms sooner to the first answer. Nothing listens until both are done.
  await Promise.all([box.open(), box.api.ready()])
  await beforeListen?.(box)
  const url = await box.listen()
  const stopToken = keepCliToken(box)
  out(`Coffer box listening on ${url}`)
  out(`  API docs:     ${url}/api/v1/docs`)
  out(`  owner token:  coffer token owner --home ${dir}`)
  let closing = false
  const stop = async () => {
    if (closing) return
    closing = true
    // Stopped first, so the runtime file the box removes as it closes is not written again.
    stopToken()
    await box.close()
    await afterClose?.()
    process.exit(0)
  }
  process.on('SIGINT', () => void stop())
  process.on('SIGTERM', () => void stop())
  await new Promise(() => undefined)
}

/** Writes an owner token into the runtime file now, and again whenever it nears expiry or the owner grant's epoch moves. */
function keepCliToken(box: Box): () => void {
  let epoch: number | undefined
  let renewAt = 0
  let warned = false
  const renew = () => {
    const current = box.arbiter.grant('owner').epoch
    const now = Date.now() / 1000
    if (current === epoch && now < renewAt) return
    const { token, expires } = box.arbiter.ownerToken(CLI_TOKEN_SECONDS)
    const runtime: Runtime = { ...(readRuntime(box.home) ?? { url: box.url!, pid: process.pid }), cliToken: { token, expires: expires! } }
    writeFileAtomic(box.home.paths.runtime, JSON.stringify(runtime), 0o600)
    epoch = current
    renewAt = now + CLI_TOKEN_SECONDS / 2
  }
  const renewOrWarn = () => {
    try {
      renew()
    } catch (err) {
      // Commands still work without it: they mint their own token from the home, only slower.
      if (!warned) process.stderr.write(`warning: cannot keep the command-line token in ${box.home.paths.runtime}: ${(err as Error).message}\n`)
      warned = true
    }
  }
  renewOrWarn()
  const timer = setInterval(renewOrWarn, CLI_TOKEN_CHECK_MS)
  timer.unref()
  return () => clearInterval(timer)
}
