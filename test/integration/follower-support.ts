/**
 * Test double of the in-process ProxyRuntime interface (proxy/runtime.ts) for follower tests: records every
 * applied topology and fence change, and checks that applies never overlap. Not a fake of any server.
 */
import type { ProxyRuntime } from '../../proxy/runtime.js';
import type { Coordinator, TxnOp } from '../../shared/coordinator/types.js';
import type { ClusterPaths } from '../../shared/model/paths.js';
import type { GroupRecord, SlotRecord, Topology } from '../../shared/model/types.js';

export class RecordingRuntime implements ProxyRuntime {
  readonly applied: Topology[] = [];
  readonly fenceLog: Array<{ at: number; reason: string | null }> = [];
  maxConcurrent = 0;
  private concurrent = 0;
  private reason: string | null = null;

  constructor(
    private readonly applyDelayMs = 0,
    /** Runs inside applyTopology before it resolves (fault tests cut the network there). */
    private readonly onApply?: (topology: Topology) => Promise<void> | void,
  ) {}

  async applyTopology(topology: Topology): Promise<void> {
    this.concurrent++;
    this.maxConcurrent = Math.max(this.maxConcurrent, this.concurrent);
    try {
      if (this.applyDelayMs > 0) await new Promise((r) => setTimeout(r, this.applyDelayMs));
      await this.onApply?.(topology);
      this.applied.push(topology);
    } finally {
      this.concurrent--;
    }
  }

  appliedRevision(): number {
    return this.applied[this.applied.length - 1]?.revision ?? 0;
  }

  setFenced(reason: string | null): void {
    this.reason = reason;
    this.fenceLog.push({ at: Date.now(), reason });
  }

  fenced(): string | null {
    return this.reason;
  }

  last(): Topology | undefined {
    return this.applied[this.applied.length - 1];
  }
}

export function group(id: number, port: number): GroupRecord {
  return { id, servers: [{ addr: `127.0.0.1:${port}`, role: 'master' }], weight: 1 };
}

export async function waitFor(cond: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Writes a fresh cluster's meta, groups and slots within etcd's 128-ops-per-txn limit: meta + groups in one
 * guarded txn, then the slots in chunks. Returns the revision of the last write.
 */
export async function seedCluster(
  coord: Coordinator,
  paths: ClusterPaths,
  cluster: string,
  groups: GroupRecord[],
  slots: SlotRecord[],
): Promise<number> {
  const meta = { name: cluster, slotCount: slots.length, createdAt: new Date().toISOString() };
  const first: TxnOp[] = [{ type: 'put', key: paths.meta, value: JSON.stringify(meta) }];
  for (const g of groups) first.push({ type: 'put', key: paths.group(g.id), value: JSON.stringify(g) });
  const res = await coord.txn([{ key: paths.meta, target: 'create', op: '==', value: 0 }], first);
  if (!res.succeeded) throw new Error(`cluster ${cluster} already exists`);
  let rev = res.revision;
  const ops = slots.filter((s) => s.group !== 0).map((s): TxnOp => ({ type: 'put', key: paths.slot(s.id), value: JSON.stringify(s) }));
  for (let i = 0; i < ops.length; i += 128) rev = (await coord.txn([], ops.slice(i, i + 128))).revision;
  return rev;
}
