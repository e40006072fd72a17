/**
 * One etcd prefix watch with the resume point, per-revision batches and reset detection etcd3 does not give
 * (see the header of etcd.ts).
 */
import type { Etcd3, IResponseHeader, IWatchResponse, Watcher } from 'etcd3';
import { CommonErrors, RedslotError } from '../errors.js';
import { log, mapError, toKeyValue } from './etcd-common.js';
import type { Watch, WatchBatch, WatchEvent, WatchHandlers } from './types.js';

/** One prefix watch: resume point, batching, reset detection. */
export class EtcdWatch implements Watch {
  /** Next revision we expect (everything below it was delivered). */
  private next: number;
  /** Highest header revision seen on this watch. */
  private seenRevision = 0;
  private seenTerm = 0;
  private clusterId: string | undefined;
  private dead = false;
  private up = true;
  private watcher: Watcher | undefined;

  constructor(
    private readonly client: Etcd3,
    private readonly prefix: string,
    fromRevision: number,
    private readonly handlers: WatchHandlers,
    private readonly onDone: (w: EtcdWatch) => void,
    private readonly createTimeoutMs: number,
  ) {
    this.next = Math.max(1, Math.floor(fromRevision));
  }

  async start(): Promise<void> {
    const w = this.client.watch().prefix(this.prefix).startRevision(String(this.next)).watcher();
    this.watcher = w;
    w.on('data', (res: IWatchResponse) => this.onData(res));
    w.on('connected', (res: IWatchResponse) => this.onConnected(res));
    w.on('disconnected', (err: Error) => this.onDisconnected(err));
    w.on('error', (err: Error) => this.onError(err));
    await new Promise<void>((resolve, reject) => {
      // etcd3 retries a watch forever while etcd is unreachable; the caller gets an error after the call timeout.
      const timer = setTimeout(() => {
        w.off('connected', ok);
        w.off('error', fail);
        reject(new RedslotError(CommonErrors.REDSLOT_ERR_COORDINATOR_UNAVAILABLE, { reason: `watch ${this.prefix}: not established within ${this.createTimeoutMs} ms` }));
      }, this.createTimeoutMs);
      const ok = (): void => {
        clearTimeout(timer);
        w.off('error', fail);
        resolve();
      };
      const fail = (err: Error): void => {
        clearTimeout(timer);
        w.off('connected', ok);
        // The server refused the watch (e.g. compacted): the error handler already reported onReset.
        if (this.dead) resolve();
        else reject(mapError('watch', err));
      };
      w.once('connected', ok);
      w.once('error', fail);
    });
  }

  /** Compares a response header with what this watch saw; true if the store was replaced. */
  private checkHeader(h: IResponseHeader | undefined, reconnect: boolean): boolean {
    if (!h) return false;
    const rev = Number(h.revision);
    const term = Number(h.raft_term);
    const cid = String(h.cluster_id);
    let reason: string | undefined;
    if (this.clusterId !== undefined && cid !== this.clusterId) reason = `cluster id changed ${this.clusterId} -> ${cid}`;
    else if (rev < this.seenRevision) reason = `store revision went backwards ${this.seenRevision} -> ${rev}`;
    else if (reconnect && rev < this.next - 1) reason = `store revision ${rev} is below the last delivered ${this.next - 1}`;
    else if (term > 0 && term < this.seenTerm) reason = `raft term went backwards ${this.seenTerm} -> ${term}`;
    if (reason) {
      this.reset(`etcd replaced: ${reason}`);
      return true;
    }
    this.seenRevision = Math.max(this.seenRevision, rev);
    this.seenTerm = Math.max(this.seenTerm, term);
    this.clusterId = cid;
    return false;
  }

  private reconnects = 0;

  private onConnected(res: IWatchResponse): void {
    if (this.dead) return;
    const reconnect = this.reconnects > 0;
    if (this.checkHeader(res.header, reconnect)) return;
    if (!this.up) {
      this.up = true;
      log.info('coordinator.watch.reconnected', { prefix: this.prefix, from: this.next });
      this.handlers.onConnection?.(true);
    }
  }

  private onDisconnected(err: Error): void {
    if (this.dead) return;
    this.reconnects++;
    // Resume exactly after the last delivered revision (etcd3 would use the last header revision + 1).
    const req = (this.watcher as unknown as { request: { start_revision?: string | number } } | undefined)?.request;
    if (req) req.start_revision = String(this.next);
    if (this.up) {
      this.up = false;
      log.warn('coordinator.watch.disconnected', { prefix: this.prefix, resumeFrom: this.next, err });
      this.handlers.onConnection?.(false);
    }
  }

  private onError(err: Error): void {
    if (this.dead) return;
    const msg = String(err?.message ?? err);
    // etcd3 drops the compact_revision of a cancel response; ask etcd whether our resume point is compacted.
    const from = this.next;
    this.dead = true;
    void this.client.kv
      .range({ key: Buffer.from(this.prefix), revision: from, limit: 1 })
      .then(
        () => `watch cancelled by etcd: ${msg}`,
        (probe: Error) =>
          /compacted/i.test(String(probe?.message)) ? `compacted: revision ${from} is older than etcd's history` : `watch cancelled by etcd: ${msg}`,
      )
      .then((reason) => {
        this.dead = false;
        this.reset(reason);
      });
  }

  private onData(res: IWatchResponse): void {
    if (this.dead) return;
    if (this.checkHeader(res.header, false)) return;
    if (res.canceled) return; // handled through 'error'
    const byRev = new Map<number, WatchEvent[]>();
    for (const ev of res.events ?? []) {
      const kv = toKeyValue(ev.kv);
      const rev = kv.modRevision;
      if (rev < this.next) continue; // already delivered (defensive)
      const event: WatchEvent =
        ev.type === 'Delete'
          ? { type: 'delete', kv: { key: kv.key, value: '', createRevision: 0, modRevision: rev, version: 0 } }
          : { type: 'put', kv };
      let list = byRev.get(rev);
      if (!list) byRev.set(rev, (list = []));
      list.push(event);
    }
    const revs = [...byRev.keys()].sort((a, b) => a - b);
    for (const rev of revs) {
      if (this.dead) return;
      this.next = rev + 1;
      const batch: WatchBatch = { revision: rev, events: byRev.get(rev)! };
      try {
        this.handlers.onBatch(batch);
      } catch (err) {
        log.error('coordinator.watch.handler_failed', { prefix: this.prefix, revision: rev, err });
      }
    }
  }

  private reset(reason: string): void {
    if (this.dead) return;
    log.warn('coordinator.watch.reset', { prefix: this.prefix, reason, next: this.next });
    void this.cancel();
    this.handlers.onReset?.(reason);
  }

  async cancel(): Promise<void> {
    if (this.dead && !this.watcher) return;
    this.dead = true;
    this.onDone(this);
    const w = this.watcher;
    this.watcher = undefined;
    if (w) {
      try {
        await w.cancel();
      } catch {
        // cancelling a watch on a broken stream: nothing left to do
      }
    }
  }
}
