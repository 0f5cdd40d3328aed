#!/usr/bin/env node
// The `coffer` command.
import { entry } from './bundle.js'

const { main } = await import(await entry('cli/index.ts'))
process.exitCode = await main(process.argv)
