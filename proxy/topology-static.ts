/**
 * A TopologyDriver for a topology written in the proxy's config file (`topology:` section): applied once,
 * at revision 1; nothing follows it. For single-proxy setups, benchmarks and tests.
 */
import { slotsFromRanges } from '../shared/model/topology.js';
import type { GroupRecord, Topology } from '../shared/model/types.js';
import type { StaticTopologyConfig } from './config.js';
import type { TopologyDriver } from './runtime.js';

export function topologyFromConfig(cfg: StaticTopologyConfig, revision = 1): Topology {
  const groups = new Map<number, GroupRecord>();
  for (const g of cfg.groups) groups.set(g.id, { ...g, servers: g.servers.map((s) => ({ ...s })) });
  return { revision, groups, slots: slotsFromRanges(cfg.slots) };
}

export function staticTopologyDriver(cfg: StaticTopologyConfig, revision = 1): TopologyDriver {
  return async (runtime) => {
    await runtime.applyTopology(topologyFromConfig(cfg, revision));
    return { stop: async () => {} };
  };
}
