#!/usr/bin/env node
// The `coffer` command, run from the box's built JavaScript (dist/, compiled by `npm run build`).
import fs from 'node:fs'

const CLI = new URL('../dist/cli/index.js', import.meta.url)

if (!fs.existsSync(CLI)) {
  console.error('coffer: the box is not built yet: run `npm run build` (npm install does it)')
  process.exit(1)
}
const { main } = await import(CLI.href)
process.exitCode = await main(process.argv)
