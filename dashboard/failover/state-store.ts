/** Persisted per-group failover state (failover/<gid>): enable flag and the last automatic failover. */
import type { Compare, Coordinator } from '../../shared/coordinator/types.js';
import { RedslotError } from '../../shared/errors.js';
import type { ClusterPaths } from '../../shared/model/paths.js';
import { DashboardErrors } from '../errors.js';
import type { FailoverGroupState } from './types.js';

export class FailoverStateStore {
  constructor(
    private readonly coord: Coordinator,
    private readonly paths: ClusterPaths,
    private readonly fence: () => Compare | null,
  ) {}

  async readAll(): Promise<Map<number, FailoverGroupState>> {
    const res = await this.coord.getPrefix(this.paths.failover);
    const out = new Map<number, FailoverGroupState>();
    for (const kv of res.kvs) {
      try {
        const s = JSON.parse(kv.value) as FailoverGroupState;
        if (Number.isInteger(s.gid)) out.set(s.gid, s);
      } catch {
        // foreign data: ignored (the group then has the defaults)
      }
    }
    return out;
  }

  /** Read-modify-write of one group's state, only while this dashboard leads. */
  async update(gid: number, fn: (cur: FailoverGroupState) => FailoverGroupState): Promise<FailoverGroupState> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const f = this.fence();
      if (!f) throw new RedslotError(DashboardErrors.REDSLOT_ERR_INTERNAL, { reason: 'not leader' });
      const key = this.paths.failoverGroup(gid);
      const cur = await this.coord.get(key);
      const next = fn(cur ? (JSON.parse(cur.value) as FailoverGroupState) : { gid });
      const res = await this.coord.txn([f, { key, target: 'mod', op: '==', value: cur?.modRevision ?? 0 }], [{ type: 'put', key, value: JSON.stringify(next) }]);
      if (res.succeeded) return next;
    }
    throw new RedslotError(DashboardErrors.REDSLOT_ERR_INTERNAL, { reason: `failover state of group ${gid} kept changing` });
  }
}
