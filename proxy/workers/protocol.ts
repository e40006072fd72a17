/**
 * Messages between the primary and its proxy workers (node:cluster IPC, `serialization: 'advanced'` so a
 * Topology's Map crosses as is). Requests that expect an answer carry a `seq` the answer repeats.
 */
import type { MetricObjectWithValues, MetricValue } from 'prom-client';
import type { ProxyLoadReport } from '../../shared/load-report.js';
import type { Topology } from '../../shared/model/types.js';
import type { ProxyConfig } from '../config.js';

export interface WorkerInit {
  t: 'init';
  /** 0-based worker number (stable across respawns of the same slot). */
  index: number;
  /** The config the worker runs with (admin disabled: the primary serves it). */
  config: ProxyConfig;
  /** The topology to apply before listening (null before the first load). */
  topology: Topology | null;
  fenced: string | null;
  /** Serve deadline in ms from when the primary sent this (null: none); see ProxyRuntime.setServeDeadline. */
  deadlineMs?: number | null;
  /** The registration id backend connections are named after (ProxyRuntime.setIdentity). */
  identity?: string | null;
  defaultMetrics: boolean;
  /** Listen right after init; otherwise wait for a `listen` message (first start: after the first table). */
  listen: boolean;
}

export type ToWorker =
  | WorkerInit
  | { t: 'apply'; seq: number; topology: Topology }
  | { t: 'listen' }
  | { t: 'fence'; reason: string | null }
  | { t: 'deadline'; remainingMs: number | null }
  | { t: 'identity'; id: string | null }
  | { t: 'stats'; seq: number }
  | { t: 'metrics'; seq: number }
  | { t: 'load'; seq: number }
  | { t: 'shutdown'; deadlineMs: number };

/** What one worker reports about itself (admin API, readiness, tests). */
export interface WorkerStats {
  index: number;
  pid: number;
  revision: number;
  loaded: boolean;
  fenced: string | null;
  clients: number;
  totalConnections: number;
  rejectedConnections: number;
  requestsActive: number;
  heldSessions: number;
  drainingRequests: number;
  commands: number;
  commandStats: Array<{ name: string; calls: number; usec: number; failed: number }>;
  backends: Array<{ addr: string; requests: number; pending: number; healthy: boolean; connections: number }>;
  memory: { rss: number; heapUsed: number; heapTotal: number; external: number; arrayBuffers: number };
}

export type WorkerMetrics = Array<MetricObjectWithValues<MetricValue<string>>>;

export type FromWorker =
  | { t: 'hello' }
  | { t: 'initialised'; revision: number }
  | { t: 'listening'; port: number; revision: number }
  | { t: 'applied'; seq: number; revision: number }
  | { t: 'apply-failed'; seq: number; error: string }
  | { t: 'stats'; seq: number; stats: WorkerStats }
  | { t: 'metrics'; seq: number; metrics: WorkerMetrics }
  | { t: 'load'; seq: number; report: ProxyLoadReport }
  | { t: 'fatal'; error: string };
