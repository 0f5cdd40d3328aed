/**
 * The Groups page's calls into the box: the group operations through the box's own client, and
 * each group's drive over WebDAV on the same origin (/dav/groups/<key>/), with the session's
 * token as a Bearer header, which the drives accept from the owner. The shapes are the box's
 * group operations' own, imported, so a change there is a type error here.
 */
import { createClient } from '@coffer/box/client'
import type { GroupOperations, GroupView, MemberView, ReplicatorView, SharedSourceView, UnopenedGroup } from '../../../../box/src/groups/index.ts'
import { currentSession, endSession } from '../../auth/session.ts'
import { davPath } from './words.ts'

type Answer<K extends keyof GroupOperations> = Awaited<ReturnType<GroupOperations[K]['run']>>
export type GroupList = Answer<'list'>
export type Invited = Answer<'invite'>
export type ReplicatorInvited = Answer<'addReplicator'>
export type Folder = Answer<'files'>
export type DriveEntry = Folder['entries'][number]
export type Asking = Answer<'asking'>
export type Offer = Asking['offers'][number]
export type Nearby = Answer<'nearby'>['nearby'][number]
export type NearbyInvited = Answer<'inviteNearby'>
/** An invite made for a box asking nearby and sent to it on the local network: its fingerprint, this box's, and whether it said it has it. */
export type LanDelivery = { fingerprint: string; adminFingerprint: string; arrived: boolean }
/** An invite as the page shows it once made: for whom, and for a box nearby how it went. */
export type MadeInvite = Invited & { name: string; publicKey: string; lan?: LanDelivery }
export type { GroupView, MemberView, ReplicatorView, SharedSourceView, UnopenedGroup }
/** The rules as the share and rules operations take them: anything left out stays as it was. */
export type RulesInput = { apps?: 'none' | 'aggregates' | 'raw'; finest?: string; gateway?: boolean; market?: boolean }

const token = () => currentSession()?.token
const box = createClient({ baseUrl: '/api/v1', token, onUnauthorized: endSession })
const dav = createClient({ baseUrl: '/dav/groups', token, onUnauthorized: endSession })
const id = encodeURIComponent

export const groups = {
  list: (signal?: AbortSignal) => box.request<GroupList>('GET', '/groups', { signal }),
  create: (input: { name: string; as?: string }) => box.request<GroupView>('POST', '/groups', { json: input }),
  join: (input: { code: string; as?: string }) => box.request<GroupView>('POST', '/groups/join', { json: input }),
  invite: (group: string, input: { publicKey: string; name: string; role: 'admin' | 'member'; expiresIn: string }) =>
    box.request<Invited>('POST', `/groups/${id(group)}/invites`, { json: input }),
  ask: (input: { as?: string; wait?: number }) => box.request<Asking>('POST', '/groups/lan/ask', { json: input }),
  asking: (signal?: AbortSignal) => box.request<Asking>('GET', '/groups/lan/ask', { signal }),
  stopAsking: () => box.request<Asking>('DELETE', '/groups/lan/ask'),
  joinNearby: (input: { offer: string; as?: string }) => box.request<GroupView>('POST', '/groups/lan/join', { json: input }),
  nearby: (signal?: AbortSignal) => box.request<{ nearby: Nearby[] }>('GET', '/groups/lan/nearby', { signal }),
  inviteNearby: (group: string, input: { to: string; name?: string; role: 'admin' | 'member'; expiresIn: string }) =>
    box.request<NearbyInvited>('POST', `/groups/${id(group)}/invites/lan`, { json: input }),
  remove: (group: string, member: string) => box.request<GroupView>('DELETE', `/groups/${id(group)}/members/${id(member)}`),
  leave: (group: string) => box.request<{ left: string }>('POST', `/groups/${id(group)}/leave`),
  addReplicator: (group: string, input: { publicKey: string; name: string }) => box.request<ReplicatorInvited>('POST', `/groups/${id(group)}/replicators`, { json: input }),
  configureReplicator: (group: string, replicator: string, settings: { windows?: string[]; uploadBytesPerSecond?: number; downloadBytesPerSecond?: number }) =>
    box.request<ReplicatorView>('PATCH', `/groups/${id(group)}/replicators/${id(replicator)}`, { json: settings }),
  removeReplicator: (group: string, replicator: string) => box.request<{ removed: string }>('DELETE', `/groups/${id(group)}/replicators/${id(replicator)}`),
  share: (group: string, input: { source: string } & RulesInput) => box.request<SharedSourceView>('POST', `/groups/${id(group)}/sources`, { json: input }),
  shareRules: (group: string, source: string, rules: RulesInput) => box.request<SharedSourceView>('PATCH', `/groups/${id(group)}/sources/${id(source)}`, { json: rules }),
  stopSharing: (group: string, source: string) => box.request<SharedSourceView>('DELETE', `/groups/${id(group)}/sources/${id(source)}`),
  files: (group: string, path: string, signal?: AbortSignal) => box.request<Folder>('GET', `/groups/${id(group)}/files`, { query: { path }, signal }),
}

/** A group's drive as any WebDAV client reaches it: a file is sent and fetched as it is, a stream each way. */
export const drive = {
  /** Where a file manager mounts the drive. */
  address: (group: string) => `${location.origin}/dav/groups/${group}/`,
  upload: async (group: string, path: string, file: File) => {
    await dav.response('PUT', davPath(group, path), { body: file, type: file.type || 'application/octet-stream' })
  },
  download: async (group: string, path: string) => (await dav.response('GET', davPath(group, path))).blob(),
  remove: async (group: string, path: string) => {
    await dav.response('DELETE', davPath(group, path))
  },
  mkdir: async (group: string, path: string) => {
    await dav.response('MKCOL', davPath(group, path))
  },
}
