/**
 * The audit log, kept in the coordinator under `paths.audit`: one entry per mutating API call (who, what,
 * params, when, result ok|refused|failed, detail). Intent first: the entry is written with result `started`
 * BEFORE the action runs (if that write fails the action does not run), then overwritten in place with the
 * outcome; a dashboard that crashes mid-operation leaves the `started` entry behind. Keys sort by time (`<ms:13>-<seq>-<rand>`), so a range
 * read returns them in order. The leader trims entries beyond `retain`.
 */
import { randomBytes } from 'node:crypto';
import type { Coordinator } from '../../shared/coordinator/types.js';
import { RedslotError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import { lastSegment, type ClusterPaths } from '../../shared/model/paths.js';
import type { AuditRecord } from '../../shared/model/types.js';
import type { DashboardMetrics } from '../metrics/dashboard.js';

export interface AuditEntry extends AuditRecord {
  id: string;
}

export type AuditResult = AuditRecord['result'];

/** refused = the cluster said no for a reason (4xx, 409, 503); failed = something broke (5xx other than 503). */
export function classifyError(err: unknown): AuditResult {
  if (err instanceof RedslotError) {
    const status = err.spec.httpStatus ?? 500;
    return status < 500 || status === 503 ? 'refused' : 'failed';
  }
  return 'failed';
}

export class AuditLog {
  private seq = 0;

  constructor(
    private readonly coord: Coordinator,
    private readonly paths: ClusterPaths,
    private readonly log: Logger,
    private readonly metrics?: DashboardMetrics,
  ) {}

  newId(): string {
    this.seq = (this.seq + 1) % 1_000_000;
    return `${String(Date.now()).padStart(13, '0')}-${String(this.seq).padStart(6, '0')}-${randomBytes(3).toString('hex')}`;
  }

  /** Writes one entry (or overwrites `id`). Never throws: a failed audit write is logged (the action already happened). */
  async record(entry: AuditRecord, id = this.newId()): Promise<string | undefined> {
    try {
      await this.coord.put(this.paths.auditEntry(id), JSON.stringify(entry));
      this.metrics?.auditWrites.inc({ result: entry.result });
      return id;
    } catch (err) {
      this.log.error('audit.write_failed', { entry, err });
      return undefined;
    }
  }

  /**
   * Runs an operator action and records it: ok with the detail `fn` returns, refused/failed with the error
   * message (rethrown to the caller).
   */
  async run<T>(who: string, action: string, target: string | undefined, params: unknown, fn: () => Promise<T>, detailOf?: (r: T) => string | undefined): Promise<T> {
    const id = this.newId();
    const startedAt = new Date().toISOString();
    // The intent, before anything happens: throws (and the action is not run) when it cannot be written.
    await this.coord.put(this.paths.auditEntry(id), JSON.stringify({ at: startedAt, startedAt, who, action, target, params, result: 'started' } satisfies AuditRecord));
    this.metrics?.auditWrites.inc({ result: 'started' });
    try {
      const r = await fn();
      await this.record({ at: new Date().toISOString(), startedAt, who, action, target, params, result: 'ok', detail: detailOf?.(r) }, id);
      this.metrics?.operations.inc({ op: action, result: 'ok' });
      return r;
    } catch (err) {
      const result = classifyError(err);
      const detail = err instanceof Error ? err.message : String(err);
      await this.record({ at: new Date().toISOString(), startedAt, who, action, target, params, result, detail }, id);
      this.metrics?.operations.inc({ op: action, result });
      throw err;
    }
  }

  /** Newest first; `before` pages backwards. */
  async list(limit = 100, before?: string): Promise<AuditEntry[]> {
    const res = await this.coord.getPrefix(this.paths.audit);
    const out: AuditEntry[] = [];
    for (let i = res.kvs.length - 1; i >= 0 && out.length < limit; i--) {
      const kv = res.kvs[i]!;
      const id = lastSegment(kv.key);
      if (before !== undefined && id >= before) continue;
      try {
        out.push({ id, ...(JSON.parse(kv.value) as AuditRecord) });
      } catch {
        this.log.warn('audit.bad_entry', { key: kv.key });
      }
    }
    return out;
  }

  /** Deletes the oldest entries beyond `retain` (the leader calls it now and then). */
  async trim(retain: number): Promise<number> {
    const res = await this.coord.getPrefix(this.paths.audit);
    const excess = res.kvs.length - retain;
    let removed = 0;
    for (let i = 0; i < excess; i++) {
      await this.coord.delete(res.kvs[i]!.key);
      removed++;
    }
    if (removed > 0) this.log.info('audit.trimmed', { removed, retain });
    return removed;
  }
}
