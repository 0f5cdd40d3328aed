/**
 * A private Mosquitto for one test file: its own free port and data folder, so the MQTT tests
 * need only the `mosquitto` binary, never a broker already running on the machine.
 */
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { spawn, type ChildProcess } from 'node:child_process'
import { setTimeout as sleep } from 'node:timers/promises'
import { tempDir } from './helpers.ts'

export interface Mosquitto {
  url: string
  port: number
  /** Stops the broker, waits `downFor` ms, and starts it again on the same port with the same persisted state. */
  restart(downFor?: number): Promise<void>
  close(): Promise<void>
}

const STARTUP_MS = 10_000

/** Debian installs the broker in /usr/sbin, which is not in an ordinary user's PATH. */
function findBinary(): string {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean), '/usr/sbin']
  for (const dir of dirs) {
    const candidate = path.join(dir, 'mosquitto')
    try {
      fs.accessSync(candidate, fs.constants.X_OK)
      return candidate
    } catch {
      // not in this folder
    }
  }
  throw new Error('mosquitto is not installed (looked in PATH and /usr/sbin): the MQTT tests start their own broker from it; install it with apt-get install -y mosquitto')
}

async function freePort(): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve))
  const port = (server.address() as net.AddressInfo).port
  await new Promise((resolve) => server.close(resolve))
  return port
}

class StartFailed extends Error {
  constructor(why: string, readonly stderr: string) {
    super(`mosquitto did not start: ${why}${stderr.trim() ? `\n${stderr.trim()}` : ''}`)
  }
}

/**
 * Resolves once this child logs that it runs, which it does only after its listener is open:
 * a connection test alone could be answered by another program that took the port first.
 */
function launch(binary: string, conf: string): Promise<ChildProcess> {
  const child = spawn(binary, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  return new Promise((resolve, reject) => {
    const fail = (why: string) => {
      clearTimeout(timer)
      reject(new StartFailed(why, stderr))
    }
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      fail(`it was not running after ${STARTUP_MS / 1000} s`)
    }, STARTUP_MS)
    child.stderr!.on('data', (d) => {
      stderr = (stderr + d).slice(-4000)
      if (/mosquitto version \S+ running/.test(stderr)) {
        clearTimeout(timer)
        resolve(child)
      }
    })
    child.once('error', (err) => fail(err.message))
    child.once('exit', (code, signal) => fail(`it exited with ${signal ?? `code ${code}`}`))
  })
}

async function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
  await exited
  clearTimeout(timer)
}

/** Starts a broker on a free port of 127.0.0.1, persisting to a temp folder so a restart keeps sessions and queued messages. */
export async function startMosquitto(): Promise<Mosquitto> {
  const binary = findBinary()
  const dir = tempDir('coffer-mosquitto-')
  const conf = path.join(dir, 'mosquitto.conf')
  let port = 0
  let child: ChildProcess | undefined
  // The port is free when chosen, but another program may take it before Mosquitto binds it.
  for (let attempt = 1; !child; attempt++) {
    port = await freePort()
    // Run as root, Mosquitto would switch to the `mosquitto` user, who cannot write this folder.
    fs.writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location ${dir}/\nuser root\nlog_dest stderr\n`)
    try {
      child = await launch(binary, conf)
    } catch (err) {
      if (!(err instanceof StartFailed && err.stderr.includes('Address already in use') && attempt < 3)) {
        fs.rmSync(dir, { recursive: true, force: true })
        throw err
      }
    }
  }
  let running = child
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    async restart(downFor = 0) {
      await terminate(running)
      await sleep(downFor)
      running = await launch(binary, conf)
    },
    async close() {
      await terminate(running)
      fs.rmSync(dir, { recursive: true, force: true })
    },
  }
}
