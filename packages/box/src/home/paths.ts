/**
 * Where a box home's files are, and the runtime file a running box keeps there. Apart from the
 * rest of home/ because it loads nothing heavy: a CLI command that only talks to the box finds
 * the box's address and token here without loading the config schema or libsodium.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { IssuedToken } from '../arbiter/index.ts'

export interface HomePaths {
  config: string
  seed: string
  meta: string
  logs: string
  audit: string
  views: string
  runtime: string
}

export function resolveHomeDir(option?: string): string {
  return path.resolve(option ?? process.env.COFFER_HOME ?? path.join(os.homedir(), '.coffer'))
}

export function homePaths(dir: string): HomePaths {
  return {
    config: path.join(dir, 'config.json'),
    seed: path.join(dir, 'seed'),
    meta: path.join(dir, 'box.db'),
    logs: path.join(dir, 'logs'),
    audit: path.join(dir, 'audit'),
    views: path.join(dir, 'views'),
    runtime: path.join(dir, 'runtime.json'),
  }
}

/** Where a running box listens, so the CLI can find it, and the short-lived owner token `coffer start` keeps there for commands. */
export interface Runtime {
  url: string
  pid: number
  cliToken?: Required<IssuedToken>
}

export function readRuntime(home: { paths: HomePaths } | string): Runtime | undefined {
  const file = typeof home === 'string' ? homePaths(home).runtime : home.paths.runtime
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as Runtime
  } catch {
    return undefined
  }
}
