#!/usr/bin/env node
// The `coffer-market` command, run from the market's built JavaScript (dist/, compiled by `npm run build`).
import fs from 'node:fs'

const CLI = new URL('../dist/cli/index.js', import.meta.url)

if (!fs.existsSync(CLI)) {
  console.error('coffer-market: the market is not built yet: run `npm run build --workspace packages/market`')
  process.exit(1)
}
const { main } = await import(CLI.href)
process.exitCode = await main(process.argv)
