/**
 * The arbiter mints and checks capability tokens. A token is a macaroon whose first-party
 * caveats (see caveats.ts) name a subject, a grant and what the grant allows. Tokens come
 * only from grants; a grant's epoch is in every token, so revoking a grant (or bumping its
 * epoch) invalidates its tokens on their next request.
 *
 * authenticate() answers "is this a genuine, live token?" (else 401); authorize() answers
 * "does it allow this request?" (else 403).
 */
import crypto from 'node:crypto'
import type Database from 'better-sqlite3'
import { importMacaroon, newMacaroon } from 'macaroon'
import { Forbidden, InvalidInput, NotFound, Unauthorized } from '../errors/index.ts'
import { ScopeBuilder, formatScope, resolveBound, type Op, type Scope, type Window } from './caveats.ts'

export { OPERATIONS, parseBound, type Op, type Scope, type Window } from './caveats.ts'

export interface GrantScope {
  sources: '*' | string[]
  ops: Op[]
  windows: Window[]
  granularity: number
}

export interface Grant extends GrantScope {
  id: string
  subject: string
  epoch: number
  revoked: boolean
  createdAt: string
  description: string
}

/** What a request wants to do. `granularity` is 0 for raw points, else the bucket in seconds. */
export interface Access {
  op: Op
  source?: string
  from?: number
  to?: number
  granularity?: number
}

/** A minted token, and when it expires (epoch seconds) if it does. */
export interface IssuedToken {
  token: string
  expires?: number
}

/**
 * Rules a source's holder sets beyond what a grant says: the consent rules of a group on the
 * copies of the sources it shares. Each throws Forbidden, naming the rule, when it refuses.
 */
export interface SourcePolicy {
  /** Before a grant is made. */
  granting(grant: GrantScope & { subject: string }): void
  /** On every access a token makes, once the token's own scope allows it. */
  accessing(scope: Scope, access: Access): void
}

const OWNER_GRANT = 'owner'
const VERIFIED_CACHE_SIZE = 1024

export class Arbiter {
  readonly #db: Database.Database
  readonly #rootKey: Buffer
  readonly #grants = new Map<string, Grant>()
  /** Tokens whose signature chain already verified: the HMAC work is done once per token. */
  readonly #verified = new Map<string, Scope>()
  /**
   * The token last authenticated, and its scope. A client sends the same token request after
   * request, and comparing it with the last costs less than hashing its few hundred characters
   * to look it up.
   */
  #last: { token: string; scope: Scope } | undefined
  readonly #policies: SourcePolicy[] = []

  constructor(db: Database.Database, rootKey: Buffer) {
    this.#db = db
    this.#rootKey = rootKey
    for (const row of db.prepare('SELECT * FROM grants').all() as GrantRow[]) this.#grants.set(row.id, fromRow(row))
    if (!this.#grants.has(OWNER_GRANT)) {
      this.createGrant({ id: OWNER_GRANT, subject: 'owner', description: 'The owner', sources: '*', ops: ['read', 'write', 'observe', 'delete', 'admin'], windows: [], granularity: 0 })
    }
  }

  /** Adds rules every later grant and every access is checked against too. */
  obey(policy: SourcePolicy): void {
    this.#policies.push(policy)
  }

  /** Why the rules of a source's holder would refuse this grant, or undefined when none does. */
  refusalOf(input: GrantScope & { subject: string }): string | undefined {
    try {
      for (const policy of this.#policies) policy.granting(input)
      return undefined
    } catch (err) {
      if (err instanceof Forbidden) return err.message
      throw err
    }
  }

  createGrant(input: GrantScope & { subject: string; description: string; id?: string }): Grant {
    const id = input.id ?? `${input.subject.replace(/[^a-z0-9]/g, '-')}-${crypto.randomBytes(4).toString('hex')}`
    if (this.#grants.has(id)) throw new InvalidInput(`A grant "${id}" already exists.`)
    const refused = this.refusalOf(input)
    if (refused) throw new Forbidden(refused)
    const grant: Grant = {
      id, subject: input.subject, epoch: 1, revoked: false, createdAt: new Date().toISOString(), description: input.description,
      sources: input.sources, ops: input.ops, windows: input.windows, granularity: input.granularity,
    }
    this.#save(grant)
    return grant
  }

  grants(): Grant[] {
    return [...this.#grants.values()]
  }

  grant(id: string): Grant {
    const grant = this.#grants.get(id)
    if (!grant) throw new NotFound(`There is no grant "${id}". List grants with \`coffer token list\`.`)
    return grant
  }

  /** Revokes a grant: every token minted from it fails from the next request on. The owner grant is rotated instead. */
  revoke(id: string): Grant {
    const grant = this.grant(id)
    const next = { ...grant, epoch: grant.epoch + 1, revoked: id !== OWNER_GRANT }
    this.#save(next)
    this.#verified.clear()
    this.#last = undefined
    return next
  }

  #save(grant: Grant): void {
    const scope = JSON.stringify({ sources: grant.sources, ops: grant.ops, windows: grant.windows, granularity: grant.granularity })
    this.#db.prepare('INSERT OR REPLACE INTO grants (id, subject, epoch, revoked, created_at, description, scope) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(grant.id, grant.subject, grant.epoch, grant.revoked ? 1 : 0, grant.createdAt, grant.description, scope)
    this.#grants.set(grant.id, grant)
  }

  /** Mints a token carrying exactly a grant's scope, expiring after `ttlSeconds` if given. */
  mint(grantId: string, opts: { ttlSeconds?: number } = {}): IssuedToken {
    const grant = this.grant(grantId)
    if (grant.revoked) throw new InvalidInput(`Grant "${grantId}" is revoked; create a new one.`)
    const expires = opts.ttlSeconds === undefined ? undefined : Math.floor(Date.now() / 1000 + opts.ttlSeconds)
    const scope: Scope = { ...grant, grant: { id: grant.id, epoch: grant.epoch }, expires }
    const m = newMacaroon({ identifier: crypto.randomBytes(16).toString('hex'), location: 'coffer', rootKey: this.#rootKey })
    for (const caveat of formatScope(scope)) m.addFirstPartyCaveat(caveat)
    // The JSON (v2) serialisation, base64url-encoded: the package's binary writer doubles its
    // buffer on every byte it appends, which fails outright beyond a few caveats.
    return { token: Buffer.from(JSON.stringify(m.exportJSON())).toString('base64url'), expires }
  }

  ownerToken(ttlSeconds: number): IssuedToken {
    return this.mint(OWNER_GRANT, { ttlSeconds })
  }

  /** Verifies a token's signature chain, grammar, expiry and grant epoch. Throws Unauthorized. */
  authenticate(token: string | undefined, now = Date.now() / 1000): Scope {
    if (!token) throw new Unauthorized('This request needs a token: send `Authorization: Bearer <token>`. Get one with `coffer token owner` or POST /api/v1/login.')
    let scope = this.#last?.token === token ? this.#last.scope : this.#verified.get(token)
    if (!scope) {
      scope = this.#verify(token)
      if (this.#verified.size >= VERIFIED_CACHE_SIZE) this.#verified.delete(this.#verified.keys().next().value!)
      this.#verified.set(token, scope)
    }
    this.#last = { token, scope }
    if (scope.expires !== undefined && now >= scope.expires) throw new Unauthorized('The token has expired. Ask for a new one.', { subject: scope.subject, grant: scope.grant.id })
    const grant = this.#grants.get(scope.grant.id)
    if (!grant || grant.revoked || grant.epoch !== scope.grant.epoch) throw new Unauthorized('The token has been revoked.', { subject: scope.subject, grant: scope.grant.id })
    return scope
  }

  #verify(token: string): Scope {
    if (token.length > 8192 || !/^[A-Za-z0-9_-]+$/.test(token)) throw new Unauthorized('The token is malformed.')
    const builder = new ScopeBuilder()
    try {
      const m = importMacaroon(JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as object)
      // The checker receives each caveat as bytes; any caveat outside the grammar fails the whole token.
      m.verify(this.#rootKey, (caveat: Uint8Array) => builder.add(Buffer.from(caveat).toString('utf8')))
    } catch {
      throw new Unauthorized('The token is invalid: it was not issued by this box, was altered, or carries a caveat this box does not understand.')
    }
    const scope = builder.finish()
    if (typeof scope === 'string') throw new Unauthorized(`The token is invalid: ${scope}.`)
    return scope
  }

  /** Throws Forbidden unless the scope allows the access. */
  authorize(scope: Scope, access: Access, now = Date.now() / 1000): void {
    if (!scope.ops.includes(access.op)) throw new Forbidden(`This token does not allow "${access.op}" (it allows ${scope.ops.join(', ') || 'nothing'}).`)
    if (access.source !== undefined && !allowsSource(scope, access.source)) throw new Forbidden(`This token does not cover source "${access.source}".`)
    if (access.granularity !== undefined && access.granularity < scope.granularity) {
      throw new Forbidden(`This token allows data no finer than ${scope.granularity}s buckets; ${access.granularity === 0 ? 'raw points were' : `${access.granularity}s buckets were`} asked for.`)
    }
    const window = windowOf(scope, now)
    if ((access.from !== undefined && access.from < window.from) || (access.to !== undefined && access.to > window.to)) {
      throw new Forbidden(`This token allows data from ${iso(window.from)} to ${iso(window.to)} only.`)
    }
    for (const policy of this.#policies) policy.accessing(scope, access)
  }
}

export function allowsSource(scope: Scope, source: string): boolean {
  return scope.sources === '*' || scope.sources.includes(source)
}

/** The intersection of a scope's windows at time `now`. */
export function windowOf(scope: Scope, now = Date.now() / 1000): { from: number; to: number } {
  let from = -Infinity
  let to = Infinity
  for (const w of scope.windows) {
    if (w.from) from = Math.max(from, resolveBound(w.from, now))
    if (w.to) to = Math.min(to, resolveBound(w.to, now))
  }
  return { from, to }
}

function iso(t: number): string {
  return Number.isFinite(t) ? new Date(t * 1000).toISOString() : t < 0 ? 'the beginning' : 'now on'
}

interface GrantRow { id: string; subject: string; epoch: number; revoked: number; created_at: string; description: string; scope: string }

function fromRow(row: GrantRow): Grant {
  return { id: row.id, subject: row.subject, epoch: row.epoch, revoked: row.revoked === 1, createdAt: row.created_at, description: row.description, ...(JSON.parse(row.scope) as GrantScope) }
}
