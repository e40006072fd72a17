/**
 * How `redslot split` / `redslot splits` show the new group's replicas (dashboard/cli/splits.ts): in the preview,
 * live while the split runs (full sync, lag, link down, unreachable), and the outcome once it is done.
 */
import { describe, expect, it } from 'vitest';
import { formatPlan, formatSplit } from '../../dashboard/cli/splits.js';
import type { SplitPlan } from '../../dashboard/migration/split/guards.js';
import { newProgress } from '../../dashboard/migration/split/progress.js';
import type { SplitView } from '../../dashboard/migration/split/service.js';

const plan: SplitPlan = {
  source: 1,
  target: 2,
  sourceMaster: '127.0.0.1:7001',
  targetMaster: '127.0.0.1:7002',
  slots: [[512, 1023]],
  slotCount: 512,
  keeps: 512,
  sourceUsedMemory: 1 << 20,
  sourceKeys: 10,
  targetMaxmemory: 0,
  targetReplicas: ['127.0.0.1:7003', '127.0.0.1:7004'],
  replBacklogBytes: 1 << 20,
  warnings: [],
};

const view = (over: Partial<SplitView>): SplitView => ({
  id: 'x1',
  source: 1,
  target: 2,
  sourceMaster: plan.sourceMaster,
  targetMaster: plan.targetMaster,
  slots: plan.slots,
  step: 'syncing',
  createdAt: '',
  createdBy: 'op',
  updatedAt: '',
  running: true,
  ...over,
});

describe("the CLI's view of the new group's replicas", () => {
  it('lists them in the preview', () => {
    expect(formatPlan(plan)).toContain('replicas of group 2: 127.0.0.1:7003, 127.0.0.1:7004');
    expect(formatPlan({ ...plan, targetReplicas: [] })).not.toContain('replicas of group 2');
  });

  it('shows each one live while the split runs', () => {
    const progress = {
      ...newProgress(),
      lagBytes: 100,
      replicas: [
        { addr: '127.0.0.1:7003', role: 'slave' as const, master: '127.0.0.1:7002', linkUp: true, syncing: true, lagBytes: -1 },
        { addr: '127.0.0.1:7004', role: 'slave' as const, master: '127.0.0.1:7002', linkUp: true, syncing: false, lagBytes: 2048 },
        { addr: '127.0.0.1:7005', role: 'slave' as const, master: '127.0.0.1:7002', linkUp: false, syncing: false, lagBytes: -1 },
        { addr: '127.0.0.1:7006', role: 'unknown' as const, linkUp: false, syncing: false, lagBytes: -1, error: 'connect ECONNREFUSED' },
      ],
    };
    const out = formatSplit(view({ progress }));
    expect(out).toContain('replica 127.0.0.1:7003 of 127.0.0.1:7002: full sync');
    expect(out).toContain('replica 127.0.0.1:7004 of 127.0.0.1:7002: lag 2.0 KiB');
    expect(out).toContain('replica 127.0.0.1:7005 of 127.0.0.1:7002: link down');
    expect(out).toContain('replica 127.0.0.1:7006: unreachable (connect ECONNREFUSED)');
  });

  it('shows the outcome once done', () => {
    const out = formatSplit(
      view({
        step: 'done',
        running: false,
        replicas: [
          { addr: '127.0.0.1:7003', attached: true },
          { addr: '127.0.0.1:7004', attached: false, detail: 'link to 127.0.0.1:7002 down' },
        ],
      }),
    );
    expect(out).toContain('replica 127.0.0.1:7003: attached');
    expect(out).toContain('replica 127.0.0.1:7004: NOT attached (link to 127.0.0.1:7002 down)');
  });
});
