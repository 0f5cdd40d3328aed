/**
 * An app bundle: manifest.json and the bundled script it names as `main`, from a folder or a
 * tarball (.tar or .tar.gz, files at the top or under one folder, as `npm pack` makes them).
 * Only those two files are read; any entry that climbs out of the bundle is refused.
 */
import fs from 'node:fs'
import path from 'node:path'
import zlib from 'node:zlib'
import { Readable } from 'node:stream'
import { InvalidInput, PayloadTooLarge } from '../errors/index.ts'

export interface Bundle {
  manifest: unknown
  code: string
}

export const MAX_BUNDLE_BYTES = 8 * 1024 * 1024

export async function readBundle(location: string): Promise<Bundle> {
  const stat = fs.statSync(location, { throwIfNoEntry: false })
  if (!stat) throw new InvalidInput(`${location} does not exist: give the app's folder or its tarball.`)
  if (stat.isDirectory()) {
    const manifestFile = path.join(location, 'manifest.json')
    if (!fs.existsSync(manifestFile)) throw new InvalidInput(`${location} holds no manifest.json.`)
    const manifest = parseJson(fs.readFileSync(manifestFile, 'utf8'))
    return { manifest, code: readMain(manifest, (name) => fs.existsSync(path.join(location, name)) ? fs.readFileSync(path.join(location, name), 'utf8') : undefined) }
  }
  if (stat.size > MAX_BUNDLE_BYTES) throw new PayloadTooLarge(`${location} is larger than ${MAX_BUNDLE_BYTES / 1024 / 1024} MiB.`)
  return readTarball(fs.readFileSync(location))
}

/** A tarball's bytes, gzipped or not. */
export async function readTarball(bytes: Buffer): Promise<Bundle> {
  if (bytes.length > MAX_BUNDLE_BYTES) throw new PayloadTooLarge(`The bundle is larger than ${MAX_BUNDLE_BYTES / 1024 / 1024} MiB.`)
  let data = bytes
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      data = zlib.gunzipSync(bytes, { maxOutputLength: MAX_BUNDLE_BYTES })
    } catch (err) {
      throw new InvalidInput(`The bundle is not a readable gzip file: ${(err as Error).message}.`)
    }
  }
  const files = new Map<string, string>()
  // Loaded only when a tarball is read, not with every box.
  const { default: tar } = await import('tar-stream')
  const extract = tar.extract()
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, stream, next) => {
      const name = header.name.replace(/^\.\//, '')
      if (path.posix.isAbsolute(name) || name.split('/').includes('..')) {
        stream.resume()
        reject(new InvalidInput(`The bundle holds "${header.name}", which points outside it.`))
        return
      }
      const chunks: Buffer[] = []
      stream.on('data', (chunk: unknown) => chunks.push(chunk as Buffer))
      stream.on('end', () => {
        if (header.type === 'file') files.set(name, Buffer.concat(chunks).toString('utf8'))
        next()
      })
    })
    extract.on('finish', resolve)
    extract.on('error', (err: Error) => reject(new InvalidInput(`The bundle is not a readable tar file: ${err.message}.`)))
  })
  Readable.from([data]).pipe(extract)
  await done
  const manifestName = [...files.keys()].find((name) => name === 'manifest.json' || /^[^/]+\/manifest\.json$/.test(name))
  if (!manifestName) throw new InvalidInput('The bundle holds no manifest.json, at its top or in one folder.')
  const prefix = manifestName.slice(0, -'manifest.json'.length)
  const manifest = parseJson(files.get(manifestName)!)
  return { manifest, code: readMain(manifest, (name) => files.get(prefix + name)) }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text.replace(/^\uFEFF/, ''))
  } catch (err) {
    throw new InvalidInput(`manifest.json is not valid JSON: ${(err as Error).message}.`)
  }
}

function readMain(manifest: unknown, read: (name: string) => string | undefined): string {
  const main = (manifest as { main?: unknown } | null)?.main
  if (typeof main !== 'string' || !/^[A-Za-z0-9_-]{1,64}\.js$/.test(main)) throw new InvalidInput('manifest main: name the bundled script beside the manifest, like "app.js".', { field: 'main' })
  const code = read(main)
  if (code === undefined) throw new InvalidInput(`The bundle has no ${main}, which its manifest names as main. Build the app first.`)
  return code
}
