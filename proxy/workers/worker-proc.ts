/** The primary's view of one worker process: its state, and requests to it answered over IPC (primary.ts). */
import type { Worker } from 'node:cluster';
import type { ToWorker } from './protocol.js';

export type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void; kind: 'apply' | 'stats' | 'metrics' | 'load' };

/** The primary's view of one worker process. */
export class WorkerProc {
  /** starting: forked; idle: initialised, not listening yet; serving: listening; exited. */
  state: 'starting' | 'idle' | 'serving' | 'exited' = 'starting';
  /** The worker has been sent its init (only then does it get broadcasts). */
  initialised = false;
  revision = 0;
  private seq = 0;
  private readonly pending = new Map<number, Pending>();
  readonly exited: Promise<number | null>;

  constructor(
    readonly index: number,
    readonly worker: Worker,
  ) {
    this.exited = new Promise((resolve) => worker.once('exit', (code) => resolve(code)));
  }

  get pid(): number {
    return this.worker.process.pid ?? 0;
  }

  send(msg: ToWorker): void {
    if (this.state === 'exited' || !this.worker.isConnected()) return;
    try {
      this.worker.send(msg);
    } catch {
      /* the channel closed meanwhile: the exit handler settles everything */
    }
  }

  /** Sends a request; resolves with its answer (null for queries to a worker that went away). */
  request<T>(kind: Pending['kind'], build: (seq: number) => ToWorker, timeoutMs = 0): Promise<T | null> {
    if (this.state === 'exited') return Promise.resolve(null);
    const seq = ++this.seq;
    return new Promise<T | null>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      if (timeoutMs > 0) {
        timer = setTimeout(() => {
          this.pending.delete(seq);
          resolve(null);
        }, timeoutMs);
        timer.unref();
      }
      this.pending.set(seq, {
        kind,
        resolve: (v) => {
          if (timer) clearTimeout(timer);
          resolve(v as T | null);
        },
        reject: (e) => {
          if (timer) clearTimeout(timer);
          reject(e);
        },
      });
      this.send(build(seq));
    });
  }

  answer(seq: number, value: unknown, error?: string): void {
    const p = this.pending.get(seq);
    if (!p) return;
    this.pending.delete(seq);
    if (error !== undefined) p.reject(new Error(`worker ${this.index}: ${error}`));
    else p.resolve(value);
  }

  /** The process is gone: nothing routes through it any more, so its applies count as done. */
  onExit(): void {
    this.state = 'exited';
    for (const p of this.pending.values()) p.resolve(null);
    this.pending.clear();
  }
}
