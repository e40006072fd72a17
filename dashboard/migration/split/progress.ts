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
  lastError?: { message: string; at: string; step: string };
}

export function newProgress(): SplitProgress {
  return { syncReadBytes: 0, syncTotalBytes: -1, lagBytes: -1, purgedSource: 0, purgedTarget: 0, purgeSourceKeys: 0, purgeTargetKeys: 0 };
}
