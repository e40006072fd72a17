/** Live progress of the splits this leader runs (not persisted: a new leader measures afresh). */
export interface SplitProgress {
  /** Full sync: RDB bytes read by the new master / announced (-1 unknown). */
  syncReadBytes: number;
  syncTotalBytes: number;
  /** Source offset minus the new master's (-1 before the link is up). */
  lagBytes: number;
  purgedSource: number;
  purgedTarget: number;
  /** Keys each side held when the purge started (for a fraction). */
  purgeSourceKeys: number;
  purgeTargetKeys: number;
  /** The new group's replicas (chained during the sync, attached after the purge). */
  replicas: ReplicaProgress[];
  lastError?: { message: string; at: string; step: string };
}

/** One replica of the new group as last polled. */
export interface ReplicaProgress {
  addr: string;
  role: 'master' | 'slave' | 'unknown';
  /** host:port it replicates (replicas only). */
  master?: string;
  linkUp: boolean;
  /** A full sync (RDB transfer and load) runs. */
  syncing: boolean;
  /** Its master's offset minus its own (-1 while not following with the link up). */
  lagBytes: number;
  /** Why it could not be polled. */
  error?: string;
}

export function newProgress(): SplitProgress {
  return { syncReadBytes: 0, syncTotalBytes: -1, lagBytes: -1, purgedSource: 0, purgedTarget: 0, purgeSourceKeys: 0, purgeTargetKeys: 0, replicas: [] };
}
