/**
 * What a source mover is given and what it reports: endpoints, knobs (with their defaults), per-slot progress,
 * big-key reports and the mover's overall progress. Shared by the mover's parts, the engine and the API views.
 */
import type tls from 'node:tls';
import type { Logger } from '../../shared/log.js';
import type { PauseGate, Throttle } from './throttle.js';

export interface RedisEndpoint {
  /** host:port */
  addr: string;
  password?: string;
  /** ACL user for AUTH2 (default user when absent). */
  username?: string;
  /** TLS toward the server (MIGRATE between servers then needs their own tls-cluster setting). */
  tls?: tls.ConnectionOptions | null;
}

export interface MoverKnobs {
  /** SCAN COUNT hint. */
  scanCount: number;
  /** Max keys per MIGRATE. */
  batchKeys: number;
  /**
   * Target duration of one MIGRATE call (ms; 0 = off): batches shrink below batchKeys so that one call
   * blocks the source about this long (per-key cost measured as it goes). Bounds the wait of client
   * commands queued behind the mover on the source.
   */
  targetBatchMs: number;
  /** Max measured bytes per MIGRATE. */
  batchBytes: number;
  /** MIGRATE timeout argument for normal batches (ms). */
  migrateTimeoutMs: number;
  /** A key measured above this is a big key. */
  bigKeyBytes: number;
  /** MIGRATE timeout for a big key moved alone (ms). */
  bigKeyTimeoutMs: number;
  /** Refuse big keys instead of moving them (the slot stops with BIGKEY_REFUSED). */
  refuseBigKeys: boolean;
  /** Passes before a slot still holding keys is declared NOT_DRAINED. */
  maxPasses: number;
  /** Buckets measured + moved concurrently, each worker on its own connection to the source. */
  pipeline: number;
  /** Attempts for a batch failing with an I/O error or timeout. */
  retries: number;
  /**
   * Clients are "active" on the source when it runs more than this many commands/s besides the mover's own
   * (INFO stats total_commands_processed, sampled every 250 ms over the last second; 0 = never pace).
   */
  busyClientOps: number;
  /**
   * While clients are active: the share of the source's time the mover may use (its rate is limited to
   * loadedDuty / source time per key). 1 = no pacing.
   */
  loadedDuty: number;
}

export const DEFAULT_MOVER_KNOBS: MoverKnobs = {
  scanCount: 1000,
  batchKeys: 500,
  targetBatchMs: 3,
  batchBytes: 8 * 1024 * 1024,
  migrateTimeoutMs: 5000,
  bigKeyBytes: 32 * 1024 * 1024,
  bigKeyTimeoutMs: 120_000,
  refuseBigKeys: false,
  maxPasses: 5,
  pipeline: 2,
  retries: 3,
  busyClientOps: 3000,
  loadedDuty: 0.3,
};

export type SlotMoveState = 'moving' | 'done' | 'error' | 'dropped' | 'stopped';

export interface SlotMoveError {
  code: string;
  message: string;
}

export interface SlotProgress {
  slot: number;
  source: string;
  target: string;
  state: SlotMoveState;
  /** Keys of the slot the mover moved (keys a proxy moved on access are not counted). */
  keysMoved: number;
  bytesMoved: number;
  /** Keys of the slot seen by SCAN in the current/last pass. */
  keysFound: number;
  passes: number;
  bigKeys: number;
  error?: SlotMoveError;
}

export interface BigKeyReport {
  slot: number;
  db: number;
  key: string;
  bytes: number;
  type?: string;
  action: 'moved' | 'refused' | 'failed';
  /** Duration of the MIGRATE call that moved it (the source is blocked that long). */
  blockedMs?: number;
}

/** Keys and bytes moved, their rates over the last seconds and the estimate of what is left (mover, job, status). */
export interface MoveRates {
  keysMoved: number;
  bytesMoved: number;
  keysPerSec: number;
  bytesPerSec: number;
  /** Estimated keys of the moving slots still on the source; null before anything is known. */
  keysRemaining: number | null;
  etaSeconds: number | null;
}

export interface MoverProgress extends MoveRates {
  source: string;
  pass: number;
  db: number | null;
  /** Keys SCAN returned in the current pass (all slots). */
  scanned: number;
  /** Keys in the source when the pass started (sum over dbs). */
  sourceKeys: number;
  paused: boolean;
  /** Client commands/s on the source besides the mover's (last second); the mover paces itself above busyClientOps. */
  clientOpsPerSec: number;
  /** True while pacing for client load. */
  pacing: boolean;
  startedAt: string;
  finishedAt?: string;
  slots: SlotProgress[];
  bigKeys: BigKeyReport[];
}

export interface MoverSlot {
  slot: number;
  target: RedisEndpoint;
}

export interface SourceMoverOptions {
  source: RedisEndpoint;
  slots: MoverSlot[];
  knobs?: Partial<MoverKnobs>;
  throttle?: Throttle;
  gate?: PauseGate;
  /** Aborting stops the run as soon as the batches in flight are answered (slots end `stopped`). */
  signal?: AbortSignal;
  log?: Logger;
  /** Called when slots become terminal (done / error), in groups, as soon as known. */
  onSlots?: (slots: SlotProgress[]) => void;
  /** Called after every moved batch (metrics). */
  onMoved?: (slot: number, keys: number, bytes: number) => void;
  /** Called for every big key met. */
  onBigKey?: (report: BigKeyReport) => void;
}
