#!/usr/bin/env node
// The `coffer` command. Sources are TypeScript, run through tsx's loader.
import { register } from 'tsx/esm/api'

register()
const { main } = await import('../src/cli/index.ts')
process.exitCode = await main(process.argv)
