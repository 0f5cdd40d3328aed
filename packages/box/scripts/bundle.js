// The `coffer` command as one module graph, built after tsc by `npm run build` (never at run time).
// Node spends most of a box's start loading modules: resolving and reading some thousand files,
// parsing CommonJS sources again to find their exports, compiling each. Bundled, `coffer start`
// loads a few dozen files. esbuild writes src/cli/index.ts with the box and its pure-JavaScript
// dependencies over tsc's dist/cli/index.js; every dynamic import becomes a chunk of its own
// beside it, so a command that only talks to a running box still loads only commander and the
// HTTP client. tsc's other files stay in dist/: the sandbox, SenML and iCalendar workers run from
// them.
import fs from 'node:fs'
import path from 'node:path'
import { createRequire, isBuiltin } from 'node:module'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const PACKAGE = fileURLToPath(new URL('..', import.meta.url))
const SRC = path.join(PACKAGE, 'src')
const DIST = path.join(PACKAGE, 'dist')
const OUT = path.join(DIST, 'cli')

/**
 * Left to Node, with everything they depend on: native addons, packages that read files lying
 * beside their own code (fonts, static assets, WebAssembly, their package.json), the build's own
 * tools, and an optional dependency that is not installed. pino is bundled: only its transports
 * would run worker scripts from its folder, and neither the box nor the market logs through one.
 */
const UNBUNDLED = [
  'better-sqlite3', 'sodium-native', 'rocksdb-native', 'udx-native', 'fs-native-extensions', 'quickbit-native', 'simdle-native', 'cbor-extract',
  'pdfkit', '@fastify/swagger', '@fastify/swagger-ui', 'webdav-server', '@electric-sql/pglite', 'quickjs-emscripten',
  'esbuild', 'tsx', 'protobufjs',
]

/**
 * Packages the box loads only on demand: for an import, an MQTT driver, an app's tarball, the paper
 * key, the demo market. The CommonJS build leaves them to Node's require() (where it can: not an ES
 * module), so that `coffer start` neither reads them nor deserializes their code from the cache:
 * 2 of the file's 5.9 MB. The ES module build has them in chunks of their own anyway.
 */
const ON_DEMAND = ['iconv-lite', 'csv-parse', 'mqtt', 'tar-stream', 'qrcode', 'pngjs', 'nats', 'pg']
const onDemand = new Set(ON_DEMAND.filter((name) => isCommonJs(requireResolve(name, OUT))))

/** Dependencies that only install a native addon (download its prebuilt binary), never loaded by it. */
const INSTALL_ONLY = new Set(['prebuild-install'])

/** The directory of package `name` as Node finds it from `dir`, or undefined when it is not installed. */
function packageDir(name, dir) {
  for (let at = dir; ; at = path.dirname(at)) {
    const candidate = path.join(at, 'node_modules', name)
    if (fs.existsSync(path.join(candidate, 'package.json'))) return fs.realpathSync(candidate)
    if (path.dirname(at) === at) return undefined
  }
}

/**
 * Every package directory the unbundled ones load, with their dependencies: a package one of them
 * requires must not also be inside the bundle, or two copies of it would run side by side.
 */
function unbundledDirs() {
  const dirs = new Set()
  const visit = (name, from) => {
    const dir = packageDir(name, from)
    if (!dir || dirs.has(dir)) return
    dirs.add(dir)
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'))
    for (const dep of Object.keys({ ...manifest.dependencies, ...manifest.optionalDependencies, ...manifest.peerDependencies })) {
      if (!INSTALL_ONLY.has(dep)) visit(dep, dir)
    }
  }
  for (const name of UNBUNDLED) visit(name, PACKAGE)
  return dirs
}

const packageName = (specifier) => specifier.split('/').slice(0, specifier.startsWith('@') ? 2 : 1).join('/')

const AS_IS = Symbol('resolve as esbuild would')

/**
 * Leaves the unbundled packages to Node, and works around two of esbuild's ways with CommonJS
 * imported from ESM (see the plugin's onResolve). In the CommonJS build every import() of what is
 * left to Node becomes a require(): V8 loses a script's import() callback when it compiles the
 * script from a code cache (Node 20), and a CommonJS package or Node's own module is as well required.
 */
function leaveOut(unbundled, format) {
  return {
    name: 'leave-out',
    setup(b) {
      b.onResolve({ filter: /^[^./]/ }, async (args) => {
        if (args.pluginData === AS_IS || args.namespace === 'required') return undefined
        if (isBuiltin(args.path)) return format === 'cjs' && args.kind === 'dynamic-import' ? { path: args.path, namespace: 'required' } : undefined
        const dir = packageDir(packageName(args.path), args.resolveDir)
        if (format === 'cjs' && onDemand.has(packageName(args.path))) return { path: args.path, namespace: 'required' }
        if (dir && !unbundled.has(dir)) {
          // With splitting, esbuild hands a dynamically imported CommonJS module over as `default`
          // alone; Node gives its named exports too, and the sources use them (saxes' parser, webdav-server's v2).
          if (args.kind !== 'dynamic-import') return undefined
          const resolved = await b.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, pluginData: AS_IS })
          return resolved.errors.length === 0 && isCommonJs(resolved.path) ? { path: args.path, namespace: 'facade', pluginData: args.resolveDir } : undefined
        }
        // A CommonJS package imported from ESM would have Node parse its whole source to guess its
        // exports; taken through require() it is only run.
        const required = args.kind === 'import-statement' || (format === 'cjs' && args.kind === 'dynamic-import')
        if (dir && required && isCommonJs(requireResolve(args.path, args.resolveDir))) return { path: args.path, namespace: 'required' }
        return { path: args.path, external: true }
      })
      b.onLoad({ filter: /.*/, namespace: 'facade' }, (args) => {
        // Its exports as Node would name them: the keys of what require() returns.
        const names = Object.keys(createRequire(path.join(args.pluginData, 'x.js'))(args.path)).filter((n) => n !== 'default' && /^[A-Za-z_$][\w$]*$/.test(n))
        const spec = JSON.stringify(args.path)
        return { contents: `const m = require(${spec})\nexport default m\nexport const { ${names.join(', ')} } = m\n`, loader: 'js', resolveDir: args.pluginData }
      })
      b.onLoad({ filter: /.*/, namespace: 'required' }, (args) => ({ contents: `module.exports = require(${JSON.stringify(args.path)})`, loader: 'js' }))
      b.onResolve({ filter: /.*/, namespace: 'required' }, (args) => ({ path: args.path, external: true }))
    },
  }
}

function requireResolve(specifier, from) {
  try {
    return createRequire(path.join(from, 'x.js')).resolve(specifier)
  } catch {
    return undefined
  }
}

/** Whether Node runs `file` as CommonJS. */
function isCommonJs(file) {
  if (!file || file.endsWith('.mjs')) return false
  if (file.endsWith('.cjs')) return true
  if (!file.endsWith('.js')) return false
  for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
    const manifest = path.join(dir, 'package.json')
    if (fs.existsSync(manifest)) return JSON.parse(fs.readFileSync(manifest, 'utf8')).type !== 'module'
    if (path.dirname(dir) === dir) return true
  }
}

/**
 * Each source file keeps its own import.meta.url: that of its twin compiled by tsc, so the paths it
 * takes relative to itself (worker scripts, the cockpit, the example apps) hold inside the bundle.
 */
const ownUrls = {
  name: 'own-urls',
  setup(b) {
    b.onLoad({ filter: /\.ts$/ }, async (args) => {
      if (!args.path.startsWith(SRC + path.sep)) return undefined
      const text = await fs.promises.readFile(args.path, 'utf8')
      if (!text.includes('import.meta.url')) return { contents: text, loader: 'ts' }
      const twin = path.relative(OUT, path.join(DIST, path.relative(SRC, args.path))).replace(/\.ts$/, '.js').split(path.sep).join('/')
      return { contents: text.replaceAll('import.meta.url', `new URL(${JSON.stringify(twin)}, import.meta.url).href`), loader: 'ts' }
    })
  },
}

const stale = (f) => f.startsWith('chunk-') || f.startsWith('index.js.') || f.startsWith('box-')
for (const file of fs.existsSync(OUT) ? fs.readdirSync(OUT).filter(stale) : []) fs.rmSync(path.join(OUT, file))
const unbundled = unbundledDirs()
const common = {
  allowOverwrite: true,
  bundle: true,
  platform: 'node',
  target: 'node20',
  // Node parses every chunk it loads in full: without whitespace and comments there is a third less
  // to parse, and a chunk stays one byte a character (a single non-ASCII character in a comment made
  // V8 hold and scan a whole chunk as two-byte text). Names are kept, so stack traces still name
  // functions; with `node --enable-source-maps` they name the source lines too. Licence comments go
  // to a .LEGAL.txt beside each file that has them.
  minifyWhitespace: true,
  legalComments: 'external',
  sourcemap: 'linked',
  logLevel: 'warning',
}
await build({
  ...common,
  entryPoints: { index: path.join(SRC, 'cli/index.ts') },
  outdir: OUT,
  // All in one folder, so each chunk's import.meta.url is known when the sources are read.
  chunkNames: 'chunk-[hash]',
  splitting: true,
  format: 'esm',
  plugins: [leaveOut(unbundled, 'esm'), ownUrls],
  // What the bundle requires is resolved from where it lies, as tsc's files would be.
  banner: { js: "import { createRequire as __cofferRequire } from 'node:module'; const require = __cofferRequire(import.meta.url);" },
})
// The same command as one CommonJS file, for `coffer start` and `coffer demo`, which load nearly all
// of it: bin/coffer.js compiles it with a V8 code cache, which Node 20 offers for scripts and not for
// ES modules. Its name holds a hash of its content, because V8 checks a cache against the length of
// its source only. import.meta.resolve is only reached when running from the TypeScript sources.
await build({
  ...common,
  entryPoints: { box: path.join(SRC, 'cli/index.ts') },
  outdir: OUT,
  entryNames: '[name]-[hash]',
  outExtension: { '.js': '.cjs' },
  format: 'cjs',
  plugins: [leaveOut(unbundled, 'cjs'), ownUrls],
  define: { 'import.meta.url': '__cofferUrl' },
  // A banner goes before esbuild's own "use strict", which would then not be the directive it is.
  banner: { js: "'use strict'; const __cofferUrl = require('node:url').pathToFileURL(__filename).href;" },
  logOverride: { 'empty-import-meta': 'silent' },
})
