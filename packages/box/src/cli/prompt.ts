/** Reading secrets: from the environment for scripts, else from the terminal without echo. readline loads only to ask. */
import { InvalidInput } from '../errors/index.ts'

export async function readSecret(prompt: string, envName: string): Promise<string> {
  const fromEnv = process.env[envName]
  if (fromEnv !== undefined) return fromEnv
  if (!process.stdin.isTTY) throw new InvalidInput(`No terminal to ask on: set ${envName} for non-interactive use.`)
  const [{ default: readline }, { Writable }] = await Promise.all([import('node:readline'), import('node:stream')])
  let muted = false
  const output = new Writable({
    write(chunk, _enc, done) {
      if (!muted) process.stderr.write(chunk)
      done()
    },
  })
  const rl = readline.createInterface({ input: process.stdin, output, terminal: true })
  try {
    const answer = new Promise<string>((resolve) => rl.question(prompt, resolve))
    muted = true
    const value = await answer
    process.stderr.write('\n')
    return value
  } finally {
    rl.close()
  }
}

/** A yes/no question on the terminal; no terminal means no. */
export async function confirm(question: string): Promise<boolean> {
  if (!process.stdin.isTTY) return false
  const { default: readline } = await import('node:readline')
  const rl = readline.createInterface({ input: process.stdin, output: process.stderr, terminal: true })
  try {
    const answer = await new Promise<string>((resolve) => rl.question(`${question} [y/N] `, resolve))
    return /^y(es)?$/i.test(answer.trim())
  } finally {
    rl.close()
  }
}
