/**
 * What the `coffer groups` command shows in words, kept apart from the groups' machinery so a
 * command that only talks to a running box loads none of it.
 */
import { durationCell } from '../duration/index.ts'
import type { ShareRules } from './share-rules.ts'

/** A shared source's rules in plain words. */
export function describeRules(rules: ShareRules): string {
  const apps = rules.apps === 'raw' ? 'apps may read raw points' : rules.apps === 'none' ? 'no app may be granted it' : `apps may read ${durationCell(rules.finest)} aggregates or coarser`
  return `${apps}; ${rules.gateway ? 'may' : 'may not'} leave through the gateway; ${rules.market ? 'may' : 'may not'} answer a data market`
}

/** A fingerprint as the owner may type it: any case, with or without dashes or spaces. */
export function sameFingerprint(typed: string, fp: string): boolean {
  return typed.replace(/[\s-]/g, '').toUpperCase() === fp.replace(/-/g, '')
}
