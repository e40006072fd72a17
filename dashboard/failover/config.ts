/**
 * Failover knobs (dashboard config section `failover:`), validated like the other dashboard knobs.
 *
 *   failover:
 *     enabled: true        automatic failover for every group (per group: PUT /api/v1/groups/:gid/failover)
 *     downAfter: 5s        a master is down when the leader AND a majority of live proxies failed to reach it
 *                          for this long
 *     maxLag: 20s          a replica is eligible only if it heard from its master within this long (link up
 *                          and master_last_io_seconds_ago, or master_link_down_since_seconds)
 *     cooldown: 60s        no second automatic failover of a group within this long
 *     checkInterval: 500ms how often the leader probes masters and reads the proxies' reports
 *     probeTimeout: 1s     a probe (connect + INFO) without an answer within this counts as a failure
 */
import { parseBool, parseDuration } from '../../shared/config.js';

export interface FailoverConfig {
  enabled: boolean;
  downAfterMs: number;
  maxLagMs: number;
  cooldownMs: number;
  checkIntervalMs: number;
  probeTimeoutMs: number;
}

export const FAILOVER_DEFAULTS = { enabled: true, downAfter: '5s', maxLag: '20s', cooldown: '60s', checkInterval: '500ms', probeTimeout: '1s' };

export const DEFAULT_FAILOVER_CONFIG: FailoverConfig = {
  enabled: true,
  downAfterMs: 5000,
  maxLagMs: 20_000,
  cooldownMs: 60_000,
  checkIntervalMs: 500,
  probeTimeoutMs: 1000,
};

export function parseFailoverConfig(raw: unknown): FailoverConfig {
  const o = (raw !== null && typeof raw === 'object' ? raw : {}) as Record<string, unknown>;
  const v = { ...FAILOVER_DEFAULTS, ...o };
  return {
    enabled: parseBool(v.enabled, 'failover.enabled'),
    downAfterMs: Math.max(500, parseDuration(v.downAfter, 'failover.downAfter')),
    maxLagMs: parseDuration(v.maxLag, 'failover.maxLag'),
    cooldownMs: parseDuration(v.cooldown, 'failover.cooldown'),
    checkIntervalMs: Math.max(100, parseDuration(v.checkInterval, 'failover.checkInterval')),
    probeTimeoutMs: Math.max(50, parseDuration(v.probeTimeout, 'failover.probeTimeout')),
  };
}
