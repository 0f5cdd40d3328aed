#!/usr/bin/env node
// The `coffer` command, run from the box's built JavaScript (dist/, compiled by `npm run build`).
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const CLI = new URL('../dist/cli/', import.meta.url)
const DIST = fileURLToPath(CLI)
/** The commands that run the box itself, and so load nearly all of its code. */
const BOX_COMMANDS = new Set(['start', 'demo'])
/** How long a box runs before the code it has compiled is written to the cache, when there is none it could use. */
const CACHE_AFTER_MS = 3_000

if (!fs.existsSync(path.join(DIST, 'index.js'))) {
  console.error('coffer: the box is not built yet: run `npm run build` (npm install does it)')
  process.exit(1)
}
const bundle = BOX_COMMANDS.has(commandOf(process.argv.slice(2))) && fs.readdirSync(DIST).find((f) => /^box-\w+\.cjs$/.test(f))
const { main } = bundle ? await withCodeCache(path.join(DIST, bundle)) : await import(new URL('index.js', CLI).href)
process.exitCode = await main(process.argv)

/** The command named in `args`: the first word that is neither an option nor --home's value. */
function commandOf(args) {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--home') i++
    else if (!args[i].startsWith('-')) return args[i]
  }
  return undefined
}

/**
 * Runs the command built as one CommonJS file (see scripts/bundle.js), compiled from the V8 code
 * cache beside it: compiling the box was about a tenth of `coffer start`'s time to its first
 * answer. Node 22 can do this for every module (module.enableCompileCache); Node 20 only for a
 * script. Without a cache V8 accepts (none yet, another Node or other flags), the box writes one
 * once it has run for a few seconds, when what starting it compiles is compiled; a box that
 * cannot write beside its code runs as well without.
 *
 * The cache file is a CRC-32 of the cache, then the cache: V8 checks a cache's version, flags and
 * length but, outside its debug builds, not its bytes, and a damaged one aborts the process. One
 * whose CRC does not match is not used, and is written anew.
 */
async function withCodeCache(file) {
  // Imported here, not above: a command that only talks to the box would pay for them too.
  const [{ default: vm }, { createRequire }, { debuglog }, { crc32 }] = await Promise.all([import('node:vm'), import('node:module'), import('node:util'), import('node:zlib')])
  /** With NODE_DEBUG=coffer, says on standard error how the box's code was compiled. */
  const debug = debuglog('coffer')
  const cacheFile = `${file}.cache`
  const cachedData = crc32 && readCache(cacheFile, crc32, debug)
  const source = `(function (exports, require, module, __filename, __dirname) {${fs.readFileSync(file, 'utf8')}\n})`
  const script = new vm.Script(source, { filename: file, cachedData })
  if (cachedData !== undefined && !script.cachedDataRejected) debug('compiled from the code cache %s', cacheFile)
  else if (crc32) {
    if (cachedData !== undefined) debug('the code cache was made by another Node or with other flags')
    setTimeout(() => {
      const temporary = `${cacheFile}.${process.pid}`
      try {
        const data = script.createCachedData()
        const crc = Buffer.alloc(4)
        crc.writeUInt32LE(crc32(data))
        fs.writeFileSync(temporary, Buffer.concat([crc, data]))
        fs.renameSync(temporary, cacheFile)
        debug('wrote the code cache %s', cacheFile)
      } catch (err) {
        fs.rmSync(temporary, { force: true })
        debug('cannot write the code cache: %s', err.message)
      }
    }, CACHE_AFTER_MS).unref()
  }
  const module = { exports: {} }
  script.runInThisContext().call(module.exports, module.exports, createRequire(file), module, file, path.dirname(file))
  return module.exports
}

/** The cache in `file` when its CRC-32 holds, else undefined. */
function readCache(file, crc32, debug) {
  let bytes
  try {
    bytes = fs.readFileSync(file)
  } catch {
    debug('no code cache yet')
    return undefined
  }
  if (bytes.length > 4 && crc32(bytes.subarray(4)) === bytes.readUInt32LE(0)) return bytes.subarray(4)
  debug('the code cache %s is damaged', file)
  return undefined
}
