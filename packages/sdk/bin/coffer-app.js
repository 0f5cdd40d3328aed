#!/usr/bin/env node
// `coffer-app build <dir>` and `coffer-app run <dir> --sample <file>`, for app authors. Sources are TypeScript, run through tsx's loader.
import { register } from 'tsx/esm/api'

register()
const { main } = await import('../src/cli.ts')
process.exitCode = await main(process.argv)
