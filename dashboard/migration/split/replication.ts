/**
 * What the split reads of Redis replication (INFO replication), parsed once, and the two questions it asks:
 * has the new master caught up with the source, and is a master the promoted replica of the source.
 */
import type { RedisAdmin } from '../../redis/admin.js';

export interface ReplicationState {
  role: 'master' | 'slave' | 'unknown';
  /** host:port of the master (replicas only). */
  master?: string;
  linkUp: boolean;
  /** A full sync (RDB transfer and load) is running. */
  syncInProgress: boolean;
  /** RDB bytes announced / read so far during a full sync (-1 unknown, e.g. diskless). */
  syncTotalBytes: number;
  syncReadBytes: number;
  /** The replica's processed offset (replicas). */
  replicaOffset: number;
  /** The server's own replication offset (masters: what it sent; promoted replicas keep counting from theirs). */
  masterOffset: number;
  replId: string;
  /** After a promotion: the former master's replication id, and the offset up to which it is valid + 1. */
  replId2: string;
  secondOffset: number;
}

const num = (v: string | undefined, d = 0): number => {
  const n = Number(v);
  return v !== undefined && Number.isFinite(n) ? n : d;
};

export async function replicationOf(c: RedisAdmin): Promise<ReplicationState> {
  const info = await c.info('replication');
  const f = info.sections['replication'] ?? {};
  const role = f['role'] === 'master' || f['role'] === 'slave' ? f['role'] : 'unknown';
  return {
    role,
    master: f['master_host'] !== undefined ? `${f['master_host']}:${f['master_port']}` : undefined,
    linkUp: f['master_link_status'] === 'up',
    syncInProgress: f['master_sync_in_progress'] === '1',
    syncTotalBytes: num(f['master_sync_total_bytes'], -1),
    syncReadBytes: num(f['master_sync_read_bytes'], 0),
    replicaOffset: num(f['slave_repl_offset'], 0),
    masterOffset: num(f['master_repl_offset'], 0),
    replId: f['master_replid'] ?? '',
    replId2: f['master_replid2'] ?? '',
    secondOffset: num(f['second_repl_offset'], -1),
  };
}

/** Same host:port, allowing for Redis reporting the master's host as it was given. */
export function sameAddr(a: string | undefined, b: string): boolean {
  return a !== undefined && a === b;
}

/** The replica follows `source`, its link is up, no full sync runs, and it is within `lagBytes` of `sourceOffset`. */
export function caughtUp(target: ReplicationState, source: string, sourceOffset: number, lagBytes: number): boolean {
  return (
    target.role === 'slave' && sameAddr(target.master, source) && target.linkUp && !target.syncInProgress && sourceOffset - target.replicaOffset <= lagBytes
  );
}

/**
 * A master that was promoted from a replica of the source with at least `offset` applied: Redis keeps the
 * former master's replication id as replid2, valid up to second_repl_offset - 1.
 */
export function promotedFrom(target: ReplicationState, sourceReplId: string, offset: number): boolean {
  return target.role === 'master' && target.replId2 === sourceReplId && target.secondOffset - 1 >= offset;
}
