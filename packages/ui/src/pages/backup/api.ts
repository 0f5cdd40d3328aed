/**
 * The Backup page's calls into the box's API, through the box's own client with the session's
 * token, as the rest of the cockpit calls it. The shapes are the box's backup and recovery
 * operations' own, imported, so a change there is a type error here.
 */
import { createClient } from '@coffer/box/client'
import type { BackupOperations, ReplicaSettings, ReplicaView } from '../../../../box/src/backup/index.ts'
import type { HeldShare, ShareHolder, Split } from '../../../../box/src/recovery/index.ts'
import { currentSession, endSession } from '../../auth/session.ts'

type Answer<K extends keyof BackupOperations> = Awaited<ReturnType<BackupOperations[K]['run']>>
export type Replicas = Answer<'list'>
export type Invited = Answer<'invite'>
export type { HeldShare, ReplicaSettings, ReplicaView, ShareHolder, Split }

const box = createClient({ baseUrl: '/api/v1', token: () => currentSession()?.token, onUnauthorized: endSession })
const id = encodeURIComponent

export const backup = {
  replicas: (signal?: AbortSignal) => box.request<Replicas>('GET', '/backup/replicas', { signal }),
  invite: (input: { publicKey: string; name: string; expiresIn: string }) => box.request<Invited>('POST', '/backup/replicas', { json: input }),
  /** The passphrase goes in this one request and is kept nowhere: the device's invite carries the seed. */
  inviteDevice: (input: { publicKey: string; name: string; expiresIn: string; passphrase: string }) => box.request<Invited>('POST', '/backup/devices', { json: input }),
  configure: (replica: string, settings: Partial<ReplicaSettings>) => box.request<ReplicaView>('PATCH', `/backup/replicas/${id(replica)}`, { json: settings }),
  check: (replica: string) => box.request<ReplicaView>('POST', `/backup/replicas/${id(replica)}/check`),
  remove: (replica: string) => box.request<{ removed: string }>('DELETE', `/backup/replicas/${id(replica)}`),

  /** The PDF as the box sends it; the passphrase goes in this one request and is kept nowhere. */
  paperKey: async (passphrase: string) => (await box.response('POST', '/recovery/paper-key', { json: { passphrase, format: 'pdf' } })).blob(),
  split: (signal?: AbortSignal) => box.request<Split | null>('GET', '/recovery/split', { signal }),
  held: (signal?: AbortSignal) => box.request<HeldShare[]>('GET', '/recovery/held', { signal }),
  identity: async (signal?: AbortSignal) => (await box.request<{ identity: string }>('GET', '/status', { signal })).identity,
}
